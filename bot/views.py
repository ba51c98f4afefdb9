"""Small Discord views shared by several commands."""

from __future__ import annotations

import discord


def login_view(url: str) -> discord.ui.View:
    """A single link button that starts the Twitch authorization."""
    view = discord.ui.View()
    view.add_item(discord.ui.Button(label="Link with Twitch", url=url, emoji="🔗"))
    return view

"""Small Discord views shared by several commands."""

from __future__ import annotations

import contextlib

import discord

APOLOGY = "Sorry, something went wrong on our side. It has been logged; please try again later."


def login_view(url: str) -> discord.ui.View:
    """A single link button that starts the Twitch authorization."""
    view = discord.ui.View()
    view.add_item(discord.ui.Button(label="Link with Twitch", url=url, emoji="🔗"))
    return view


async def reply_privately(
    interaction: discord.Interaction, message: str, view: discord.ui.View | None = None
) -> None:
    """Answer with an ephemeral message, whether or not the interaction was answered already."""
    extra = {"view": view} if view else {}
    if not interaction.response.is_done():
        await interaction.response.send_message(message, ephemeral=True, **extra)
        return
    if interaction.response.type == discord.InteractionResponseType.deferred_channel_message:
        # A public "thinking…" placeholder would turn the first follow-up public: remove it.
        with contextlib.suppress(discord.HTTPException):
            await interaction.delete_original_response()
    await interaction.followup.send(message, ephemeral=True, **extra)

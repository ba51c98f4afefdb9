"""Slash commands are published only when what would be published changed."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.command_sync import commands_digest


def tree_with(description: str, *, option: bool = False) -> app_commands.CommandTree:
    client = discord.Client(intents=discord.Intents.none())
    tree = app_commands.CommandTree(client)

    if option:

        @tree.command(name="top", description=description)
        async def top_with_order(interaction: discord.Interaction, order: str = "desc") -> None:
            """Unused."""

    else:

        @tree.command(name="top", description=description)
        async def top(interaction: discord.Interaction) -> None:
            """Unused."""

    return tree


def digest_of(tree: app_commands.CommandTree, target: str = "global", app: int = 1) -> str:
    payload = [command.to_dict(tree) for command in tree.get_commands()]
    return commands_digest(payload, target, app)


def test_the_same_commands_have_the_same_digest():
    assert digest_of(tree_with("The top 100")) == digest_of(tree_with("The top 100"))


def test_any_change_to_what_is_published_changes_the_digest():
    base = digest_of(tree_with("The top 100"))
    assert digest_of(tree_with("The top 100 streams")) != base
    assert digest_of(tree_with("The top 100", option=True)) != base
    assert digest_of(tree_with("The top 100"), target="guild:42") != base
    assert digest_of(tree_with("The top 100"), app=2) != base

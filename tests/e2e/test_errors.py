"""The one error handler of the command tree, driven through the fake Discord."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.errors import UserFacingError

EPHEMERAL = 64


async def add_command(world, command: app_commands.Command) -> None:
    bot = world.services.bot
    guild = discord.Object(world.discord.guild_id)
    bot.tree.add_command(command, guild=guild)
    await bot.tree.sync(guild=guild)


async def test_an_unexpected_error_is_logged_and_the_user_gets_a_short_apology(world, caplog):
    @app_commands.command(name="explode", description="Fails on purpose")
    async def explode(interaction: discord.Interaction) -> None:
        raise RuntimeError("a bug nobody foresaw")

    await add_command(world, explode)
    message = await (await world.discord.slash("explode")).wait_for_message()

    assert message["flags"] & EPHEMERAL
    assert message["content"].startswith("Sorry, something went wrong on our side.")
    assert "RuntimeError" not in message["content"]
    failure = next(r for r in caplog.records if r.getMessage() == "command /explode failed")
    assert failure.exc_info is not None


async def test_an_error_after_deferring_still_answers_privately(world):
    @app_commands.command(name="slowfail", description="Defers, then fails")
    async def slowfail(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        raise UserFacingError("That did not work, and here is why.")

    await add_command(world, slowfail)
    interaction = await world.discord.slash("slowfail")
    await interaction.wait_for_response()
    message = await interaction.wait_for_message()

    followup = interaction.followups[-1]
    assert followup["content"] == "That did not work, and here is why."
    assert followup["flags"] & EPHEMERAL
    assert interaction.deletions or message["flags"] & EPHEMERAL

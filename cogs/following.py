"""/following: your followed channels that are live now, against the top streams."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import embeds
from bot.paginator import Paginator
from bot.replies import Sendable, answer

if TYPE_CHECKING:
    from bot.client import StreamStatsBot

    Interaction = discord.Interaction[StreamStatsBot]


class FollowingCog(commands.Cog):
    """Personal statistics: needs a linked Twitch account, whatever REQUIRE_LOGIN says."""

    def __init__(self, bot: StreamStatsBot) -> None:
        self.bot = bot

    @app_commands.command(name="following")
    async def following(self, interaction: Interaction) -> None:
        """Your followed channels live now against the top streams: ranks, gap, shared tags."""

        async def work() -> Sendable:
            result = await self.bot.following.following(str(interaction.user.id))
            # Whom someone follows is their business: the answer is shown to them alone.
            return Paginator(
                embeds.following_pages(result, self.bot.settings.refresh_minutes),
                owner_id=interaction.user.id,
                timeout=self.bot.settings.view_timeout,
                ephemeral=True,
            )

        await answer(interaction, work, ephemeral=True)


async def setup(bot: StreamStatsBot) -> None:
    """Extension entry point."""
    await bot.add_cog(FollowingCog(bot))

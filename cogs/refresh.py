"""The refresh loop (every REFRESH_MINUTES, first run at start-up) and /status about it."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot import embeds

if TYPE_CHECKING:
    from bot.client import StreamStatsBot

log = logging.getLogger(__name__)


class RefreshCog(commands.Cog):
    """Keeps the top live streams in the database."""

    def __init__(self, bot: StreamStatsBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        """Start the loop at the configured interval; its first run is immediate."""
        self.refresh_top_streams.change_interval(minutes=self.bot.settings.refresh_minutes)
        self.refresh_top_streams.start()

    async def cog_unload(self) -> None:
        """Stop the loop; a refresh in progress is cancelled and its transaction rolled back."""
        self.refresh_top_streams.cancel()

    @tasks.loop(minutes=15)
    async def refresh_top_streams(self) -> None:
        """Replace the snapshot, if this process is the refresher (the service never raises)."""
        if await self.bot.leader.acquire():
            await self.bot.refresher.refresh()
        else:
            log.debug("another process holds the refresh lock; it refreshes")

    @app_commands.command(name="status")
    async def status(self, interaction: discord.Interaction[StreamStatsBot]) -> None:
        """When the data was taken, when it refreshes next, and whether refreshing works."""
        last = await self.bot.refresher.last_run()
        next_refresh = self.refresh_top_streams.next_iteration
        if not self.bot.leader.held and last is not None:
            # Another process refreshes, on its own schedule: estimate from its last run.
            next_refresh = last.finished_at + timedelta(minutes=self.bot.settings.refresh_minutes)
        embed = embeds.status_embed(
            await self.bot.stats.snapshot(),
            next_refresh=next_refresh,
            last_error=last.error if last else None,
            last_attempt=last.finished_at if last else None,
            refresh_minutes=self.bot.settings.refresh_minutes,
        )
        await interaction.response.send_message(embed=embed)

    @refresh_top_streams.error
    async def log_loop_error(self, error: BaseException) -> None:
        """Last resort, should the service ever let an error escape: say so in the log."""
        log.critical("the refresh loop stopped; restart the bot", exc_info=error)


async def setup(bot: StreamStatsBot) -> None:
    """Extension entry point."""
    await bot.add_cog(RefreshCog(bot))

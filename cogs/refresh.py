"""The refresh loop (every REFRESH_MINUTES, first run at start-up) and /status about it."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot import embeds
from bot.replies import Reply, Sendable, answer
from bot.supervisor import REFRESH_LOOP

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
        self.bot.supervisor.start(REFRESH_LOOP, self.refresh_top_streams)

    async def cog_unload(self) -> None:
        """Stop the loop; a refresh in progress is cancelled and its transaction rolled back."""
        await self.bot.supervisor.stop(REFRESH_LOOP)

    @tasks.loop(minutes=15)
    async def refresh_top_streams(self) -> None:
        """Replace the snapshot and post the due digests, if this process is the refresher."""
        await self.bot.as_refresher("refresh", self._refresh_then_post)

    async def _refresh_then_post(self) -> None:
        outcome = await self.bot.refresher.refresh_on_schedule(self._due())
        if outcome is not None and outcome.snapshot is not None:
            self.bot.digests.after_refresh(self.bot, outcome.snapshot)

    def _due(self) -> datetime | None:
        """When the loop's current run was due; None for a run called from outside the loop."""
        loop = self.refresh_top_streams
        if asyncio.current_task() is not loop.get_task() or loop.next_iteration is None:
            return None
        return loop.next_iteration - timedelta(minutes=self.bot.settings.refresh_minutes)

    @app_commands.command(name="status")
    async def status(self, interaction: discord.Interaction[StreamStatsBot]) -> None:
        """When the data was taken, when it refreshes next, and whether refreshing works."""

        async def work() -> Sendable:
            last = await self.bot.refresher.last_run()
            loop = self.bot.supervisor.status(REFRESH_LOOP)
            next_refresh = loop.next_run
            if loop.running and not self.bot.leader.held and last is not None:
                # Another process refreshes, on its own schedule: estimate from its last run.
                minutes = self.bot.settings.refresh_minutes
                next_refresh = last.finished_at + timedelta(minutes=minutes)
            skipped = self.bot.refresher.last_skipped
            embed = embeds.status_embed(
                await self.bot.stats.snapshot(),
                next_refresh=next_refresh,
                last_error=last.error if last else None,
                last_attempt=last.finished_at if last else None,
                refresh_minutes=self.bot.settings.refresh_minutes,
                skipped=(skipped.due, skipped.previous_took) if skipped else None,
            )
            return Reply(embed=embed)

        await answer(interaction, work)


async def setup(bot: StreamStatsBot) -> None:
    """Extension entry point."""
    await bot.add_cog(RefreshCog(bot))

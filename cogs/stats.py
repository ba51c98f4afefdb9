"""/gamestats, /streamstats and /top: parse the options, ask the stats service, render."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import embeds, stat_charts
from bot.cache import Source
from bot.errors import NoDataYet, UserFacingError
from bot.paginator import RestoredTopPage, list_paginator, top_paginator
from bot.replies import Reply, Sendable, answer
from bot.stats import Order, find_game

if TYPE_CHECKING:
    from bot.client import StreamStatsBot

    Interaction = discord.Interaction[StreamStatsBot]

SOURCE_HELP = "Which engine computes the figures: memory (default) or database"
SUGGESTIONS_BUDGET = 2.0  # seconds; autocomplete has Discord's 3 s window and no deferral


class StatsCog(commands.Cog):
    """Statistics about the most-watched live streams on Twitch."""

    def __init__(self, bot: StreamStatsBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        """Answer /top buttons of messages no live pager holds (after a restart, elsewhere)."""
        self.bot.add_dynamic_items(RestoredTopPage)

    async def cog_unload(self) -> None:
        """Stop answering restored /top buttons."""
        self.bot.remove_dynamic_items(RestoredTopPage)

    @property
    def minutes(self) -> float:
        """The refresh interval, for embed footers."""
        return self.bot.settings.refresh_minutes

    async def _begin(self, interaction: Interaction) -> None:
        """Check the session and that data exists (inside the answer's time budget)."""
        await self.bot.accounts.require_session(str(interaction.user.id))
        if await self.bot.stats.snapshot() is None:
            raise NoDataYet

    @app_commands.command(name="streamstats")
    @app_commands.describe(source=SOURCE_HELP)
    async def streamstats(self, interaction: Interaction, source: Source = "memory") -> None:
        """Median viewers, odd/even viewer counts and duplicates over the top live streams."""

        async def work() -> Sendable:
            await self._begin(interaction)
            result = await self.bot.stats.stream_summary(source)
            chart = await stat_charts.viewers(self.bot.renderer, self.bot.stats, result)
            return Reply(embed=embeds.stream_summary_embed(result, self.minutes), chart=chart)

        await answer(interaction, work)

    @app_commands.command(name="gamestats")
    @app_commands.describe(
        game="One game (suggestions as you type); leave empty to rank every game",
        source=SOURCE_HELP,
    )
    async def gamestats(
        self, interaction: Interaction, game: str | None = None, source: Source = "memory"
    ) -> None:
        """Per game: the highest viewer count and the number of live streams."""

        async def work() -> Sendable:
            await self._begin(interaction)
            result = await self.bot.stats.game_stats(source)
            if game is None:
                return list_paginator(
                    "games",
                    result,
                    lambda: embeds.game_pages(result, self.minutes),
                    owner_id=interaction.user.id,
                    timeout=self.bot.settings.view_timeout,
                    chart=await stat_charts.games(self.bot.renderer, result),
                )
            found = find_game(result.value, game)
            if found is None:
                raise UserFacingError(embeds.unknown_game(game, result.snapshot))
            return Reply(embed=embeds.game_embed(found, result.snapshot, self.minutes))

        await answer(interaction, work)

    @gamestats.autocomplete("game")
    async def game_suggestions(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Games of the current snapshot whose name contains what was typed (at most 25)."""
        try:
            async with asyncio.timeout(SUGGESTIONS_BUDGET):
                index = await self.bot.stats.game_index()
        except (NoDataYet, TimeoutError, UserFacingError):
            return []  # autocomplete cannot be deferred: no suggestions beats a failed box
        return embeds.game_choices(index.value.matching(current))

    @app_commands.command(name="hours")
    @app_commands.describe(source=SOURCE_HELP)
    async def hours(self, interaction: Interaction, source: Source = "memory") -> None:
        """When the top live streams started: how many per hour, newest first, in your time."""

        async def work() -> Sendable:
            await self._begin(interaction)
            result = await self.bot.stats.start_hours(source)
            return list_paginator(
                "hours",
                result,
                lambda: embeds.hour_pages(result, self.minutes),
                owner_id=interaction.user.id,
                timeout=self.bot.settings.view_timeout,
                chart=await stat_charts.hours(self.bot.renderer, result),
            )

        await answer(interaction, work)

    @app_commands.command(name="top")
    @app_commands.describe(
        order="desc: most viewers first (default); asc: the same 100 streams, reversed",
        source=SOURCE_HELP,
    )
    async def top(
        self, interaction: Interaction, order: Order = "desc", source: Source = "memory"
    ) -> None:
        """The top 100 live streams by viewers, 10 per page."""

        async def work() -> Sendable:
            await self._begin(interaction)
            result = await self.bot.stats.top_streams(order, source)
            return top_paginator(
                result,
                order,
                owner_id=interaction.user.id,
                refresh_minutes=self.minutes,
                timeout=self.bot.settings.view_timeout,
            )

        await answer(interaction, work)


async def setup(bot: StreamStatsBot) -> None:
    """Extension entry point."""
    await bot.add_cog(StatsCog(bot))

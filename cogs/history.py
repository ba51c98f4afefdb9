"""/trends and /channel: parse the options, ask the history service, render."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import trend_charts, trend_embeds
from bot.errors import NoDataYet, UserFacingError
from bot.replies import Reply, Sendable, answer
from bot.trends import DEFAULT_PERIOD, Period

if TYPE_CHECKING:
    from bot.client import StreamStatsBot

    Interaction = discord.Interaction[StreamStatsBot]

SUGGESTIONS_BUDGET = 2.0  # seconds; autocomplete has Discord's 3 s window and no deferral
PERIOD_HELP = "1h, 6h, 24h (default) or 7d"


class HistoryCog(commands.Cog):
    """Trends of the games and the record of a channel, from the kept history."""

    def __init__(self, bot: StreamStatsBot) -> None:
        self.bot = bot

    @property
    def minutes(self) -> float:
        """The refresh interval, for embed footers."""
        return self.bot.settings.refresh_minutes

    @app_commands.command(name="trends")
    @app_commands.describe(
        game="One game (suggestions as you type); leave empty for the biggest gains and losses",
        period=PERIOD_HELP,
    )
    async def trends(
        self, interaction: Interaction, game: str | None = None, period: Period = DEFAULT_PERIOD
    ) -> None:
        """The games that gained and lost most viewers, or one game's viewers over time."""
        history = self.bot.history

        async def work() -> Sendable:
            await self.bot.accounts.require_session(str(interaction.user.id))
            if game is None:
                result = await history.trends(period)
                if result is None:
                    raise UserFacingError(trend_embeds.no_history(history.history_days))
                chart = await trend_charts.gainers(self.bot.renderer, history, result)
                return Reply(embed=trend_embeds.trends_embed(result, self.minutes), chart=chart)
            game_id = await history.find_game(game)
            if game_id is None:
                if not await history.snapshots():
                    raise UserFacingError(trend_embeds.no_history(history.history_days))
                raise UserFacingError(trend_embeds.unknown_trend_game(game))
            trend = await history.game_trend(game_id, period)
            if trend is None:
                name = (await history.game_names())[game_id]
                raise UserFacingError(trend_embeds.game_not_in_period(name, period))
            chart = await trend_charts.game(self.bot.renderer, trend)
            return Reply(embed=trend_embeds.game_trend_embed(trend, self.minutes), chart=chart)

        await answer(interaction, work)

    @trends.autocomplete("game")
    async def game_suggestions(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Games of the recent history whose name matches what was typed (at most 25)."""
        try:
            async with asyncio.timeout(SUGGESTIONS_BUDGET):
                found = await self.bot.history.game_suggestions(current)
        except (NoDataYet, TimeoutError, UserFacingError):
            return []  # autocomplete cannot be deferred: no suggestions beats a failed box
        return trend_embeds.choices(found)

    @app_commands.command(name="channel")
    @app_commands.describe(login="The channel's Twitch login (suggestions as you type)")
    async def channel(
        self, interaction: Interaction, login: app_commands.Range[str, 1, 100]
    ) -> None:
        """A channel's rank now, and its best rank, peak and times seen in the history."""
        history = self.bot.history

        async def work() -> Sendable:
            await self.bot.accounts.require_session(str(interaction.user.id))
            record = await history.channel(login)
            if record is None:
                raise UserFacingError(
                    trend_embeds.unknown_channel(login, history.top_n, history.history_days)
                )
            embed = trend_embeds.channel_embed(
                record,
                top_n=history.top_n,
                history_days=history.history_days,
                refresh_minutes=self.minutes,
            )
            chart = await trend_charts.channel(self.bot.renderer, history, record)
            return Reply(embed=embed, chart=chart)

        await answer(interaction, work)

    @channel.autocomplete("login")
    async def login_suggestions(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Channels in the top now or within the last day whose login matches (at most 25)."""
        try:
            async with asyncio.timeout(SUGGESTIONS_BUDGET):
                found = await self.bot.history.login_suggestions(current)
        except (NoDataYet, TimeoutError, UserFacingError):
            return []
        return trend_embeds.choices([(login, login) for login in found])


async def setup(bot: StreamStatsBot) -> None:
    """Extension entry point."""
    await bot.add_cog(HistoryCog(bot))

"""Embed renderers of /trends and /channel: history results in, `discord.Embed` out.

Pure, like `bot.embeds` (whose escaping, clipping and footer they share): every name goes
through `safe()`, every list stays far below Discord's limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from urllib.parse import quote

import discord
from discord import app_commands

from bot.embeds import (
    CHOICE_NAME_LIMIT,
    COLOUR,
    EMBED_TITLE_LIMIT,
    LOGIN_URL_LIMIT,
    NAME_LIMIT,
    ONE_NAME_LIMIT,
    count,
    footer,
    plain,
    safe,
)
from bot.stats import NO_CATEGORY, SnapshotInfo
from bot.trends import ChannelRecord, GameChange, GameTrend, Period, Trends, Window

SERIES_POINTS = 12  # lines of a game's series in its embed (evenly spread over the window)
PERIOD_WORDS: dict[Period, str] = {
    "1h": "the last hour",
    "6h": "the last 6 hours",
    "24h": "the last 24 hours",
    "7d": "the last 7 days",
}


def duration(span: timedelta) -> str:
    """A span in the largest whole unit that fits: "25 minutes", "3 hours", "2 days"."""
    minutes = int(span.total_seconds() // 60)
    for size, unit in ((1440, "day"), (60, "hour"), (1, "minute")):
        if minutes >= size:
            amount = minutes // size
            return f"{amount} {unit}{'s' if amount != 1 else ''}"
    return "less than a minute"


def no_history(history_days: int) -> str:
    """What /trends and /channel say when there is no history at all."""
    if history_days == 0:
        return "This bot keeps no history (its operator set HISTORY_DAYS to 0)."
    return "There is no history yet: it starts with the next refresh. Try again later."


def window_sentence(window: Window) -> str:
    """Which two snapshots the figures compare, and how much history that is."""
    if window.start == window.end:
        return (
            "Only one snapshot of history so far: a trend needs two. "
            "Try again after the next refresh."
        )
    start = discord.utils.format_dt(window.start.taken_at, "f")
    end = discord.utils.format_dt(window.end.taken_at, "f")
    covered = f"From {start} to {end}"
    if window.short:
        return (
            f"{covered}: based on the last {duration(window.span)}, "
            f"all the history there is (less than {PERIOD_WORDS[window.period]})."
        )
    return f"{covered}."


def change_text(change: GameChange) -> str:
    """`+1,234 (+12.5%)`, `-56 (-100.0%)`, or `+78 (new)` for a game absent at the start."""
    if change.percent is None:
        relative = "new" if change.after else "-"
    else:
        relative = f"{change.percent:+,.1f}%"
    return f"{change.change:+,} ({relative})"


def _name(name: str, limit: int) -> str:
    return safe(name or NO_CATEGORY, limit)


def _change_lines(changes: Sequence[GameChange], nothing: str) -> str:
    if not changes:
        return nothing
    return "\n".join(
        f"{n}. **{_name(c.name, NAME_LIMIT)}** {change_text(c)}"
        for n, c in enumerate(changes, start=1)
    )


def _footer_snapshot(window: Window) -> SnapshotInfo:
    return SnapshotInfo(window.end.snapshot_id, window.end.taken_at, window.end.streams)


def _embed(title: str, window: Window, refresh_minutes: float) -> discord.Embed:
    embed = discord.Embed(title=title, colour=COLOUR, timestamp=window.end.taken_at)
    embed.set_footer(text=footer(_footer_snapshot(window), refresh_minutes))
    embed.description = window_sentence(window)
    return embed


def trends_embed(trends: Trends, refresh_minutes: float) -> discord.Embed:
    """/trends: the games that gained and lost most total viewers over the period."""
    window = trends.window
    embed = _embed(f"Trends over {PERIOD_WORDS[window.period]}", window, refresh_minutes)
    if window.start != window.end:
        embed.add_field(
            name="Gained most viewers",
            value=_change_lines(trends.gainers, "No game gained viewers."),
            inline=False,
        )
        embed.add_field(
            name="Lost most viewers",
            value=_change_lines(trends.losers, "No game lost viewers."),
            inline=False,
        )
    return embed


def _spread(items: Sequence, most: int) -> list:
    """At most `most` items, evenly spread, always with the first and the last."""
    if len(items) <= most:
        return list(items)
    return [items[round(i * (len(items) - 1) / (most - 1))] for i in range(most)]


def game_trend_embed(trend: GameTrend, refresh_minutes: float) -> discord.Embed:
    """/trends game:<name>: the game's total viewers and streams over the period."""
    window = trend.window
    title = f"{_name(trend.name, ONE_NAME_LIMIT)} over {PERIOD_WORDS[window.period]}"
    embed = _embed(title, window, refresh_minutes)
    latest = trend.points[-1]
    embed.add_field(name="Total viewers now", value=count(latest.total_viewers))
    embed.add_field(name="Live streams now", value=count(latest.streams))
    embed.add_field(name="Change", value=change_text(trend.change))
    peak_at = discord.utils.format_dt(trend.peak.taken_at, "f")
    embed.add_field(name="Peak", value=f"{count(trend.peak.total_viewers)} viewers, {peak_at}")
    series = "\n".join(
        f"{discord.utils.format_dt(p.taken_at, 'f')} · {count(p.total_viewers)} viewers · "
        f"{count(p.streams)} streams"
        for p in _spread(trend.points, SERIES_POINTS)
    )
    embed.add_field(name="Over the period", value=series, inline=False)
    return embed


def unknown_trend_game(typed: str) -> str:
    """/trends game:<typed> when no game of the recent history has that name."""
    return (
        f"No game called “{safe(typed, ONE_NAME_LIMIT)}” was in the top within the last "
        "7 days. Pick a game from the suggestions."
    )


def game_not_in_period(name: str, period: Period) -> str:
    """/trends game:<name> for a game seen in the history, but not within the period."""
    return f"{_name(name, ONE_NAME_LIMIT)} was not in the top within {PERIOD_WORDS[period]}."


def channel_embed(
    record: ChannelRecord, *, top_n: int | None, history_days: int, refresh_minutes: float
) -> discord.Embed:
    """/channel: the channel's rank now and its record over the history.

    `top_n` None: the snapshot holds every live stream (TOP_STREAMS=all).
    """
    login = quote(record.login, safe="")
    embed = discord.Embed(title=safe(record.login, EMBED_TITLE_LIMIT), colour=COLOUR)
    if len(login) <= LOGIN_URL_LIMIT:
        embed.url = f"https://twitch.tv/{login}"
    now = record.now
    embed.add_field(
        name="Now",
        value=f"#{count(now.rank)} · {count(now.viewers)} viewers"
        if now
        else ("not live now" if top_n is None else f"not in the top {count(top_n)} now"),
        inline=False,
    )
    days = f"{history_days} day{'s' if history_days != 1 else ''}"
    if record.first_seen is None or record.last_seen is None:
        embed.description = f"Not in the kept history (the last {days})."
        return embed
    embed.description = f"Over the last {days} of history:"
    embed.add_field(name="Best rank", value=f"#{count(record.best_rank or 0)}")
    embed.add_field(name="Peak viewers", value=count(record.peak_viewers or 0))
    embed.add_field(name="Snapshots in the top", value=count(record.snapshots))
    embed.add_field(name="First seen", value=discord.utils.format_dt(record.first_seen, "f"))
    embed.add_field(name="Last seen", value=discord.utils.format_dt(record.last_seen, "f"))
    embed.set_footer(text=f"refreshes every {refresh_minutes:g} min")
    return embed


def unknown_channel(typed: str, top_n: int | None, history_days: int) -> str:
    """/channel login:<typed> for a channel neither in the snapshot now nor in the history."""
    where = (
        "is not live now and not among the channels the history kept"
        if top_n is None
        else f"has not been in the top {count(top_n)} live streams"
    )
    return (
        f"“{safe(typed, ONE_NAME_LIMIT)}” {where} within the last {history_days} days. "
        "Check the spelling, or pick a suggestion."
    )


def choices(pairs: Sequence[tuple[str, str]]) -> list[app_commands.Choice[str]]:
    """Autocomplete suggestions: (shown name, value); names clipped, never empty."""
    return [
        app_commands.Choice(
            name=plain(name, CHOICE_NAME_LIMIT) or NO_CATEGORY, value=value or NO_CATEGORY
        )
        for name, value in pairs
    ]

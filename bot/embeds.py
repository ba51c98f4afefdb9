"""Embed renderers: results in, `discord.Embed` out. Pure, escaped, within Discord's limits."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import quote

import discord

from bot.stats import NO_CATEGORY, AsOf, GameStat, Order, SnapshotInfo, StreamSummary, ranked
from bot.streams import Stream

TOP_PER_PAGE = 10
GAMES_PER_PAGE = 15
NAME_LIMIT = 40  # characters of a stranger's name shown before clipping
TITLE_LIMIT = 80
COLOUR = discord.Colour(0x9146FF)  # Twitch purple
DUPLICATES_MEANING = (
    "*Duplicates* are streams whose viewer count is shared with at least one other stream; "
    "*shared counts* is how many different viewer counts are shared."
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def safe(text: str, limit: int = NAME_LIMIT) -> str:
    """Text from strangers made inert: one line, clipped, markdown and mentions escaped."""
    flat = _CONTROL.sub(" ", text).strip()
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    escaped = discord.utils.escape_markdown(flat).replace("]", "\\]")
    return discord.utils.escape_mentions(escaped)


def count(number: int) -> str:
    """A count with thousands separators."""
    return f"{number:,}"


def footer(snapshot: SnapshotInfo, refresh_minutes: float) -> str:
    """The line under every stats embed: when the data was taken and how often it changes."""
    taken = snapshot.taken_at.strftime("%Y-%m-%d %H:%M UTC")
    return f"data as of {taken} · refreshes every {refresh_minutes:g} min"


def _embed(title: str, snapshot: SnapshotInfo, refresh_minutes: float) -> discord.Embed:
    embed = discord.Embed(title=title, colour=COLOUR, timestamp=snapshot.taken_at)
    embed.set_footer(text=footer(snapshot, refresh_minutes))
    return embed


def page_count(items: int, per_page: int) -> int:
    """How many pages `items` need (at least one, so an empty list still renders)."""
    return max(1, math.ceil(items / per_page))


def page_slice(items: Sequence, page: int, per_page: int) -> Sequence:
    """The items on page `page` (0-based)."""
    return items[page * per_page : (page + 1) * per_page]


def stream_summary_embed(result: AsOf[StreamSummary], refresh_minutes: float) -> discord.Embed:
    """/streamstats: median, odd/even, duplicates, and how many streams the figures cover."""
    summary = result.value
    embed = _embed("Live stream statistics", result.snapshot, refresh_minutes)
    embed.description = f"Over the **{count(summary.total)}** most-watched live streams."
    median = "—" if summary.median is None else f"{summary.median:,.1f}".removesuffix(".0")
    embed.add_field(name="Median viewers", value=median)
    embed.add_field(name="Odd viewer count", value=count(summary.odd))
    embed.add_field(name="Even viewer count", value=count(summary.even))
    embed.add_field(name="Duplicates", value=count(summary.duplicates))
    embed.add_field(name="Shared counts", value=count(summary.shared_counts))
    embed.add_field(name="Streams covered", value=count(summary.total))
    embed.add_field(name="What duplicates means", value=DUPLICATES_MEANING, inline=False)
    return embed


def game_embed(game: GameStat, snapshot: SnapshotInfo, refresh_minutes: float) -> discord.Embed:
    """/gamestats game:<name>: one game's figures."""
    embed = _embed(safe(game.label, 200), snapshot, refresh_minutes)
    embed.add_field(name="Live streams", value=count(game.streams))
    embed.add_field(name="Highest viewer count", value=count(game.max_viewers))
    return embed


def game_pages(result: AsOf[Sequence[GameStat]], refresh_minutes: float) -> list[discord.Embed]:
    """/gamestats: every game ranked by live streams, then highest viewers, 15 per page."""
    games = result.value
    pages = page_count(len(games), GAMES_PER_PAGE)
    embeds = []
    for page in range(pages):
        lines = [
            f"`{rank:>3}.` **{safe(game.label)}** — {count(game.streams)} streams · "
            f"top {count(game.max_viewers)} viewers"
            for rank, game in enumerate(
                page_slice(games, page, GAMES_PER_PAGE), start=page * GAMES_PER_PAGE + 1
            )
        ]
        embed = _embed("Games live right now", result.snapshot, refresh_minutes)
        embed.description = "\n".join(lines) or "No games in this snapshot."
        embed.set_author(name=f"{count(len(games))} games · page {page + 1}/{pages}")
        embeds.append(embed)
    return embeds


def channel_link(stream: Stream) -> str:
    """The display name linked to the channel (the login is URL-quoted, the name escaped)."""
    return f"[{safe(stream.user_name)}](https://twitch.tv/{quote(stream.user_login, safe='')})"


def top_pages(
    result: AsOf[Sequence[Stream]], order: Order, refresh_minutes: float
) -> list[discord.Embed]:
    """/top: 10 streams per page; rank is by viewers (1 = most), also when shown ascending."""
    rows = ranked(result.value, order)
    pages = page_count(len(rows), TOP_PER_PAGE)
    title = "Top streams by viewers" + (" (ascending)" if order == "asc" else "")
    embeds = []
    for page in range(pages):
        lines = []
        for rank, stream in page_slice(rows, page, TOP_PER_PAGE):
            game = safe(stream.game_name or NO_CATEGORY)
            lines.append(
                f"`{rank:>3}.` {channel_link(stream)} — {game} · **{count(stream.viewer_count)}**"
            )
        embed = _embed(title, result.snapshot, refresh_minutes)
        embed.description = "\n".join(lines) or "No live streams in this snapshot."
        embeds.append(embed)
    return embeds


def status_embed(
    snapshot: SnapshotInfo | None,
    *,
    next_refresh: datetime | None,
    last_error: str | None,
    last_attempt: datetime | None,
    refresh_minutes: float,
) -> discord.Embed:
    """/status: how fresh the data is and whether refreshing works."""
    embed = discord.Embed(title="StreamStats status", colour=COLOUR)
    if snapshot is None:
        embed.add_field(name="Snapshot", value="none yet — the first refresh is still running")
    else:
        taken = discord.utils.format_dt(snapshot.taken_at, "R")
        embed.add_field(name="Snapshot taken", value=taken)
        embed.add_field(name="Streams", value=count(snapshot.stream_count))
    due = discord.utils.format_dt(next_refresh, "R") if next_refresh else "not scheduled"
    embed.add_field(name="Next refresh", value=due)
    if last_attempt is None:
        last = "no refresh has finished yet"
    elif last_error is None:
        last = f"succeeded {discord.utils.format_dt(last_attempt, 'R')}"
    else:
        last = f"failed {discord.utils.format_dt(last_attempt, 'R')}: {safe(last_error, 300)}"
    embed.add_field(name="Last refresh", value=last, inline=False)
    embed.set_footer(text=f"refreshes every {refresh_minutes:g} min")
    return embed

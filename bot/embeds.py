"""Embed renderers: results in, `discord.Embed` out. Pure, escaped, within Discord's limits.

Every piece of a stranger's text (stream titles, channel and game names, Twitch display names,
what a user typed) goes through `safe()` before it enters a message, and autocomplete names
through `plain()`. Both clip *after* escaping, so the limit holds for what is actually sent.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime
from urllib.parse import quote

import discord
from discord import app_commands

from bot.following import FollowedStream, Following
from bot.stats import (
    NO_CATEGORY,
    AsOf,
    GameStat,
    HourCount,
    Order,
    SnapshotInfo,
    StreamSummary,
    ranked,
)
from bot.streams import Stream

TOP_PER_PAGE = 10
GAMES_PER_PAGE = 15
HOURS_PER_PAGE = 24
FOLLOWING_PER_PAGE = 10
SHARED_TAGS_SHOWN = 10
NOBODY_LIVE = "None of your followed channels is live right now."
# Room for a stranger's text, as sent (backslashes of escapes count). The list limits keep a
# full page far below the 4,096 characters of a description; the others are Discord's own.
NAME_LIMIT = 40  # a name in a line of /top or /gamestats
ONE_NAME_LIMIT = 100  # a single name in a sentence or a field
ERROR_LIMIT = 300  # why the last refresh failed, in /status
EMBED_TITLE_LIMIT = 256
CHOICE_NAME_LIMIT = 100
LOGIN_URL_LIMIT = 75  # a Twitch login is at most 25 characters; longer ones get no link
ELLIPSIS = "…"
COLOUR = discord.Colour(0x9146FF)  # Twitch purple
DUPLICATES_MEANING = (
    "*Duplicates* are streams whose viewer count is shared with at least one other stream; "
    "*shared counts* is how many different viewer counts are shared."
)
# Line breaks and other control characters become one space: every name stays on one line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# Bidi embeddings, overrides and isolates would reorder the text that follows the name.
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
# Discord's markdown acts on these wherever they stand: emphasis, strike-through, code,
# spoilers, masked links, and `<…>` mentions of users, roles, channels, commands, timestamps.
_INLINE = frozenset("\\*_~`|[]<")
# ... and on these only at the start of a line: headings, subtext (-#), block quotes, lists.
_LINE_START = frozenset("#>-+")
_ORDERED_LIST = re.compile(r"[0-9]+(?=\.)")
_ZWJ = "\u200d"
_SKIN_TONES = ("\U0001f3fb", "\U0001f3ff")


def _flat(text: str) -> str:
    """One line, no bidi controls, no surrounding space."""
    return _CONTROL.sub(" ", _BIDI.sub("", text)).strip()


def _ignorable(char: str) -> bool:
    """Space, zero-width and combining characters: a line "starts" after them."""
    return char.isspace() or unicodedata.category(char) in {"Cf", "Mn", "Mc", "Me"}


def _escaped(text: str) -> list[str]:
    """One piece per character of `text`: the character, or a backslash and the character."""
    pieces = ["\\" + char if char in _INLINE else char for char in text]
    start = next((index for index, char in enumerate(text) if not _ignorable(char)), len(text))
    number = _ORDERED_LIST.match(text, start)
    if number:
        pieces[number.end()] = "\\."
    elif start < len(text) and text[start] in _LINE_START:
        pieces[start] = "\\" + text[start]
    return pieces


def _joins_previous(char: str, previous: str) -> bool:
    """Whether `char` is drawn as part of the character before it (accent, joined emoji, tone)."""
    return (
        previous == _ZWJ
        or char == _ZWJ
        or unicodedata.category(char) in {"Mn", "Mc", "Me"}
        or _SKIN_TONES[0] <= char <= _SKIN_TONES[1]
    )


def _clusters(text: str, pieces: Sequence[str]) -> list[list[str]]:
    """The pieces grouped by what is drawn as one character, so clipping keeps accents on."""
    clusters: list[list[str]] = []
    for index, piece in enumerate(pieces):
        if clusters and _joins_previous(text[index], text[index - 1]):
            clusters[-1].append(piece)
        else:
            clusters.append([piece])
    return clusters


def _trim_end(text: str) -> str:
    """Without trailing spaces and zero-width characters (they would cling to the ellipsis)."""
    end = len(text)
    while end and (text[end - 1].isspace() or unicodedata.category(text[end - 1]) == "Cf"):
        end -= 1
    return text[:end]


def _fit(text: str, pieces: Sequence[str], limit: int) -> str:
    """The pieces joined if they fit in `limit`, else whole clusters and an ellipsis that do.

    `pieces` holds one piece per character of `text`. Pieces are never split, so an escape
    never loses its backslash or its character. A single cluster wider than the room (a tower
    of combining marks) is cut between its pieces.
    """
    joined = "".join(pieces)
    if len(joined) <= limit:
        return joined  # the common case: no need to know where characters join
    clusters = _clusters(text, pieces)
    room = limit - len(ELLIPSIS)
    kept: list[str] = []
    used = 0
    for cluster in clusters:
        size = sum(map(len, cluster))
        if used + size <= room:
            kept.extend(cluster)
            used += size
            continue
        if not kept:
            for piece in cluster:
                if used + len(piece) > room:
                    break
                kept.append(piece)
                used += len(piece)
        break
    return _trim_end("".join(kept)) + ELLIPSIS


def safe(text: str, limit: int = NAME_LIMIT) -> str:
    """A stranger's text made inert for markdown: one line, escaped, then clipped to `limit`.

    discord.py's `escape_markdown` escapes a character only where the rest of the text could
    close it, and one backslash before a masked link leaves everything inside it live (so
    `[a](b) **bold** [c](d)` stays bold); here every markdown character is escaped, always.
    """
    flat = discord.utils.escape_mentions(_flat(text))
    # Each character becomes at least one: what lies past limit + 1 would be clipped anyway.
    head = flat[: limit + 1]
    return _fit(head, _escaped(head), limit)


def plain(text: str, limit: int) -> str:
    """A stranger's text for places Discord shows unformatted (choice names): one line, clipped."""
    head = _flat(text)[: limit + 1]
    return _fit(head, head, limit)


def count(number: int) -> str:
    """A count with thousands separators."""
    return f"{number:,}"


def coverage(snapshot: SnapshotInfo) -> str:
    """What a snapshot's figures cover: "all 97,412 live streams" or "the top 1,000"."""
    if snapshot.every_stream:
        return f"all {count(snapshot.stream_count)} live streams"
    return f"the top {count(snapshot.stream_count)}"


def footer(snapshot: SnapshotInfo, refresh_minutes: float) -> str:
    """The line under every stats embed: what it covers, when it was taken, how often it changes."""
    taken = snapshot.taken_at.strftime("%Y-%m-%d %H:%M UTC")
    return f"{coverage(snapshot)} · data as of {taken} · refreshes every {refresh_minutes:g} min"


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
    embed.description = (
        f"Over **all {count(summary.total)}** live streams on Twitch."
        if result.snapshot.every_stream
        else f"Over the **{count(summary.total)}** most-watched live streams."
    )
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
    embed = _embed(safe(game.label, EMBED_TITLE_LIMIT), snapshot, refresh_minutes)
    embed.add_field(name="Live streams", value=count(game.streams))
    embed.add_field(name="Highest viewer count", value=count(game.max_viewers))
    return embed


class Pages(Sequence[discord.Embed]):
    """The pages of a list, each rendered the first time it is shown.

    An answer shows one page and most are never turned to: rendering all of them up front
    (escaping every name on every page) cost more than the rest of the answer together.
    """

    def __init__(self, count: int, render: Callable[[int], discord.Embed]) -> None:
        self._count = count
        self._render = render
        self._rendered: dict[int, discord.Embed] = {}

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> discord.Embed:  # type: ignore[override]
        if not -self._count <= index < self._count:
            raise IndexError(index)
        index %= self._count
        if index not in self._rendered:
            self._rendered[index] = self._render(index)
        return self._rendered[index]


def game_pages(result: AsOf[Sequence[GameStat]], refresh_minutes: float) -> Pages:
    """/gamestats: every game ranked by live streams, then highest viewers, 15 per page."""
    games = result.value
    pages = page_count(len(games), GAMES_PER_PAGE)

    def render(page: int) -> discord.Embed:
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
        return embed

    return Pages(pages, render)


def hour_pages(result: AsOf[Sequence[HourCount]], refresh_minutes: float) -> Pages:
    """/hours: streams per start hour, newest first, in each reader's own time zone."""
    hours = result.value
    pages = page_count(len(hours), HOURS_PER_PAGE)

    def render(page: int) -> discord.Embed:
        lines = []
        for entry in page_slice(hours, page, HOURS_PER_PAGE):
            shown = discord.utils.format_dt(entry.hour, "t")
            ago = discord.utils.format_dt(entry.hour, "R")
            noun = "stream" if entry.streams == 1 else "streams"
            lines.append(f"{shown} · {ago} — **{count(entry.streams)}** {noun}")
        embed = _embed("When the live streams started", result.snapshot, refresh_minutes)
        embed.description = "\n".join(lines) or "No live streams in this snapshot."
        embed.set_author(
            name=f"{count(result.snapshot.stream_count)} streams by start time, rounded to the "
            f"hour · page {page + 1}/{pages}"
        )
        return embed

    return Pages(pages, render)


def channel_link(stream: Stream) -> str:
    """The display name linked to the channel (the login is URL-quoted, the name escaped).

    A login longer than any Twitch issues is no channel: the name is shown without a link.
    """
    name = safe(stream.user_name) or safe(stream.user_login)
    login = quote(stream.user_login, safe="")
    if len(login) > LOGIN_URL_LIMIT:
        return name
    return f"[{name}](https://twitch.tv/{login})"


def top_pages(result: AsOf[Sequence[Stream]], order: Order, refresh_minutes: float) -> Pages:
    """/top: 10 streams per page; rank is by viewers (1 = most), also when shown ascending."""
    rows = ranked(result.value, order)
    title = "Top streams by viewers" + (" (ascending)" if order == "asc" else "")

    def render(page: int) -> discord.Embed:
        lines = []
        for rank, stream in page_slice(rows, page, TOP_PER_PAGE):
            game = safe(stream.game_name or NO_CATEGORY)
            lines.append(
                f"`{rank:>3}.` {channel_link(stream)} — {game} · **{count(stream.viewer_count)}**"
            )
        embed = _embed(title, result.snapshot, refresh_minutes)
        embed.description = "\n".join(lines) or "No live streams in this snapshot."
        return embed

    return Pages(page_count(len(rows), TOP_PER_PAGE), render)


def _in_top_line(compared: Following, snapshot: SnapshotInfo) -> str:
    """The headline: k of your m live channels are in the top N (or among all live streams)."""
    live, inside = len(compared.followed_live), compared.in_top
    channels = "channel" if live == 1 else "channels"
    verb = "is" if inside == 1 else "are"
    where = (
        f"among **all {count(snapshot.stream_count)}** live streams"
        if compared.top_n is None
        else f"in the top **{count(compared.top_n)}**"
    )
    return f"**{count(inside)}** of your **{count(live)}** live {channels} {verb} {where}."


def _gap_line(lowest: FollowedStream, snapshot: SnapshotInfo, top_n: int | None) -> str:
    """The gap to enter the top, for the least-watched followed live channel."""
    name = safe(lowest.stream.user_name or lowest.stream.user_login)
    if lowest.rank is not None:
        return f"Gap to enter: **0**. Your least-watched live channel, {name}, is in the top."
    if top_n is None:
        return "Gap to enter: **0**. The snapshot holds every live stream: every channel fits."
    if snapshot.stream_count < top_n:
        return (
            f"Gap to enter: **0**. The top holds only {count(snapshot.stream_count)} streams "
            "right now: every live channel fits."
        )
    if lowest.viewers_needed == 0:
        return (
            f"Gap to enter: **0**. Your least-watched live channel, {name}, now has more "
            "viewers than the last stream of the top."
        )
    return (
        f"Gap to enter: **{count(lowest.viewers_needed)}** more viewers for {name}, your "
        "least-watched live channel."
    )


def _followed_line(entry: FollowedStream, top_n: int | None) -> str:
    stream = entry.stream
    game = safe(stream.game_name or NO_CATEGORY)
    line = f"{channel_link(stream)} — {game} · **{count(stream.viewer_count)}** viewers"
    if entry.rank is not None:
        return f"`#{entry.rank:>5}` {line}"
    if top_n is None:
        return f"`     —` {line} · live since the snapshot was taken"
    if entry.viewers_needed == 0:
        return f"`     —` {line} · not in the top {count(top_n)}, would get in now"
    return (
        f"`     —` {line} · not in the top {count(top_n)}, needs "
        f"**{count(entry.viewers_needed)}** more"
    )


def _shared_tags_text(compared: Following) -> str:
    tags = compared.shared_tags
    if not tags:
        return "None of the tags of your live channels is on a stream of the top."
    lines = [
        f"{safe(tag.tag)} — top {count(tag.top_streams)} · yours {count(tag.followed_streams)}"
        for tag in tags[:SHARED_TAGS_SHOWN]
    ]
    if len(tags) > SHARED_TAGS_SHOWN:
        lines.append(f"… and {count(len(tags) - SHARED_TAGS_SHOWN)} more")
    return "\n".join(lines)


def following_pages(result: AsOf[Following], refresh_minutes: float) -> Pages:
    """/following: your live channels against the top, 10 per page.

    Every page repeats the headline, the gap to enter and the tags shared with the top.
    """
    compared = result.value
    entries = compared.followed_live
    pages = page_count(len(entries), FOLLOWING_PER_PAGE)
    title = (
        f"Your live channels among all {count(result.snapshot.stream_count)} live streams"
        if compared.top_n is None
        else f"Your live channels against the top {count(compared.top_n)}"
    )
    if compared.lowest is None:
        head = NOBODY_LIVE
    else:
        head = "\n".join(
            (
                _in_top_line(compared, result.snapshot),
                _gap_line(compared.lowest, result.snapshot, compared.top_n),
            )
        )
    tags = _shared_tags_text(compared)

    def render(page: int) -> discord.Embed:
        embed = _embed(title, result.snapshot, refresh_minutes)
        lines = [
            _followed_line(entry, compared.top_n)
            for entry in page_slice(entries, page, FOLLOWING_PER_PAGE)
        ]
        embed.description = "\n\n".join([head, "\n".join(lines)]) if lines else head
        if entries:
            embed.add_field(name="Tags you share with the top", value=tags, inline=False)
            embed.set_author(
                name=f"{count(len(entries))} live channels you follow · page {page + 1}/{pages}"
            )
        return embed

    return Pages(pages, render)


def status_embed(
    snapshot: SnapshotInfo | None,
    *,
    next_refresh: datetime | None,
    last_error: str | None,
    last_attempt: datetime | None,
    refresh_minutes: float,
    skipped: tuple[datetime, float] | None = None,
) -> discord.Embed:
    """/status: how fresh the data is and whether refreshing works.

    `skipped`: when a run was skipped because the refresh before it (which took that many
    seconds) ran past its time.
    """
    embed = discord.Embed(title="StreamStats status", colour=COLOUR)
    if snapshot is None:
        embed.add_field(name="Snapshot", value="none yet — the first refresh is still running")
    else:
        taken = discord.utils.format_dt(snapshot.taken_at, "R")
        embed.add_field(name="Snapshot taken", value=taken)
        embed.add_field(name="Streams", value=coverage(snapshot))
    due = discord.utils.format_dt(next_refresh, "R") if next_refresh else "not scheduled"
    embed.add_field(name="Next refresh", value=due)
    if last_attempt is None:
        last = "no refresh has finished yet"
    elif last_error is None:
        last = f"succeeded {discord.utils.format_dt(last_attempt, 'R')}"
    else:
        last = (
            f"failed {discord.utils.format_dt(last_attempt, 'R')}: {safe(last_error, ERROR_LIMIT)}"
        )
    embed.add_field(name="Last refresh", value=last, inline=False)
    if skipped is not None:
        due, took = skipped
        embed.add_field(
            name="Skipped refresh",
            value=(
                f"the refresh due {discord.utils.format_dt(due, 'R')} was skipped: the one "
                f"before took {took / 60:.1f} min, longer than the {refresh_minutes:g}-minute "
                "interval"
            ),
            inline=False,
        )
    embed.set_footer(text=f"refreshes every {refresh_minutes:g} min")
    return embed


def unknown_game(typed: str, snapshot: SnapshotInfo) -> str:
    """/gamestats game:<typed> when no game of the snapshot has that name or id."""
    among = (
        f"among {coverage(snapshot)}"
        if snapshot.every_stream
        else f"in the current top {count(snapshot.stream_count)}"
    )
    return (
        f"No live stream {among} is playing “{safe(typed, ONE_NAME_LIMIT)}”. "
        "Pick a game from the suggestions."
    )


def game_choices(games: Sequence[GameStat]) -> list[app_commands.Choice[str]]:
    """Autocomplete suggestions for /gamestats: the game's name, its id as the value.

    Discord shows choice names unformatted, so they are clipped, not escaped. The one entry
    without an id is the streams without a category.
    """
    return [
        app_commands.Choice(
            name=plain(game.label, CHOICE_NAME_LIMIT) or NO_CATEGORY,
            value=game.game_id or NO_CATEGORY,
        )
        for game in games
    ]


def whoami_embed(
    display_name: str, login: str, *, linked_at: datetime, session_ends: datetime
) -> discord.Embed:
    """/whoami: the linked Twitch account and when the session ends."""
    embed = discord.Embed(title="Your StreamStats link", colour=COLOUR)
    account = f"{safe(display_name, ONE_NAME_LIMIT)} ({safe(login, ONE_NAME_LIMIT)})"
    embed.add_field(name="Twitch account", value=account)
    embed.add_field(name="Linked", value=discord.utils.format_dt(linked_at, "R"))
    embed.add_field(name="Session ends", value=discord.utils.format_dt(session_ends, "R"))
    return embed


def linked_notice(display_name: str, session_ends: datetime) -> str:
    """The message that tells a user their Twitch account is now linked."""
    name = safe(display_name, ONE_NAME_LIMIT)
    ends = discord.utils.format_dt(session_ends, "R")
    return f"Linked to Twitch account **{name}**. Your session ends {ends}."

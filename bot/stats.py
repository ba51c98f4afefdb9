"""The memory engine: pure statistics over the rows of one snapshot.

`db/queries.py` computes the same results in SQL; both return these types, so tests compare the
two engines with `==`.
"""

from __future__ import annotations

import bisect
import heapq
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, Literal, TypeVar

from bot.streams import Stream, by_viewers

Order = Literal["desc", "asc"]
TOP_LIMIT = 100
NO_CATEGORY = "No category"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """Which snapshot the numbers come from, and what it covers."""

    id: int
    taken_at: datetime
    stream_count: int
    every_stream: bool = False  # every live stream on Twitch, not only the top N


@dataclass(frozen=True, slots=True)
class AsOf(Generic[T]):
    """A result together with the snapshot it was computed from."""

    snapshot: SnapshotInfo
    value: T


@dataclass(frozen=True, slots=True)
class StreamSummary:
    """Figures over all streams of a snapshot. `median` is None only when there are no streams."""

    total: int
    median: float | None
    odd: int
    even: int
    duplicates: int
    shared_counts: int


@dataclass(frozen=True, slots=True)
class GameStat:
    """One game: its highest viewer count and how many live streams it has.

    Streams without a category (empty game id) form one entry with `game_id == ""`.
    """

    game_id: str
    game_name: str
    streams: int
    max_viewers: int

    @property
    def label(self) -> str:
        """The name to show a person."""
        return self.game_name or NO_CATEGORY


@dataclass(frozen=True, slots=True)
class HourCount:
    """How many streams of a snapshot started in one hour (start times rounded to the hour)."""

    hour: datetime  # UTC, on the hour
    streams: int


EMPTY_SUMMARY = StreamSummary(total=0, median=None, odd=0, even=0, duplicates=0, shared_counts=0)


def stream_summary(streams: Sequence[Stream]) -> StreamSummary:
    """Median viewers, odd/even counts and how many streams share their viewer count."""
    if not streams:
        return EMPTY_SUMMARY
    counts = sorted(stream.viewer_count for stream in streams)
    middle = len(counts) // 2
    median = (counts[middle] + counts[~middle]) / 2  # the two middle values (equal when odd)
    odd = sum(count & 1 for count in counts)
    shared = [n for n in Counter(counts).values() if n > 1]
    return StreamSummary(
        total=len(counts),
        median=median,
        odd=odd,
        even=len(counts) - odd,
        duplicates=sum(shared),
        shared_counts=len(shared),
    )


def game_sort_key(game: GameStat) -> tuple[int, int, str]:
    """Most streams first, then highest viewers, then game id (the order both engines use)."""
    return (-game.streams, -game.max_viewers, game.game_id)


def game_stats(streams: Sequence[Stream]) -> tuple[GameStat, ...]:
    """Per game: highest viewer count and number of streams, in `game_sort_key` order.

    Twitch gives one name per game id; should two differ (a rename while paging), the name on
    the most-watched stream wins, as in the stored snapshot.
    """
    counts: Counter[str] = Counter()
    leaders: dict[str, Stream] = {}  # each game's most-watched stream: its name is the game's
    for stream in streams:
        game = stream.game_id
        counts[game] += 1
        leader = leaders.get(game)
        # by_viewers(stream) < by_viewers(leader), spelled out: this loop is the hot path.
        if (
            leader is None
            or stream.viewer_count > leader.viewer_count
            or (stream.viewer_count == leader.viewer_count and stream.id < leader.id)
        ):
            leaders[game] = stream
    games = [
        GameStat(game, leader.game_name, counts[game], leader.viewer_count)
        for game, leader in leaders.items()
    ]
    return tuple(sorted(games, key=game_sort_key))


def top_streams(streams: Sequence[Stream], order: Order = "desc") -> tuple[Stream, ...]:
    """The `TOP_LIMIT` streams with most viewers; `asc` is the same streams, reversed."""
    top = heapq.nsmallest(TOP_LIMIT, streams, key=by_viewers)
    return tuple(reversed(top)) if order == "asc" else tuple(top)


def ranked(streams: Sequence[Stream], order: Order) -> list[tuple[int, Stream]]:
    """Pair each stream of a `top_streams` result with its rank (1 = most viewers), either order."""
    total = len(streams)
    return [
        (index + 1 if order == "desc" else total - index, stream)
        for index, stream in enumerate(streams)
    ]


HOUR = timedelta(hours=1)


def start_hour(started_at: datetime) -> datetime:
    """`started_at` rounded to the nearest hour in UTC; half past goes up (14:30:00 is 15:00)."""
    moment = started_at.astimezone(UTC)
    hour = moment.replace(minute=0, second=0, microsecond=0)
    return hour + HOUR if moment - hour >= HOUR / 2 else hour


def start_hours(streams: Sequence[Stream]) -> tuple[HourCount, ...]:
    """Streams per rounded start hour, newest hour first."""
    counts = Counter(start_hour(stream.started_at) for stream in streams)
    return tuple(HourCount(hour, counts[hour]) for hour in sorted(counts, reverse=True))


def find_game(games: Sequence[GameStat], wanted: str) -> GameStat | None:
    """The game with id `wanted` (what a suggestion carries) or shown name `wanted` (any case)."""
    key = wanted.strip().casefold()
    return next(
        (game for game in games if game.game_id == key or game.label.casefold() == key), None
    )


class GameIndex:
    """Finds the games whose shown name contains some text (any case), without a scan.

    Autocomplete asks on every keystroke, and the whole platform has about 8,000 games. Built
    once per snapshot: every suffix of every name (its first `KEY_LENGTH` characters), sorted,
    so that the names containing a text are one range found by two bisections.
    """

    KEY_LENGTH = 24

    def __init__(self, games: Sequence[GameStat]) -> None:
        self.games = tuple(games)
        self._names = [game.label.casefold() for game in self.games]
        suffixes = sorted(
            (name[start : start + self.KEY_LENGTH], rank)
            for rank, name in enumerate(self._names)
            for start in range(len(name))
        )
        self._keys = [key for key, _ in suffixes]
        self._ranks = [rank for _, rank in suffixes]

    def matching(self, text: str, limit: int = 25) -> list[GameStat]:
        """Games whose name contains `text`, in ranking order, at most `limit`."""
        needle = text.strip().casefold()
        if not needle:
            return list(self.games[:limit])
        key = needle[: self.KEY_LENGTH]
        low = bisect.bisect_left(self._keys, key)
        high = bisect.bisect_left(self._keys, key + "\U0010ffff", lo=low)
        ranks = sorted(set(self._ranks[low:high]))
        if len(needle) > self.KEY_LENGTH:  # the key was only the needle's start
            ranks = [rank for rank in ranks if needle in self._names[rank]]
        return [self.games[rank] for rank in ranks[:limit]]

"""The history's values and the pure trends drawn from them.

Which games gained and lost viewers, a game's series, a channel's record: `db/history.py`
reads the values, the history service and the embeds use the rest.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal


@dataclass(frozen=True, slots=True)
class GameTotal:
    """One game in one snapshot: its newest name, live streams, total and highest viewers."""

    name: str
    streams: int
    total_viewers: int
    highest_viewers: int


@dataclass(frozen=True, slots=True)
class ChannelRank:
    """One channel in one snapshot: its login then, rank (1 = most watched) and viewers."""

    login: str
    rank: int
    viewers: int


@dataclass(frozen=True, slots=True)
class SnapshotTotals:
    """Figures over all streams of one snapshot of the history."""

    snapshot_id: int
    taken_at: datetime
    streams: int
    total_viewers: int
    median: float | None


Period = Literal["1h", "6h", "24h", "7d"]
PERIODS: dict[Period, timedelta] = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
DEFAULT_PERIOD: Period = "24h"
SHOWN = 10  # games listed among the gainers, and among the losers


@dataclass(frozen=True, slots=True)
class Window:
    """The two snapshots a trend compares: the one nearest the period's start, and the newest.

    `short` is True when the history begins after the period's start: the trend then covers
    only the history there is (`span`), from the oldest snapshot to the newest.
    """

    period: Period
    start: SnapshotTotals
    end: SnapshotTotals
    short: bool

    @property
    def span(self) -> timedelta:
        """How much time the trend covers."""
        return self.end.taken_at - self.start.taken_at


def choose_window(history: Sequence[SnapshotTotals], period: Period) -> Window | None:
    """The window of `period` over `history` (oldest first); None when there is no history.

    The start is the snapshot nearest to (newest - period); of two equally near, the earlier.
    """
    if not history:
        return None
    end = history[-1]
    target = end.taken_at - PERIODS[period]
    start = min(history, key=lambda s: (abs(s.taken_at - target), s.taken_at))
    return Window(period, start, end, short=history[0].taken_at > target)


@dataclass(frozen=True, slots=True)
class GameChange:
    """A game's total viewers at both ends of a window; `percent` is None when it is new."""

    game_id: str
    name: str
    before: int
    after: int
    change: int
    percent: float | None


def game_change(game_id: str, before: GameTotal | None, after: GameTotal | None) -> GameChange:
    """The change of one game; absent at one end counts as 0 viewers there."""
    named = after or before
    start = before.total_viewers if before else 0
    end = after.total_viewers if after else 0
    return GameChange(
        game_id=game_id,
        name=named.name if named else "",
        before=start,
        after=end,
        change=end - start,
        percent=(end - start) * 100 / start if start else None,
    )


def rank_changes(
    before: Mapping[str, GameTotal], after: Mapping[str, GameTotal], shown: int = SHOWN
) -> tuple[tuple[GameChange, ...], tuple[GameChange, ...]]:
    """The `shown` games that gained most viewers and the `shown` that lost most.

    Gainers by gain, losers by loss, largest first; equal changes by game id. A game whose
    total did not move is in neither list.
    """
    changes = [game_change(g, before.get(g), after.get(g)) for g in before.keys() | after.keys()]
    gainers = heapq.nsmallest(
        shown, (c for c in changes if c.change > 0), key=lambda c: (-c.change, c.game_id)
    )
    losers = heapq.nsmallest(
        shown, (c for c in changes if c.change < 0), key=lambda c: (c.change, c.game_id)
    )
    return tuple(gainers), tuple(losers)


@dataclass(frozen=True, slots=True)
class Trends:
    """The games that gained and lost most viewers over a window."""

    window: Window
    gainers: tuple[GameChange, ...]
    losers: tuple[GameChange, ...]


@dataclass(frozen=True, slots=True)
class GamePoint:
    """A game in one snapshot of a window (0 viewers and 0 streams when it was absent)."""

    taken_at: datetime
    total_viewers: int
    streams: int


@dataclass(frozen=True, slots=True)
class GameTrend:
    """One game over a window: its series, the change between the ends and its peak."""

    window: Window
    game_id: str
    name: str
    points: tuple[GamePoint, ...]
    change: GameChange
    peak: GamePoint


def game_trend(
    window: Window,
    snapshots: Sequence[SnapshotTotals],
    game_id: str,
    totals: Mapping[int, GameTotal],
) -> GameTrend | None:
    """A game over the window's `snapshots` from its totals by snapshot id; None if never seen.

    The newest name wins (a renamed game is the same game); the peak is the highest total, the
    earliest of equal ones.
    """
    present = [s for s in snapshots if s.snapshot_id in totals]
    if not present:
        return None
    points = tuple(
        GamePoint(s.taken_at, totals[s.snapshot_id].total_viewers, totals[s.snapshot_id].streams)
        if s.snapshot_id in totals
        else GamePoint(s.taken_at, 0, 0)
        for s in snapshots
    )
    change = game_change(
        game_id, totals.get(window.start.snapshot_id), totals.get(window.end.snapshot_id)
    )
    return GameTrend(
        window=window,
        game_id=game_id,
        name=totals[present[-1].snapshot_id].name,
        points=points,
        change=change,
        peak=max(points, key=lambda p: p.total_viewers),
    )


@dataclass(frozen=True, slots=True)
class ChannelPoint:
    """A channel in one snapshot of the history."""

    taken_at: datetime
    rank: int
    viewers: int


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    """A channel now and over the history: best rank, peak, how often and when it was seen.

    `now` is None when the channel is not in the current top. Without history the figures
    over it are None and `snapshots` is 0.
    """

    user_id: str
    login: str
    now: ChannelRank | None
    best_rank: int | None
    peak_viewers: int | None
    snapshots: int
    first_seen: datetime | None
    last_seen: datetime | None
    points: tuple[ChannelPoint, ...]


def channel_record(
    user_id: str, login: str, now: ChannelRank | None, points: Sequence[ChannelPoint]
) -> ChannelRecord:
    """A channel's record from its points in the history (any order)."""
    return ChannelRecord(
        user_id=user_id,
        login=login,
        now=now,
        best_rank=min((p.rank for p in points), default=None),
        peak_viewers=max((p.viewers for p in points), default=None),
        snapshots=len(points),
        first_seen=min((p.taken_at for p in points), default=None),
        last_seen=max((p.taken_at for p in points), default=None),
        points=tuple(sorted(points, key=lambda p: p.taken_at)),
    )

"""The history's values and the pure trends drawn from them.

Which games gained and lost viewers, a game's series, a channel's record: `db/history.py`
reads the values, the history service and the embeds use the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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

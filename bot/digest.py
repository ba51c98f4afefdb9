"""Digests, pure: which period a digest is in at a given time, and what it holds.

A digest is due when its current period has no post yet. An hourly digest's period is the
clock hour (UTC), so the first refresh after `/digest set` posts, then the first refresh of each
hour. A daily digest's period runs from `hour`:00 UTC to the same time the next day, so it
posts at the first refresh at or after `hour`:00, and also at once when it is set, as nobody
should wait a day to see that the setting works.

The content compares the current snapshot with the snapshot of the guild's previous digest:
games by total viewers (ties by game id, the order /trends uses) and the channels whose rank
rose most. The current figures come from the snapshot's rows, the previous ones from the
history; both in the history's own values (`bot/trends.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from bot.stats import NO_CATEGORY, AsOf, SnapshotInfo, StreamSummary, stream_summary
from bot.streams import Stream, by_viewers
from bot.trends import ChannelRank, GameTotal

Every = Literal["hourly", "daily"]
DEFAULT_HOUR = 0  # UTC: a daily digest set without an hour posts after midnight
TOP_GAMES = 5  # in the digest's text
CHART_GAMES = 15  # in its chart
TOP_CLIMBERS = 5


@dataclass(frozen=True, slots=True)
class Schedule:
    """How often a guild's digest is posted; `hour` (UTC) matters for daily digests only."""

    every: Every
    hour: int = DEFAULT_HOUR


@dataclass(frozen=True, slots=True)
class DigestSetting:
    """A guild's digest; `disabled_reason` says in plain words why it is off (None: on)."""

    guild_id: int
    channel_id: int
    schedule: Schedule
    set_at: datetime
    disabled_reason: str | None = None
    disabled_at: datetime | None = None


PostState = Literal["claimed", "sent", "failed"]


@dataclass(frozen=True, slots=True)
class PostRecord:
    """One claimed period: when, from which snapshot, and how sending it went."""

    id: int
    period: str
    snapshot_id: int
    claimed_at: datetime
    state: PostState
    error: str | None


def period_start(schedule: Schedule, now: datetime) -> datetime:
    """When the period that `now` falls in began (UTC)."""
    moment = now.astimezone(UTC)
    hour = moment.replace(minute=0, second=0, microsecond=0)
    if schedule.every == "hourly":
        return hour
    start = hour.replace(hour=schedule.hour)
    return start if start <= moment else start - timedelta(days=1)


def next_period_start(schedule: Schedule, now: datetime) -> datetime:
    """When the period after the one `now` falls in begins (UTC)."""
    length = timedelta(hours=1) if schedule.every == "hourly" else timedelta(days=1)
    return period_start(schedule, now) + length


def period_key(schedule: Schedule, now: datetime) -> str:
    """The name of the period `now` falls in: one post per guild and key, ever."""
    return f"{schedule.every} {period_start(schedule, now):%Y-%m-%d %H:%M}"


@dataclass(frozen=True, slots=True)
class GameLine:
    """One game of the digest: its total viewers now and at the previous digest.

    `previous` is None when the game had no viewers in the previous digest's snapshot (new).
    """

    game_id: str
    name: str
    total_viewers: int
    streams: int
    previous: int | None

    @property
    def label(self) -> str:
        """The name to show a person."""
        return self.name or NO_CATEGORY

    @property
    def change(self) -> int | None:
        """Viewers gained (negative: lost) since the previous digest; None for a new game."""
        return None if self.previous is None else self.total_viewers - self.previous

    @property
    def percent(self) -> float | None:
        """The change relative to the previous total; None for a new game."""
        if self.previous is None or self.previous == 0:
            return None
        return 100 * (self.total_viewers - self.previous) / self.previous


@dataclass(frozen=True, slots=True)
class Climber:
    """A channel whose rank rose since the previous digest (rank 1 = most viewers)."""

    stream: Stream
    rank: int
    previous_rank: int

    @property
    def rise(self) -> int:
        """How many places it climbed."""
        return self.previous_rank - self.rank


def game_totals(streams: Sequence[Stream]) -> dict[str, GameTotal]:
    """Every game of a snapshot by game id, as the history keeps them (`game_totals_at`).

    A game's name is the one on its most-watched stream, as in the other statistics.
    """
    totals: dict[str, int] = {}
    counts: dict[str, int] = {}
    leaders: dict[str, Stream] = {}
    for stream in streams:
        game = stream.game_id
        totals[game] = totals.get(game, 0) + stream.viewer_count
        counts[game] = counts.get(game, 0) + 1
        leader = leaders.get(game)
        if leader is None or by_viewers(stream) < by_viewers(leader):
            leaders[game] = stream
    return {
        game: GameTotal(leader.game_name, counts[game], totals[game], leader.viewer_count)
        for game, leader in leaders.items()
    }


def top_games(
    current: Mapping[str, GameTotal],
    previous: Mapping[str, GameTotal] | None,
    limit: int = TOP_GAMES,
) -> tuple[GameLine, ...]:
    """The `limit` games with most total viewers (ties by game id), each against `previous`.

    With no `previous` (no earlier digest, or no history of it) every game's change is unknown.
    """
    ranked = sorted(current, key=lambda game: (-current[game].total_viewers, game))[:limit]
    before = previous or {}
    return tuple(
        GameLine(
            game_id=game,
            name=current[game].name,
            total_viewers=current[game].total_viewers,
            streams=current[game].streams,
            previous=before[game].total_viewers if game in before else None,
        )
        for game in ranked
    )


def channel_ranks(streams: Sequence[Stream]) -> dict[str, tuple[int, Stream]]:
    """Each channel's rank now (1 = most viewers, ties by stream id) and its stream.

    A channel with two streams in a snapshot counts at its best one.
    """
    ranks: dict[str, tuple[int, Stream]] = {}
    for rank, stream in enumerate(sorted(streams, key=by_viewers), start=1):
        ranks.setdefault(stream.user_id, (rank, stream))
    return ranks


def climbers(
    now: Mapping[str, tuple[int, Stream]],
    previous_ranks: Mapping[str, ChannelRank],
    limit: int = TOP_CLIMBERS,
) -> tuple[Climber, ...]:
    """The channels whose rank rose most since `previous_ranks`; `now` is `channel_ranks`.

    Only channels ranked both then and now can have climbed. Equal rises go to the better rank
    now, then the user id.
    """
    rising = [
        Climber(now[user][1], now[user][0], before.rank)
        for user, before in previous_ranks.items()
        if user in now and before.rank > now[user][0]
    ]
    rising.sort(key=lambda climber: (-climber.rise, climber.rank, climber.stream.user_id))
    return tuple(rising[:limit])


@dataclass(frozen=True, slots=True)
class Current:
    """The current snapshot's figures, worked out once for every digest posted after it."""

    snapshot: SnapshotInfo
    games: dict[str, GameTotal]
    ranks: dict[str, tuple[int, Stream]]
    summary: StreamSummary


def current_figures(rows: AsOf[tuple[Stream, ...]]) -> Current:
    """The games, channel ranks and summary of the snapshot in `rows`."""
    return Current(
        snapshot=rows.snapshot,
        games=game_totals(rows.value),
        ranks=channel_ranks(rows.value),
        summary=stream_summary(rows.value),
    )


Comparison = Literal["first", "no history", "compared"]


@dataclass(frozen=True, slots=True)
class DigestContent:
    """What one digest shows: the snapshot, its top games and climbers, median and count.

    `comparison` says what the changes are against: nothing (the guild's first digest), nothing
    because the previous digest's snapshot is no longer in the history, or that snapshot (the
    previous digest was posted at `since`).
    """

    snapshot: SnapshotInfo
    games: tuple[GameLine, ...]  # the top `CHART_GAMES`: the text shows the first `TOP_GAMES`
    climbers: tuple[Climber, ...]
    summary: StreamSummary
    comparison: Comparison
    since: datetime | None = None


def compose(
    current: Current,
    *,
    since: datetime | None,
    previous_totals: Mapping[str, GameTotal] | None,
    previous_ranks: Mapping[str, ChannelRank] | None,
) -> DigestContent:
    """The digest of the `current` snapshot against the previous digest's snapshot.

    `since` is when the previous digest was posted (None: there was none); the previous
    figures are None when the history no longer holds its snapshot.
    """
    if since is None:
        comparison: Comparison = "first"
    elif previous_totals is None:
        comparison = "no history"
    else:
        comparison = "compared"
    compared = comparison == "compared"
    return DigestContent(
        snapshot=current.snapshot,
        games=top_games(current.games, previous_totals, limit=CHART_GAMES),
        climbers=climbers(current.ranks, previous_ranks or {}) if compared else (),
        summary=current.summary,
        comparison=comparison,
        since=since,
    )


@dataclass(frozen=True, slots=True)
class DigestStatus:
    """What /digest show tells: the setting, how the last post went, when the next one comes.

    `due_now` means the current period has no post yet: the next refresh posts it; otherwise
    the next post comes with the first refresh from `next_period`.
    """

    setting: DigestSetting
    last_post: PostRecord | None
    due_now: bool
    next_period: datetime

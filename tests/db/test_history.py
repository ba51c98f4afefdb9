"""The history stored with each snapshot matches the snapshot's rows, and pruning forgets
exactly what is older than the cut-off, on SQLite and on PostgreSQL."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.streams import Stream, by_viewers
from bot.trends import ChannelRank, GameTotal
from db import history
from db.snapshots import replace_snapshot
from tests.strategies import snapshots

history_settings = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)


async def store(streams, taken_at=T0, channels: int | None = 1000):
    return await replace_snapshot(
        streams, pages=1, duplicates_dropped=0, taken_at=taken_at, history_channels=channels
    )


def brute_games(streams: list[Stream]) -> dict[str, GameTotal]:
    games = {}
    for game_id in {s.game_id for s in streams}:
        members = [s for s in streams if s.game_id == game_id]
        top = sorted(members, key=by_viewers)[0]
        games[game_id] = GameTotal(
            name=top.game_name,
            streams=len(members),
            total_viewers=sum(s.viewer_count for s in members),
            highest_viewers=max(s.viewer_count for s in members),
        )
    return games


def brute_ranks(streams: list[Stream], channels: int) -> dict[str, ChannelRank]:
    ordered = sorted(streams, key=lambda s: s.id)
    ordered.sort(key=lambda s: s.viewer_count, reverse=True)
    return {
        s.user_id: ChannelRank(s.user_login, position, s.viewer_count)
        for position, s in enumerate(ordered[:channels], start=1)
    }


@history_settings
@given(streams=snapshots(), channels=st.sampled_from([0, 1, 7, 1000]))
async def test_history_holds_each_games_totals_and_the_top_channels(database, streams, channels):
    snapshot = await store(streams, channels=channels)

    assert await history.game_totals_at(snapshot.id) == brute_games(streams)
    assert await history.channel_ranks_at(snapshot.id) == brute_ranks(streams, channels)
    [totals] = [t for t in await history.snapshots_with_history() if t.snapshot_id == snapshot.id]
    assert (totals.streams, totals.total_viewers, totals.taken_at) == (
        len(streams),
        sum(s.viewer_count for s in streams),
        T0,
    )
    counts = [s.viewer_count for s in streams]
    assert totals.median == (float(statistics.median(counts)) if counts else None)


async def test_a_snapshot_without_history_reads_as_empty(database):
    snapshot = await store(snapshots_of(3), channels=None)

    assert await history.game_totals_at(snapshot.id) == {}
    assert await history.channel_ranks_at(snapshot.id) == {}
    assert await history.snapshots_with_history() == []


def snapshots_of(count: int, viewers: int = 10) -> list[Stream]:
    return [
        Stream(
            id=str(n),
            user_id=str(1000 + n),
            user_login=f"user{n}",
            user_name=f"User {n}",
            game_id=str(n % 3),
            game_name=f"Game {n % 3}",
            title="t",
            viewer_count=viewers + n,
            started_at=T0,
            language="en",
            tags=(),
            thumbnail_url="",
            is_mature=False,
        )
        for n in range(count)
    ]


async def test_pruning_forgets_exactly_the_snapshots_older_than_the_cut_off(database):
    stored = [
        await store(snapshots_of(5, viewers=n), taken_at=T0 + timedelta(hours=n)) for n in range(7)
    ]

    pruned = await history.prune_history(T0 + timedelta(hours=3))

    assert pruned == 3
    kept = [t.snapshot_id for t in await history.snapshots_with_history()]
    assert kept == [s.id for s in stored[3:]]
    for gone in stored[:3]:
        assert await history.game_totals_at(gone.id) == {}
        assert await history.channel_ranks_at(gone.id) == {}
    assert len(await history.channel_ranks_at(stored[3].id)) == 5


async def test_pruning_a_backlog_longer_than_one_batch(database, monkeypatch):
    monkeypatch.setattr(history, "PRUNE_BATCH", 2)
    for n in range(5):
        await store(snapshots_of(2), taken_at=T0 + timedelta(minutes=n))

    assert await history.prune_history(T0 + timedelta(days=1)) == 5
    assert await history.snapshots_with_history() == []

"""The history stored with each snapshot matches the snapshot's rows, and pruning forgets
exactly what is older than the cut-off, on SQLite and on PostgreSQL."""

from __future__ import annotations

import statistics
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.streams import Stream, by_viewers
from bot.trends import ChannelPoint, ChannelRank, GameTotal
from db import history
from db.snapshots import replace_snapshot
from tests.strategies import GAMES, hostile_names, snapshots

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


# Game names and logins with the packs' own separators, escapes that look decoded, and names
# longer than a search reads with its entry.
separators = st.lists(st.sampled_from([",", ":", "%", "%2C", "%3A", "%25", "a", "é"]), max_size=8)
packed_text = st.one_of(separators.map("".join), hostile_names)


@history_settings
@given(
    streams=snapshots(max_size=30),
    names=st.lists(packed_text, min_size=len(GAMES), max_size=len(GAMES)),
    logins=st.lists(packed_text, min_size=30, max_size=30, unique=True),
)
async def test_any_game_name_and_login_reads_back_one_by_one(database, streams, names, logins):
    named = dict(zip(GAMES, names, strict=True))
    streams = [
        replace(s, game_name=named[s.game_id], user_login=login)
        for s, login in zip(streams, logins, strict=False)
    ]
    snapshot = await store(streams, channels=20)

    games = brute_games(streams)
    assert await history.game_totals_at(snapshot.id) == games
    for game_id, total in games.items():
        assert await history.game_history(game_id, snapshot.id, snapshot.id) == {snapshot.id: total}
    assert await history.game_history("no such game", snapshot.id, snapshot.id) == {}
    ranks = brute_ranks(streams, 20)
    for user_id, rank in ranks.items():
        assert await history.channel_of(rank.login) == user_id
        newest = (await history.channel_history(user_id))[-1]  # earlier examples' come first
        assert newest == ChannelPoint(T0, rank.rank, rank.viewers)
    assert await history.logins_since(snapshot.id) == {rank.login for rank in ranks.values()}
    assert await history.games_since(snapshot.id) == {g: t.name for g, t in games.items()}


async def test_a_game_name_longer_than_a_search_reads_reads_back_whole(database):
    long_name = "Just, Chatting: " * 100  # escaped, far past what one search reads
    streams = [replace(s, game_name=long_name) for s in snapshots_of(3)]
    snapshot = await store(streams)

    series = await history.game_history("0", snapshot.id, snapshot.id)

    assert series == {snapshot.id: brute_games(streams)["0"]}
    assert series[snapshot.id].name == long_name

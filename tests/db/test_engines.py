"""The two engines agree with each other and with brute force, on SQLite and on PostgreSQL."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings

from bot import stats
from bot.stats import GameStat, HourCount, StreamSummary
from bot.streams import Stream
from db import queries
from db.snapshots import replace_snapshot
from tests.strategies import snapshots, start_times

engine_settings = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def brute_summary(streams: list[Stream]) -> StreamSummary:
    counts = [s.viewer_count for s in streams]
    if not counts:
        return stats.EMPTY_SUMMARY
    odd = len([c for c in counts if c % 2 == 1])
    sharing = [c for c in counts if counts.count(c) > 1]
    return StreamSummary(
        total=len(counts),
        median=float(statistics.median(counts)),
        odd=odd,
        even=len(counts) - odd,
        duplicates=len(sharing),
        shared_counts=len(set(sharing)),
    )


def brute_games(streams: list[Stream]) -> list[GameStat]:
    games = []
    for game_id in {s.game_id for s in streams}:
        members = [s for s in streams if s.game_id == game_id]
        games.append(
            GameStat(
                game_id,
                members[0].game_name,
                len(members),
                max(s.viewer_count for s in members),
            )
        )
    games.sort(key=lambda g: g.game_id)
    games.sort(key=lambda g: (g.streams, g.max_viewers), reverse=True)
    return games


def brute_top(streams: list[Stream]) -> list[Stream]:
    by_id = sorted(streams, key=lambda s: s.id)
    return sorted(by_id, key=lambda s: s.viewer_count, reverse=True)[:100]


def brute_start_hour(started_at: datetime) -> datetime:
    """The nearest whole hour, ties going to the later one, by comparing both candidates."""
    moment = started_at.astimezone(UTC)
    earlier = datetime(moment.year, moment.month, moment.day, moment.hour, tzinfo=UTC)
    later = earlier + timedelta(hours=1)
    return earlier if moment - earlier < later - moment else later


def brute_hours(streams: list[Stream]) -> list[HourCount]:
    counts = Counter(brute_start_hour(s.started_at) for s in streams)
    return [HourCount(hour, n) for hour, n in sorted(counts.items(), reverse=True)]


@given(started_at=start_times)
def test_start_hour_rounds_to_the_nearest_hour_half_past_going_up(started_at):
    assert stats.start_hour(started_at) == brute_start_hour(started_at)


def test_start_hour_at_the_edges():
    at = datetime(2026, 11, 30, 14, 29, 59, tzinfo=UTC)
    assert stats.start_hour(at) == datetime(2026, 11, 30, 14, tzinfo=UTC)
    assert stats.start_hour(at + timedelta(seconds=1)) == datetime(2026, 11, 30, 15, tzinfo=UTC)
    midnight = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert stats.start_hour(midnight) == datetime(2027, 1, 1, tzinfo=UTC)


async def store(streams: list[Stream]) -> None:
    await replace_snapshot(streams, pages=1, duplicates_dropped=0, taken_at=datetime.now(UTC))


@engine_settings
@given(streams=snapshots())
async def test_stream_summary_engines_agree(database, streams):
    await store(streams)
    expected = brute_summary(streams)

    assert stats.stream_summary(streams) == expected
    from_sql = await queries.stream_summary()
    if streams:
        assert from_sql is not None
        assert from_sql.value == expected
    else:
        assert from_sql is None


@engine_settings
@given(streams=snapshots())
async def test_game_stats_engines_agree(database, streams):
    await store(streams)
    expected = brute_games(streams)

    assert list(stats.game_stats(streams)) == expected
    from_sql = await queries.game_stats()
    assert (list(from_sql.value) if from_sql else []) == expected


@engine_settings
@given(streams=snapshots())
async def test_top_streams_engines_agree_in_both_orders(database, streams):
    await store(streams)
    expected = brute_top(streams)

    assert list(stats.top_streams(streams, "desc")) == expected
    assert list(stats.top_streams(streams, "asc")) == expected[::-1]
    desc, asc = await queries.top_streams("desc"), await queries.top_streams("asc")
    assert (list(desc.value) if desc else []) == expected
    assert (list(asc.value) if asc else []) == expected[::-1]


@engine_settings
@given(streams=snapshots(max_size=60))
async def test_stored_rows_load_back_unchanged(database, streams):
    await store(streams)

    loaded = await queries.load_streams()
    if not streams:
        assert loaded is None
        return
    assert loaded is not None
    assert sorted(loaded.value, key=lambda s: s.id) == sorted(streams, key=lambda s: s.id)
    assert loaded.snapshot.stream_count == len(streams)


@engine_settings
@given(streams=snapshots())
async def test_start_hours_engines_agree(database, streams):
    await store(streams)
    expected = brute_hours(streams)

    assert list(stats.start_hours(streams)) == expected
    from_sql = await queries.start_hours()
    assert (list(from_sql.value) if from_sql else []) == expected

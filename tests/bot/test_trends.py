"""The pure trends against brute force: gain/loss ranking, the window, a game's series, a
channel's record."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.trends import (
    PERIODS,
    SHOWN,
    ChannelPoint,
    GameTotal,
    SnapshotTotals,
    channel_record,
    choose_window,
    game_change,
    game_trend,
    rank_changes,
)

T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)
game_ids = st.sampled_from(["", "1", "2", "10", "21779", "509658", "9", "99"])
totals = st.builds(
    GameTotal,
    name=st.sampled_from(["A", "B", "Renamed"]),
    streams=st.integers(1, 5),
    total_viewers=st.integers(0, 50),  # small: many ties
    highest_viewers=st.integers(0, 50),
)
sides = st.dictionaries(game_ids, totals, max_size=8)


def brute_ranking(before, after, shown):
    """Every game's change, compared pair by pair, then cut at `shown`."""
    games = set(before) | set(after)

    def viewers(side, game):
        return side[game].total_viewers if game in side else 0

    change = {g: viewers(after, g) - viewers(before, g) for g in games}

    def gains_first(a, b):
        if change[a] != change[b]:
            return -1 if change[a] > change[b] else 1
        return -1 if a < b else 1

    def losses_first(a, b):
        if change[a] != change[b]:
            return -1 if change[a] < change[b] else 1
        return -1 if a < b else 1

    gainers = sorted((g for g in games if change[g] > 0), key=functools.cmp_to_key(gains_first))
    losers = sorted((g for g in games if change[g] < 0), key=functools.cmp_to_key(losses_first))
    return gainers[:shown], losers[:shown], change


@given(before=sides, after=sides, shown=st.sampled_from([1, 3, SHOWN]))
def test_gain_and_loss_ranking_matches_brute_force(before, after, shown):
    gainers, losers = rank_changes(before, after, shown)
    expected_gainers, expected_losers, change = brute_ranking(before, after, shown)

    assert [c.game_id for c in gainers] == expected_gainers
    assert [c.game_id for c in losers] == expected_losers
    for c in (*gainers, *losers):
        assert c.change == change[c.game_id] == c.after - c.before
        assert c.name == (after.get(c.game_id) or before[c.game_id]).name  # newest name wins
        if c.game_id in before and before[c.game_id].total_viewers:
            assert c.percent == c.change * 100 / before[c.game_id].total_viewers
        else:
            assert c.percent is None  # absent (or at 0) at the start: shown as "new"


def test_ties_are_broken_by_game_id_and_absent_games_count_as_zero():
    before = {"2": GameTotal("Two", 1, 10, 10), "1": GameTotal("One", 1, 10, 10)}
    after = {"3": GameTotal("Three", 1, 5, 5), "4": GameTotal("Four", 1, 5, 5)}

    gainers, losers = rank_changes(before, after)

    assert [(c.game_id, c.change, c.percent) for c in gainers] == [
        ("3", 5, None),
        ("4", 5, None),
    ]
    assert [(c.game_id, c.change, c.percent) for c in losers] == [
        ("1", -10, -100.0),
        ("2", -10, -100.0),
    ]


def snapshot(n: int, at: datetime) -> SnapshotTotals:
    return SnapshotTotals(n, at, streams=10, total_viewers=100, median=5.0)


offsets = st.lists(st.integers(0, 10 * 24 * 60), min_size=1, max_size=30, unique=True)


@given(minutes=offsets, period=st.sampled_from(list(PERIODS)))
def test_the_window_starts_at_the_snapshot_nearest_the_periods_start(minutes, period):
    history = [snapshot(n, T0 + timedelta(minutes=m)) for n, m in enumerate(sorted(minutes))]

    window = choose_window(history, period)

    assert window is not None
    assert window.end == history[-1]
    target = history[-1].taken_at - PERIODS[period]
    distance = abs(window.start.taken_at - target)
    assert all(abs(s.taken_at - target) >= distance for s in history)
    assert all(
        s.taken_at >= window.start.taken_at for s in history if abs(s.taken_at - target) == distance
    )
    assert window.short == (history[0].taken_at > target)
    if window.short:
        assert window.start == history[0]  # all the history there is


def test_no_history_has_no_window():
    assert choose_window([], "24h") is None


def test_a_games_series_counts_absent_snapshots_as_zero_and_peaks_at_its_highest():
    history = [snapshot(n, T0 + timedelta(minutes=15 * n)) for n in range(5)]
    window = choose_window(history, "1h")
    game = {
        0: GameTotal("Old name", 3, 30, 20),
        2: GameTotal("Old name", 4, 90, 50),
        3: GameTotal("New name", 2, 90, 60),
        4: GameTotal("New name", 2, 45, 40),
    }

    trend = game_trend(window, history, "7", game)

    assert trend.name == "New name"
    assert [(p.total_viewers, p.streams) for p in trend.points] == [
        (30, 3),
        (0, 0),
        (90, 4),
        (90, 2),
        (45, 2),
    ]
    assert trend.peak.taken_at == history[2].taken_at  # the earlier of two equal peaks
    assert trend.change == game_change("7", game[0], game[4])
    assert trend.change.percent == 50.0
    assert game_trend(window, history, "7", {}) is None


@given(
    points=st.lists(
        st.builds(
            ChannelPoint,
            taken_at=st.integers(0, 10**6).map(lambda s: T0 + timedelta(seconds=s)),
            rank=st.integers(1, 1000),
            viewers=st.integers(0, 10**6),
        ),
        max_size=20,
    )
)
def test_a_channels_record_over_its_points(points):
    record = channel_record("42", "somebody", None, points)

    assert record.snapshots == len(points)
    if points:
        assert record.best_rank == min(p.rank for p in points)
        assert record.peak_viewers == max(p.viewers for p in points)
        assert record.first_seen == min(p.taken_at for p in points)
        assert record.last_seen == max(p.taken_at for p in points)
    else:
        assert (record.best_rank, record.peak_viewers, record.first_seen) == (None, None, None)
    assert list(record.points) == sorted(points, key=lambda p: p.taken_at)

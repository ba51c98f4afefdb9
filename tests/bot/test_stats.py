"""The memory engine on small cases a person can check by hand."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from bot import stats
from bot.stats import GameStat, StreamSummary
from bot.streams import Stream


def stream(stream_id: int, viewers: int, game_id: str = "1", game_name: str = "Chess") -> Stream:
    return Stream(
        id=str(stream_id),
        user_id=str(stream_id),
        user_login=f"user{stream_id}",
        user_name=f"User {stream_id}",
        game_id=game_id,
        game_name=game_name,
        title="hello",
        viewer_count=viewers,
        started_at=datetime(2026, 11, 28, tzinfo=UTC),
        language="en",
        tags=(),
        thumbnail_url="",
        is_mature=False,
    )


def test_median_of_an_odd_count_is_the_middle_value():
    streams = [stream(1, 5), stream(2, 1), stream(3, 100)]
    assert stats.stream_summary(streams).median == 5.0


def test_median_of_an_even_count_is_the_mean_of_the_two_middle_values():
    streams = [stream(1, 5), stream(2, 1), stream(3, 100), stream(4, 8)]
    assert stats.stream_summary(streams).median == 6.5


def test_odd_even_and_duplicates():
    viewers = [7, 7, 7, 4, 4, 10, 3]
    summary = stats.stream_summary([stream(i, v) for i, v in enumerate(viewers)])
    # 7 is shared by three streams and 4 by two: five streams share their count, two counts.
    assert summary == StreamSummary(
        total=7, median=7.0, odd=4, even=3, duplicates=5, shared_counts=2
    )


def test_no_streams_is_a_clear_empty_result():
    summary = stats.stream_summary([])
    assert summary.total == 0
    assert summary.median is None
    assert stats.game_stats([]) == ()
    assert stats.top_streams([]) == ()


def test_streams_without_a_category_form_one_entry():
    streams = [stream(1, 10, "", ""), stream(2, 30, "", ""), stream(3, 20, "9", "Go")]
    games = stats.game_stats(streams)
    assert games == (GameStat("", "", 2, 30), GameStat("9", "Go", 1, 20))
    assert games[0].label == "No category"
    assert games[1].label == "Go"


def test_games_rank_by_streams_then_highest_viewers():
    streams = [stream(1, 5, "a", "A"), stream(2, 50, "b", "B"), stream(3, 6, "a", "A")]
    assert [g.game_id for g in stats.game_stats(streams)] == ["a", "b"]


def test_top_is_at_most_100_and_ascending_is_the_same_100_reversed():
    streams = [stream(i, i % 150) for i in range(300)]
    desc = stats.top_streams(streams, "desc")
    asc = stats.top_streams(streams, "asc")
    assert len(desc) == 100
    assert desc[0].viewer_count == 149
    assert asc == tuple(reversed(desc))


def test_equal_viewer_counts_are_ordered_by_stream_id():
    streams = [stream(3, 10), stream(1, 10), stream(2, 10)]
    assert [s.id for s in stats.top_streams(streams)] == ["1", "2", "3"]


def test_a_game_is_found_by_its_id_or_by_its_name_in_any_case():
    games = stats.game_stats([stream(1, 5, "33214", "Fortnite"), stream(2, 9, "", "")])
    assert stats.find_game(games, "33214").game_name == "Fortnite"
    assert stats.find_game(games, " fortNITE ").game_id == "33214"
    assert stats.find_game(games, "no category").game_id == ""
    assert stats.find_game(games, "Chess") is None


def test_game_search_is_a_case_insensitive_substring_search_capped_at_25():
    games = stats.game_stats([stream(i, i, str(i), f"Game {i}") for i in range(40)])
    index = stats.GameIndex(games)
    assert len(index.matching("GAME")) == 25
    assert [g.game_id for g in index.matching("me 3")] == [
        "39", "38", "37", "36", "35", "34", "33", "32", "31", "30", "3",
    ]  # fmt: skip
    assert [g.game_id for g in index.matching("  ")] == [str(i) for i in range(39, 14, -1)]


@settings(max_examples=200, deadline=None)
@given(
    names=st.lists(st.text(alphabet="aAbB é_-:ß", max_size=40), min_size=1, max_size=30),
    typed=st.text(alphabet="aAbB é_-:ß", max_size=30),
    limit=st.integers(1, 25),
)
def test_game_search_finds_what_a_scan_finds(names, typed, limit):
    games = stats.game_stats([stream(i, i * 7 % 11, str(i), name) for i, name in enumerate(names)])
    needle = typed.strip().casefold()
    scanned = [game for game in games if needle in game.label.casefold()][:limit]

    assert stats.GameIndex(games).matching(typed, limit) == scanned
    assert ShortKeys(games).matching(typed, limit) == scanned


class ShortKeys(stats.GameIndex):
    """Keys of 3 characters: most searches take the path for texts longer than the key."""

    KEY_LENGTH = 3


def test_game_search_beyond_the_key_length_filters_the_range():
    long_name = "The Elder Scrolls V: Skyrim Special Edition"
    games = stats.game_stats(
        [stream(1, 9, "1", long_name), stream(2, 5, "2", long_name.replace("Special", "Legendary"))]
    )
    index = stats.GameIndex(games)

    assert [g.game_id for g in index.matching("elder scrolls v: skyrim special")] == ["1"]
    assert [g.game_id for g in index.matching("scrolls v: skyrim legendary edition")] == ["2"]


def test_ranks_count_from_the_most_watched_in_both_orders():
    streams = [stream(i, 10 - i) for i in range(3)]
    desc = stats.top_streams(streams, "desc")
    assert [(rank, s.id) for rank, s in stats.ranked(desc, "desc")] == [
        (1, "0"),
        (2, "1"),
        (3, "2"),
    ]
    asc = stats.top_streams(streams, "asc")
    assert [(rank, s.id) for rank, s in stats.ranked(asc, "asc")] == [(3, "2"), (2, "1"), (1, "0")]

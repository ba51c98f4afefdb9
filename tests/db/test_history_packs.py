"""A snapshot's packed history holds what a count over its streams says, however the pages
came, and any text survives the packing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from db import history_packs
from db.history_packs import HistoryTally
from tests.db.test_history import brute_games, brute_ranks, packed_text
from tests.strategies import snapshots


@given(text=packed_text)
def test_escaping_keeps_any_text_and_removes_the_separators(text):
    escaped = history_packs.escape(text)

    assert history_packs.unescape(escaped) == text
    assert "," not in escaped and ":" not in escaped


@given(
    streams=snapshots(max_size=120),
    channels=st.sampled_from([0, 1, 5, 40]),
    page=st.integers(1, 30),
    order=st.randoms(use_true_random=False),
)
def test_the_tally_of_pages_in_any_order_is_the_snapshots_count(streams, channels, page, order):
    shuffled = list(streams)
    order.shuffle(shuffled)
    tally = HistoryTally(channels)
    for start in range(0, len(shuffled), page):
        tally.add(shuffled[start : start + page])

    names = {s.game_id: s.game_name for s in streams}
    assert history_packs.games(tally.games_pack(names)) == brute_games(streams)
    assert history_packs.channels(tally.channels_pack()) == brute_ranks(streams, channels)

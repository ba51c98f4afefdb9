"""Followed streams against the top: hand-checked cases, then brute-force oracles (hypothesis)."""

from __future__ import annotations

from collections import Counter

from hypothesis import example, given
from hypothesis import strategies as st

from bot.following import SharedTag, compare, index_top
from bot.streams import Stream
from bot.twitch import parse_stream
from tests.fakes.twitch import make_stream


def live(index: int, viewers: int, tags: list[str] | None = None) -> Stream:
    """A stream as Twitch sends it (tags may be null), parsed the way the product parses it."""
    return parse_stream(make_stream(index, viewers, tags=tags))


# --- by hand ------------------------------------------------------------------------------------


def test_a_tie_with_the_last_stream_of_the_top_needs_one_more_viewer():
    top = [live(1, 50), live(2, 30), live(3, 10)]
    result = compare(index_top(top), [live(7, 10), live(8, 9), live(9, 11)], top_n=3)

    assert [(e.stream.viewer_count, e.rank, e.viewers_needed) for e in result.followed_live] == [
        (11, None, 0),  # grew past the last stream since the snapshot: it would fit
        (10, None, 1),  # a tie does not get it in
        (9, None, 2),
    ]
    assert result.lowest is not None and result.lowest.viewers_needed == 2
    assert result.in_top == 0


def test_followed_streams_in_the_top_have_their_rank_and_need_nothing():
    top = [live(1, 50), live(2, 30), live(3, 30), live(4, 10)]
    # Viewer counts changed since the snapshot; the rank is the snapshot's, found by id.
    result = compare(index_top(top), [live(3, 31), live(4, 1)], top_n=4)

    assert [(e.rank, e.viewers_needed) for e in result.followed_live] == [(3, 0), (4, 0)]
    assert result.in_top == 2
    assert result.lowest is not None and result.lowest.stream.id == live(4, 0).id


def test_nothing_live_has_no_lowest_and_no_shared_tags():
    result = compare(index_top([live(1, 5, ["English"])]), [], top_n=1)
    assert (result.followed_live, result.lowest, result.in_top, result.shared_tags) == (
        (),
        None,
        0,
        (),
    )


def test_while_the_snapshot_holds_fewer_than_n_everything_fits():
    result = compare(index_top([live(1, 500), live(2, 400)]), [live(9, 0)], top_n=3)
    assert result.followed_live[0].viewers_needed == 0


def test_shared_tags_match_any_case_and_show_the_snapshots_usual_spelling():
    top = [
        live(1, 90, ["English", "FPS"]),
        live(2, 80, ["english", "Chill"]),
        live(3, 70, ["english", "ENGLISH"]),  # one stream, counted once
        live(4, 60, None),
        live(5, 50, []),
    ]
    followed = [live(7, 5, ["ENGLISH", "fps"]), live(8, 4, ["Fps", "Cooking"]), live(9, 3, None)]

    assert compare(index_top(top), followed, top_n=5).shared_tags == (
        SharedTag("english", top_streams=3, followed_streams=1),
        SharedTag("FPS", top_streams=1, followed_streams=2),
    )


# --- oracles ------------------------------------------------------------------------------------

TAGS = ["English", "english", "ENGLISH", "FPS", "fps", "Chill", "Straße", "STRASSE", "ß", "", " "]
tag_lists = st.one_of(st.none(), st.lists(st.sampled_from(TAGS), max_size=4))


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[Stream], list[Stream], int]:
    """A snapshot (often exactly N streams, sometimes fewer or more), followed live streams
    (some in the snapshot with new viewer counts, some outside it, some exactly at the
    boundary, a few repeated as Twitch's pages may repeat them) and N."""
    top_n = draw(st.integers(1, 12))
    size = draw(st.one_of(st.just(top_n), st.integers(0, top_n + 2)))
    snapshot = [live(index, draw(st.integers(0, 6)), draw(tag_lists)) for index in range(size)]
    boundary = min((s.viewer_count for s in snapshot), default=0)
    viewers = st.one_of(st.integers(0, 8), st.sampled_from([boundary - 1, boundary, boundary + 1]))
    indexes = draw(st.lists(st.integers(0, size + 10), max_size=15))
    followed = [live(index, max(0, draw(viewers)), draw(tag_lists)) for index in indexes]
    return snapshot, followed, top_n


def first_of_each_id(streams: list[Stream]) -> list[Stream]:
    seen: dict[str, Stream] = {}
    for stream in streams:
        seen.setdefault(stream.id, stream)
    return list(seen.values())


def brute_rank(snapshot: list[Stream], stream: Stream) -> int | None:
    mine = next((s for s in snapshot if s.id == stream.id), None)
    if mine is None:
        return None
    return 1 + sum(
        s.viewer_count > mine.viewer_count
        or (s.viewer_count == mine.viewer_count and s.id < mine.id)
        for s in snapshot
    )


def brute_needed(snapshot: list[Stream], stream: Stream, top_n: int) -> int:
    """Add viewers one at a time until the stream, placed after every stream with at least as
    many viewers (ties go against it), would push the last stream out of the top."""
    if len(snapshot) < top_n or any(s.id == stream.id for s in snapshot):
        return 0
    extra = 0
    while 1 + sum(s.viewer_count >= stream.viewer_count + extra for s in snapshot) > len(snapshot):
        extra += 1
    return extra


def brute_shared(snapshot: list[Stream], followed: list[Stream]) -> list[tuple[str, int, int]]:
    keys = {tag.casefold() for s in snapshot + followed for tag in s.tags if tag.strip()}
    found = []
    for key in keys:
        in_top = [s for s in snapshot if any(t.casefold() == key for t in s.tags)]
        mine = [s for s in followed if any(t.casefold() == key for t in s.tags)]
        if in_top and mine:
            spelled = Counter(t for s in in_top for t in set(s.tags) if t.casefold() == key)
            best = max(spelled.values())
            found.append((min(t for t, n in spelled.items() if n == best), len(in_top), len(mine)))
    return sorted(found, key=lambda t: (-t[1], -t[2], t[0].casefold()))


@given(worlds())
@example(([live(1, 5), live(2, 3)], [live(9, 3)], 2))  # exactly at the boundary: a tie
@example(([live(1, 5), live(2, 3)], [], 2))  # nothing followed is live
@example(([live(1, 5)], [live(9, 0)], 2))  # a snapshot smaller than N
def test_ranks_and_gaps_agree_with_brute_force(world):
    snapshot, followed, top_n = world
    result = compare(index_top(snapshot), followed, top_n)

    unique = first_of_each_id(followed)
    assert sorted(e.stream.id for e in result.followed_live) == sorted(s.id for s in unique)
    for entry in result.followed_live:
        assert entry.rank == brute_rank(snapshot, entry.stream)
        assert entry.viewers_needed == brute_needed(snapshot, entry.stream, top_n)
    assert result.in_top == sum(brute_rank(snapshot, s) is not None for s in unique)
    if not unique:
        assert result.lowest is None
    else:
        fewest = min(s.viewer_count for s in unique)
        assert result.lowest is not None
        assert result.lowest.stream == max(
            (s for s in unique if s.viewer_count == fewest), key=lambda s: s.id
        )
    counts = [e.stream.viewer_count for e in result.followed_live]
    assert counts == sorted(counts, reverse=True)


@given(worlds())
def test_shared_tags_agree_with_brute_force(world):
    snapshot, followed, top_n = world
    result = compare(index_top(snapshot), followed, top_n)

    expected = brute_shared(snapshot, first_of_each_id(followed))
    assert [(t.tag, t.top_streams, t.followed_streams) for t in result.shared_tags] == expected

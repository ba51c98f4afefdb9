"""TOP_STREAMS=all: the walk over every live stream, its pacing, its stops and its progress."""

from __future__ import annotations

import logging
import time

import pytest

from bot.refresh import RefreshService
from bot.twitch import StreamWalk, TwitchClient, parse_stream
from db import queries, snapshots
from tests.bot.test_refresh import staging_left, stored_ids
from tests.conftest import app_of
from tests.fakes.twitch import make_stream, random_streams

STREAMS = 20_000  # 200 pages of 100


@pytest.fixture
async def platform(fake_twitch):
    """The fake serving 20,000 live streams, as Twitch would at a quiet hour."""
    fake_twitch.streams = random_streams(STREAMS, seed=11, games=300)
    return fake_twitch


@pytest.fixture
def everything(database, twitch, stats) -> RefreshService:
    return RefreshService(twitch, stats, top_streams=None)


def helix_pages(fake) -> int:
    return sum(1 for _, path, _ in fake.requests if path == "/helix/streams")


async def test_the_whole_walk_lands(everything, platform, stats):
    outcome = await everything.refresh()

    assert outcome is not None and outcome.ok
    assert await stored_ids() == {stream["id"] for stream in platform.streams}
    assert (outcome.snapshot.stream_count, outcome.pages) == (STREAMS, 200)
    assert outcome.duplicates_dropped == 0
    summary = await stats.stream_summary("memory")
    assert summary.value.total == STREAMS


async def test_both_engines_agree_over_20000_streams(everything, platform, stats):
    await everything.refresh()

    assert (await stats.stream_summary("memory")).value.total == STREAMS
    assert await stats.stream_summary("memory") == await stats.stream_summary("database")
    assert await stats.game_stats("memory") == await stats.game_stats("database")
    assert await stats.start_hours("memory") == await stats.start_hours("database")
    for order in ("desc", "asc"):
        assert await stats.top_streams(order, "memory") == await stats.top_streams(
            order, "database"
        )


async def test_streams_moving_between_pages_are_counted_not_fixed(everything, platform):
    platform.drift = 3  # after each page, 3 streams move up past its end and 3 down

    outcome = await everything.refresh()

    assert outcome.ok
    # Each page after the first repeats the 3 streams that moved down; 3 moved up unseen.
    assert outcome.duplicates_dropped == 3 * (outcome.pages - 1)
    stored = await stored_ids()
    assert len(stored) == STREAMS - 3 * (outcome.pages - 1)
    assert stored < {stream["id"] for stream in platform.streams}


async def test_pacing_spends_a_small_bucket_without_a_single_429(http, platform):
    platform.ratelimit_limit = 60  # a bucket a third of the walk's size ...
    platform.ratelimit_window = 1.0  # ... that refills 60 points a second
    twitch = TwitchClient(http, app_of(platform), headroom=0.10, timeout=5.0)
    started = time.monotonic()

    walked = await twitch.fetch_top_streams(None)

    assert (len(walked.streams), walked.pages) == (STREAMS, 200)
    assert platform.rate_limited == 0
    # 200 pages from a 60-point bucket kept 10% full: about (200 - 54) / 60 s at the least.
    assert time.monotonic() - started >= (200 - 54) / 60 * 0.9


async def test_the_headroom_stays_for_others(http, platform):
    platform.ratelimit_limit = 100
    platform.ratelimit_window = 1.0
    twitch = TwitchClient(http, app_of(platform), headroom=0.25)
    remaining = []
    walk = twitch.walk_streams(None)
    async for _ in walk:
        remaining.append(twitch.progress(walk).budget_left)
        if walk.pages == 120:
            break

    assert platform.rate_limited == 0
    assert min(remaining) >= 25 - 2  # a point or two spent while the refill was estimated


async def test_a_fault_at_page_150_of_200_keeps_the_previous_snapshot(
    database, everything, platform, monkeypatch
):
    monkeypatch.setattr(snapshots, "CHUNK", 5_000)  # three chunks are staged before the fault
    first = await everything.refresh()
    before = await stored_ids()
    platform.streams = random_streams(STREAMS, seed=12, games=300)
    platform.fail_next(*[503] * 4, after=149)  # every attempt at page 150

    failed = await everything.refresh()

    assert not failed.ok and failed.error == "Twitch did not answer"
    assert helix_pages(platform) == 200 + 149 + 4  # the walk got to page 150, tried it 4 times
    assert await stored_ids() == before
    assert await queries.latest_snapshot() == first.snapshot
    assert not await staging_left(database)
    again = await everything.refresh()
    assert again.ok
    assert await stored_ids() == {stream["id"] for stream in platform.streams}


async def test_progress_is_logged_every_tenth_and_summed_up_once(everything, platform, caplog):
    caplog.set_level(logging.INFO, logger="bot.refresh")
    await everything.refresh()  # the first walk: no size known yet, logs every 10 s only
    caplog.clear()

    outcome = await everything.refresh()

    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refresh: ")]
    assert [line.split("(")[1].split(" ")[0] for line in lines] == [
        f"{share}%" for share in range(10, 101, 10)
    ]
    assert "rate budget left" in lines[-1]
    summaries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refresh ok")]
    assert summaries == [outcome.summary]
    assert f"{STREAMS:,} streams" in outcome.summary


def pages_of(*pages: list[int], cursors: list[str | None]):
    """A Get Streams stand-in serving fixed pages of stream ids with the given next cursors."""

    async def fetch(cursor):
        index = 0 if cursor is None else int(cursor.split("-")[0])
        streams = [parse_stream(make_stream(i, 1000 - i)) for i in pages[index]]
        return streams, cursors[index]

    return fetch


@pytest.mark.parametrize(
    ("pages", "cursors", "expected_pages"),
    [
        pytest.param([[1, 2], [], [3]], ["1-a", "2-b", None], 2, id="empty-page"),
        pytest.param([[1, 2], [3, 4], [5]], ["1-a", "1-a", None], 2, id="repeated-cursor"),
        pytest.param([[1], [2], [3]], ["1-a", "2-b", None], 3, id="last-page"),
    ],
)
async def test_the_walk_stops_where_twitch_cursors_misbehave(pages, cursors, expected_pages):
    walk = StreamWalk(pages_of(*pages, cursors=cursors), limit=10**6, page_cap=5_000)
    seen = [stream.id async for page in walk for stream in page]

    assert walk.pages == expected_pages
    assert len(seen) == len(set(seen))


async def test_the_walk_stops_at_the_page_cap():
    async def endless(cursor):
        index = 0 if cursor is None else int(cursor)
        return [parse_stream(make_stream(index, 5))], str(index + 1)

    walk = StreamWalk(endless, limit=10**6, page_cap=5_000)
    seen = [stream.id async for page in walk for stream in page]

    assert walk.pages == 5_000 and len(seen) == 5_000

"""Refresh: the table holds exactly the current top N, atomically, and survives every fault."""

from __future__ import annotations

import asyncio

import pytest
from tortoise import connections

from bot.refresh import RefreshService
from bot.twitch import TwitchClient
from db import queries
from tests.conftest import app_of
from tests.fakes.twitch import make_stream, random_streams

TOP = 300


@pytest.fixture
def refresher(database, twitch, stats) -> RefreshService:
    return RefreshService(twitch, stats, top_streams=TOP)


def top_ids(payloads: list[dict], limit: int = TOP) -> set[str]:
    ranked = sorted(payloads, key=lambda s: (-s["viewer_count"], s["id"]))
    return {s["id"] for s in ranked[:limit]}


async def stored_ids() -> set[str]:
    loaded = await queries.load_streams()
    return {s.id for s in loaded.value} if loaded else set()


async def test_two_runs_leave_exactly_the_current_top_n(refresher, fake_twitch, stats):
    first = await refresher.refresh()
    assert first is not None and first.ok
    assert await stored_ids() == top_ids(fake_twitch.streams)

    fake_twitch.streams = random_streams(1000, seed=2)
    second = await refresher.refresh()

    assert second is not None and second.ok
    assert await stored_ids() == top_ids(fake_twitch.streams)
    assert second.snapshot.id > first.snapshot.id
    assert second.snapshot.stream_count == TOP
    summary = await stats.stream_summary("memory")
    assert summary.snapshot == second.snapshot
    assert summary == await stats.stream_summary("database")


async def test_duplicates_across_pages_are_dropped_and_counted(refresher, fake_twitch):
    fake_twitch.overlap = 5
    outcome = await refresher.refresh()

    assert outcome.ok
    assert outcome.duplicates_dropped == 5 * (outcome.pages - 1)
    assert await stored_ids() == top_ids(fake_twitch.streams)


async def fail_the_swap(database: str) -> None:
    """Make the snapshot's swap transaction fail after it has dropped the old streams table."""
    conn = connections.get("default")
    if database == "sqlite":
        await conn.execute_script(
            "CREATE TRIGGER poison BEFORE INSERT ON snapshot_tops "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
        )
        return
    await conn.execute_script(
        "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql; "
        "CREATE TRIGGER poison BEFORE INSERT ON snapshot_tops "
        "FOR EACH ROW EXECUTE FUNCTION poison();"
    )


def refuse_every_token(fake) -> None:
    fake.revoke_tokens()
    fake.token_lifetime = 0


DID_NOT_ANSWER = "Twitch did not answer"
UNREADABLE = "Twitch sent data that could not be read"
FAULTS = [
    pytest.param(lambda fake: fake.fail_next(*[503] * 10), DID_NOT_ANSWER, id="twitch-down"),
    pytest.param(lambda fake: fake.fail_next("malformed"), UNREADABLE, id="malformed-json"),
    pytest.param(lambda fake: fake.fail_next(400), "Twitch rejected a request", id="bad-cursor"),
    pytest.param(lambda fake: fake.fail_next("wrong_shape"), UNREADABLE, id="unexpected-shape"),
    pytest.param(refuse_every_token, "Twitch refused the app credentials", id="token-refused"),
    pytest.param(
        lambda fake: setattr(fake, "streams", []), "Twitch returned no live streams", id="empty"
    ),
    pytest.param(lambda fake: fake.fail_next(*["slow"] * 10), DID_NOT_ANSWER, id="twitch-slow"),
]


@pytest.mark.parametrize(("break_twitch", "reason"), FAULTS)
async def test_previous_snapshot_survives_twitch_faults(
    refresher, fake_twitch, stats, break_twitch, reason
):
    good = await refresher.refresh()
    before = await stats.stream_summary("memory")
    ids = await stored_ids()
    fake_twitch.slow_seconds = 1.5
    fake_twitch.streams = random_streams(1000, seed=3)
    break_twitch(fake_twitch)

    failed = await refresher.refresh()

    assert failed is not None and not failed.ok
    assert failed.error == reason  # plain words: the details are in the log only
    assert await stored_ids() == ids
    assert await queries.latest_snapshot() == good.snapshot
    assert await stats.stream_summary("memory") == before
    assert await stats.stream_summary("database") == before
    assert refresher.last_outcome is failed


async def staging_left(database: str) -> bool:
    """Whether a staging table of a snapshot write is still there."""
    conn = connections.get("default")
    query = (
        "SELECT name FROM sqlite_master WHERE name = 'streams_staging'"
        if database == "sqlite"
        else "SELECT tablename FROM pg_tables WHERE tablename = 'streams_staging'"
    )
    return bool(await conn.execute_query_dict(query))


async def test_previous_snapshot_survives_a_database_failure_in_the_swap(
    database, refresher, fake_twitch, stats, caplog
):
    good = await refresher.refresh()
    ids = await stored_ids()
    fake_twitch.streams = random_streams(1000, seed=4)
    await fail_the_swap(database)

    failed = await refresher.refresh()

    assert not failed.ok
    assert failed.error == "the database was unreachable or failing"
    assert "injected failure" in caplog.text  # the details are for the operator
    assert await stored_ids() == ids
    assert await queries.latest_snapshot() == good.snapshot
    assert (await stats.stream_summary("database")).snapshot == good.snapshot
    assert not await staging_left(database)


async def test_an_unreachable_twitch_is_reported_without_its_address(
    database, http, fake_twitch, stats, caplog
):
    app = app_of(fake_twitch, api_url="http://127.0.0.1:9/helix", auth_url="http://127.0.0.1:9")
    twitch = TwitchClient(http, app, backoff=0.01, timeout=1.0)

    failed = await RefreshService(twitch, stats, top_streams=TOP).refresh()

    assert failed.error == "Twitch did not answer"
    assert "ClientConnectorError" in caplog.text  # the operator still gets the details


async def test_readers_during_a_refresh_never_see_an_empty_or_mixed_table(
    refresher, fake_twitch, stats
):
    await refresher.refresh()
    old_ids = await stored_ids()
    fake_twitch.streams = random_streams(1000, seed=5)
    new_ids = top_ids(fake_twitch.streams)
    fake_twitch.latency = 0.05  # the refresh takes a while: readers run all along
    seen: list[set[str]] = []
    refreshed = asyncio.Event()
    reads_after_refresh = [0, 0, 0]

    async def read_until(reader: int, done: asyncio.Event) -> None:
        while not done.is_set():
            started_after_refresh = refreshed.is_set()
            loaded = await queries.load_streams()
            seen.append({s.id for s in loaded.value})
            summary = await queries.stream_summary()
            assert summary.value.total == TOP
            reads_after_refresh[reader] += started_after_refresh
            await asyncio.sleep(0)

    done = asyncio.Event()
    readers = [asyncio.create_task(read_until(reader, done)) for reader in range(3)]
    outcome = await refresher.refresh()
    refreshed.set()
    async with asyncio.timeout(10):  # every reader reads at least once after the commit
        while min(reads_after_refresh) < 1:
            await asyncio.sleep(0.01)
    done.set()
    await asyncio.gather(*readers)

    assert outcome.ok
    assert len(seen) > 10
    assert all(ids in (old_ids, new_ids) for ids in seen)
    assert seen[-1] == new_ids


async def test_a_refresh_never_runs_twice_at_once(refresher, fake_twitch):
    fake_twitch.latency = 0.05
    first, second = await asyncio.gather(refresher.refresh(), refresher.refresh())

    assert [first is None, second is None].count(True) == 1
    assert fake_twitch.token_requests == 1


async def test_names_of_any_length_are_stored(refresher, fake_twitch):
    huge = "Ω" * 5000
    fake_twitch.streams = [
        make_stream(1, 10**6, user_name=huge, game_name=huge, title=huge, user_login="a" * 300),
        *random_streams(50, seed=8),
    ]
    outcome = await refresher.refresh()

    assert outcome.ok, outcome.error
    loaded = await queries.load_streams()
    top = max(loaded.value, key=lambda s: s.viewer_count)
    assert (top.user_name, top.game_name, top.title) == (huge, huge, huge)

"""The stats service: cached memory engine, invalidated on commit, in-process and on Redis."""

from __future__ import annotations

import asyncio
import itertools
import pickle
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio
from aiocache import SimpleMemoryCache
from aiocache.backends.redis import RedisCache
from tortoise import connections

from bot.cache import NAMESPACE, StatsService, open_cache
from bot.errors import NoDataYet, ServiceUnavailable, UserFacingError
from bot.stats import SnapshotInfo
from bot.twitch import parse_stream
from db import queries, snapshots
from tests.conftest import service_url
from tests.fakes.twitch import random_streams

SOURCES = ["memory", "database"]


async def commit(service: StatsService, seed: int, size: int = 120):
    streams = make_streams(seed, size)
    snapshot = await snapshots.replace_snapshot(
        streams, pages=2, duplicates_dropped=0, taken_at=datetime.now(UTC)
    )
    await service.snapshot_committed(snapshot)
    return snapshot


def make_streams(seed: int, size: int):
    return [parse_stream(payload) for payload in random_streams(size, seed=seed)]


@pytest.fixture
async def service(database, cache):
    return StatsService(cache)


@pytest.mark.parametrize("source", SOURCES)
async def test_before_the_first_snapshot_every_answer_is_no_data_yet(service, source):
    assert await service.snapshot() is None
    for ask in (
        service.stream_summary(source),
        service.game_stats(source),
        service.top_streams("desc", source),
    ):
        with pytest.raises(NoDataYet, match="still loading"):
            await ask


async def test_both_sources_agree_and_name_the_same_snapshot(service):
    snapshot = await commit(service, seed=1)

    for ask in ("stream_summary", "game_stats"):
        memory = await getattr(service, ask)("memory")
        database = await getattr(service, ask)("database")
        assert memory == database
        assert memory.snapshot == snapshot
    for order in ("desc", "asc"):
        assert await service.top_streams(order, "memory") == await service.top_streams(
            order, "database"
        )


async def test_a_new_snapshot_replaces_every_cached_answer(service):
    await commit(service, seed=1)
    old = await service.stream_summary("memory")
    old_top = await service.top_streams("desc", "memory")

    newer = await commit(service, seed=2)

    fresh = await service.stream_summary("memory")
    assert fresh.snapshot == newer
    assert fresh == await service.stream_summary("database")
    assert fresh != old
    assert (await service.top_streams("desc", "memory")).value != old_top.value


async def test_memory_answers_come_from_the_cache_not_the_database(service):
    await commit(service, seed=1)
    first = await service.game_stats("memory")
    # Rows written behind the service's back (no commit notice) are not seen until the next one.
    await snapshots.replace_snapshot(
        make_streams(9, 50), pages=1, duplicates_dropped=0, taken_at=datetime.now(UTC)
    )

    assert await service.game_stats("memory") == first
    assert await service.game_stats("database") != first


async def test_a_reader_finds_the_snapshot_after_a_restart(database, cache):
    writer = StatsService(cache)
    snapshot = await commit(writer, seed=3)
    await cache.clear()  # a new process starts with an empty cache

    reader = StatsService(cache)
    assert await reader.snapshot() == snapshot
    assert (await reader.stream_summary("memory")).snapshot == snapshot


async def test_with_the_cache_down_answers_come_from_the_database(database, caplog):
    service = StatsService(open_cache("redis://127.0.0.1:9/0"))  # nothing listens there
    try:
        snapshot = await commit(service, seed=4)

        memory = await service.stream_summary("memory")
        assert memory == await service.stream_summary("database")
        assert memory.snapshot == snapshot
        assert await service.top_streams("asc", "memory") == await service.top_streams(
            "asc", "database"
        )
        warnings = [r for r in caplog.records if "cache unavailable" in r.getMessage()]
        assert len(warnings) == 1  # said once, not on every request
    finally:
        await service.close()


@pytest.mark.parametrize("source", SOURCES)
async def test_with_the_database_down_the_answer_is_temporarily_unavailable(service, source):
    await commit(service, seed=5)
    await service.stream_summary("memory")  # now cached
    conn = connections.get("default")
    await conn.execute_script("ALTER TABLE streams RENAME TO streams_gone")
    try:
        if source == "memory":
            # The cached memory engine still answers for the snapshot it holds.
            assert (await service.stream_summary("memory")).value.total == 120
        with pytest.raises(ServiceUnavailable, match="cannot reach its database"):
            await service.top_streams("desc", "database")
    finally:
        await conn.execute_script("ALTER TABLE streams_gone RENAME TO streams")


class RacingCache(SimpleMemoryCache):
    """A memory cache in which a refresh sets the pointer right after a reader missed it."""

    def __init__(self, newer) -> None:
        super().__init__(namespace=NAMESPACE)
        self.newer = newer

    async def _get(self, key, encoding="utf-8", _conn=None):
        value = await super()._get(key, encoding=encoding, _conn=_conn)
        if key.endswith("snapshot") and value is None and self.newer is not None:
            await super()._set(key, self.newer)  # the refresh wins the race
            self.newer = None
        return value


async def test_a_reader_racing_a_refresh_does_not_fail_or_overwrite_its_pointer(database):
    writer = StatsService(open_cache("memory://"))
    older = await commit(writer, seed=6)
    newer = SnapshotInfo(id=older.id + 1, taken_at=older.taken_at, stream_count=1)
    cache = RacingCache(newer)
    reader = StatsService(cache)

    assert await reader.snapshot() == older  # what it read from the database
    assert await cache.get("snapshot") == newer  # its late `add` did not overwrite the refresh


async def test_the_top_of_an_earlier_snapshot_stays_readable(service):
    first = await commit(service, seed=1)
    first_top = await service.top_streams("desc", "database")
    await commit(service, seed=2)
    await service.snapshot_committed(await queries.latest_snapshot())  # caches start empty

    earlier = await service.top_streams_of(first.id, "desc")
    assert earlier == first_top
    assert (await service.top_streams_of(first.id, "asc")).value == tuple(reversed(first_top.value))
    with pytest.raises(UserFacingError, match="no longer kept"):
        await service.top_streams_of(first.id + 1000, "desc")


class Marker:
    """A pickle that, once loaded, creates a file: the proof that loading ran our code."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


@pytest.fixture
async def redis_service(database) -> StatsService:
    """The service over Redis, which other programs can write to."""
    backend = open_cache(service_url("TEST_REDIS_URL", "Redis"))
    await backend.clear()
    yield StatsService(backend)
    await backend.clear()
    await backend.close()


async def write_foreign(service: StatsService, key: str, raw: bytes) -> None:
    """Bytes under one of our keys, put there by another program (no TTL, no serializer)."""
    cache = service._cache
    client = redis.asyncio.Redis(host=cache.endpoint, port=cache.port, db=cache.db)
    await client.set(cache.build_key(key), raw)
    await client.aclose()


async def ttl_of(cache, key: str) -> float | None:
    """Seconds left on a key (None: it never expires)."""
    if isinstance(cache, RedisCache):
        client = redis.asyncio.Redis(host=cache.endpoint, port=cache.port, db=cache.db)
        seconds = await client.ttl(cache.build_key(key))
        await client.aclose()
        return None if seconds < 0 else seconds
    handle = cache._handlers.get(cache.build_key(key))
    return None if handle is None else handle.when()


FOREIGN_VALUES = [
    b"\x80\x04not json at all",
    b"[1, 2, 3]",
    b'{"id": "one", "taken_at": "yesterday", "stream_count": -1}',
    b'{"id": 1, "taken_at": "2026-11-30T12:00:00", "stream_count": 3}',  # no time zone
    b"",
]


@pytest.mark.parametrize("raw", FOREIGN_VALUES, ids=["binary", "list", "types", "naive", "empty"])
@pytest.mark.redis
async def test_foreign_bytes_under_the_pointer_are_a_miss(redis_service, raw, caplog):
    service = redis_service
    snapshot = await commit(service, seed=7)
    await write_foreign(service, "snapshot", raw)

    assert await service.snapshot() == snapshot
    summary = await service.stream_summary("memory")
    assert summary == await service.stream_summary("database")
    assert summary.snapshot == snapshot
    assert "holds a value we cannot read" in caplog.text
    assert await ttl_of(service._cache, "snapshot") is not None  # replaced by ours, expiring


@pytest.mark.redis
async def test_foreign_bytes_under_a_result_are_a_miss(redis_service):
    service = redis_service
    snapshot = await commit(service, seed=8)
    for key in (f"summary:{snapshot.id}", f"games:{snapshot.id}", f"rows:{snapshot.id}"):
        await write_foreign(service, key, b'{"snapshot": {"id": 1}, "value": "not figures"}')
    await write_foreign(service, f"top-desc:{snapshot.id}", b"\x00" * 10)

    assert await service.stream_summary("memory") == await service.stream_summary("database")
    assert await service.game_stats("memory") == await service.game_stats("database")
    assert await service.top_streams("desc", "memory") == await service.top_streams(
        "desc", "database"
    )


@pytest.mark.redis
async def test_a_crafted_pickle_in_the_cache_runs_nothing(redis_service, tmp_path):
    service = redis_service
    snapshot = await commit(service, seed=9)
    proof = tmp_path / "pickle-ran"
    await write_foreign(service, "snapshot", pickle.dumps(Marker(proof)))

    assert await service.snapshot() == snapshot
    assert (await service.game_stats("memory")).snapshot == snapshot
    assert not proof.exists()


async def test_every_key_the_service_writes_expires(service, cache):
    snapshot = await commit(service, seed=10)
    await service.stream_summary("memory")
    await service.game_stats("memory")
    await service.top_streams("asc", "memory")
    await service.top_streams_of(snapshot.id, "desc")

    keys = ["snapshot", f"rows:{snapshot.id}", f"summary:{snapshot.id}", f"games:{snapshot.id}"]
    keys += [f"top-asc:{snapshot.id}", f"top-desc:{snapshot.id}"]
    for key in keys:
        assert await cache.exists(key), key
        assert await ttl_of(cache, key) is not None, key


async def test_followed_streams_are_kept_per_user_two_minutes_within_one_snapshot(service, cache):
    snapshot = await commit(service, seed=11)
    streams = tuple(make_streams(12, 5))
    await service.remember_followed_streams("77", snapshot.id, streams)
    await service.remember_followed_streams("78", snapshot.id, ())  # nobody live is an answer too

    assert await service.followed_streams("77", snapshot.id) == streams
    assert await service.followed_streams("78", snapshot.id) == ()
    assert await service.followed_streams("79", snapshot.id) is None
    left = await ttl_of(cache, f"followed:77:{snapshot.id}")
    if not isinstance(cache, RedisCache):
        left -= asyncio.get_running_loop().time()  # the in-process cache says when, not how long
    assert 0 < left <= 120
    newer = await commit(service, seed=12)
    assert await service.followed_streams("77", newer.id) is None


@pytest.mark.redis
async def test_foreign_bytes_under_followed_streams_are_a_miss(redis_service):
    service = redis_service
    snapshot = await commit(service, seed=13)
    await write_foreign(service, f"followed:77:{snapshot.id}", b'[{"id": "1"}]')

    assert await service.followed_streams("77", snapshot.id) is None


async def test_a_cancellation_that_meets_a_cache_read_is_never_lost():
    """Cancelled at any step of a read, the reader ends cancelled: a loop asked to stop
    stops (a lost cancellation left the refresh loop asleep and the bot unable to exit)."""
    for steps in itertools.count():
        stats = StatsService(open_cache("memory://"))
        read = asyncio.ensure_future(stats.followed_streams("1", 1))
        for _ in range(steps):
            await asyncio.sleep(0)
        if read.done():  # it finished before this step: every step before was tried
            break
        read.cancel()
        with pytest.raises(asyncio.CancelledError):
            await read
    assert steps >= 1  # at least one step was tried

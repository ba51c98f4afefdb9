"""The stats service: both engines behind one interface, memory-engine rows and results cached.

Cache layout (aiocache, `memory://` or `redis://`): `snapshot` points at the current snapshot;
rows and results are stored under keys that carry their snapshot id, so a reader never mixes
two snapshots. The refresh calls `snapshot_committed` only after its transaction commits: it
drops the old keys and moves the pointer, so the engines never disagree for longer than that.
One user's followed live streams are kept under their Twitch id and the snapshot id for two
minutes: until the next snapshot or two minutes, whichever comes first.

In Redis, values are stored as JSON and read back into the type their key holds, with every
field checked: any program that can write to Redis can put bytes under our keys, so a value is
data, never code (no pickle), and one that does not decode is a miss, answered from the
database. The in-process cache keeps the (immutable) values themselves.

The cache is an accelerator, never a dependency: when Redis is down, answers are computed from
the database. When the database is down, callers get `ServiceUnavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal, TypeVar

import msgspec
import redis.exceptions
from aiocache import Cache
from aiocache.base import BaseCache
from aiocache.serializers import BaseSerializer

from bot import following, stats
from bot.errors import NoDataYet, UserFacingError
from bot.following import TopIndex
from bot.stats import AsOf, GameIndex, GameStat, HourCount, Order, SnapshotInfo, StreamSummary
from bot.streams import Stream
from db import guarded, queries

log = logging.getLogger(__name__)

Source = Literal["memory", "database"]
T = TypeVar("T")

NAMESPACE = "streamstats:"
POINTER_KEY = "snapshot"
POINTER_TTL = 60  # seconds; a safety net should a pointer update ever be lost
DATA_TTL = 24 * 3600  # rows and results of old snapshots expire even if nobody clears them
FOLLOWED_TTL = 120  # seconds a user's followed live streams are kept (within one snapshot)
CACHE_TIMEOUT = 0.5  # seconds; a slow cache must not eat Discord's 3-second window
CACHE_ERRORS = (redis.exceptions.RedisError, OSError, asyncio.TimeoutError)
WARN_EVERY = 60.0  # seconds between two "cache unavailable" warnings


class JsonSerializer(BaseSerializer):
    """Values as JSON bytes (msgspec); reads are decoded by the caller into the key's type."""

    DEFAULT_ENCODING = None  # bytes in, bytes out: Redis hands back exactly what was stored

    def dumps(self, value: object) -> bytes:
        """Encode dataclasses, tuples, numbers, strings and aware datetimes as JSON."""
        return msgspec.json.encode(value)

    def loads(self, value: bytes | None) -> object:
        """Untyped JSON (the service always reads through a typed reader instead)."""
        return None if value is None else msgspec.json.decode(value)


Reader = Callable[[bytes | None], Any]


def _reader(kind: Any) -> Reader:
    """A loads function that accepts only a well-formed `kind` (datetimes with a time zone)."""
    decoder = msgspec.json.Decoder(kind)

    def loads(raw: bytes | None) -> Any:
        if raw is None:
            return None
        value = decoder.decode(raw)
        if not _aware(value):
            raise msgspec.ValidationError("a datetime without a time zone")
        return value

    return loads


def _aware(value: object) -> bool:
    """True if every datetime inside `value` (dataclasses and tuples of them) has a time zone."""
    if isinstance(value, datetime):
        return value.tzinfo is not None
    if isinstance(value, tuple):
        return all(_aware(item) for item in value)
    if dataclasses.is_dataclass(value):
        return all(_aware(getattr(value, f.name)) for f in dataclasses.fields(value))
    return True


POINTER = _reader(SnapshotInfo)
STREAMS = _reader(AsOf[tuple[Stream, ...]])
SUMMARY = _reader(AsOf[StreamSummary])
GAMES = _reader(AsOf[tuple[GameStat, ...]])
HOURS = _reader(AsOf[tuple[HourCount, ...]])
FOLLOWED = _reader(tuple[Stream, ...])


def open_cache(url: str) -> BaseCache:
    """An aiocache cache for `memory://` or `redis://host:port/db`.

    Redis holds JSON. The in-process cache keeps our values by reference: they are immutable,
    nothing else can write there, and a second copy of 100,000 rows as JSON would cost memory.
    """
    cache = Cache.from_url(url)
    cache.namespace = NAMESPACE
    cache.timeout = None  # see `within_budget`
    if url.startswith("redis"):
        cache.serializer = JsonSerializer()
    cache.ttl = DATA_TTL  # no key lives forever, even one written without a TTL of its own
    return cache


async def within_budget(operation: Awaitable[T]) -> T:
    """A cache operation, cut short after CACHE_TIMEOUT seconds (TimeoutError).

    aiocache's own timeout is `asyncio.wait_for`, which on Python 3.11 loses a cancellation
    that arrives as the operation completes: the task asked to stop goes on. That left the
    refresh loop asleep after a shutdown had cancelled it, and the bot never exited.
    """
    async with asyncio.timeout(CACHE_TIMEOUT):
        return await operation


class StatsService:
    """Answers every statistic from the chosen engine; raises `NoDataYet` before a snapshot."""

    def __init__(self, cache: BaseCache) -> None:
        self._cache = cache
        self._last_cache_warning = -WARN_EVERY
        # The memory engine's results for one snapshot, decoded, in this process: results of
        # a snapshot never change, so repeated answers skip the cache round trip and decoding.
        self._results_of = 0
        self._results: dict[str, Any] = {}
        self._index_lock = asyncio.Lock()

    async def close(self) -> None:
        """Release the cache's connections."""
        await self._cache.close()

    def _warn(self, error: BaseException) -> None:
        if time.monotonic() - self._last_cache_warning >= WARN_EVERY:
            self._last_cache_warning = time.monotonic()
            log.warning("cache unavailable (%r); answering from the database", error)

    async def _get(self, key: str, reader: Reader) -> Any:
        """A cached value of the key's type, or None: missing, cache unavailable, or undecodable."""
        shared = isinstance(self._cache.serializer, JsonSerializer)  # else values by reference
        try:
            return await within_budget(self._cache.get(key, loads_fn=reader if shared else None))
        except CACHE_ERRORS as error:
            self._warn(error)
        except msgspec.DecodeError as error:
            log.warning("cache key %r holds a value we cannot read (%s); dropping it", key, error)
            await self._cached("delete", key)
        return None

    async def _cached(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        """A cache write that degrades to nothing (None) when the cache is unavailable."""
        try:
            return await within_budget(getattr(self._cache, operation)(*args, **kwargs))
        except CACHE_ERRORS as error:
            self._warn(error)
            return None

    async def snapshot(self) -> SnapshotInfo | None:
        """The current snapshot, or None before the first refresh."""
        pointer: SnapshotInfo | None = await self._get(POINTER_KEY, POINTER)
        if pointer is None:
            pointer = await guarded(queries.latest_snapshot())
            if pointer is not None:
                # `add` refuses (ValueError) if a refresh set a newer pointer meanwhile: it wins.
                with contextlib.suppress(ValueError):
                    await self._cached("add", POINTER_KEY, pointer, ttl=POINTER_TTL)
        return pointer

    async def snapshot_committed(self, snapshot: SnapshotInfo) -> None:
        """Forget everything cached for older snapshots and point readers at `snapshot`."""
        self._local(snapshot.id)
        await self._cached("clear", namespace=NAMESPACE)
        await self._cached("set", POINTER_KEY, snapshot, ttl=POINTER_TTL)

    async def rows(self) -> AsOf[tuple[Stream, ...]]:
        """All rows of the current snapshot, loaded from the database once per snapshot."""
        pointer = await self.snapshot()
        if pointer is None:
            raise NoDataYet
        cached: AsOf[tuple[Stream, ...]] | None = await self._get(f"rows:{pointer.id}", STREAMS)
        if cached is not None:
            return cached
        loaded = await guarded(queries.load_streams())
        if loaded is None:
            raise NoDataYet
        await self._cached("set", f"rows:{loaded.snapshot.id}", loaded, ttl=DATA_TTL)
        return loaded

    async def stream_summary(self, source: Source = "memory") -> AsOf[StreamSummary]:
        """Median, odd/even and duplicate figures over all streams."""
        if source == "database":
            return _present(await guarded(queries.stream_summary()))
        return await self._memory_result("summary", SUMMARY, stats.stream_summary)

    async def game_stats(self, source: Source = "memory") -> AsOf[tuple[GameStat, ...]]:
        """Per game: highest viewer count and number of streams."""
        if source == "database":
            return _present(await guarded(queries.game_stats()))
        return await self._memory_result("games", GAMES, stats.game_stats)

    async def game_index(self) -> AsOf[GameIndex]:
        """The current snapshot's games, searchable by name (built once per snapshot)."""
        games = await self.game_stats("memory")
        local = self._local(games.snapshot.id)
        if "game-index" not in local:
            local["game-index"] = AsOf(games.snapshot, GameIndex(games.value))
        return local["game-index"]

    async def start_hours(self, source: Source = "memory") -> AsOf[tuple[HourCount, ...]]:
        """Streams per start hour (rounded to the nearest hour, UTC), newest first."""
        if source == "database":
            return _present(await guarded(queries.start_hours()))
        return await self._memory_result("hours", HOURS, stats.start_hours)

    async def top_streams(
        self, order: Order = "desc", source: Source = "memory"
    ) -> AsOf[tuple[Stream, ...]]:
        """The top 100 streams by viewers, most first (`desc`) or the same 100 reversed."""
        if source == "database":
            return _present(await guarded(queries.top_streams(order)))
        return await self._memory_result(
            f"top-{order}", STREAMS, lambda rows: stats.top_streams(rows, order)
        )  # cached under the key `top_streams_of` reads: pages turn without the database

    async def top_streams_of(self, snapshot_id: int, order: Order) -> AsOf[tuple[Stream, ...]]:
        """The top 100 of a given (recent) snapshot: what an earlier /top page showed."""
        key = f"top-{order}:{snapshot_id}"
        cached: AsOf[tuple[Stream, ...]] | None = await self._get(key, STREAMS)
        if cached is not None:
            return cached
        stored = await guarded(queries.snapshot_top(snapshot_id, order))
        if stored is None:
            raise UserFacingError(
                "These pages show data that is no longer kept. Run /top again for fresh ones."
            )
        await self._cached("set", key, stored, ttl=DATA_TTL)
        return stored

    async def top_index(self) -> AsOf[TopIndex]:
        """Ranks, the last stream's viewers and the tags of the current snapshot.

        Built once per snapshot in each process (from the cached rows) and shared by everyone
        whose followed streams are compared with it. One asker builds it while the others wait:
        after a refresh, fifty first askers would otherwise each load the rows and build it.
        """
        async with self._index_lock:
            return await self._memory_result("top-index", None, following.index_top)

    async def followed_streams(self, twitch_id: str, snapshot_id: int) -> tuple[Stream, ...] | None:
        """A user's followed live streams as cached during this snapshot, or None."""
        return await self._get(_followed_key(twitch_id, snapshot_id), FOLLOWED)

    async def remember_followed_streams(
        self, twitch_id: str, snapshot_id: int, streams: tuple[Stream, ...]
    ) -> None:
        """Keep a user's followed live streams until the next snapshot or `FOLLOWED_TTL`."""
        key = _followed_key(twitch_id, snapshot_id)
        await self._cached("set", key, streams, ttl=FOLLOWED_TTL)

    def _local(self, snapshot_id: int) -> dict[str, Any]:
        """Decoded results of `snapshot_id` held by this process (older snapshots are dropped)."""
        if snapshot_id != self._results_of:
            self._results_of, self._results = snapshot_id, {}
        return self._results

    async def _memory_result(
        self, name: str, reader: Reader | None, compute: Callable[[tuple[Stream, ...]], T]
    ) -> AsOf[T]:
        """A result of the current snapshot's rows: held in the process, else cached, else computed.

        With no `reader` the result is kept in the process only.
        """
        pointer = await self.snapshot()
        if pointer is not None:
            local = self._local(pointer.id)
            if name in local:
                return local[name]
            if reader is not None:
                cached: AsOf[T] | None = await self._get(f"{name}:{pointer.id}", reader)
                if cached is not None:
                    local[name] = cached
                    return cached
        rows = await self.rows()
        result = AsOf(rows.snapshot, compute(rows.value))
        if reader is not None:
            await self._cached("set", f"{name}:{rows.snapshot.id}", result, ttl=DATA_TTL)
        self._local(rows.snapshot.id)[name] = result
        return result


def _followed_key(twitch_id: str, snapshot_id: int) -> str:
    return f"followed:{twitch_id}:{snapshot_id}"


def _present(result: AsOf[T] | None) -> AsOf[T]:
    if result is None:
        raise NoDataYet
    return result

"""Writing a snapshot: pages go to a staging table as they come, a short transaction swaps it in.

A walk over every live stream reads about 1,000 pages in a minute or more. Holding every page
until the end and inserting them in one transaction would keep the whole walk in memory and a
transaction open for seconds. So each page goes to `streams_staging` as the walk reads it
(PostgreSQL: `COPY` through asyncpg; SQLite: `executemany`, a chunk per transaction), and when
the walk ends one short transaction swaps the staging table in: it drops `streams`, renames the
staging table and its indexes to the names the schema knows, and logs the snapshot with its top
100 and its history (counted while the pages were staged). Readers see the previous snapshot or
the new one, never a mix; a walk that fails drops the staging table and leaves the previous
snapshot as it was.
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import msgspec
from tortoise.backends.base.client import BaseDBAsyncClient

from bot.stats import TOP_LIMIT, SnapshotInfo
from bot.streams import Stream, by_viewers
from db import atomically
from db.history_packs import HistoryTally
from db.models import SnapshotTop
from db.queries import _TOP_STREAMS, _connection, _is_postgres, _sql, _stream_from_row

log = logging.getLogger(__name__)
_TAGS = msgspec.json.Encoder()  # a tenth of json.dumps's time: 100,000 rows a walk

STAGING = "streams_staging"
VIEWERS_INDEX = "idx_streams_viewer__85945b"  # the name migration 0001 gave the viewers index
# Rows sent to the staging table at a time. Against 5,000, 20,000 took a 100,000-row write from
# 1.27x to 1.09x a raw COPY and from 1.59x to 1.50x a raw executemany, with the same peak
# memory (the memory engine's load of the new snapshot is the peak, not the write).
CHUNK = 20_000
SECURE_DELETE = {0: "OFF", 1: "ON", 2: "FAST"}  # SQLite's PRAGMA secure_delete, as it reads
TOPS_KEPT = 200  # snapshots whose top 100 stay pageable (two days at 15 minutes)
COLUMNS = (
    "id",
    "snapshot_id",
    "user_id",
    "user_login",
    "user_name",
    "game_id",
    "game_name",
    "title",
    "viewer_count",
    "started_at",
    "language",
    "tags",
    "thumbnail_url",
    "is_mature",
)
_STARTED_AT = COLUMNS.index("started_at") + 1
# SQLite: a start time in whole seconds comes as its Unix time and SQLite writes the text
# (the same as Python's `isoformat(" ")`, in a third of the time); any other as that text.
_SQLITE_STARTED_AT = (
    f"CASE WHEN typeof(?{_STARTED_AT}) = 'integer' "
    f"THEN datetime(?{_STARTED_AT}, 'unixepoch') || '+00:00' ELSE ?{_STARTED_AT} END"
)
_INSERT_STAGING = (  # constants only: no outside text reaches the statement
    f"INSERT INTO {STAGING} ({', '.join(COLUMNS)}) VALUES ("  # noqa: S608
    + ", ".join(
        _SQLITE_STARTED_AT if number == _STARTED_AT else f"?{number}"
        for number in range(1, len(COLUMNS) + 1)
    )
    + ")"
)
_INSERT_HISTORY = (
    "INSERT INTO history_totals (snapshot_id, taken_at, streams, viewers, median, games, "
    "channels) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


class SnapshotWriter:
    """One snapshot being written: `add` pages as they come, then `commit` (or leave on error).

    Use as `async with SnapshotWriter(...) as writer:`; leaving the block without `commit`
    (an exception, a cancellation) drops the staging table. Twitch gives one name per game id;
    should two differ, the first seen wins, which is the most-watched stream's when pages come
    most viewers first.
    """

    def __init__(
        self,
        *,
        history_channels: int | None = None,
        shuffle: Callable[[list[Stream]], None] | None = None,
    ) -> None:
        """`history_channels`: top channels kept in the history (None: no history at all).

        `shuffle` puts each chunk of rows in random order before it is stored, as the product
        has always stored them (the table's order must not give the ranking away).
        """
        self._history = None if history_channels is None else HistoryTally(history_channels)
        self._shuffle = shuffle
        self._snapshot_id = 0
        self._pending: list[Stream] = []
        self._names: dict[str, str] = {}
        self._viewers: list[int] = []
        self._committed = False
        self._text_times = False  # SQLite: started_at stored as text (see _SQLITE_STARTED_AT)

    async def __aenter__(self) -> SnapshotWriter:
        conn = _connection()
        self._text_times = not _is_postgres(conn)
        await _run(conn, await _create_staging(conn))
        self._snapshot_id = await _next_snapshot_id(conn)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self._committed:
            await asyncio.shield(self._drop_staging())

    async def add(self, streams: Sequence[Stream]) -> None:
        """Stage more streams (unique ids); they are sent a chunk at a time."""
        for stream in streams:
            self._names.setdefault(stream.game_id, stream.game_name)
            self._viewers.append(stream.viewer_count)
        if self._history is not None:
            self._history.add(streams)
        self._pending.extend(streams)
        if len(self._pending) >= CHUNK:
            await self._flush()

    async def commit(
        self, *, pages: int, duplicates_dropped: int, taken_at: datetime, every_stream: bool = False
    ) -> SnapshotInfo:
        """Swap the staged streams in and log the snapshot, in one short transaction.

        `every_stream`: the walk took every live stream, not only the top N.
        """
        await self._flush()
        conn = _connection()
        if _is_postgres(conn):
            await _index_staging(conn)
        snapshot = SnapshotInfo(self._snapshot_id, taken_at, len(self._viewers), every_stream)

        async def swap(conn: BaseDBAsyncClient) -> None:
            await conn.execute_query(
                _sql(
                    conn,
                    "INSERT INTO snapshots "
                    "(id, taken_at, stream_count, pages, duplicates_dropped, every_stream) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                ),
                [
                    snapshot.id,
                    taken_at,
                    snapshot.stream_count,
                    pages,
                    duplicates_dropped,
                    every_stream,
                ],
            )
            await _drop_streams(conn)
            await _run(conn, _swap(conn))
            await _keep_top(conn, snapshot.id)
            if self._history is not None:
                await self._write_history(conn, snapshot, self._history)

        await atomically(swap)
        self._committed = True
        return snapshot

    async def _flush(self) -> None:
        if self._shuffle is not None:
            self._shuffle(self._pending)
        rows = [self._row(stream) for stream in self._pending]
        self._pending = []
        if rows:
            await atomically(lambda conn: _stage(conn, rows))

    def _row(self, stream: Stream) -> tuple[Any, ...]:
        started_at: object = stream.started_at
        if self._text_times:  # stored as text in UTC: /hours reads it as text
            if stream.started_at.microsecond:
                started_at = stream.started_at.astimezone(UTC).isoformat(" ")
            else:
                started_at = int(stream.started_at.timestamp())
        return (
            stream.id,
            self._snapshot_id,
            stream.user_id,
            stream.user_login,
            stream.user_name,
            stream.game_id,
            self._names[stream.game_id],
            stream.title,
            stream.viewer_count,
            started_at,
            stream.language,
            _TAGS.encode(stream.tags).decode(),
            stream.thumbnail_url,
            stream.is_mature,
        )

    async def _write_history(
        self, conn: BaseDBAsyncClient, snapshot: SnapshotInfo, tally: HistoryTally
    ) -> None:
        """Store the snapshot's compact history: its totals and packs, in one row."""
        viewers = self._viewers
        await conn.execute_query(
            _sql(conn, _INSERT_HISTORY),
            [
                snapshot.id,
                snapshot.taken_at,
                len(viewers),
                sum(viewers),
                float(statistics.median(viewers)) if viewers else None,
                tally.games_pack(self._names),
                tally.channels_pack(),
            ],
        )

    async def _drop_staging(self) -> None:
        try:
            await _connection().execute_query(f"DROP TABLE IF EXISTS {STAGING}")
        except Exception:  # the next writer drops it anyway
            log.exception("could not drop the staging table of a snapshot that failed")


async def replace_snapshot(
    streams: Sequence[Stream],
    *,
    pages: int,
    duplicates_dropped: int,
    taken_at: datetime,
    history_channels: int | None = None,
) -> SnapshotInfo:
    """Replace the stored streams with `streams` (all at hand) and log the snapshot."""
    async with SnapshotWriter(history_channels=history_channels) as writer:
        await writer.add(sorted(streams, key=by_viewers))
        return await writer.commit(
            pages=pages, duplicates_dropped=duplicates_dropped, taken_at=taken_at
        )


async def _run(conn: BaseDBAsyncClient, statements: list[str]) -> None:
    """Run statements one by one (SQLite's scripts would commit an open transaction)."""
    for statement in statements:
        await conn.execute_query(statement)


async def _create_staging(conn: BaseDBAsyncClient) -> list[str]:
    """Statements that make an empty staging table shaped like `streams` (dropping a stale one)."""
    drop = f"DROP TABLE IF EXISTS {STAGING}"
    if _is_postgres(conn):
        return [drop, f"CREATE TABLE {STAGING} (LIKE streams INCLUDING DEFAULTS)"]
    rows = await conn.execute_query_dict(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'streams'"
    )
    return [drop, rows[0]["sql"].replace('"streams"', f'"{STAGING}"', 1)]


async def _next_snapshot_id(conn: BaseDBAsyncClient) -> int:
    """The id the snapshot will have: the staged rows carry it before the snapshot is logged.

    Only the refresher writes snapshots (one process, one refresh at a time), so on SQLite the
    next id cannot be taken by someone else before the commit.
    """
    if _is_postgres(conn):
        query = "SELECT nextval(pg_get_serial_sequence('snapshots', 'id')) AS id"
    else:
        query = (
            "SELECT MAX(COALESCE((SELECT MAX(id) FROM snapshots), 0), "
            "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'snapshots'), 0)) + 1 AS id"
        )
    rows = await conn.execute_query_dict(query)
    return int(rows[0]["id"])


async def _stage(conn: BaseDBAsyncClient, rows: list[tuple[Any, ...]]) -> None:
    if not _is_postgres(conn):
        await conn.execute_many(_INSERT_STAGING, rows)  # type: ignore[arg-type]  # sqlite3 takes tuples
        return
    async with conn.acquire_connection() as raw:  # type: ignore[attr-defined]
        await raw.copy_records_to_table(STAGING, records=rows, columns=COLUMNS)


async def _index_staging(conn: BaseDBAsyncClient) -> None:
    """PostgreSQL: build the staging table's indexes once, on the full table, before the swap.

    The two are built at the same time, each on a pooled connection of its own (both take a
    SHARE lock, which do not conflict): on two cores that is the longer of the two builds
    instead of their sum. The unique index then becomes the primary key without a rebuild.
    """
    await asyncio.gather(
        conn.execute_query(f"CREATE UNIQUE INDEX {STAGING}_pkey ON {STAGING} (id)"),
        conn.execute_query(f"CREATE INDEX {STAGING}_viewers ON {STAGING} (viewer_count)"),
    )
    key = f"{STAGING}_pkey"
    await conn.execute_query(
        f"ALTER TABLE {STAGING} ADD CONSTRAINT {key} PRIMARY KEY USING INDEX {key}"
    )


async def _drop_streams(conn: BaseDBAsyncClient) -> None:
    """Drop the old snapshot's table.

    SQLite built with SECURE_DELETE (Debian's is) writes zeros over every page it frees: at
    100,000 streams about 30 MB of public Twitch data, written again on every refresh, most of
    the swap's commit. FAST zeroes only what is written anyway. The setting belongs to the
    connection, so it is put back.
    """
    if _is_postgres(conn):
        await conn.execute_query("DROP TABLE streams")
        return
    [setting] = await conn.execute_query_dict("PRAGMA secure_delete")
    await conn.execute_query("PRAGMA secure_delete = FAST")
    try:
        await conn.execute_query("DROP TABLE streams")
    finally:
        was = SECURE_DELETE[setting["secure_delete"]]
        await conn.execute_query(f"PRAGMA secure_delete = {was}")


def _swap(conn: BaseDBAsyncClient) -> list[str]:
    """Rename the staging table in (the old one is dropped), keep the schema's index names."""
    swap = [f"ALTER TABLE {STAGING} RENAME TO streams"]
    if _is_postgres(conn):
        return [
            *swap,
            f"ALTER TABLE streams RENAME CONSTRAINT {STAGING}_pkey TO streams_pkey",
            f'ALTER INDEX {STAGING}_viewers RENAME TO "{VIEWERS_INDEX}"',
        ]
    # SQLite has no ALTER INDEX: the index is made on the renamed table (milliseconds).
    return [*swap, f'CREATE INDEX "{VIEWERS_INDEX}" ON "streams" ("viewer_count")']


async def _keep_top(conn: BaseDBAsyncClient, snapshot_id: int) -> None:
    """Store the snapshot's top 100 for /top pages; forget those of old snapshots."""
    rows = await conn.execute_query_dict(_sql(conn, _TOP_STREAMS), [TOP_LIMIT])
    top = [_stream_to_json(_stream_from_row(row)) for row in rows]
    await SnapshotTop.create(snapshot_id=snapshot_id, streams=json.dumps(top), using_db=conn)
    await SnapshotTop.filter(snapshot_id__lte=snapshot_id - TOPS_KEPT).using_db(conn).delete()


def _stream_to_json(stream: Stream) -> dict[str, Any]:
    return {
        **asdict(stream),
        "started_at": stream.started_at.isoformat(),
        "tags": list(stream.tags),
    }

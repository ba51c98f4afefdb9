"""Every query: snapshot replacement, row loading and the SQL stats engine.

The raw SQL runs unchanged on SQLite and PostgreSQL except for two details handled here:
placeholders (`?` vs `$1`) and string order (PostgreSQL sorts text by locale unless told
`COLLATE "C"`; ids must sort the same way as in Python so both engines agree on ties).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from bot.stats import (
    TOP_LIMIT,
    AsOf,
    GameStat,
    HourCount,
    Order,
    SnapshotInfo,
    StreamSummary,
)
from bot.streams import Stream
from db.models import RefreshRun

_COLUMNS = (
    "streams.id, streams.user_id, streams.user_login, streams.user_name, streams.game_id, "
    "streams.game_name, streams.title, streams.viewer_count, streams.started_at, "
    "streams.language, streams.tags, streams.thumbnail_url, streams.is_mature"
)
_LOAD_STREAMS = (
    "SELECT streams.snapshot_id, snapshots.taken_at, snapshots.stream_count, "
    "snapshots.every_stream, " + _COLUMNS + " "
    "FROM streams JOIN snapshots ON snapshots.id = streams.snapshot_id"
)
_TOP_STREAMS = (
    "SELECT streams.snapshot_id, streams.id, streams.user_id, streams.user_login, "
    "streams.user_name, streams.game_id, streams.game_name, streams.title, streams.viewer_count, "
    "streams.started_at, streams.language, streams.tags, streams.thumbnail_url, streams.is_mature "
    "FROM streams ORDER BY streams.viewer_count DESC, streams.id{binary} LIMIT ?"
)
_PLACEHOLDER = re.compile(r"\?")


def _connection() -> BaseDBAsyncClient:
    return connections.get("default")


def _is_postgres(conn: BaseDBAsyncClient) -> bool:
    return conn.capabilities.dialect == "postgres"


def _sql(conn: BaseDBAsyncClient, query: str) -> str:
    """Adapt a query written for SQLite (`?`, `{binary}`) to the connection's dialect."""
    if not _is_postgres(conn):
        return query.format(binary="")
    numbered = iter(range(1, query.count("?") + 1))
    query = _PLACEHOLDER.sub(lambda _: f"${next(numbered)}", query)
    return query.format(binary=' COLLATE "C"')


def _as_datetime(value: datetime | str) -> datetime:
    """SQLite hands datetimes back as ISO text; PostgreSQL as aware datetimes."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _stream_from_row(row: dict[str, Any]) -> Stream:
    return Stream(
        id=row["id"],
        user_id=row["user_id"],
        user_login=row["user_login"],
        user_name=row["user_name"],
        game_id=row["game_id"],
        game_name=row["game_name"],
        title=row["title"],
        viewer_count=row["viewer_count"],
        started_at=_as_datetime(row["started_at"]),
        language=row["language"],
        tags=tuple(json.loads(row["tags"])),
        thumbnail_url=row["thumbnail_url"],
        is_mature=bool(row["is_mature"]),
    )


def _snapshot_from_row(row: dict[str, Any]) -> SnapshotInfo:
    return SnapshotInfo(
        id=row["snapshot_id"],
        taken_at=_as_datetime(row["taken_at"]),
        stream_count=row["stream_count"],
        every_stream=bool(row["every_stream"]),
    )


async def snapshot_top(snapshot_id: int, order: Order) -> AsOf[tuple[Stream, ...]] | None:
    """The top 100 of a recent snapshot (None once it is older than the tops kept)."""
    conn = _connection()
    rows = await conn.execute_query_dict(
        _sql(
            conn,
            "SELECT snapshot_tops.streams, snapshots.id AS snapshot_id, snapshots.taken_at, "
            "snapshots.stream_count, snapshots.every_stream FROM snapshot_tops "
            "JOIN snapshots ON snapshots.id = snapshot_tops.snapshot_id "
            "WHERE snapshot_tops.snapshot_id = ?",
        ),
        [snapshot_id],
    )
    if not rows:
        return None
    streams = [
        _stream_from_row({**item, "tags": json.dumps(item["tags"])})
        for item in json.loads(rows[0]["streams"])
    ]
    if order == "asc":
        streams.reverse()
    return AsOf(_snapshot_from_row(rows[0]), tuple(streams))


async def latest_snapshot() -> SnapshotInfo | None:
    """The snapshot whose rows are in `streams`, or None before the first refresh."""
    conn = _connection()
    rows = await conn.execute_query_dict(
        "SELECT id AS snapshot_id, taken_at, stream_count, every_stream FROM snapshots "
        "ORDER BY id DESC LIMIT 1"
    )
    return _snapshot_from_row(rows[0]) if rows else None


async def _snapshot(conn: BaseDBAsyncClient, snapshot_id: int) -> SnapshotInfo:
    rows = await conn.execute_query_dict(
        _sql(
            conn,
            "SELECT id AS snapshot_id, taken_at, stream_count, every_stream FROM snapshots "
            "WHERE id = ?",
        ),
        [snapshot_id],
    )
    return _snapshot_from_row(rows[0])


async def load_streams() -> AsOf[tuple[Stream, ...]] | None:
    """Every stored stream with its snapshot, read in one statement so the two always match."""
    conn = _connection()
    rows = await conn.execute_query_dict(_LOAD_STREAMS)
    if not rows:
        return None
    return AsOf(_snapshot_from_row(rows[0]), tuple(_stream_from_row(row) for row in rows))


_SUMMARY_SQL = """
SELECT
    (SELECT MAX(snapshot_id) FROM streams) AS snapshot_id,
    (SELECT COUNT(*) FROM streams) AS total,
    (SELECT SUM(viewer_count % 2) FROM streams) AS odd,
    (SELECT AVG(viewer_count) FROM (
        SELECT viewer_count,
               ROW_NUMBER() OVER (ORDER BY viewer_count) AS position,
               COUNT(*) OVER () AS size
        FROM streams
    ) AS ranked WHERE position IN ((size + 1) / 2, (size + 2) / 2)) AS median,
    (SELECT COALESCE(SUM(sharing), 0) FROM (
        SELECT COUNT(*) AS sharing FROM streams GROUP BY viewer_count HAVING COUNT(*) > 1
    ) AS shared) AS duplicates,
    (SELECT COUNT(*) FROM (
        SELECT viewer_count FROM streams GROUP BY viewer_count HAVING COUNT(*) > 1
    ) AS shared) AS shared_counts
"""


async def stream_summary() -> AsOf[StreamSummary] | None:
    """The SQL twin of `bot.stats.stream_summary`, in one statement (one consistent read)."""
    conn = _connection()
    row = (await conn.execute_query_dict(_SUMMARY_SQL))[0]
    if row["snapshot_id"] is None:
        return None
    total = int(row["total"])
    odd = int(row["odd"])
    summary = StreamSummary(
        total=total,
        median=float(row["median"]),
        odd=odd,
        even=total - odd,
        duplicates=int(row["duplicates"]),
        shared_counts=int(row["shared_counts"]),
    )
    return AsOf(await _snapshot(conn, row["snapshot_id"]), summary)


async def game_stats() -> AsOf[tuple[GameStat, ...]] | None:
    """The SQL twin of `bot.stats.game_stats`, in the same order."""
    conn = _connection()
    rows = await conn.execute_query_dict(
        _sql(
            conn,
            "SELECT MAX(snapshot_id) AS snapshot_id, game_id, MAX(game_name) AS game_name, "
            "COUNT(*) AS streams, MAX(viewer_count) AS max_viewers "
            "FROM streams GROUP BY game_id "
            "ORDER BY COUNT(*) DESC, MAX(viewer_count) DESC, game_id{binary}",
        )
    )
    if not rows:
        return None
    games = tuple(
        GameStat(row["game_id"], row["game_name"], int(row["streams"]), row["max_viewers"])
        for row in rows
    )
    return AsOf(await _snapshot(conn, rows[0]["snapshot_id"]), games)


async def top_streams(
    order: Order = "desc", limit: int = TOP_LIMIT
) -> AsOf[tuple[Stream, ...]] | None:
    """The SQL twin of `bot.stats.top_streams`: the top `limit`, reversed for `asc`."""
    conn = _connection()
    rows = await conn.execute_query_dict(_sql(conn, _TOP_STREAMS), [limit])
    if not rows:
        return None
    streams = [_stream_from_row(row) for row in rows]
    if order == "asc":
        streams.reverse()
    return AsOf(await _snapshot(conn, rows[0]["snapshot_id"]), tuple(streams))


# The start hour of a stream, rounded (half past goes up), as Unix seconds. SQLite keeps the
# time as ISO text in UTC, and its date functions round fractions of a second, so the hour and
# the minute are read from the text; PostgreSQL's epoch is exact.
_START_HOUR = {
    "sqlite": "CAST(strftime('%s', substr(started_at, 1, 13) || ':00:00') AS INTEGER)"
    " + 3600 * (CAST(substr(started_at, 15, 2) AS INTEGER) >= 30)",
    "postgres": "CAST(floor((extract(epoch FROM started_at) + 1800) / 3600) * 3600 AS BIGINT)",
}


async def start_hours() -> AsOf[tuple[HourCount, ...]] | None:
    """The SQL twin of `bot.stats.start_hours`: streams per rounded start hour, newest first."""
    conn = _connection()
    hour = _START_HOUR["postgres" if _is_postgres(conn) else "sqlite"]
    rows = await conn.execute_query_dict(
        f"SELECT MAX(snapshot_id) AS snapshot_id, {hour} AS hour, COUNT(*) AS streams "  # noqa: S608
        "FROM streams GROUP BY 2 ORDER BY 2 DESC"
    )
    if not rows:
        return None
    hours = tuple(
        HourCount(datetime.fromtimestamp(int(row["hour"]), UTC), int(row["streams"]))
        for row in rows
    )
    return AsOf(await _snapshot(conn, rows[0]["snapshot_id"]), hours)


RUNS_KEPT = 500


@dataclass(frozen=True)
class LastRun:
    """The latest refresh attempt: when it ended and, if it failed, why."""

    finished_at: datetime
    error: str | None


async def record_refresh_run(
    finished_at: datetime, error: str | None, snapshot_id: int | None
) -> None:
    """Log a refresh attempt; only the newest `RUNS_KEPT` are kept."""
    run = await RefreshRun.create(finished_at=finished_at, error=error, snapshot_id=snapshot_id)
    await RefreshRun.filter(id__lte=run.id - RUNS_KEPT).delete()


async def last_refresh_run() -> LastRun | None:
    """The latest refresh attempt of any process, or None before the first."""
    run = await RefreshRun.all().order_by("-id").first()
    return LastRun(run.finished_at, run.error) if run else None

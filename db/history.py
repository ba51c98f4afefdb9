"""The history's reads and its pruning: per snapshot, the totals, the games and the top channels.

Rows are written by `db.snapshots.replace_snapshot` in the snapshot's own transaction. Pruning
deletes one snapshot's rows per transaction, so it never holds a lock for long.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from bot.trends import ChannelPoint, ChannelRank, GameTotal, SnapshotTotals
from db import atomically
from db.queries import _as_datetime, _connection, _sql

PRUNE_BATCH = 50  # snapshots looked up per query while pruning; each is deleted on its own


async def game_totals_at(snapshot_id: int) -> dict[str, GameTotal]:
    """Every game of a snapshot by game id; empty when that snapshot has no history."""
    conn = _connection()
    rows = await conn.execute_query_dict(
        _sql(
            conn,
            "SELECT game_id, name, streams, viewers, highest FROM history_games "
            "WHERE snapshot_id = ?",
        ),
        [snapshot_id],
    )
    return {row["game_id"]: _game_total(row) for row in rows}


async def channel_ranks_at(snapshot_id: int) -> dict[str, ChannelRank]:
    """The top channels of a snapshot by user id; empty when that snapshot has no history."""
    conn = _connection()
    rows = await conn.execute_query_dict(
        _sql(
            conn,
            "SELECT user_id, login, rank, viewers FROM history_channels WHERE snapshot_id = ?",
        ),
        [snapshot_id],
    )
    return {row["user_id"]: ChannelRank(row["login"], row["rank"], row["viewers"]) for row in rows}


def _game_total(row: dict[str, Any]) -> GameTotal:
    return GameTotal(row["name"], row["streams"], int(row["viewers"]), row["highest"])


def _totals(row: dict[str, Any]) -> SnapshotTotals:
    return SnapshotTotals(
        snapshot_id=row["snapshot_id"],
        taken_at=_as_datetime(row["taken_at"]),
        streams=row["streams"],
        total_viewers=int(row["viewers"]),
        median=None if row["median"] is None else float(row["median"]),
    )


_TOTALS = "SELECT snapshot_id, taken_at, streams, viewers, median FROM history_totals "


async def snapshots_with_history() -> list[SnapshotTotals]:
    """Every snapshot the history holds, oldest first (at most HISTORY_DAYS of refreshes)."""
    conn = _connection()
    rows = await conn.execute_query_dict(_TOTALS + "ORDER BY snapshot_id")
    return [_totals(row) for row in rows]


async def game_history(game_id: str, first: int, last: int) -> dict[int, GameTotal]:
    """One game's totals by snapshot id, for the snapshots `first` to `last` (inclusive)."""
    conn = _connection()
    rows = await conn.execute_query_dict(
        _sql(
            conn,
            "SELECT snapshot_id, game_id, name, streams, viewers, highest FROM history_games "
            "WHERE game_id = ? AND snapshot_id BETWEEN ? AND ?",
        ),
        [game_id, first, last],
    )
    return {row["snapshot_id"]: _game_total(row) for row in rows}


async def games_since(first: int) -> dict[str, str]:
    """Every game seen in the snapshots from `first` on, by game id, with its newest name."""
    conn = _connection()
    rows = await conn.execute_query_dict(
        _sql(
            conn,
            "SELECT history_games.game_id, history_games.name FROM history_games JOIN ("
            "SELECT game_id, MAX(snapshot_id) AS newest FROM history_games "
            "WHERE snapshot_id >= ? GROUP BY game_id) AS seen "
            "ON history_games.game_id = seen.game_id "
            "AND history_games.snapshot_id = seen.newest",
        ),
        [first],
    )
    return {row["game_id"]: row["name"] for row in rows}


async def logins_since(first: int) -> set[str]:
    """The logins of every channel in the history's top from snapshot `first` on."""
    conn = _connection()
    rows = await conn.execute_query_dict(
        _sql(conn, "SELECT DISTINCT login FROM history_channels WHERE snapshot_id >= ?"),
        [first],
    )
    return {row["login"] for row in rows}


async def channel_of(login: str) -> str | None:
    """The user id that most recently had `login` (logins are lower case), or None."""
    conn = _connection()
    rows = await conn.execute_query_dict(
        _sql(
            conn,
            "SELECT user_id FROM history_channels WHERE login = ? "
            "ORDER BY snapshot_id DESC LIMIT 1",
        ),
        [login],
    )
    return rows[0]["user_id"] if rows else None


async def channel_history(user_id: str) -> list[ChannelPoint]:
    """A channel's rank and viewers in every snapshot of the history it was in, oldest first."""
    conn = _connection()
    rows = await conn.execute_query_dict(
        _sql(
            conn,
            "SELECT history_totals.taken_at, history_channels.rank, history_channels.viewers "
            "FROM history_channels JOIN history_totals "
            "ON history_totals.snapshot_id = history_channels.snapshot_id "
            "WHERE history_channels.user_id = ? ORDER BY history_channels.snapshot_id",
        ),
        [user_id],
    )
    return [
        ChannelPoint(_as_datetime(row["taken_at"]), row["rank"], row["viewers"]) for row in rows
    ]


async def prune_history(before: datetime) -> int:
    """Delete the history of every snapshot taken before `before`; how many were deleted.

    One snapshot's rows per transaction: a long backlog (HISTORY_DAYS lowered, or set to 0)
    takes many short transactions, never one long lock.
    """
    conn = _connection()
    pruned = 0
    while True:
        rows = await conn.execute_query_dict(
            _sql(
                conn,
                "SELECT snapshot_id FROM history_totals WHERE taken_at < ? "
                "ORDER BY snapshot_id LIMIT ?",
            ),
            [before.astimezone(UTC), PRUNE_BATCH],
        )
        for row in rows:
            await atomically(lambda conn, old=row["snapshot_id"]: _delete_snapshot(conn, old))
        pruned += len(rows)
        if len(rows) < PRUNE_BATCH:
            return pruned


async def _delete_snapshot(conn: BaseDBAsyncClient, snapshot_id: int) -> None:
    for table in ("history_channels", "history_games", "history_totals"):
        await conn.execute_query(
            _sql(conn, f"DELETE FROM {table} WHERE snapshot_id = ?"),  # noqa: S608
            [snapshot_id],
        )

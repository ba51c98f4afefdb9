"""The history's reads and its pruning: per snapshot, the totals and the packed games and channels.

A snapshot's history is one row, written by `db.snapshots` in the snapshot's own transaction;
its games and top channels are packed (`db.history_packs`). A read of one game or channel across
many snapshots asks the database for the text where its needle starts (SQLite `instr`,
PostgreSQL `strpos`), so only that entry leaves the database. Pruning deletes one snapshot per
transaction, so it never holds a lock for long.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from bot.trends import ChannelPoint, ChannelRank, GameTotal, SnapshotTotals
from db import atomically, history_packs
from db.history_packs import ENTRY_LIMIT
from db.queries import _as_datetime, _connection, _is_postgres, _sql

PRUNE_BATCH = 50  # snapshots looked up per query while pruning; each is deleted on its own
NAME_LIMIT = 400  # characters of a game name read with its entry; a longer one reads its pack


async def _pack(column: str, snapshot_id: int) -> str:
    conn = _connection()
    rows = await conn.execute_query_dict(
        _sql(conn, f"SELECT {column} AS pack FROM history_totals WHERE snapshot_id = ?"),  # noqa: S608
        [snapshot_id],
    )
    return rows[0]["pack"] if rows else history_packs.EMPTY


async def game_totals_at(snapshot_id: int) -> dict[str, GameTotal]:
    """Every game of a snapshot by game id; empty when that snapshot has no history."""
    return history_packs.games(await _pack("games", snapshot_id))


async def channel_ranks_at(snapshot_id: int) -> dict[str, ChannelRank]:
    """The top channels of a snapshot by user id; empty when that snapshot has no history."""
    return history_packs.channels(await _pack("channels", snapshot_id))


def _search(conn: BaseDBAsyncClient) -> str:
    """The dialect's substring search: where a text starts in another, from 1; 0 if nowhere."""
    return "strpos" if _is_postgres(conn) else "instr"


def _found(conn: BaseDBAsyncClient, column: str, length: int) -> str:
    """SQL for the `length` characters of `column` from where the needle (`?`) starts.

    Where the needle is missing the search says 0 and the text is the pack's start instead,
    which cannot start with the needle: a caller tells the two apart by that.
    """
    return f"substr({column}, {_search(conn)}({column}, ?), {length})"


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
    needle = history_packs.entry_needle(game_id)
    rows = await conn.execute_query_dict(
        _sql(
            conn,
            f"SELECT snapshot_id, {_found(conn, 'games', ENTRY_LIMIT + NAME_LIMIT)} AS found "  # noqa: S608
            "FROM history_totals WHERE snapshot_id BETWEEN ? AND ?",
        ),
        [needle, first, last],
    )
    totals = {}
    for row in rows:
        if not row["found"].startswith(needle):
            continue
        entry = history_packs.whole_entry(row["found"])
        if entry is None:  # a name longer than what was read: read the whole pack
            totals[row["snapshot_id"]] = (await game_totals_at(row["snapshot_id"]))[game_id]
        else:
            totals[row["snapshot_id"]] = history_packs.game_entry(entry)[1]
    return totals


async def games_since(first: int) -> dict[str, str]:
    """Every game seen in the snapshots from `first` on, by game id, with its newest name."""
    names: dict[str, str] = {}
    for pack in await _packs_since("games", first):
        names.update(history_packs.game_names(pack))
    return names


async def logins_since(first: int) -> set[str]:
    """The logins of every channel in the history's top from snapshot `first` on."""
    logins: set[str] = set()
    for pack in await _packs_since("channels", first):
        logins |= history_packs.logins(pack)
    return logins


async def _packs_since(column: str, first: int) -> list[str]:
    """The packs of the snapshots from `first` on, oldest first."""
    conn = _connection()
    rows = await conn.execute_query_dict(
        _sql(
            conn,
            f"SELECT {column} AS pack FROM history_totals WHERE snapshot_id >= ? "  # noqa: S608
            "ORDER BY snapshot_id",
        ),
        [first],
    )
    return [row["pack"] for row in rows]


async def channel_of(login: str) -> str | None:
    """The user id that most recently had `login` (logins are lower case), or None."""
    conn = _connection()
    needle = history_packs.login_needle(login)
    rows = await conn.execute_query_dict(
        _sql(
            conn,
            f"SELECT channels FROM history_totals WHERE {_search(conn)}(channels, ?) > 0 "  # noqa: S608
            "ORDER BY snapshot_id DESC LIMIT 1",
        ),
        [needle],
    )
    if not rows:
        return None
    ranks = history_packs.channels(rows[0]["channels"])
    return next(user_id for user_id, rank in ranks.items() if rank.login == login)


async def channel_history(user_id: str) -> list[ChannelPoint]:
    """A channel's rank and viewers in every snapshot of the history it was in, oldest first."""
    conn = _connection()
    needle = history_packs.entry_needle(user_id)
    rows = await conn.execute_query_dict(
        _sql(
            conn,
            f"SELECT taken_at, {_found(conn, 'channels', ENTRY_LIMIT)} AS found "  # noqa: S608
            "FROM history_totals ORDER BY snapshot_id",
        ),
        [needle],
    )
    points = []
    for row in rows:
        if row["found"].startswith(needle):  # ",user_id:rank:viewers:login…", the login unread
            _, rank, viewers = row["found"][1:].split(":", 3)[:3]
            points.append(ChannelPoint(_as_datetime(row["taken_at"]), int(rank), int(viewers)))
    return points


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
    await conn.execute_query(
        _sql(conn, "DELETE FROM history_totals WHERE snapshot_id = ?"), [snapshot_id]
    )

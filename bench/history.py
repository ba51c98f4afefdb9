"""History benchmark: what keeping history costs, in time and space, and how fast it reads.

    .venv/bin/python -m bench.history [--repeat 9] [--postgres URL] [--quick]

(a) The history write's share of the snapshot write (`db.snapshots`): writing 1000 streams
    with history (totals, ~250 games, the top 1000 channels) against the same without it,
    alternated, in the same run; and the history's own work alone (counting the streams as
    they are staged, packing, storing one row), timed inside the write.
(b) A simulated 30 days: 2,880 snapshots of history at 15 minutes (each a copy of a real one
    with every count moved and the channels ranked again), then bytes per snapshot (SQLite
    `dbstat`, PostgreSQL `pg_total_relation_size`, indexes included) and the database's size.
(c) Reads at that size, each answered from scratch (no per-snapshot memo): `/trends 7d` (and
    24h; 7d with the series its chart draws, the 5 biggest gainers'), one game over 7 days,
    `/channel`, the game suggestions; against the SQL engine's `/gamestats` over the current
    snapshot (`queries.game_stats`) in the same run.

`--quick`: 200 streams, one day of history (96 snapshots), 3 rounds. Both databases run; the
PostgreSQL half needs a server (`--postgres` or $TEST_POSTGRES_URL).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from bench._support import command_line, database, scratch_postgres, timed
from bot.cache import StatsService, open_cache
from bot.history import HistoryService
from bot.trend_charts import gainer_trends
from bot.trends import ChannelRank, GameTotal, SnapshotTotals
from bot.twitch import parse_stream
from db import atomically, history, history_packs, queries, snapshots
from db.history_packs import HistoryTally
from db.snapshots import SnapshotWriter
from tests.fakes.twitch import random_streams

T0 = datetime(2026, 11, 1, tzinfo=UTC)
EVERY = timedelta(minutes=15)
BATCH = 96  # simulated snapshots per transaction (a day): the simulation is not what is timed


@dataclass(frozen=True)
class Plan:
    """How big and how often: the published figures, or `--quick`."""

    rows: int
    snapshots: int
    repeat: int
    writes: int  # of each kind in (a): the difference is a millisecond in a noisy dozen


def ms(times: list[float]) -> str:
    return f"median {statistics.median(times) * 1000:7.2f} ms (min {min(times) * 1000:.2f})"


def streams(plan: Plan) -> list:
    # ~300 games in the catalogue: about 250 are played in a top 1000, as on Twitch.
    return [parse_stream(p) for p in random_streams(plan.rows, seed=5, games=300)]


async def bench_write(engine: str, plan: Plan) -> None:
    rows = streams(plan)
    moments = iter(T0 - EVERY * (1000 - n) for n in range(1000))  # before the simulated days
    count, write_history = HistoryTally.add, SnapshotWriter._write_history
    spent = [0.0]  # the history's own work in the current write

    def timed_count(*args: Any) -> None:
        started = time.perf_counter()
        count(*args)
        spent[0] += time.perf_counter() - started

    async def timed_history(*args: Any) -> None:
        started = time.perf_counter()
        await write_history(*args)
        spent[0] += time.perf_counter() - started

    async def write(history: int | None) -> None:
        spent[0] = 0.0
        await snapshots.replace_snapshot(
            rows, pages=10, duplicates_dropped=0, taken_at=next(moments), history_channels=history
        )

    await write(1000)  # the old snapshot to replace exists from here on
    without: list[float] = []
    with_history: list[float] = []
    inside: list[float] = []
    # The history's own work (counting the staged streams, then packing and storing the row) is
    # also timed on its own: the difference of two whole writes drowns in the noise of the
    # commit (fsync) on SQLite.
    HistoryTally.add = timed_count  # type: ignore[method-assign]
    SnapshotWriter._write_history = timed_history  # type: ignore[method-assign]
    try:
        for _ in range(plan.writes):  # alternated: both see the same machine
            without += await timed(lambda: write(None), 1)
            with_history += await timed(lambda: write(1000), 1)
            inside.append(spent[0])
    finally:
        HistoryTally.add = count  # type: ignore[method-assign]
        SnapshotWriter._write_history = write_history  # type: ignore[method-assign]
    base, ours = statistics.median(without), statistics.median(with_history)
    print(f"(a) {engine}: replace_snapshot of {len(rows)} streams")
    print(f"    without history {ms(without)}")
    print(f"    with history    {ms(with_history)}   difference {(ours - base) / base * 100:+.1f}%")
    print(
        f"    history's own work {ms(inside)}   "
        f"{statistics.median(inside) / base * 100:.1f}% of the snapshot write without history"
    )


def moved(template: SnapshotHistory, n: int) -> tuple[str, str]:
    """The packs of simulated snapshot `n`: the template's with every count moved.

    Channels are ranked again by their new viewers, so streams overtake each other and games
    rise and fall.
    """
    game_ids = list(template.games)
    games = history_packs.games_pack(
        game_ids,
        [template.games[game_id].name for game_id in game_ids],
        [
            (t.streams, (t.total_viewers * 31 + n) % 200003, t.highest_viewers)
            for t in template.games.values()
        ],
    )
    viewers = {user_id: (r.viewers * 31 + n) % 20011 for user_id, r in template.channels.items()}
    ranked = sorted(viewers, key=lambda user_id: (-viewers[user_id], user_id))
    channels = history_packs.channels_pack(
        ranked,
        [template.channels[user_id].login for user_id in ranked],
        [viewers[user_id] for user_id in ranked],
    )
    return games, channels


@dataclass(frozen=True)
class SnapshotHistory:
    """The newest real snapshot's history, which the simulated ones copy."""

    totals: SnapshotTotals
    games: dict[str, GameTotal]
    channels: dict[str, ChannelRank]


async def simulate(plan: Plan) -> None:
    """`plan.snapshots` snapshots of history, 15 minutes apart, ending at T0 + 30 days."""
    sql = queries._sql
    newest = (await history.snapshots_with_history())[-1]
    template = SnapshotHistory(
        newest,
        await history.game_totals_at(newest.snapshot_id),
        await history.channel_ranks_at(newest.snapshot_id),
    )

    async def day(first: int) -> None:
        async def work(tx: BaseDBAsyncClient) -> None:
            for n in range(first, min(first + BATCH, plan.snapshots)):
                taken_at = T0 + EVERY * n
                inserted = await tx.execute_query_dict(
                    sql(
                        tx,
                        "INSERT INTO snapshots (taken_at, stream_count, pages, "
                        "duplicates_dropped) VALUES (?, ?, 10, 0) RETURNING id",
                    ),
                    [taken_at, plan.rows],
                )
                snapshot = inserted[0]["id"]
                streams, viewers = template.totals.streams, template.totals.total_viewers + n
                await tx.execute_query(
                    sql(tx, snapshots._INSERT_HISTORY),
                    [snapshot, taken_at, streams, viewers, 2.5, *moved(template, n)],
                )

        await atomically(work)

    started = time.perf_counter()
    for first in range(0, plan.snapshots, BATCH):
        await day(first)
    print(f"    simulated {plan.snapshots:,} snapshots in {time.perf_counter() - started:.0f} s")


async def sizes(engine: str, plan: Plan, database_bytes: int) -> None:
    conn = connections.get("default")
    rows = await conn.execute_query_dict("SELECT COUNT(*) AS n FROM history_totals")
    snapshots = int(rows[0]["n"])
    if engine == "SQLite":
        rows = await conn.execute_query_dict(
            "SELECT SUM(pgsize) AS size FROM dbstat WHERE name LIKE '%history%'"
        )
    else:
        rows = await conn.execute_query_dict(
            "SELECT pg_total_relation_size('history_totals') AS size"
        )
    history_bytes = int(rows[0]["size"])
    print(f"(b) {engine}: {snapshots:,} snapshots of history, a row each")
    print(
        f"    history {history_bytes / 2**20:7.1f} MiB = {history_bytes / snapshots / 1024:.1f} "
        f"KiB per snapshot; whole database {database_bytes / 2**20:.1f} MiB"
    )


async def reads(engine: str, plan: Plan) -> None:
    stats = StatsService(open_cache("memory://"))
    await stats.rows()  # the current snapshot's rows, as a running bot holds them

    def fresh() -> HistoryService:
        return HistoryService(stats, top_n=plan.rows, history_days=30)

    async def trends_chart() -> list:
        service = fresh()
        result = await service.trends("7d")
        # The simulated days end with every game losing viewers (their moved counts are larger
        # than the newest real snapshot's): the biggest losers stand in, with the same reads.
        return await gainer_trends(
            service, replace(result, gainers=result.gainers or result.losers)
        )

    game = next(iter((await fresh().game_names()).keys()))
    login = (await stats.rows()).value[0].user_login
    results = {
        "/trends 7d": lambda: fresh().trends("7d"),
        "/trends 7d + chart series": trends_chart,
        "/trends 24h": lambda: fresh().trends("24h"),
        "/trends game 7d": lambda: fresh().game_trend(game, "7d"),
        "/channel": lambda: fresh().channel(login),
        "game suggestions": lambda: fresh().game_suggestions("a"),
        "baseline: /gamestats SQL": queries.game_stats,
    }
    print(f"(c) {engine}: reads at that size, from scratch each time")
    for name, read in results.items():
        times = await timed(read, plan.repeat)
        print(f"    {name:<26} {ms(times)}")
    charted = [trend for trend in await trends_chart() if trend is not None]
    points = len(charted[0].points) if charted else 0
    print(f"    (the 7d chart's series: {len(charted)} games x {points} snapshots)")
    await stats.close()


async def run(engine: str, url: str, plan: Plan, size_of) -> None:
    async with database(url):
        await bench_write(engine, plan)
        await simulate(plan)
        await snapshots.replace_snapshot(  # the newest snapshot, through the product's own path
            streams(plan),
            pages=10,
            duplicates_dropped=0,
            taken_at=T0 + EVERY * plan.snapshots,
            history_channels=plan.rows,
        )
        await sizes(engine, plan, await size_of())
        await reads(engine, plan)


async def main() -> None:
    args = command_line(__doc__, postgres=True)
    args.add_argument("--repeat", type=int, default=9)
    options = args.parse_args()
    plan = (
        Plan(rows=200, snapshots=96, repeat=3, writes=3)
        if options.quick
        else Plan(rows=1000, snapshots=2880, repeat=options.repeat, writes=61)
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.sqlite3"

        async def file_size() -> int:
            return path.stat().st_size

        await run("SQLite", f"sqlite://{path}", plan, file_size)
    if not options.postgres:
        print("PostgreSQL skipped: pass --postgres URL or set TEST_POSTGRES_URL")
        return
    async with scratch_postgres(options.postgres, "streamstats_bench_history") as url:

        async def database_size() -> int:
            conn = connections.get("default")
            rows = await conn.execute_query_dict("SELECT pg_database_size(current_database()) AS n")
            return int(rows[0]["n"])

        await run("PostgreSQL", url, plan, database_size)


if __name__ == "__main__":
    asyncio.run(main())

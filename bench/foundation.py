"""Foundation benchmark: refresh vs the network floor, snapshot write vs raw executemany.

    .venv/bin/python -m bench.foundation [--latency 0.05] [--repeat 7] [--postgres URL] [--quick]

(a) A full refresh of the top 1000 against the fake Twitch with a simulated latency per request,
    as a ratio to the floor `pages x latency` (the time the pages alone must take in sequence).
(b) The snapshot write of 1000 rows (`db.snapshots.replace_snapshot`: the rows staged, then
    swapped in with the snapshot log and its history) as a ratio to a raw `executemany` of the
    same rows into an empty table with the same driver (aiosqlite / asyncpg), in one transaction,
    and to the original design of one upsert statement (one commit) per stream.

`--quick` uses 200 streams and one round. (b) on PostgreSQL runs when given a server
(`--postgres` or $TEST_POSTGRES_URL).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import aiosqlite
import asyncpg

from bench._support import (
    RAW_INSERT,
    RAW_TABLE,
    command_line,
    database,
    new_raw_postgres_table,
    new_raw_sqlite_table,
    raw_rows,
    scratch_postgres,
    timed,
)
from bot.cache import StatsService, open_cache
from bot.refresh import RefreshService
from bot.twitch import TwitchApp, TwitchClient, parse_stream
from db import snapshots
from db.snapshots import COLUMNS
from tests.fakes.twitch import FakeTwitch, random_streams

ROWS = 1000
QUICK_ROWS = 200  # two pages: every step of the refresh still runs
UPSERT = (  # the original design's statement, on the raw table
    f"INSERT INTO {RAW_TABLE} ({', '.join(COLUMNS)}) VALUES ({{p}}) "  # noqa: S608
    "ON CONFLICT (id) DO UPDATE SET viewer_count = excluded.viewer_count, "
    "title = excluded.title, game_id = excluded.game_id, game_name = excluded.game_name"
)


@dataclass(frozen=True)
class Plan:
    """How big and how often: the published figures, or `--quick`."""

    rows: int
    repeat: int
    latency: float


def describe(times: list[float]) -> str:
    return f"median {statistics.median(times) * 1000:8.1f} ms  (min {min(times) * 1000:.1f})"


async def bench_refresh(database_url: str, plan: Plan) -> None:
    async with (
        database(database_url),
        FakeTwitch(streams=random_streams(3 * plan.rows, seed=7)) as fake,
        aiohttp.ClientSession() as http,
    ):
        stats = StatsService(open_cache("memory://"))
        app = TwitchApp(fake.client_id, fake.client_secret, fake.api_url, fake.auth_url)
        twitch = TwitchClient(http, app)
        service = RefreshService(twitch, stats, top_streams=plan.rows)
        await service.refresh()  # mints the app token once, as a running bot would have
        fake.latency = plan.latency
        outcomes = []

        async def refresh() -> None:
            outcomes.append(await service.refresh())

        times = await timed(refresh, plan.repeat)
        await stats.close()
    pages = outcomes[-1].pages
    floor = pages * plan.latency
    ratio = statistics.median(times) / floor
    print(f"(a) refresh top {plan.rows}, {pages} pages x {plan.latency * 1000:.0f} ms latency")
    print(f"    floor {floor * 1000:8.1f} ms")
    print(f"    ours  {describe(times)}   ratio {ratio:.2f}x the floor")


def bench_rows(plan: Plan) -> list:
    return [parse_stream(payload) for payload in random_streams(plan.rows, seed=11)]


async def ours_write(database_url: str, streams: list, repeat: int) -> list[float]:
    async def write() -> None:
        await snapshots.replace_snapshot(
            streams, pages=10, duplicates_dropped=0, taken_at=datetime.now(UTC)
        )

    async with database(database_url):
        await write()  # the old snapshot to replace exists from here on
        return await timed(write, repeat)


async def bench_write_sqlite(path: Path, plan: Plan) -> None:
    streams = bench_rows(plan)
    ours = await ours_write(f"sqlite://{path}", streams, plan.repeat)

    values = raw_rows(streams, text_times=True)
    async with aiosqlite.connect(path) as conn:

        async def raw() -> float:
            await new_raw_sqlite_table(conn)
            started = time.perf_counter()
            await conn.executemany(RAW_INSERT, values)
            await conn.commit()
            return time.perf_counter() - started

        raw_times = [await raw() for _ in range(plan.repeat)]

        async def upsert_each() -> None:
            # The original design: one upsert statement (and commit) per stream.
            for row in values:
                await conn.execute(UPSERT.format(p=", ".join("?" * len(COLUMNS))), row)
                await conn.commit()

        upsert_times = await timed(upsert_each, max(1, plan.repeat // 3))
    report("SQLite", len(streams), ours, raw_times, upsert_times)


async def bench_write_postgres(server_url: str, plan: Plan) -> None:
    streams = bench_rows(plan)
    async with scratch_postgres(server_url, "streamstats_bench") as url:
        ours = await ours_write(url, streams, plan.repeat)
        values = raw_rows(streams, text_times=False)
        conn = await asyncpg.connect(url)
        try:
            raw_times: list[float] = []
            placeholders = ", ".join(f"${i}" for i in range(1, len(COLUMNS) + 1))
            for _ in range(plan.repeat):
                await new_raw_postgres_table(conn)
                started = time.perf_counter()
                async with conn.transaction():
                    await conn.executemany(
                        f"INSERT INTO {RAW_TABLE} ({', '.join(COLUMNS)}) VALUES ({placeholders})",  # noqa: S608
                        values,
                    )
                raw_times.append(time.perf_counter() - started)

            async def upsert_each() -> None:
                for row in values:  # autocommit: one statement, one transaction per stream
                    await conn.execute(UPSERT.format(p=placeholders), *row)

            upsert_times = await timed(upsert_each, max(1, plan.repeat // 3))
        finally:
            await conn.close()
    report("PostgreSQL", len(streams), ours, raw_times, upsert_times)


def report(
    engine: str, rows: int, ours: list[float], raw: list[float], upsert: list[float]
) -> None:
    ratio = statistics.median(ours) / statistics.median(raw)
    versus_upsert = statistics.median(ours) / statistics.median(upsert)
    print(f"(b) snapshot write of {rows} rows, {engine}")
    print(f"    raw executemany {describe(raw)}")
    print(f"    one upsert per stream {describe(upsert)}")
    print(
        f"    replace_snapshot {describe(ours)}   ratio {ratio:.2f}x raw, "
        f"{versus_upsert:.3f}x one-upsert-per-stream"
    )


async def main() -> None:
    parser = command_line(__doc__, postgres=True)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per Twitch request")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    if args.quick:
        plan = Plan(rows=QUICK_ROWS, repeat=1, latency=args.latency)
    else:
        plan = Plan(rows=ROWS, repeat=args.repeat, latency=args.latency)
    with tempfile.TemporaryDirectory() as folder:
        await bench_refresh(f"sqlite://{folder}/refresh.sqlite3", plan)
        await bench_write_sqlite(Path(folder) / "write.sqlite3", plan)
    if args.postgres:
        await bench_write_postgres(args.postgres, plan)
    else:
        print("(b) PostgreSQL skipped: pass --postgres URL or set TEST_POSTGRES_URL")


if __name__ == "__main__":
    asyncio.run(main())

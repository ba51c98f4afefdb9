"""Whole-platform benchmark: the walk over every live stream, the streaming snapshot write, search.

    .venv/bin/python -m bench.platform [--postgres URL] [--quick]

(a) A refresh with TOP_STREAMS=all of 100,000 streams (1,000 pages) against the fake Twitch at
    20 ms per request with an 800-a-minute bucket, against the floor
    max(pages x round trip, pages / 800 a minute). Run twice in a row: the first walk starts
    with a full bucket (800 points, most of the walk at network speed), the second with the
    bucket the first left (the steady state of a bot refreshing every interval).
(b) The snapshot write of 100,000 rows as the refresh does it (pages of 100 staged as they come,
    then swapped in with the top 100 and the history) against a raw bulk load of the same rows
    into a table like `streams`: `COPY` on PostgreSQL, one `executemany` on SQLite; the two
    alternated, each timed `repeat` times (9; the medians are compared).
(c) /gamestats suggestions with 8,000 games: the slowest of many prefixes, and the index build.

`--quick`: 5,000 streams and 800 games, one round.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import string
import tempfile
import time
from collections.abc import Awaitable, Callable
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
from bench.stats import make_rows
from bot.cache import StatsService, open_cache
from bot.refresh import RefreshService
from bot.stats import GameIndex, GameStat
from bot.twitch import PAGE_SIZE, TwitchApp, TwitchClient
from db.snapshots import COLUMNS, SnapshotWriter
from tests.fakes.twitch import FakeTwitch, random_streams

RATE_PER_MINUTE = 800


@dataclass(frozen=True)
class Plan:
    """How big: the published figures, or `--quick`."""

    streams: int
    games: int
    repeat: int
    latency: float = 0.020


FULL = Plan(streams=100_000, games=8_000, repeat=9)
QUICK = Plan(streams=5_000, games=800, repeat=1)


async def bench_walk(plan: Plan) -> None:
    pages = plan.streams // PAGE_SIZE
    floor = max(pages * plan.latency, pages / RATE_PER_MINUTE * 60)
    print(
        f"(a) refresh of every live stream: {plan.streams:,} streams, {pages} pages, "
        f"{plan.latency * 1000:.0f} ms a request, {RATE_PER_MINUTE} points a minute"
    )
    print(f"    floor {floor:7.1f} s")
    with tempfile.TemporaryDirectory() as folder:
        async with (
            database(f"sqlite://{folder}/walk.sqlite3"),
            FakeTwitch(streams=random_streams(plan.streams, seed=5, games=300)) as fake,
            aiohttp.ClientSession() as http,
        ):
            stats = StatsService(open_cache("memory://"))
            app = TwitchApp(fake.client_id, fake.client_secret, fake.api_url, fake.auth_url)
            twitch = TwitchClient(http, app, headroom=0.10)
            await twitch.app_token()  # minted once, as a running bot has it
            fake.latency = plan.latency
            refresher = RefreshService(twitch, stats, top_streams=None)
            for run in ("full bucket", "bucket left by the walk before"):
                started = time.perf_counter()
                outcome = await refresher.refresh()
                took = time.perf_counter() - started
                assert outcome is not None and outcome.ok, outcome
                print(
                    f"    {run:<31} {took:7.1f} s   ratio {took / floor:.2f}x the floor  "
                    f"({outcome.pages} pages, {outcome.snapshot.stream_count:,} streams, "
                    f"429s {fake.rate_limited})"
                )
            await stats.close()


async def write_snapshot(rows: list) -> None:
    """The write as the refresh does it: pages of 100 staged as they come, then the swap."""
    async with SnapshotWriter(history_channels=1000) as writer:
        for start in range(0, len(rows), PAGE_SIZE):
            await writer.add(rows[start : start + PAGE_SIZE])
        await writer.commit(
            pages=len(rows) // PAGE_SIZE, duplicates_dropped=0, taken_at=datetime.now(UTC)
        )


async def alternated(
    rows: list, raw: Callable[[], Awaitable[float]], repeat: int
) -> tuple[list[float], list[float]]:
    """Seconds of each of our writes and of each raw load, one after the other in turn, so that
    both see the same machine (a shared one drifts by a tenth within a minute)."""
    await write_snapshot(rows)  # the previous snapshot exists from here on, as in a running bot
    ours: list[float] = []
    raws: list[float] = []
    for _ in range(repeat):
        ours += await timed(lambda: write_snapshot(rows), 1)
        raws.append(await raw())
    return ours, raws


async def bench_write_sqlite(path: Path, rows: list, repeat: int) -> None:
    values = raw_rows(rows, text_times=True)
    async with database(f"sqlite://{path}"), aiosqlite.connect(path) as conn:

        async def raw() -> float:
            await new_raw_sqlite_table(conn)
            started = time.perf_counter()
            await conn.executemany(RAW_INSERT, values)
            await conn.commit()
            return time.perf_counter() - started

        ours, raws = await alternated(rows, raw, repeat)
    report("SQLite", "one executemany", len(rows), ours, raws)


async def bench_write_postgres(server_url: str, rows: list, repeat: int) -> None:
    values = raw_rows(rows, text_times=False)
    async with scratch_postgres(server_url, "streamstats_bench_platform") as url, database(url):
        conn = await asyncpg.connect(url)
        try:

            async def raw() -> float:
                await new_raw_postgres_table(conn)
                started = time.perf_counter()
                await conn.copy_records_to_table(RAW_TABLE, records=values, columns=COLUMNS)
                return time.perf_counter() - started

            ours, raws = await alternated(rows, raw, repeat)
        finally:
            await conn.close()
    report("PostgreSQL", "COPY", len(rows), ours, raws)


def report(engine: str, baseline: str, rows: int, ours: list[float], raw: list[float]) -> None:
    ratio = statistics.median(ours) / statistics.median(raw)
    print(f"(b) snapshot write of {rows:,} rows, {engine}")
    print(f"    raw {baseline:<17} {statistics.median(raw) * 1000:8.1f} ms")
    print(
        f"    staged + swapped in   {statistics.median(ours) * 1000:8.1f} ms   ratio {ratio:.2f}x"
    )


def bench_search(plan: Plan) -> None:
    rng = random.Random(8)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(3000)]
    games = [
        GameStat(str(i), " ".join(rng.choices(words, k=rng.randint(1, 4))).title(), 1, 1)
        for i in range(plan.games)
    ]
    started = time.perf_counter()
    index = GameIndex(games)
    built = time.perf_counter() - started
    prefixes = ["", " "] + [word[:length] for word in words[:300] for length in (1, 2, 3, 6)]
    slowest = 0.0
    for prefix in prefixes:
        started = time.perf_counter()
        index.matching(prefix)
        slowest = max(slowest, time.perf_counter() - started)
    print(f"(c) game suggestions among {plan.games:,} games ({len(prefixes)} prefixes)")
    print(
        f"    slowest {slowest * 1000:.2f} ms   "
        f"index built once a snapshot in {built * 1000:.0f} ms"
    )


async def main() -> None:
    args = command_line(__doc__, postgres=True).parse_args()
    plan = QUICK if args.quick else FULL
    await bench_walk(plan)
    rows = make_rows(plan.streams)
    with tempfile.TemporaryDirectory() as folder:
        await bench_write_sqlite(Path(folder) / "write.sqlite3", rows, plan.repeat)
    if args.postgres:
        await bench_write_postgres(args.postgres, rows, plan.repeat)
    else:
        print("(b) PostgreSQL skipped: pass --postgres URL or set TEST_POSTGRES_URL")
    bench_search(plan)


if __name__ == "__main__":
    asyncio.run(main())

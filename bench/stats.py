"""Stats benchmark: the memory engine against a `sorted()` + `Counter` baseline, and the SQL
engine on SQLite (and PostgreSQL), over 1,000, 100,000 and 300,000 streams.

    .venv/bin/python -m bench.stats [--repeat 5] [--postgres URL] [--quick]

`--quick` runs 1,000 streams once. The PostgreSQL half runs when given a server (`--postgres` or
$TEST_POSTGRES_URL).

The baseline computes the same figures the plainest way (sort for the median, a Counter for
duplicates, a dict for games, a full sort for the top 100); the ratio is ours / baseline.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from bench._support import command_line, database, scratch_postgres, timed
from bot import stats
from bot.twitch import parse_stream
from db import queries, snapshots
from tests.fakes.twitch import random_streams

SIZES = (1_000, 100_000, 300_000)
QUICK_SIZES = (1_000,)


def make_rows(size: int) -> list:
    template = [parse_stream(payload) for payload in random_streams(1000, seed=3)]
    rng = random.Random(size)
    return [
        replace(template[i % 1000], id=str(10**10 + i), viewer_count=rng.randint(0, 5000))
        for i in range(size)
    ]


def baseline(rows: list) -> tuple:
    counts = sorted(row.viewer_count for row in rows)
    n = len(counts)
    median = (counts[(n - 1) // 2] + counts[n // 2]) / 2
    odd = sum(1 for c in counts if c % 2)
    shared = [k for k in Counter(counts).values() if k > 1]
    games: dict[str, list[int]] = {}
    for row in rows:
        games.setdefault(row.game_id, []).append(row.viewer_count)
    per_game = {game: (len(v), max(v)) for game, v in games.items()}
    top = sorted(rows, key=lambda row: (-row.viewer_count, row.id))[:100]
    return median, odd, sum(shared), len(shared), per_game, top


def ours(rows: list) -> tuple:
    return stats.stream_summary(rows), stats.game_stats(rows), stats.top_streams(rows)


def timed_sync(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def sql_engine(rows: list, repeat: int) -> float:
    await snapshots.replace_snapshot(
        rows, pages=1, duplicates_dropped=0, taken_at=datetime.now(UTC)
    )

    async def all_three() -> None:
        await queries.stream_summary()
        await queries.game_stats()
        await queries.top_streams("desc")

    return statistics.median(await timed(all_three, repeat))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:9.2f} ms"


async def main() -> None:
    parser = command_line(__doc__, postgres=True)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    for size in QUICK_SIZES if args.quick else SIZES:
        rows = make_rows(size)
        base = timed_sync(lambda rows=rows: baseline(rows), repeat)
        mine = timed_sync(lambda rows=rows: ours(rows), repeat)
        print(f"{size:>7,} streams  memory engine {ms(mine)}  baseline {ms(base)}  "
              f"ratio {mine / base:.2f}x")  # fmt: skip
        async with database("sqlite://:memory:"):
            sqlite = await sql_engine(rows, repeat)
        print(f"{size:>7,} streams  SQL engine on SQLite {ms(sqlite)}  "
              f"ratio {sqlite / base:.2f}x the in-memory baseline")  # fmt: skip
        if not args.postgres:
            print(f"{size:>7,} streams  SQL engine on PostgreSQL skipped: "
                  "pass --postgres URL or set TEST_POSTGRES_URL")  # fmt: skip
            continue
        async with (
            scratch_postgres(args.postgres, "streamstats_bench_stats") as url,
            database(url),
        ):
            postgres = await sql_engine(rows, repeat)
        print(f"{size:>7,} streams  SQL engine on PostgreSQL {ms(postgres)}  "
              f"ratio {postgres / base:.2f}x the in-memory baseline")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())

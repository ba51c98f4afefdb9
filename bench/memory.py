"""Peak memory (RSS) of the bot's data path with 1,000 and 100,000 streams.

    .venv/bin/python -m bench.memory [--quick]

Each size runs in a fresh process that imports the bot (discord.py, aiohttp, Tortoise...) and
opens its services: that process's peak RSS is the baseline. It then stores a snapshot of N
streams in SQLite and answers every statistic from the memory engine (rows and results
cached in-process, as the bot does): the new peak, and the growth per stream, are reported.
`--quick` measures 1,000 streams only.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import tempfile
from datetime import UTC, datetime

from bench._support import command_line, database

SIZES = (1_000, 100_000)
QUICK_SIZES = (1_000,)
CHILD = "--child"  # how the benchmark starts its measuring processes


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


async def child(size: int, database_url: str) -> dict[str, float]:
    import bot.app  # noqa: F401  (everything the bot imports)
    from bench.stats import make_rows
    from bot.cache import StatsService, open_cache
    from db import snapshots

    async with database(database_url):
        stats = StatsService(open_cache("memory://"))
        baseline = peak_rss_mib()
        rows = make_rows(size)
        snapshot = await snapshots.replace_snapshot(
            rows, pages=size // 100, duplicates_dropped=0, taken_at=datetime.now(UTC)
        )
        del rows  # the bot keeps only what the cache holds
        await stats.snapshot_committed(snapshot)
        await stats.stream_summary()
        await stats.game_stats()
        await stats.top_streams("desc")
        await stats.top_streams("asc")
        loaded = peak_rss_mib()
        await stats.close()
    return {"baseline": baseline, "loaded": loaded}


def main() -> None:
    if sys.argv[1:2] == [CHILD]:
        print(json.dumps(asyncio.run(child(int(sys.argv[2]), sys.argv[3]))))
        return
    args = command_line(__doc__).parse_args()
    for size in QUICK_SIZES if args.quick else SIZES:
        with tempfile.TemporaryDirectory() as folder:
            result = subprocess.run(  # noqa: S603 - our own interpreter and module
                [
                    sys.executable,
                    "-m",
                    "bench.memory",
                    CHILD,
                    str(size),
                    f"sqlite://{folder}/m.sqlite3",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
        if result.returncode != 0:
            sys.exit(f"the measuring process for {size:,} streams failed:\n{result.stderr}")
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        grown = figures["loaded"] - figures["baseline"]
        print(
            f"{size:>7,} streams  peak RSS {figures['loaded']:7.1f} MiB  "
            f"ratio {figures['loaded'] / figures['baseline']:.2f}x the bot without data "
            f"({figures['baseline']:.1f} MiB; +{grown:.1f} MiB, "
            f"{grown * 1024 * 1024 / size:,.0f} bytes per stream)"
        )


if __name__ == "__main__":
    main()

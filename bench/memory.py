"""Peak memory (RSS) of the bot's data path with 1,000, 100,000 and 300,000 streams.

    .venv/bin/python -m bench.memory [--quick]

Each size runs in a fresh process that imports the bot (discord.py, aiohttp, Tortoise...) and
opens its services: that process's peak RSS is the baseline. It then refreshes as the bot does,
walking every live stream of a fake Twitch (served by this process, so its data does not count)
into SQLite, and answers every statistic from the memory engine (rows and results cached
in-process, as the bot does): the new peak, and the growth per stream, are reported.
`--quick` measures 1,000 streams only.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

from bench._support import command_line, database
from tests.fakes.twitch import FakeTwitch, random_streams

SIZES = (1_000, 100_000, 300_000)
QUICK_SIZES = (1_000,)
CHILD = "--child"  # how the benchmark starts its measuring processes


def peak_rss_mib() -> float:
    """This process's peak RSS (VmHWM: unlike getrusage's, it does not inherit the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


async def child(database_url: str, api_url: str, auth_url: str, client: str) -> dict[str, float]:
    import aiohttp

    import bot.app  # noqa: F401  (everything the bot imports)
    from bot.cache import StatsService, open_cache
    from bot.refresh import RefreshService
    from bot.twitch import TwitchApp, TwitchClient

    client_id, _, secret = client.partition(":")
    async with database(database_url), aiohttp.ClientSession() as http:
        stats = StatsService(open_cache("memory://"))
        twitch = TwitchClient(http, TwitchApp(client_id, secret, api_url, auth_url))
        baseline = peak_rss_mib()
        outcome = await RefreshService(twitch, stats, top_streams=None).refresh()
        if outcome is None or not outcome.ok:
            raise SystemExit(f"the refresh failed: {outcome}")
        await stats.stream_summary()
        await stats.game_stats()
        await stats.game_index()
        await stats.start_hours()
        await stats.top_streams("desc")
        await stats.top_streams("asc")
        loaded = peak_rss_mib()
        await stats.close()
    return {"baseline": baseline, "loaded": loaded, "streams": outcome.snapshot.stream_count}


async def measure(size: int) -> dict[str, float]:
    """Serve `size` live streams and let a fresh process refresh them and answer everything."""
    async with FakeTwitch(streams=random_streams(size, seed=9, games=2_000)) as fake:
        fake.ratelimit_limit = 10**9  # memory is measured here, not pacing
        with tempfile.TemporaryDirectory() as folder:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.memory",
                CHILD,
                f"sqlite://{folder}/m.sqlite3",
                fake.api_url,
                fake.auth_url,
                f"{fake.client_id}:{fake.client_secret}",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await process.communicate()
    if process.returncode != 0:
        sys.exit(f"the measuring process for {size:,} streams failed:\n{err.decode()}")
    return json.loads(out.decode().strip().splitlines()[-1])


def main() -> None:
    if sys.argv[1:2] == [CHILD]:
        print(json.dumps(asyncio.run(child(*sys.argv[2:6]))))
        return
    args = command_line(__doc__).parse_args()
    for size in QUICK_SIZES if args.quick else SIZES:
        figures = asyncio.run(measure(size))
        grown = figures["loaded"] - figures["baseline"]
        print(
            f"{size:>7,} streams  peak RSS {figures['loaded']:7.1f} MiB  "
            f"ratio {figures['loaded'] / figures['baseline']:.2f}x the bot without data "
            f"({figures['baseline']:.1f} MiB; +{grown:.1f} MiB, "
            f"{grown * 1024 * 1024 / size:,.0f} bytes per stream)"
        )


if __name__ == "__main__":
    main()

"""Digest benchmark: posting every due digest against sending the same messages plainly.

    .venv/bin/python -m bench.digests [--guilds 50] [--rounds 5] [--postgres URL] [--quick]

A round posts the digest of every guild (each to a channel of the fake Discord, on loopback):
the claim of the guild's period, the comparison with its previous digest in the history, the
message with its chart, the record of how it went. The baseline, in the same run, sends the
same number of messages with the same embed and chart through the same discord.py client,
without claims, history or records. The chart is drawn once per snapshot for every guild: the
first round (not in the median) starts the chart worker and draws it; a warm worker's drawing
time is shown on its own.

`--quick` posts to 5 guilds, once. The PostgreSQL half runs when given a server (`--postgres`
or $TEST_POSTGRES_URL).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import discord

from bench._support import command_line, database, scratch_postgres, timed
from bot import charts, digest
from bot.cache import StatsService, open_cache
from bot.digest import Schedule
from bot.digest_embeds import digest_embed
from bot.digest_service import DigestService
from bot.rendering import ChartRenderer
from bot.replies import chart_file, with_chart
from bot.stats import SnapshotInfo
from bot.twitch import parse_stream
from db import digests, snapshots
from tests.fakes.discord import FakeDiscord, patched_discord
from tests.fakes.twitch import random_streams

STREAMS = 1000
START = datetime(2026, 11, 30, 10, 5, tzinfo=UTC)


class Clock:
    """The digests' clock: an hour later every round, so that every digest is due again."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def ms(times: list[float], per: int = 1) -> str:
    return f"{statistics.median(times) * 1000 / per:8.2f} ms"


async def stored_snapshot() -> SnapshotInfo:
    streams = [parse_stream(payload) for payload in random_streams(STREAMS, seed=3)]
    return await snapshots.replace_snapshot(
        streams, pages=10, duplicates_dropped=0, taken_at=START, history_channels=1000
    )


async def bench(url: str, engine: str, guilds: int, rounds: int) -> None:
    async with database(url), FakeDiscord() as fake:
        snapshot = await stored_snapshot()
        stats = StatsService(open_cache("memory://"))
        renderer = ChartRenderer()
        renderer.start()
        clock = Clock()
        service = DigestService(stats=stats, renderer=renderer, clock=clock, refresh_minutes=15)
        channels = [fake.add_channel(fake.guild_id, name=f"digest-{n}") for n in range(guilds)]
        for guild, channel in enumerate(channels, start=1):
            await digests.set_digest(guild, channel, Schedule("hourly"), set_by=1, at=START)
        with patched_discord(fake):
            client = discord.Client(intents=discord.Intents.none())
            await client.login(fake.token)
            try:
                first = await timed(lambda: service.post_due(client, snapshot), 1)

                async def post_round() -> None:
                    clock.now += timedelta(hours=1)
                    sent = await service.post_due(client, snapshot)
                    if sent != guilds:
                        raise SystemExit(
                            f"{sent} of {guilds} digests were posted: broken, not slow"
                        )

                ours = await timed(post_round, rounds)
                baseline = await timed(
                    await plain_sender(client, stats, renderer, channels), rounds
                )
            finally:
                await client.close()
                await renderer.close()
                await stats.close()
        drawn = await draw_time()
    print(f"digests of {guilds} guilds, {engine} (median of {rounds} rounds)")
    print(f"    plain sends of the same messages {ms(baseline)}   {ms(baseline, guilds)} each")
    print(
        f"    post_due                         {ms(ours)}   {ms(ours, guilds)} each   "
        f"ratio {statistics.median(ours) / statistics.median(baseline):.2f}x"
    )
    print(f"    first round: worker start + chart {ms(first)}   (the chart alone {ms(drawn)})")


async def plain_sender(
    client: discord.Client,
    stats: StatsService,
    renderer: ChartRenderer,
    channels: list[int],
) -> Callable[[], object]:
    """A round of the baseline: the digest's embed and chart sent to every channel, nothing else."""
    rows = await stats.rows()
    content = digest.compose(
        digest.current_figures(rows), since=None, previous_totals=None, previous_ranks=None
    )
    chart = renderer.cached(("digest-games", rows.snapshot.id))
    if chart is None:
        raise SystemExit("the digests' chart was not drawn: broken, not slow")
    embed = with_chart(digest_embed(content, 15), chart)

    async def send_all() -> None:
        for channel in channels:
            await client.get_partial_messageable(channel).send(
                embed=embed, file=chart_file(chart), allowed_mentions=discord.AllowedMentions.none()
            )

    return send_all


async def draw_time() -> list[float]:
    """The digest chart drawn in a fresh worker, once it is warm: what one snapshot costs."""
    renderer = ChartRenderer()
    renderer.start()
    try:
        games = [(f"Game {n}", 100_000 - n * 5_000) for n in range(15)]
        times = []
        for n in range(3):
            started = time.perf_counter()
            await renderer.chart(("draw", n), charts.games_bar, games, budget=30)
            times.append(time.perf_counter() - started)
        return times[1:]  # the first waits for the worker to start
    finally:
        await renderer.close()


async def main() -> None:
    parser = command_line(__doc__, postgres=True)
    parser.add_argument("--guilds", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    guilds, rounds = (5, 1) if args.quick else (args.guilds, args.rounds)
    with tempfile.TemporaryDirectory() as folder:
        await bench(f"sqlite://{Path(folder) / 'bench.sqlite3'}", "SQLite", guilds, rounds)
    if args.postgres:
        async with scratch_postgres(args.postgres, "streamstats_bench_digests") as url:
            await bench(url, "PostgreSQL", guilds, rounds)
    else:
        print("PostgreSQL skipped: pass --postgres URL or set TEST_POSTGRES_URL")


if __name__ == "__main__":
    asyncio.run(main())

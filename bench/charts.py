"""Chart render times, and how well the bot answers while charts render.

    .venv/bin/python -m bench.charts [--rounds 5] [--quick]

1. Each chart of `bot/charts.py`, drawn in this process with realistic data (1,000 streams, 15
   games, 48 start hours, three games over 24 h at 15-minute snapshots, one channel's rank over
   7 days), against the smallest matplotlib figure saved as PNG (`plt.figure(); savefig`) in
   the same run: median milliseconds and the PNG's size.
2. Loop responsiveness: the no-op command's latency through the real bot and the fake Discord
   while 20 charts render, against its latency with nothing rendering for as long right after
   (each round: a burst, then as long idle), for the bot's worker process and for a worker
   thread. p50 / p99 and ratios.
`--quick`: fewer draws, one round.
"""

from __future__ import annotations

import asyncio
import io
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import matplotlib

matplotlib.use("Agg")
from matplotlib import pyplot as plt

from bench._bot import one_call, percentile, running_bot
from bench._support import command_line
from bot import charts
from bot.charts import Chart
from bot.rendering import ChartRenderer, process_pool, thread_pool
from tests.fakes.discord import FakeDiscord
from tests.fakes.twitch import FakeTwitch, random_streams

CHARTS_AT_ONCE = 20
PACE = 0.005  # seconds between two no-ops: a steady stream of commands, not a flood
NOW = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
rng = random.Random(7)
VIEWERS = sorted((int(rng.paretovariate(1.1) * 40) for _ in range(1000)), reverse=True)
GAMES = [(f"Game number {index}", 300 - index * 7) for index in range(15)]
HOURS = [(NOW - timedelta(hours=index), rng.randint(1, 90)) for index in range(48)]
DAY = [NOW - timedelta(minutes=15 * index) for index in range(96)]
WEEK = [NOW - timedelta(minutes=15 * index) for index in range(672)]
TRENDS = {
    name: [(moment, base + rng.randint(-base // 5, base // 5)) for moment in DAY]
    for name, base in (
        ("Just Chatting", 400_000),
        ("Grand Theft Auto V", 150_000),
        ("Valorant", 90_000),
    )
}
RANKS = [(moment, rng.randint(1, 200)) for moment in WEEK]
DRAWS: dict[str, Callable[[], Chart]] = {
    "viewer histogram (1,000 streams)": lambda: charts.viewer_histogram(VIEWERS, VIEWERS[500]),
    "games bar (15 games)": lambda: charts.games_bar(GAMES),
    "hours bar (48 hours)": lambda: charts.hours_bar(HOURS),
    "trend lines (3 games x 96)": lambda: charts.trend_lines(TRENDS, title="Three games, 24 h"),
    "rank line (672 points)": lambda: charts.rank_line(RANKS, title="A channel's rank, 7 days"),
}


def minimal_figure() -> int:
    """The baseline: the smallest figure matplotlib saves as a PNG."""
    figure = plt.figure()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return len(buffer.getvalue())


def median_ms(draw: Callable[[], object], repeat: int) -> float:
    draw()  # the first draw loads fonts and caches: not what an answer pays
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        draw()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def render_times(repeat: int) -> None:
    base = median_ms(minimal_figure, repeat)
    print(f"{'chart':<34} {'median ms':>10} {'x minimal':>10} {'PNG KB':>8}")
    print(
        f"{'minimal figure (baseline)':<34} {base:10.1f} {1.0:10.2f} {minimal_figure() / 1024:8.1f}"
    )
    for name, draw in DRAWS.items():
        took = median_ms(draw, repeat)
        size = len(draw().png) / 1024
        print(f"{name:<34} {took:10.1f} {took / base:10.2f} {size:8.1f}")


async def noops_while(
    fake: FakeDiscord, busy: asyncio.Future | None, seconds: float
) -> list[float]:
    """No-op latencies, one every `PACE`, until `busy` is done, or for `seconds` if None."""
    latencies: list[float] = []
    until = time.perf_counter() + seconds
    while (busy is not None and not busy.done()) or (busy is None and time.perf_counter() < until):
        took, _ = await one_call(fake, "noop", 0)
        latencies.append(took)
        await asyncio.sleep(PACE)
    return latencies


async def responsiveness(fake: FakeDiscord, renderer: ChartRenderer, rounds: int) -> str:
    """p50/p99 of the no-op while 20 charts render, and idle for as long right after.

    Equal spans give both sides the same exposure to what happens now and then (a garbage
    collection, another program on the machine).
    """
    idle: list[float] = []
    busy: list[float] = []
    for round_ in range(rounds):
        started = time.perf_counter()
        burst = asyncio.ensure_future(
            asyncio.gather(
                *(
                    renderer.chart((round_, index), _chart_job, index % len(DRAWS), budget=60)
                    for index in range(CHARTS_AT_ONCE)
                )
            )
        )
        busy += await noops_while(fake, burst, 0)
        assert all(chart is not None for chart in await burst), "a chart failed to render"
        idle += await noops_while(fake, None, time.perf_counter() - started)
    idle_p50, idle_p99 = statistics.median(idle), percentile(idle, 0.99)
    busy_p50, busy_p99 = statistics.median(busy), percentile(busy, 0.99)
    return (
        f"{idle_p50 * 1000:7.1f} / {idle_p99 * 1000:6.1f} ms  "
        f"{busy_p50 * 1000:7.1f} / {busy_p99 * 1000:6.1f} ms  "
        f"{busy_p50 / idle_p50:5.2f}x / {busy_p99 / idle_p99:5.2f}x  "
        f"({len(idle)} / {len(busy)} samples)"
    )


def _chart_job(which: int) -> Chart:
    """One of the benchmark's charts, by number (a plain function: it travels to the worker)."""
    return list(DRAWS.values())[which]()


async def main() -> None:
    parser = command_line(__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    repeat, rounds = (3, 1) if args.quick else (15, args.rounds)
    render_times(repeat)
    print()
    print(f"no-op while {CHARTS_AT_ONCE} charts render: idle p50 / p99, busy p50 / p99, ratios")
    async with (
        FakeTwitch(streams=random_streams(1000)) as twitch,
        running_bot(twitch, REQUIRE_LOGIN="false") as (fake, _),
    ):
        await one_call(fake, "noop", 0)
        for name, pool in (("worker process", process_pool), ("worker thread", thread_pool)):
            renderer = ChartRenderer(pool)
            renderer.start()
            try:
                await renderer.chart("warm", _chart_job, 0, budget=60)  # started and warm
                print(f"{name:<15} {await responsiveness(fake, renderer, rounds)}")
            finally:
                await renderer.close()
        assert not fake.violations, fake.violations


if __name__ == "__main__":
    asyncio.run(main())

"""Charts drawn off the loop: once per key, shared by concurrent askers, never an error."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import charts
from bot.charts import Chart
from bot.rendering import ChartRenderer, process_pool, thread_pool
from tests.fakes.discord import png_dimensions

VIEWERS = [3, 40, 40, 900, 12_000]
REPO = Path(__file__).resolve().parents[2]


def die() -> Chart:
    """Kill the worker process that draws this, as the OOM killer would."""
    os._exit(1)


@pytest.fixture
async def in_process() -> AsyncIterator[ChartRenderer]:
    renderer = ChartRenderer(process_pool)
    renderer.start()
    yield renderer
    await renderer.close()


@pytest.fixture
async def in_thread() -> AsyncIterator[ChartRenderer]:
    renderer = ChartRenderer(thread_pool, cache_size=2)
    renderer.start()
    yield renderer
    await renderer.close()


async def test_a_burst_renders_once_and_a_new_snapshot_renders_again(
    in_process: ChartRenderer,
) -> None:
    burst = await asyncio.gather(
        *(
            in_process.chart(("viewers", 1), charts.viewer_histogram, VIEWERS, 40.0, budget=10)
            for _ in range(10)
        )
    )
    first = burst[0]
    assert first is not None and png_dimensions(first.png) is not None
    assert all(chart == first for chart in burst)
    assert in_process.renders == 1

    again = await in_process.chart(("viewers", 1), charts.viewer_histogram, VIEWERS, 40.0)
    assert again == first and in_process.renders == 1  # from the cache

    newer = await in_process.chart(
        ("viewers", 2), charts.viewer_histogram, [*VIEWERS, 7], 40.0, budget=10
    )
    assert newer is not None and "6 live streams" in newer.description
    assert in_process.renders == 2


async def test_a_chart_late_for_its_budget_is_skipped_then_served_to_the_next_ask(
    in_thread: ChartRenderer, caplog: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()

    def slow_chart() -> Chart:
        assert release.wait(10)
        return charts.viewer_histogram(VIEWERS, 40.0)

    assert await in_thread.chart("slow", slow_chart, budget=0.05) is None
    assert "not ready within 0.1 s: answering without it" in caplog.text
    release.set()
    chart = await in_thread.chart("slow", slow_chart, budget=10)
    assert chart is not None and in_thread.renders == 1  # the first render, finished


async def test_a_failing_chart_is_none_logged_and_tried_again(
    in_thread: ChartRenderer, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def broken() -> Chart:
        calls.append(1)
        raise ValueError("bad data")

    assert await in_thread.chart("broken", broken) is None
    assert await in_thread.chart("broken", broken) is None
    assert len(calls) == 2 and in_thread.renders == 0
    assert caplog.text.count("drawing chart 'broken' failed") == 2


async def test_the_cache_keeps_the_most_recent_charts(in_thread: ChartRenderer) -> None:
    for key in ("a", "b", "a", "c", "a", "b"):
        assert await in_thread.chart(key, charts.games_bar, [(key, 1)]) is not None
    # a, b drawn; a cached; c drawn (b out); a cached; b drawn again
    assert in_thread.renders == 4


async def test_a_dead_worker_is_replaced(
    in_process: ChartRenderer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    assert await in_process.chart("dies", die, budget=10) is None
    assert "the chart worker died; starting a new one" in caplog.text
    chart = await in_process.chart("after", charts.games_bar, [("Fortnite", 3)], budget=10)
    assert chart is not None and "Fortnite: 3" in chart.description


async def test_a_closed_renderer_answers_without_charts(caplog: pytest.LogCaptureFixture) -> None:
    renderer = ChartRenderer(thread_pool)
    renderer.start()
    await renderer.close()
    assert await renderer.chart("late", charts.games_bar, []) is None
    assert "the chart worker is not running" in caplog.text


KILLED_BOT = """
import asyncio
from bot import charts
from bot.rendering import ChartRenderer

async def main():
    renderer = ChartRenderer()
    renderer.start()
    assert await renderer.chart("one", charts.games_bar, [("x", 1)], budget=30) is not None
    print("drawn", flush=True)
    await asyncio.sleep(60)  # killed long before

if __name__ == "__main__":  # the worker imports this file too
    asyncio.run(main())
"""


def process_states() -> dict[int, tuple[str, int]]:
    """Every process: (state, parent pid), from /proc."""
    found: dict[int, tuple[str, int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, parent = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except OSError:
            continue  # ended meanwhile
        found[int(stat.parent.name)] = (state, int(parent))
    return found


def running_below(root: int) -> set[int]:
    """The processes below `root` that still run (a dead one not yet reaped does not)."""
    states = process_states()
    below: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, (_, parent) in states.items() if parent in frontier} - below
        below |= frontier
    return {pid for pid in below if states[pid][0] != "Z"}


def still_running(pids: set[int]) -> set[int]:
    states = process_states()
    return {pid for pid in pids if pid in states and states[pid][0] != "Z"}


async def test_the_worker_and_its_fork_server_end_with_a_killed_bot(tmp_path):
    script = tmp_path / "killed.py"
    script.write_text(KILLED_BOT)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert process.stdout is not None
        assert await asyncio.wait_for(process.stdout.readline(), 30) == b"drawn\n"
        helpers = running_below(process.pid)  # the fork server, its worker, a resource tracker
        assert len(helpers) >= 2
    finally:
        process.kill()  # no clean-up at all, as SIGKILL or the out-of-memory killer would do
        await process.wait()
    async with asyncio.timeout(10):
        while still_running(helpers):
            await asyncio.sleep(0.05)

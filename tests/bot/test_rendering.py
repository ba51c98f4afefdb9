"""Charts drawn off the loop: once per key, shared by concurrent askers, never an error."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncIterator

import pytest

from bot import charts
from bot.charts import Chart
from bot.rendering import ChartRenderer, process_pool, thread_pool
from tests.fakes.discord import png_dimensions

VIEWERS = [3, 40, 40, 900, 12_000]


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

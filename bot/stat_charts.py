"""The charts of the statistics answers: which figures each one draws, under which key.

Every chart is keyed by the snapshot its figures come from, so it is drawn once per snapshot.
A chart is an extra: these functions never raise, and None means "answer without it".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot import charts
from bot.cache import StatsService
from bot.charts import GAMES_SHOWN, Chart
from bot.rendering import ChartRenderer
from bot.stats import AsOf, GameStat, HourCount, StreamSummary

log = logging.getLogger(__name__)


async def viewers(
    renderer: ChartRenderer, stats: StatsService, result: AsOf[StreamSummary]
) -> Chart | None:
    """/streamstats: the viewer counts of `result`'s snapshot, its median marked."""
    key = ("viewers", result.snapshot.id)
    drawn = renderer.cached(key)
    if drawn is not None:
        return drawn  # no need for the rows
    try:
        rows = await stats.rows()
    except Exception:
        log.exception("no rows for the viewers chart")
        return None
    if rows.snapshot.id != result.snapshot.id:
        return None  # a refresh came in between: no chart rather than one of other figures
    counts = [stream.viewer_count for stream in rows.value]
    return await renderer.chart(key, charts.viewer_histogram, counts, result.value.median)


async def games(renderer: ChartRenderer, result: AsOf[Sequence[GameStat]]) -> Chart | None:
    """/gamestats: the top games by live streams (the order the list shows)."""
    top = [(game.label, game.streams) for game in result.value[:GAMES_SHOWN]]
    return await renderer.chart(
        ("games", result.snapshot.id),
        charts.games_bar,
        top,
        title=f"Top {len(top)} games by live streams",
    )


async def hours(renderer: ChartRenderer, result: AsOf[Sequence[HourCount]]) -> Chart | None:
    """/hours: live streams per start hour."""
    counts = [(entry.hour, entry.streams) for entry in result.value]
    return await renderer.chart(("hours", result.snapshot.id), charts.hours_bar, counts)

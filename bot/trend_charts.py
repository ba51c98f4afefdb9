"""The charts of /trends and /channel: which figures each one draws, under which key.

Every chart is keyed by the newest snapshot of the history it shows, so it is drawn once per
snapshot. A chart is an extra: `gainers`, `game` and `channel` never raise, and None means
"answer without it" (as when there is no history, or only one snapshot of it: a line needs
two).
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot import charts
from bot.charts import SERIES, Chart
from bot.history import HistoryService
from bot.rendering import ChartRenderer
from bot.stats import NO_CATEGORY
from bot.trend_embeds import PERIOD_WORDS
from bot.trends import ChannelRecord, GameTrend, Trends

log = logging.getLogger(__name__)

GAINERS_CHARTED = min(5, len(SERIES))  # lines on the /trends chart: more would be a tangle


def _series(trend: GameTrend) -> list[tuple[datetime, float]]:
    return [(point.taken_at, point.total_viewers) for point in trend.points]


async def gainer_trends(history: HistoryService, result: Trends) -> list[GameTrend | None]:
    """The series the /trends chart draws: each charted gainer over the period.

    One bounded read per game (its rows within the window), kept once per snapshot by the
    history service; None for a game no longer seen (a refresh came in between).
    """
    period = result.window.period
    return [
        await history.game_trend(change.game_id, period)
        for change in result.gainers[:GAINERS_CHARTED]
    ]


async def gainers(renderer: ChartRenderer, history: HistoryService, result: Trends) -> Chart | None:
    """/trends: the total viewers over the period of the few games that gained most."""
    window = result.window
    if window.start == window.end or not result.gainers:
        return None
    key = ("trends", window.end.snapshot_id, window.period)
    drawn = renderer.cached(key)
    if drawn is not None:
        return drawn  # no need for the series
    try:
        trends = await gainer_trends(history, result)
    except Exception:
        log.exception("no series for the trends chart")
        return None
    series: dict[str, list[tuple[datetime, float]]] = {}
    for trend in trends:
        if trend is None or trend.window != window:
            return None  # a refresh came in between: no chart rather than one of other figures
        name = trend.name or NO_CATEGORY
        series[name if name not in series else f"{name} ({trend.game_id})"] = _series(trend)
    most = f"the {len(series)} biggest gainers" if len(series) > 1 else "the biggest gainer"
    return await renderer.chart(
        key,
        charts.trend_lines,
        series,
        title=f"Total viewers of {most} over {PERIOD_WORDS[window.period]}",
        filename="trends.png",
    )


async def game(renderer: ChartRenderer, trend: GameTrend) -> Chart | None:
    """/trends game:<name>: that game's total viewers over the period."""
    window = trend.window
    if window.start == window.end:
        return None
    name = trend.name or NO_CATEGORY
    return await renderer.chart(
        ("trends", window.end.snapshot_id, window.period, trend.game_id),
        charts.trend_lines,
        {name: _series(trend)},
        title=f"{charts.label(name)}: total viewers over {PERIOD_WORDS[window.period]}",
        filename="trends.png",
    )


async def channel(
    renderer: ChartRenderer, history: HistoryService, record: ChannelRecord
) -> Chart | None:
    """/channel: the channel's rank in each snapshot of the history it was in."""
    if not record.points:
        return None
    try:
        snapshots = await history.snapshots()
    except Exception:
        log.exception("no snapshots for the channel chart")
        return None
    if not snapshots or record.points[-1].taken_at > snapshots[-1].taken_at:
        return None  # a refresh came in between: no chart rather than one of other figures
    return await renderer.chart(
        ("channel", snapshots[-1].snapshot_id, record.user_id),
        charts.rank_line,
        [(point.taken_at, point.rank) for point in record.points],
        title=f"Rank of {charts.label(record.login)} in the top over time",
    )

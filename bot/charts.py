"""Every chart the bot draws: plain data in, a PNG and the text a screen reader says out.

The functions are pure and synchronous; `bot.rendering` runs them in a worker process, so
matplotlib is imported where a chart is drawn (the worker), never by the bot process itself.
One style for all: a solid light card (readable on Discord's dark and light themes alike, where
a transparent background would leave dark text on a dark client), Twitch purple for the data.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PURPLE = "#9146FF"  # Twitch purple: the data
INK = "#18181B"  # text and axes
BACKGROUND = "#FFFFFF"
GRID = "#DEDDE3"
MARKER = "#E0245E"  # what a chart points out (the median)
# Further series of a line chart: distinct for colour-blind readers (Okabe-Ito), after purple.
SERIES = (PURPLE, "#E69F00", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#56B4E9", "#000000")
SIZE = (8.0, 4.5)  # inches; at DPI, 800 x 450 pixels: sharp in Discord, small as a PNG
DPI = 100
GAMES_SHOWN = 15
LABEL_LIMIT = 32  # characters of a name on an axis or in a legend
DESCRIPTION_LIMIT = 1024  # Discord's limit for an attachment's description
MAX_BYTES = 500 * 1024  # a chart is an extra: never a heavy upload (Discord allows 10 MiB)
NO_NAME = "(no name)"
HALF_HOUR = timedelta(minutes=30)
STYLE: dict[str, Any] = {
    "text.parse_math": False,  # a stranger's "$x$" is text, not TeX (and not a parse error)
    "font.size": 11,
    "axes.titlesize": 14,
    "axes.titleweight": "bold",
    "axes.edgecolor": INK,
    "axes.labelcolor": INK,
    "axes.facecolor": BACKGROUND,
    "axes.grid": True,
    "grid.color": GRID,
    "axes.axisbelow": True,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": INK,
    "ytick.color": INK,
    "text.color": INK,
    "figure.facecolor": BACKGROUND,
    "savefig.facecolor": BACKGROUND,
    "timezone": "UTC",
}
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]+")


@dataclass(frozen=True, slots=True)
class Chart:
    """A drawn chart: the file name to attach it as, its PNG bytes, and its text alternative."""

    filename: str
    png: bytes
    description: str


def label(text: str, limit: int = LABEL_LIMIT) -> str:
    """A stranger's name fit for an axis: one line, no control or direction marks, clipped."""
    flat = " ".join(_UNPRINTABLE.sub(" ", text).split())
    if not flat:
        return NO_NAME
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def number(value: float) -> str:
    """A figure as people read it: 950, 12,345, 1.2M, 3.4B."""
    size = abs(value)
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if size >= scale:
            return f"{value / scale:,.1f}".removesuffix(".0") + suffix
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def describe(*sentences: str) -> str:
    """The description of a chart, within Discord's limit."""
    text = " ".join(sentences)
    return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 1] + "…"


def _figure() -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    return figure, figure.add_subplot()


def _png(figure: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # A name in a script the font lacks (emoji, CJK) is drawn as boxes, and says so.
        warnings.filterwarnings("ignore", message="Glyph .* missing from")
        warnings.filterwarnings("ignore", message="Matplotlib currently does not support")
        FigureCanvasAgg(figure).print_png(buffer, metadata={"Software": None})
    return buffer.getvalue()


def _draw(filename: str, draw: Callable[[Axes], None], description: str) -> Chart:
    """Run `draw(axes)` on a fresh figure in the house style and return the finished chart."""
    from matplotlib import rc_context

    with rc_context(STYLE):
        figure, axes = _figure()
        draw(axes)
        png = _png(figure)
    if len(png) > MAX_BYTES:
        raise ValueError(f"{filename} is {len(png):,} bytes, over {MAX_BYTES:,}")
    return Chart(filename, png, description)


def _numbers_on(axis: Any) -> None:
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda value, _: number(value)))


def _empty(axes: Axes, what: str) -> None:
    axes.text(0.5, 0.5, what, ha="center", va="center", transform=axes.transAxes, fontsize=14)
    axes.set_xticks([])
    axes.set_yticks([])


def viewer_histogram(
    viewers: Sequence[int], median: float | None, *, title: str = "Viewers per live stream"
) -> Chart:
    """/streamstats: how many streams have how many viewers, on a log axis, median marked.

    Counts below one viewer are drawn in the first bin (a log axis has no zero).
    """
    shown = [max(count, 1) for count in viewers]
    low, high = (min(shown), max(shown)) if shown else (1, 1)

    def draw(axes: Axes) -> None:
        axes.set_title(label(title, 80))
        if not shown:
            _empty(axes, "No live streams")
            return
        edges = _log_bins(low, high)
        axes.hist(shown, bins=edges, color=PURPLE, edgecolor=BACKGROUND, linewidth=0.5)
        axes.set_xscale("log")
        axes.set_xlim(edges[0], edges[-1])
        _numbers_on(axes.xaxis)
        _numbers_on(axes.yaxis)
        axes.set_xlabel("viewers (logarithmic scale)")
        axes.set_ylabel("live streams")
        if median is not None:
            where = max(median, 1)
            axes.axvline(where, color=MARKER, linewidth=2, label=f"median {number(median)}")
            axes.legend(loc="upper right", frameon=False)

    if not shown:
        description = describe(f"{title}: no live streams.")
    else:
        middle = "" if median is None else f" Median {number(median)} viewers, marked by a line."
        description = describe(
            f"{title}: histogram of {len(shown):,} live streams by viewer count on a "
            f"logarithmic axis, from {number(low)} to {number(high)} viewers.{middle}"
        )
    return _draw("viewers.png", draw, description)


def _log_bins(low: int, high: int, bins: int = 30) -> list[float]:
    """Bin edges evenly spaced on a log axis, from `low` to `high` (a single value gets a bin)."""
    start, stop = math.log10(low), math.log10(high)
    if stop - start < 1e-9:
        start, stop = start - 0.05, stop + 0.05
    step = (stop - start) / bins
    return [10 ** (start + step * index) for index in range(bins + 1)]


def games_bar(
    games: Sequence[tuple[str, int]],
    *,
    title: str = "Top games by live streams",
    unit: str = "live streams",
    filename: str = "games.png",
) -> Chart:
    """/gamestats (and digests): horizontal bars, the first of `games` at the top.

    `games` are (name, value) pairs in the order to show; the first `GAMES_SHOWN` are drawn.
    """
    shown = [(label(name), value) for name, value in games[:GAMES_SHOWN]]

    def draw(axes: Axes) -> None:
        axes.set_title(label(title, 80))
        if not shown:
            _empty(axes, "No games")
            return
        positions = range(len(shown))
        axes.barh(positions, [value for _, value in shown], color=PURPLE)
        axes.set_yticks(positions, [name for name, _ in shown])
        axes.invert_yaxis()
        axes.grid(axis="y", visible=False)
        axes.set_xlabel(unit)
        _numbers_on(axes.xaxis)

    listed = "; ".join(f"{name}: {number(value)}" for name, value in shown)
    description = describe(
        f"{title}: bar chart of {len(shown)} games by {unit}." + (f" {listed}." if listed else "")
    )
    return _draw(filename, draw, description)


def hours_bar(
    hours: Sequence[tuple[datetime, int]],
    *,
    title: str = "Live streams by start hour (UTC)",
) -> Chart:
    """/hours: how many streams started in each hour (times in UTC), oldest hour on the left."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    shown = sorted(hours)

    def draw(axes: Axes) -> None:
        axes.set_title(label(title, 80))
        if not shown:
            _empty(axes, "No live streams")
            return
        axes.bar(
            [hour for hour, _ in shown], [n for _, n in shown], width=1 / 24 * 0.85, color=PURPLE
        )
        locator = AutoDateLocator(maxticks=10)
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        axes.set_xlabel("start hour (UTC)")
        axes.set_ylabel("live streams")
        _numbers_on(axes.yaxis)

    if shown:
        busiest, most = max(shown, key=lambda entry: (entry[1], entry[0]))
        description = describe(
            f"{title}: bar chart of {sum(n for _, n in shown):,} streams over {len(shown)} "
            f"start hours, from {_when(shown[0][0])} to {_when(shown[-1][0])} UTC. "
            f"Busiest hour {_when(busiest)} UTC with {most:,} streams."
        )
    else:
        description = describe(f"{title}: no live streams.")
    return _draw("hours.png", draw, description)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def trend_lines(
    series: Mapping[str, Sequence[tuple[datetime, float]]],
    *,
    title: str,
    unit: str = "total viewers",
    filename: str = "trend.png",
) -> Chart:
    """/trends (and digests): one line per named series of (time, value) points, in time order.

    At most `len(SERIES)` series are drawn, in the order given; each gets a legend entry when
    there is more than one.
    """
    lines = [(label(name), sorted(points)) for name, points in list(series.items())[: len(SERIES)]]
    drawn = [(name, points) for name, points in lines if points]

    def draw(axes: Axes) -> None:
        axes.set_title(label(title, 80))
        if not drawn:
            _empty(axes, "No history yet")
            return
        for colour, (name, points) in zip(SERIES, drawn, strict=False):
            times = [moment for moment, _ in points]
            axes.plot(times, [value for _, value in points], color=colour, linewidth=2, label=name)
            if len(points) == 1:
                axes.plot(times, [points[0][1]], "o", color=colour)
        _time_axis(axes, [moment for _, points in drawn for moment, _ in points])
        axes.set_ylabel(unit)
        _numbers_on(axes.yaxis)
        if len(drawn) > 1:
            axes.legend(loc="best", frameon=False, fontsize=9)

    parts = [f"{title}: line chart of {unit} over time."]
    for name, points in drawn:
        values = [value for _, value in points]
        parts.append(
            f"{name}: from {number(values[0])} to {number(values[-1])}, peak {number(max(values))}"
            f" ({len(values)} points)."
        )
    if not drawn:
        parts.append("No history yet.")
    return _draw(filename, draw, describe(*parts))


def rank_line(
    points: Sequence[tuple[datetime, int]], *, title: str, filename: str = "rank.png"
) -> Chart:
    """/channel: a channel's rank over time; rank 1 is drawn at the top."""
    from matplotlib.ticker import MaxNLocator

    shown = sorted(points)

    def draw(axes: Axes) -> None:
        axes.set_title(label(title, 80))
        if not shown:
            _empty(axes, "No history yet")
            return
        times = [moment for moment, _ in shown]
        axes.plot(
            times, [rank for _, rank in shown], color=PURPLE, linewidth=2, marker="o", markersize=4
        )
        worst = max(rank for _, rank in shown)
        axes.set_ylim(worst + max(1, worst * 0.05), 0.5)  # inverted: the best rank on top
        _time_axis(axes, times)
        axes.set_ylabel("rank")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        _numbers_on(axes.yaxis)

    if shown:
        ranks = [rank for _, rank in shown]
        description = describe(
            f"{title}: line chart of the rank over time, rank 1 at the top. "
            f"Best rank {min(ranks):,}, latest {ranks[-1]:,}, over {len(ranks)} snapshots "
            f"from {_when(shown[0][0])} to {_when(shown[-1][0])} UTC."
        )
    else:
        description = describe(f"{title}: no history yet.")
    return _draw(filename, draw, description)


def _time_axis(axes: Axes, times: Sequence[datetime]) -> None:
    """Readable UTC times on the x axis; a single moment gets an hour around it."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    if min(times) == max(times):
        axes.set_xlim(times[0] - HALF_HOUR, times[0] + HALF_HOUR)
    locator = AutoDateLocator(maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.set_xlabel("time (UTC)")


def warm_up() -> None:
    """Import matplotlib and draw once (fonts, caches), so a worker's first chart is fast."""
    viewer_histogram([1, 10, 100], 10)

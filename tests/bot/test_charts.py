"""Every chart is a valid PNG of sane size, under 500 KB, with a description; any data draws."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot import charts
from bot.charts import Chart
from tests.fakes.discord import png_dimensions

NOW = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
HOSTILE = [
    "**bold** _it_ `code` [link](https://x.y) @everyone <@123>",
    "$x^2$ \\frac{1}{2} $",  # TeX-like: must stay text
    "x" * 500,
    "\u202eהשידור החי שלי\u202c مرحبا",  # noqa: RUF001 - RTL, with a direction override
    "🎮🔥 👩🏽‍💻 emoji",
    "",
    "line\nbreak\ttab\x00nul",
]


def times(count: int) -> list[datetime]:
    return [NOW - timedelta(minutes=15 * index) for index in range(count)]


CASES: dict[str, Callable[[], Chart]] = {
    "histogram": lambda: charts.viewer_histogram([5, 12, 12, 340, 9_000, 120_000], 176.0),
    "histogram, zeros": lambda: charts.viewer_histogram([0, 0, 1, 3], 0.5),
    "histogram, one value": lambda: charts.viewer_histogram([7], 7.0),
    "histogram, empty": lambda: charts.viewer_histogram([], None),
    "histogram, huge": lambda: charts.viewer_histogram([10**15, 3, 10**12], 10**12),
    "games": lambda: charts.games_bar([(f"Game {i}", 100 - i) for i in range(40)]),
    "games, hostile": lambda: charts.games_bar([(name, 10) for name in HOSTILE], title=HOSTILE[0]),
    "games, empty": lambda: charts.games_bar([]),
    "games, huge": lambda: charts.games_bar([("big", 10**18), ("small", 1)]),
    "hours": lambda: charts.hours_bar([(t, i + 1) for i, t in enumerate(times(48))]),
    "hours, one": lambda: charts.hours_bar([(NOW, 3)]),
    "hours, empty": lambda: charts.hours_bar([]),
    "trend, several": lambda: charts.trend_lines(
        {name: [(t, 1000.0 * i) for i, t in enumerate(times(96))] for name in HOSTILE},
        title="Games over 24 h",
    ),
    "trend, one point": lambda: charts.trend_lines({"Just Chatting": [(NOW, 5.0)]}, title="x"),
    "trend, empty": lambda: charts.trend_lines({}, title=HOSTILE[2]),
    "trend, empty series": lambda: charts.trend_lines({"a": []}, title="t"),
    "trend, huge": lambda: charts.trend_lines({"a": [(NOW, 1e18), (NOW, -1e18)]}, title="t"),
    "rank": lambda: charts.rank_line([(t, 1 + i % 50) for i, t in enumerate(times(96))], title="r"),
    "rank, one": lambda: charts.rank_line([(NOW, 1)], title=HOSTILE[4]),
    "rank, empty": lambda: charts.rank_line([], title="r"),
    "rank, huge": lambda: charts.rank_line([(NOW, 10**9), (NOW, 1)], title="r"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_every_chart_is_a_small_png_of_sane_size_with_a_description(case: str) -> None:
    chart = CASES[case]()
    assert chart.filename.endswith(".png")
    dimensions = png_dimensions(chart.png)
    assert dimensions is not None, "not a PNG"
    width, height = dimensions
    assert 400 <= width <= 1600 and 250 <= height <= 1000
    assert len(chart.png) < 500 * 1024
    assert 0 < len(chart.description) <= charts.DESCRIPTION_LIMIT


def test_descriptions_state_the_key_figures() -> None:
    histogram = charts.viewer_histogram([5, 12, 12, 340, 9_000, 120_000], 176.0)
    assert "6 live streams" in histogram.description
    assert "from 5 to 120,000 viewers" in histogram.description
    assert "Median 176 viewers" in histogram.description

    games = charts.games_bar([("Just Chatting", 120), ("Fortnite", 80)], title="Top 2 games")
    assert "Just Chatting: 120; Fortnite: 80" in games.description

    hours = charts.hours_bar([(NOW, 3), (NOW - timedelta(hours=1), 9)])
    assert "12 streams over 2 start hours" in hours.description
    assert "Busiest hour 2026-11-30 19:00 UTC with 9 streams" in hours.description

    trend = charts.trend_lines(
        {"Fortnite": [(NOW, 2_500_000.0), (NOW - timedelta(hours=1), 1000.0)]}, title="Fortnite"
    )
    assert "Fortnite: from 1,000 to 2.5M, peak 2.5M (2 points)" in trend.description

    rank = charts.rank_line([(NOW, 4), (NOW - timedelta(hours=1), 2)], title="xqc")
    assert "Best rank 2, latest 4, over 2 snapshots" in rank.description


def test_only_the_first_fifteen_games_are_drawn() -> None:
    chart = charts.games_bar([(f"Game {i}", 100 - i) for i in range(40)])
    assert "bar chart of 15 games" in chart.description
    assert "Game 14: 86." in chart.description and "Game 15" not in chart.description


def test_description_is_clipped_to_discords_limit() -> None:
    chart = charts.trend_lines({"a": [(NOW, 1.0)]}, title="t" * 2000)
    assert len(chart.description) == charts.DESCRIPTION_LIMIT
    assert chart.description.endswith("…")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Just Chatting", "Just Chatting"),
        ("", charts.NO_NAME),
        ("\u202e\u200b ", charts.NO_NAME),
        ("a\nb\x00c", "a b c"),
        ("x" * 100, "x" * 31 + "…"),
    ],
)
def test_labels_are_one_clean_line(raw: str, shown: str) -> None:
    assert charts.label(raw) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0, "0"), (950, "950"), (12_345, "12,345"), (1_250_000, "1.2M"), (3e9, "3B"), (2.5, "2.5")],
)
def test_numbers_read_like_people_write_them(value: float, shown: str) -> None:
    assert charts.number(value) == shown


def test_a_chart_over_the_size_limit_is_an_error_not_an_upload(monkeypatch) -> None:
    monkeypatch.setattr(charts, "MAX_BYTES", 1000)  # every real chart is bigger than that
    with pytest.raises(ValueError, match=r"games\.png is [\d,]+ bytes, over 1,000"):
        charts.games_bar([("Fortnite", 3)])

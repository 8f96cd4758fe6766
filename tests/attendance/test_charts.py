"""The daily-rate chart: one day, a 0% day, a day with nobody to count, and the values it labels."""

import re
from datetime import date, timedelta

import pytest
from django.template.loader import render_to_string
from django.utils import translation

from attendance.charts import MAX_BAR_WIDTH, ZERO_MARK, DayRate, daily_rate_chart, percent_label

pytestmark = pytest.mark.database_independent

MONDAY = date(2026, 11, 30)


def week(*counts):
    """Days from MONDAY, one per (attended, expected)."""
    return [DayRate(MONDAY + timedelta(days=index), *count) for index, count in enumerate(counts)]


def test_one_day_is_one_bar_of_ordinary_width_with_its_value_and_date():
    chart = daily_rate_chart(week((5, 6)))
    (bar,) = chart.bars
    assert bar.kind == "rate" and bar.value == "83%" and bar.day == "30 Nov"
    assert 20 <= bar.width <= MAX_BAR_WIDTH  # neither the whole plot nor a sliver
    assert bar.centre == pytest.approx((chart.left + chart.right) / 2, abs=0.1)
    assert bar.height == pytest.approx(5 / 6 * (chart.baseline - chart.grid[-1].y), abs=0.1)
    assert "5/6" in bar.title and "83%" in bar.title


def test_a_zero_day_keeps_a_mark_on_the_baseline_and_says_0():
    zero = daily_rate_chart(week((4, 4), (0, 4))).bars[1]
    assert zero.kind == "zero" and zero.value == "0%"
    assert zero.height == ZERO_MARK and zero.y + zero.height == daily_rate_chart(week((0, 4))).baseline
    assert zero.value_y < zero.y  # the label stands above the mark


def test_a_day_with_nobody_to_count_is_a_dash_and_no_bar():
    chart = daily_rate_chart(week((3, 4), (0, 0), (0, 4)))
    none, zero = chart.bars[1], chart.bars[2]
    assert none.kind == "none" and none.value == "–" and none.height == 0
    assert zero.kind == "zero" and zero.value == "0%"
    assert "nobody to count" in none.title


def test_the_axis_runs_from_0_to_100_percent_with_gridlines():
    chart = daily_rate_chart(week((1, 2)))
    assert [line.label for line in chart.grid] == ["0%", "25%", "50%", "75%", "100%"]
    assert chart.grid[0].y == chart.baseline and chart.grid[-1].y < chart.grid[0].y


@pytest.mark.parametrize(
    ("attended", "expected", "label"),
    [(0, 3, "0%"), (1, 3, "33%"), (2, 3, "67%"), (3, 3, "100%"), (1, 200, "1%"), (199, 200, "99%"), (7, 5, "100%")],
)
def test_values_say_0_and_100_only_when_they_are(attended, expected, label):
    assert percent_label(DayRate(MONDAY, attended, expected).rate) == label


def test_a_month_of_days_labels_every_value_and_every_other_date():
    chart = daily_rate_chart([DayRate(MONDAY + timedelta(days=n), n % 5, 4) for n in range(30)])
    assert [bar.value for bar in chart.bars[:5]] == ["0%", "25%", "50%", "75%", "100%"]
    assert not chart.upright_values and chart.value_size >= 5
    assert all(bar.day for bar in chart.bars[::2]) and not any(bar.day for bar in chart.bars[1::2])
    assert all(bar.value_y > 0 for bar in chart.bars)  # no turned label runs off the top


def test_the_svg_carries_every_value_as_text_and_for_screen_readers():
    with translation.override("es"):
        svg = render_to_string("attendance/_rate_chart.html", {"chart": daily_rate_chart(week((5, 6), (0, 6), (0, 0)))})
    for value in ("83%", "0%", "–"):
        assert f">{value}</text>" in svg
    assert 'role="img"' in svg and "<title>" in svg and "<desc>" in svg
    label = svg.split('aria-label="', 1)[1].split('"', 1)[0]
    assert "83%" in label and "0%" in label and "5/6" in label
    coordinates = re.findall(r' (?:x|y|x1|x2|y1|y2|width|height)="([^"]*)"', svg)
    assert coordinates and all(re.fullmatch(r"-?\d+(\.\d+)?", number) for number in coordinates)  # no "3,5"


def test_no_days_draw_no_bars():
    assert daily_rate_chart([]).bars == []

"""Bar charts of daily attendance rates, as coordinates for the inline SVG a template draws.

Every bar says its value; a 0% day keeps a mark on the baseline and says "0%"; a day with nobody to
count says "–" and draws no bar, so it never passes for 0%; one day is one bar of ordinary width.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.utils.formats import date_format
from django.utils.translation import gettext as _

NO_VALUE = "–"
WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 22, 30
MAX_BAR_WIDTH = 56  # one or two days: a bar, not the whole plot
ZERO_MARK = 3  # the height of the mark a 0% day keeps on the baseline
GRID = (0, 25, 50, 75, 100)
VALUE_FONT, DAY_FONT = 11, 11
DAY_LABEL_ROOM = 40  # what "12 Dec" needs across
UPRIGHT_VALUE_ROOM = 28  # what "100%" needs across at VALUE_FONT; narrower bars turn their labels


@dataclass(frozen=True)
class DayRate:
    """Who came on one day out of those expected (excused people are not expected)."""

    day: date
    attended: int
    expected: int

    @property
    def rate(self) -> float | None:
        """From 0 to 1; None when nobody was expected that day."""
        return min(self.attended / self.expected, 1.0) if self.expected > 0 else None


def percent_label(rate: float | None) -> str:
    """ "83%"; "0%" only when nobody came and "100%" only when everybody did; "–" for no value."""
    if rate is None:
        return NO_VALUE
    percent = math.floor(rate * 100 + 0.5)
    if 0 < rate < 1:
        percent = min(max(percent, 1), 99)
    return f"{percent}%"


@dataclass(frozen=True)
class GridLine:
    y: float
    label: str


@dataclass(frozen=True)
class Bar:
    kind: str  # "rate", "zero" (a mark on the baseline) or "none" (no bar at all)
    x: float
    y: float
    width: float
    height: float
    centre: float
    value: str  # "83%", "0%" or "–"
    value_y: float
    value_inside: bool  # a turned label too long to stand above a tall bar goes inside it
    day: str  # "" where there is no room for every day's label
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: float
    right: float
    baseline: float
    label_x: float  # where the axis labels end
    day_y: float
    value_size: float  # 0: bars too narrow for labels; each bar's title still has its value
    upright_values: bool
    grid: list[GridLine]
    bars: list[Bar]
    title: str
    description: str


def _day_label(day: date) -> str:
    return date_format(day, "j M")


def _bar_title(point: DayRate) -> str:
    day = date_format(point.day, "D j M Y")
    if point.rate is None:
        return _("%(day)s: nobody to count") % {"day": day}
    values = {"day": day, "value": percent_label(point.rate), "attended": point.attended, "expected": point.expected}
    return _("%(day)s: %(value)s (%(attended)s/%(expected)s attended)") % values


def daily_rate_chart(days: Sequence[DayRate], *, width: int = WIDTH, height: int = HEIGHT) -> Chart:
    """One slot per day of ``days`` in their order, with its bar, its value and (room allowing) its date."""
    plot_width, plot_height = width - LEFT - RIGHT, height - TOP - BOTTOM
    baseline = height - BOTTOM
    slot = plot_width / max(len(days), 1)
    bar_width = min(slot * 0.7, MAX_BAR_WIDTH)
    every = max(1, math.ceil(DAY_LABEL_ROOM / slot))
    upright = slot >= UPRIGHT_VALUE_ROOM
    value_size = VALUE_FONT if upright else round(min(VALUE_FONT, slot * 0.75), 1)
    if value_size < 5:
        value_size = 0
    bars = []
    for index, point in enumerate(days):
        centre = LEFT + (index + 0.5) * slot
        rate = point.rate
        if rate is None:
            kind, bar_height = "none", 0.0
        elif rate == 0:
            kind, bar_height = "zero", ZERO_MARK
        else:
            kind, bar_height = "rate", max(rate * plot_height, ZERO_MARK)
        top = baseline - bar_height
        value = percent_label(rate)
        inside = not upright and top - len(value) * 0.6 * value_size < 2
        bars.append(
            Bar(
                kind=kind,
                x=round(centre - bar_width / 2, 1),
                y=round(top, 1),
                width=round(bar_width, 1),
                height=round(bar_height, 1),
                centre=round(centre, 1),
                value=value,
                value_y=round(top + 3 if inside else top - 4, 1),
                value_inside=inside,
                day=_day_label(point.day) if index % every == 0 else "",
                title=_bar_title(point),
            )
        )
    grid = [GridLine(y=round(baseline - percent / 100 * plot_height, 1), label=f"{percent}%") for percent in GRID]
    return Chart(
        width=width,
        height=height,
        left=LEFT,
        right=width - RIGHT,
        baseline=baseline,
        label_x=LEFT - 6,
        day_y=baseline + 16,
        value_size=value_size,
        upright_values=upright,
        grid=grid,
        bars=bars,
        title=_("Attendance rate per day"),
        description="; ".join(bar.title for bar in bars),
    )

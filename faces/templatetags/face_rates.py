"""Rates for people: a percentage down to 0.1%, scientific notation below (FMR reaches 1e-9); and the
words a calibration stored to mark its thresholds, in the reader's language."""

from django import template
from django.utils.translation import pgettext

register = template.Library()


@register.filter
def rate(value) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "—"
    if value != value:  # nan
        return "—"
    return f"{value:.1%}" if value >= 0.001 or value == 0 else f"{value:.1e}"


@register.filter
def threshold_mark(value) -> str:
    """A row mark of FaceCalibration.table ("accept", "review", "accept = review") in the reader's language."""
    words = {
        "accept": pgettext("calibration threshold", "accept"),
        "review": pgettext("calibration threshold", "review"),
    }
    return " = ".join(words.get(part.strip(), part.strip()) for part in str(value).split("="))

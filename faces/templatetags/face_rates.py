"""Rates for people: a percentage down to 0.1%, scientific notation below (FMR reaches 1e-9)."""

from django import template

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

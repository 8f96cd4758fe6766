"""The calibration chart: genuine and impostor distance histograms as inline SVG, with the accept and
review distances drawn. Rendered on the server: no script, nothing fetched. Only numbers computed here
and fixed words (translated, then escaped) go into the markup, so it is safe to mark as such.
"""

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, pgettext

WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 28, 40
GENUINE, IMPOSTOR, ACCEPT, REVIEW = "#2e7d32", "#c62828", "#1b4f9c", "#b26a00"
SHOWN_UP_TO = 0.30  # distances beyond are impostors far away: not drawn


def _counts(values) -> list[float]:
    """A list of non-negative numbers, or an empty list for anything else (a row edited by hand)."""
    try:
        counts = [float(value) for value in values]
    except (TypeError, ValueError):
        return []
    return counts if all(value >= 0 for value in counts) else []


def _fractions(counts: Sequence[float], bins: int) -> list[float]:
    total = sum(counts)
    return [(counts[i] / total if total and i < len(counts) else 0.0) for i in range(bins)]


def distance_chart(histogram: dict, *, accept: float, review: float) -> SafeString:
    """The site's genuine and impostor distances, each as a share of its own pairs per bin."""
    try:
        bin_width, accept, review = float(histogram.get("bin_width", 0)), float(accept), float(review)
    except (AttributeError, TypeError, ValueError):
        bin_width = 0.0
    if not 0 < bin_width <= SHOWN_UP_TO:
        nothing = escape(gettext("No distances to draw."))
        return mark_safe(f'<p class="muted">{nothing}</p>')  # noqa: S308 - escaped
    bins = int(round(SHOWN_UP_TO / bin_width))
    genuine = _fractions(_counts(histogram.get("genuine", [])), bins)
    impostor = _fractions(_counts(histogram.get("impostor", [])), bins)
    tallest = max([*genuine, *impostor, 1e-9])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(distance: float) -> float:
        return LEFT + plot_w * min(max(distance, 0.0), SHOWN_UP_TO) / SHOWN_UP_TO

    def y(share: float) -> float:
        return TOP + plot_h * (1 - share / tallest)

    title = escape(gettext("Genuine and impostor distances, with the accept and review distances"))
    x_axis, y_axis = escape(gettext("cosine distance")), escape(gettext("share of pairs"))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-labelledby="calibration-chart-title" class="calibration-chart" font-family="sans-serif" font-size="12">',
        f'<title id="calibration-chart-title">{title}</title>',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#d5dbe3"/>',
    ]
    bar = plot_w / bins
    for i in range(bins):
        for share, colour in ((impostor[i], IMPOSTOR), (genuine[i], GENUINE)):
            if share > 0:
                top = y(share)
                parts.append(
                    f'<rect x="{LEFT + i * bar:.1f}" y="{top:.1f}" width="{bar:.1f}" '
                    f'height="{TOP + plot_h - top:.1f}" fill="{colour}" fill-opacity="0.55"/>'
                )
    for tick in range(0, round(SHOWN_UP_TO * 100) + 1, 5):
        at = x(tick / 100)
        parts.append(f'<line x1="{at:.1f}" y1="{TOP + plot_h}" x2="{at:.1f}" y2="{TOP + plot_h + 4}" stroke="#555"/>')
        parts.append(f'<text x="{at:.1f}" y="{TOP + plot_h + 17}" text-anchor="middle">{tick / 100:.2f}</text>')
    parts.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle">'
        f"{x_axis}</text>"
        f'<text x="14" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {TOP + plot_h / 2:.1f})">{y_axis}</text>'
    )
    for distance, colour, dash, label, word in (
        (accept, ACCEPT, "", "accept", pgettext("calibration threshold", "accept")),
        (review, REVIEW, ' stroke-dasharray="6 4"', "review", pgettext("calibration threshold", "review")),
    ):
        at = x(distance)
        parts.append(
            f'<line x1="{at:.1f}" y1="{TOP}" x2="{at:.1f}" y2="{TOP + plot_h}" stroke="{colour}" '
            f'stroke-width="2"{dash} class="threshold-{label}"/>'
            f'<text x="{at + 4:.1f}" y="{TOP + 14 if label == "accept" else TOP + 28}" fill="{colour}">'
            f"{escape(word)} {distance:.3f}</text>"
        )
    legend = LEFT + plot_w - 200
    for row, (colour, label) in enumerate(((GENUINE, gettext("genuine pairs")), (IMPOSTOR, gettext("impostor pairs")))):
        parts.append(
            f'<rect x="{legend + row * 110}" y="8" width="12" height="12" fill="{colour}" fill-opacity="0.55"/>'
            f'<text x="{legend + row * 110 + 16}" y="18">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - numbers and fixed words only

"""Inline SVG drawn on the server: a submission's per-env scores and its error-against-context curves.

The pages carry no script and load nothing else, so the charts are SVG elements in the page itself.
Every text drawn is escaped here (the only ``Markup`` a template receives); numbers are formatted
here too, so a chart shows the same digits as the tables beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

from leaderboard.report import SCORE_AXIS

_BAR_HEIGHT = 22
_LABEL_WIDTH = 130
_PLOT_WIDTH = 420
_VALUE_WIDTH = 150


def _x(score: float) -> float:
    """Pixel of ``score`` on the score axis, clipped to it."""
    low, high = SCORE_AXIS
    return _LABEL_WIDTH + _PLOT_WIDTH * (min(max(score, low), high) - low) / (high - low)


def score_bars(entries: Sequence[tuple[str, float, float, float]]) -> Markup:
    """One bar per (label, score, low, high), from 0 to the score, with its interval as a whisker.

    Scores beyond the axis (-60 to 110, as in the report's plot) end at its edge with an arrow; the
    number beside each bar is the exact value.
    """
    height = _BAR_HEIGHT * len(entries) + 24
    width = _LABEL_WIDTH + _PLOT_WIDTH + _VALUE_WIDTH
    parts = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
        ' xmlns="http://www.w3.org/2000/svg"><title>normalized score per env, 95% interval</title>'
    ]
    for reference in (0.0, 100.0):
        x = _x(reference)
        parts.append(
            f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - 18}" stroke="#999" stroke-dasharray="3,3"/>'
            f'<text x="{x:.1f}" y="{height - 4}" font-size="11" text-anchor="middle">{reference:.0f}</text>'
        )
    low_edge, high_edge = SCORE_AXIS
    for i, (label, value, low, high) in enumerate(entries):
        top = i * _BAR_HEIGHT + 3
        middle = top + _BAR_HEIGHT / 2 - 3
        zero, end = _x(0.0), _x(value)
        parts.append(
            f'<text x="{_LABEL_WIDTH - 6}" y="{middle + 4:.1f}" font-size="12" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{min(zero, end):.1f}" y="{top}" width="{abs(end - zero):.1f}" height="{_BAR_HEIGHT - 8}"'
            ' fill="#4c78a8"/>'
            f'<line x1="{_x(low):.1f}" y1="{middle:.1f}" x2="{_x(high):.1f}" y2="{middle:.1f}" stroke="#222"/>'
        )
        if value < low_edge or value > high_edge:
            tip = _x(value) + (-1 if value < low_edge else 1) * 8
            parts.append(
                f'<path d="M{_x(value):.1f},{middle - 5:.1f} L{tip:.1f},{middle:.1f} L{_x(value):.1f},{middle + 5:.1f} Z"'
                ' fill="#c00"/>'
            )
        parts.append(
            f'<text x="{_LABEL_WIDTH + _PLOT_WIDTH + 10}" y="{middle + 4:.1f}" font-size="12">'
            f"{value:.1f} [{low:.1f}, {high:.1f}]</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _nice_top(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (the y axis's top)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def error_curve(
    label: str,
    errors: Sequence[float],
    x_label: str = "context length",
    y_label: str = "squared error",
    title: str = "mean squared error against context length",
) -> Markup:
    """Mean squared error at each context length 0..n-1 of an in-context entry, as a line (or any
    curve of values >= 0 with its labels: the return of each sub-episode of a trial)."""
    width, height, left, bottom, top_margin, right_margin = 360, 200, 52, 34, 22, 12
    plot_w, plot_h = width - left - right_margin, height - bottom - top_margin
    top = _nice_top(max(errors, default=0.0))
    steps = max(len(errors) - 1, 1)
    points = " ".join(
        f"{left + plot_w * t / steps:.1f},{top_margin + plot_h * (1 - e / top):.1f}"
        for t, e in enumerate(errors)
    )
    base = top_margin + plot_h
    return Markup(
        f'<svg class="chart" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
        ' xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(label)}: {escape(title)}</title>"
        f'<text x="{left}" y="14" font-size="12" font-weight="bold">{escape(label)}</text>'
        f'<line x1="{left}" y1="{top_margin}" x2="{left}" y2="{base}" stroke="#444"/>'
        f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="#444"/>'
        f'<text x="{left - 4}" y="{top_margin + 4}" font-size="11" text-anchor="end">{top:g}</text>'
        f'<text x="{left - 4}" y="{base}" font-size="11" text-anchor="end">0</text>'
        f'<text x="{left}" y="{base + 14}" font-size="11" text-anchor="middle">0</text>'
        f'<text x="{left + plot_w}" y="{base + 14}" font-size="11" text-anchor="middle">{len(errors) - 1}</text>'
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" font-size="11" text-anchor="middle">{escape(x_label)}</text>'
        f'<text x="12" y="{top_margin + plot_h / 2:.1f}" font-size="11" text-anchor="middle"'
        f' transform="rotate(-90 12 {top_margin + plot_h / 2:.1f})">{escape(y_label)}</text>'
        f'<polyline points="{points}" fill="none" stroke="#e45756" stroke-width="2"/>'
        "</svg>"
    )

"""Charts drawn on the server as SVG (no script, no CDN): lines and stacked bars.

Every text in a chart goes through markupsafe's escape.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

PALETTE = ("#1a5fb4", "#26a269", "#e5a50a", "#c64600", "#813d9c", "#5e5c64", "#a51d2d")


def line(points: Sequence[tuple[str, float]], *, low: float = -1.0, high: float = 1.0,
         title: str = "", width: int = 640, height: int = 200) -> Markup:  # fmt: skip
    """A line over labelled points, between ``low`` and ``high`` (a zero line drawn)."""
    pad = 30
    if not points:
        return Markup(f'<p class="muted">{escape(title)}: no data yet.</p>')
    span = (high - low) or 1.0
    step = (width - 2 * pad) / max(len(points) - 1, 1)

    def y(value: float) -> float:
        return pad + (high - value) / span * (height - 2 * pad)

    coords = [(pad + i * step, y(v)) for i, (_, v) in enumerate(points)]
    path = " ".join(f"{x:.1f},{yy:.1f}" for x, yy in coords)
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{yy:.1f}" r="3"><title>{escape(label)}: {value:+.2f}</title>'
        f"</circle>"
        for (x, yy), (label, value) in zip(coords, points, strict=True)
    )
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<line x1="{pad}" x2="{width - pad}" y1="{y(0):.1f}" y2="{y(0):.1f}" class="axis"/>'
        f'<text x="2" y="{y(high) + 4:.1f}">{high:+g}</text>'
        f'<text x="2" y="{y(low) + 4:.1f}">{low:+g}</text>'
        f'<polyline fill="none" stroke="{PALETTE[0]}" stroke-width="2" points="{path}"/>'
        f"{dots}"
        f'<text x="{pad}" y="{height - 6}">{escape(points[0][0])}</text>'
        f'<text x="{width - pad}" y="{height - 6}" text-anchor="end">{escape(points[-1][0])}</text>'
        "</svg>"
    )


def stacked_bars(columns: Sequence[tuple[str, dict[str, int]]], series: Sequence[str], *,
                 title: str = "", width: int = 640, height: int = 220) -> Markup:  # fmt: skip
    """One bar per column, stacked by series, with a legend."""
    if not columns:
        return Markup(f'<p class="muted">{escape(title)}: no data yet.</p>')
    pad, legend = 24, 22
    top = max(sum(values.values()) for _, values in columns) or 1
    band = (width - 2 * pad) / len(columns)
    plot = height - 2 * pad - legend
    parts = []
    for i, (label, values) in enumerate(columns):
        x = pad + i * band + band * 0.15
        y: float = pad + plot
        for j, name in enumerate(series):
            count = values.get(name, 0)
            if not count:
                continue
            h = count / top * plot
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{band * 0.7:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(label)}: {escape(name)} '
                f"{count}</title></rect>"
            )
        parts.append(
            f'<text x="{x:.1f}" y="{pad + plot + 14}" font-size="10">{escape(label)}</text>'
        )
    keys = "".join(
        f'<rect x="{pad + k * 100}" y="{height - 14}" width="10" height="10" '
        f'fill="{PALETTE[k % len(PALETTE)]}"/><text x="{pad + k * 100 + 14}" y="{height - 5}" '
        f'font-size="11">{escape(name)}</text>'
        for k, name in enumerate(series)
    )
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>{"".join(parts)}{keys}</svg>'
    )


def bars(rows: Sequence[tuple[str, int]], *, title: str = "", width: int = 640) -> Markup:
    """Horizontal bars, one per row, with the count written at the end."""
    if not rows:
        return Markup(f'<p class="muted">{escape(title)}: none.</p>')
    top = max(count for _, count in rows) or 1
    row_h, label_w = 22, 140
    height = row_h * len(rows) + 8
    parts = []
    for i, (label, count) in enumerate(rows):
        y = 4 + i * row_h
        w = count / top * (width - label_w - 60)
        parts.append(
            f'<text x="0" y="{y + 15}">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
            f'fill="{PALETTE[3]}"/><text x="{label_w + w + 6:.1f}" y="{y + 15}">{count}</text>'
        )
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>{"".join(parts)}</svg>'
    )

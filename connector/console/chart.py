"""Small server-side SVG charts: no JavaScript, no CDN, readable by screen readers."""
from __future__ import annotations

from datetime import date

from markupsafe import Markup, escape

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#6b5b00", "#000000"]


def line_chart(days: list[date], series: dict[str, list[int]], *, title: str,
               width: int = 640, height: int = 240) -> Markup:
    """A multi-line chart of integer series over days, with axes, legend and a <title>."""
    left, right, top, bottom = 44, 12, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([max(v) for v in series.values() if v] + [1])
    step = _nice_step(peak)
    y_max = step * -(-peak // step)
    n = max(len(days) - 1, 1)

    def x(i: int) -> float:
        return left + plot_w * i / n

    def y(v: int) -> float:
        return top + plot_h * (1 - v / y_max)

    parts = [(f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
              'aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg">'),
             f'<title id="chart-title">{escape(title)}</title>']
    for v in range(0, y_max + 1, step):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                     'stroke="#d0d7de" stroke-width="1"/>')
        parts.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" '
                     f'font-size="11" fill="#57606a">{v}</text>')
    for i in sorted({0, n // 2, n}):
        if i < len(days):
            anchor = "start" if i == 0 else "end" if i == n else "middle"
            parts.append(f'<text x="{x(i):.1f}" y="{height - 8}" text-anchor="{anchor}" '
                         f'font-size="11" fill="#57606a">{days[i].strftime("%d %b")}</text>')
    for k, (name, values) in enumerate(series.items()):
        colour = PALETTE[k % len(PALETTE)]
        pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2.5" '
                     f'points="{pts}"><title>{escape(name)}: {values[-1] if values else 0}'
                     '</title></polyline>')
    parts.append("</svg>")
    legend = "".join(
        f'<li><span class="swatch" style="background:{PALETTE[k % len(PALETTE)]}"></span>'
        f'{escape(name)} <strong>{values[-1] if values else 0}</strong></li>'
        for k, (name, values) in enumerate(series.items()))
    return Markup("".join(parts) + f'<ul class="legend">{legend}</ul>')


def bar_list(counts: dict[str, int]) -> Markup:
    """Horizontal bars for a handful of labelled counts (pure HTML/CSS, so it reflows)."""
    total = max(counts.values(), default=0) or 1
    rows = "".join(
        f'<li><span class="bar-label">{escape(k)}</span><span class="bar" '
        f'style="--w:{100 * v / total:.0f}%"></span><strong>{v}</strong></li>'
        for k, v in counts.items())
    return Markup(f'<ul class="bars">{rows}</ul>')


def _nice_step(peak: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if peak / step <= 5:
            return step
    return 10 ** len(str(peak // 5))

"""Small server-rendered SVG column charts (no library, no script), in the
manner of ui/charts.py: the view hands the template ready coordinates."""

from dataclasses import dataclass
from decimal import Decimal

WIDTH, HEIGHT = 960, 200
LEFT, RIGHT, TOP, BOTTOM = 90, 10, 10, 26
COLOURS = ("#0d6efd", "#fd7e14", "#20c997", "#6f42c1")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class ColumnChart:
    bars: list[Bar]
    x_labels: list[tuple[float, str]]
    y_labels: list[tuple[float, str]]
    legend: list[tuple[str, str]]
    baseline: float
    summary: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT


def columns(
    labels: list[str], series: dict[str, list[Decimal | int]], *, fmt=str, summary: str = ""
) -> ColumnChart | None:
    """Grouped columns: one group per label, one column per series (values ≥ 0 drawn)."""
    if not labels or not series:
        return None
    top = max([max((v for v in values), default=0) for values in series.values()] + [0])
    if top <= 0:
        return None
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group_w = plot_w / len(labels)
    bar_w = group_w * 0.8 / len(series)
    bars = []
    for s, (name, values) in enumerate(series.items()):
        colour = COLOURS[s % len(COLOURS)]
        for i, value in enumerate(values):
            height = round(plot_h * float(max(value, 0)) / float(top), 1)
            x = round(LEFT + i * group_w + group_w * 0.1 + s * bar_w, 1)
            bars.append(
                Bar(
                    x,
                    round(TOP + plot_h - height, 1),
                    round(bar_w, 1),
                    height,
                    colour,
                    f"{labels[i]} · {name}: {fmt(value)}",
                )
            )
    step = max(1, len(labels) // 12)  # at most ~12 labels under the axis
    x_labels = [(round(LEFT + i * group_w + group_w / 2, 1), label) for i, label in enumerate(labels) if i % step == 0]
    y_labels = [(float(TOP + plot_h), fmt(0)), (float(TOP), fmt(top))]
    legend = [(COLOURS[s % len(COLOURS)], name) for s, name in enumerate(series)]
    return ColumnChart(bars, x_labels, y_labels, legend, float(TOP + plot_h), summary)

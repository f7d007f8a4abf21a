"""Burn-down charts as server-rendered SVG: no chart library, no script."""

import datetime
from dataclasses import dataclass

from django.utils.dateformat import format as format_date
from django.utils.translation import gettext

from agreements.domain import format_minutes

WIDTH, HEIGHT = 960, 220
LEFT, RIGHT, TOP, BOTTOM = 100, 16, 12, 28
MIN_SPAN_DAYS = 14


@dataclass(frozen=True)
class BurnDown:
    path: str  # SVG path of the balance as a step line
    area: str  # the same line closed down to zero, for a light fill
    threshold_y: float | None
    zero_y: float
    y_labels: list[tuple[float, str]]
    x_labels: list[tuple[float, str]]
    width: int = WIDTH
    height: int = HEIGHT
    summary: str = ""
    left: int = LEFT
    right: int = WIDTH - RIGHT

    @property
    def label_x(self) -> int:
        return self.left - 6


def burn_down(points: list[tuple[datetime.date, int]], *, today: datetime.date, threshold: int) -> BurnDown | None:
    """A step chart of the balance (minutes) by day, from the first movement to today."""
    if not points:
        return None
    end = max(today, points[-1][0])
    # At least two weeks wide, so a young agreement still shows a line.
    start = min(points[0][0], end - datetime.timedelta(days=MIN_SPAN_DAYS))
    span = (end - start).days
    values = [balance for _, balance in points]
    top = max(max(values), threshold, 60)
    bottom = min(min(values), 0)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def x(day: datetime.date) -> float:
        return round(LEFT + plot_w * (day - start).days / span, 1)

    def y(minutes: int) -> float:
        return round(TOP + plot_h * (top - minutes) / (top - bottom), 1)

    commands = [f"M{x(points[0][0])},{y(0)} L{x(points[0][0])},{y(points[0][1])}"]
    for (day, balance), (_, previous) in zip(points[1:], points[:-1], strict=False):
        commands.append(f"L{x(day)},{y(previous)} L{x(day)},{y(balance)}")
    commands.append(f"L{x(end)},{y(points[-1][1])}")
    path = " ".join(commands)
    area = f"{path} L{x(end)},{y(0)} L{x(points[0][0])},{y(0)} Z"
    y_labels = [(y(value), format_minutes(value)) for value in sorted({top, bottom, 0, threshold})]
    middle = start + (end - start) / 2
    # Month names in the active language; "05 Mar 2025" in English.
    x_labels = [(x(day), format_date(day, "d M Y")) for day in (start, middle, end)]
    summary = gettext("Balance from %(first)s on %(date)s to %(last)s today") % {
        "first": format_minutes(points[0][1]),
        "date": format_date(points[0][0], "d M Y"),
        "last": format_minutes(points[-1][1]),
    }
    return BurnDown(
        path=path,
        area=area,
        threshold_y=y(threshold) if threshold else None,
        zero_y=y(0),
        y_labels=y_labels,
        x_labels=x_labels,
        summary=summary,
    )

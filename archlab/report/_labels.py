"""Point labels of the report's figures: short names, and places that keep clear of the data.

Labels are placed in display coordinates, so they need the fixed figure geometry of
:mod:`archlab.report.plots`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.transforms import Bbox

LABEL_SIZE = 8
LEADER_PT = 16  # labels further from their point than this get a leader line
Floats = Sequence[float] | np.ndarray


def short_labels(names: Sequence[str]) -> tuple[list[str], str]:
    """Drop the '_'-separated name parts all names share: ('1x16d', ...) and 'resnext29_*_w0.25'."""
    parts = [n.split("_") for n in names]
    if len(names) < 2 or len({len(p) for p in parts}) != 1:
        return list(names), ""
    shared = [i for i in range(len(parts[0])) if len({p[i] for p in parts}) == 1]
    if len(shared) == len(parts[0]):
        return list(names), ""
    labels = ["_".join(p[i] for i in range(len(p)) if i not in shared) for p in parts]
    pattern = "_".join(parts[0][i] if i in shared else "*" for i in range(len(parts[0])))
    return labels, pattern


def _overlap(a: Bbox, others: Sequence[Bbox]) -> float:
    total = 0.0
    for b in others:
        w = min(a.x1, b.x1) - max(a.x0, b.x0)
        h = min(a.y1, b.y1) - max(a.y0, b.y0)
        if w > 0 and h > 0:
            total += w * h
    return total


def legend_box(ax: Axes) -> Bbox:
    legend = ax.get_legend()
    assert legend is not None
    return legend.get_window_extent(ax.figure.canvas.get_renderer())  # type: ignore[attr-defined]


def line_boxes(ax: Axes, xs: Floats, ys: Floats) -> list[Bbox]:
    """Small boxes along a polyline given in data coordinates, so labels keep off it."""
    pts = ax.transData.transform(np.column_stack([xs, ys]))
    boxes = []
    for start, end in itertools.pairwise(pts):
        boxes += line_boxes_display(tuple(start), tuple(end))
    return boxes


def line_boxes_display(
    start: tuple[float, float], end: tuple[float, float], *, skip: float = 0.0, step: float = 4.0
) -> list[Bbox]:
    """3-pixel boxes every ``step`` pixels along a segment in display space, after ``skip``."""
    (x0, y0), (x1, y1) = start, end
    length = float(np.hypot(x1 - x0, y1 - y0))
    boxes = []
    for d in np.arange(skip, length + step / 2, step):
        t = min(d / length, 1.0) if length else 0.0
        x, y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
        boxes.append(Bbox.from_extents(x - 1.5, y - 1.5, x + 1.5, y + 1.5))
    return boxes


def _annotate(
    ax: Axes, label: str, xy: tuple[float, float], dx: float, dy: float, leader: bool
) -> Any:
    ha = "left" if dx > 0 else "right" if dx < 0 else "center"
    va = "center" if dy == 0 else "bottom" if dy > 0 else "top"
    arrow = {"arrowstyle": "-", "color": "0.55", "lw": 0.6, "shrinkA": 1, "shrinkB": 4}
    return ax.annotate(
        label,
        xy,
        xytext=(dx, dy),
        textcoords="offset points",
        ha=ha,
        va=va,
        fontsize=LABEL_SIZE,
        arrowprops=arrow if leader else None,
        zorder=5,
    )


def place_labels(
    ax: Axes,
    xs: Floats,
    ys: Floats,
    labels: Sequence[str],
    *,
    obstacles: Sequence[Bbox] = (),
) -> None:
    """Annotate points greedily: the nearest spot clear of markers, lines and earlier labels.

    Axis limits and margins must be final: positions are judged in display coordinates.
    """
    renderer = ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
    inside = ax.get_window_extent(renderer)
    pts = ax.transData.transform(np.column_stack([xs, ys]))
    taken: list[Bbox] = [Bbox.from_extents(x - 6, y - 6, x + 6, y + 6) for x, y in pts]
    taken += obstacles
    # (dx, dy) in points: beside the point first, then two rings further out with leader lines.
    ring = [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)]
    spots = [(7, 0), (-7, 0), (0, 9), (0, -9), (7, 8), (7, -8), (-7, 8), (-7, -8)]
    spots += [(round(r * x), round(r * y)) for r in (22, 36) for x, y in ring]
    order = np.lexsort((np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)))
    for i in order:
        xy = (float(xs[i]), float(ys[i]))
        best: tuple[float, int, list[Bbox]] | None = None
        for k, (dx, dy) in enumerate(spots):
            text = _annotate(ax, labels[i], xy, dx, dy, leader=False)
            box = text.get_window_extent(renderer).expanded(1.06, 1.2)
            text.remove()
            used = [box]
            if abs(dx) + abs(dy) > LEADER_PT:  # the leader line must keep clear too
                px, py = pts[i]
                end = (min(max(px, box.x0), box.x1), min(max(py, box.y0), box.y1))
                used += line_boxes_display((px, py), end, skip=8.0)
            outside = max(0.0, inside.x0 - box.x0) + max(0.0, box.x1 - inside.x1)
            outside += max(0.0, inside.y0 - box.y0) + max(0.0, box.y1 - inside.y1)
            cost = sum(_overlap(b, taken) for b in used) + 1000.0 * outside
            if best is None or cost < best[0]:
                best = (cost, k, used)
            if cost == 0:
                break
        assert best is not None
        dx, dy = spots[best[1]]
        _annotate(ax, labels[i], xy, dx, dy, leader=abs(dx) + abs(dy) > LEADER_PT)
        taken += best[2]

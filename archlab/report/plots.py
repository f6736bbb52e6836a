"""The report's figures: each function takes plain data and returns a matplotlib Figure.

No pyplot: figures get an Agg canvas of their own, so nothing here needs a display or touches
global state. Every figure is 7 x 4.5 in at 100 dpi (700 x 450 px) with fixed margins (the top
one grows for a wrapped title, before anything else is placed), so the point labels placed in
display coordinates stay where :func:`archlab.report._labels.place_labels` put them.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter
from matplotlib.transforms import Bbox

from archlab.report import edf
from archlab.report._labels import (
    LABEL_SIZE,
    Floats,
    legend_box,
    line_boxes,
    place_labels,
    short_labels,
)

FIGSIZE = (7.0, 4.5)
DPI = 100
FONT_SIZE = 9
TITLE_PAD_PX = 4  # the least gap between a title and the figure's edge
COLORS = tuple(matplotlib.colormaps["tab10"].colors)  # type: ignore[attr-defined]
# Reproducible files: no timestamps or software strings, a fixed SVG id salt.
_RC: Any = {"svg.hashsalt": "archlab", "svg.fonttype": "path", "font.size": FONT_SIZE}


def new_figure(ncols: int = 1) -> tuple[Figure, list[Axes]]:
    """A fixed-size figure with an Agg canvas and ``ncols`` axes side by side."""
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=FIGSIZE, dpi=DPI)
        FigureCanvasAgg(fig)
        axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
        fig.subplots_adjust(left=0.1, right=0.97, bottom=0.12, top=0.9, wspace=0.28)
    for ax in axes:
        ax.grid(True, which="major", color="0.9", linewidth=0.8)
        ax.set_axisbelow(True)
    return fig, axes


def save(fig: Figure, stem: Path) -> list[Path]:
    """Write ``stem``.png and ``stem``.svg without timestamps; returns both paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    with matplotlib.rc_context(_RC):
        fig.savefig(png, format="png", dpi=DPI, metadata={"Software": None})
        fig.savefig(svg, format="svg", metadata={"Date": None})
    return [png, svg]


def set_title(ax: Axes, text: str) -> None:
    """The axes title, left-aligned and wrapped so every line lies inside the figure.

    A title set over a narrowed axes (a legend beside it) or carrying a long comparison-group
    label ran off the right edge. Lines are wrapped to the width from the axes' left edge to the
    figure's, and the top margin grows when the wrapped title needs more height. Call it before
    anything is placed in display coordinates: it may move the axes.
    """
    fig = ax.figure
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    room = fig.bbox.x1 - TITLE_PAD_PX - ax.get_window_extent(renderer).x0
    title = ax.set_title(text, loc="left", fontsize=FONT_SIZE + 1)
    chars = len(text)
    while title.get_window_extent(renderer).width > room and chars > 10:
        chars = max(10, int(chars * 0.9))
        title.set_text(textwrap.fill(text, chars, break_long_words=False, break_on_hyphens=False))
    overflow = title.get_window_extent(renderer).y1 - (fig.bbox.y1 - TITLE_PAD_PX)
    if overflow > 0:
        top = ax.get_position().y1 - overflow / fig.bbox.height
        fig.subplots_adjust(top=top)


# --------------------------------------------------------------------------- labels


def _pad_limits(ax: Axes, xs: np.ndarray, lo: np.ndarray, hi: np.ndarray, logx: bool) -> None:
    """Limits with room for labels: 25% beyond the points on x (log), 12% on y."""
    if logx:
        left, right = np.log10(xs.min()), np.log10(xs.max())
        span = max(right - left, 0.3)
        ax.set_xlim(10 ** (left - 0.25 * span), 10 ** (right + 0.25 * span))
    else:
        span = float(xs.max() - xs.min()) or max(abs(float(xs.max())), 1e-9)
        left = xs.min() - 0.2 * span
        ax.set_xlim(max(left, 0.0) if xs.min() >= 0 else left, xs.max() + 0.25 * span)
    bottom, top = float(np.nanmin(lo)), float(np.nanmax(hi))
    span = max(top - bottom, 0.5)
    ax.set_ylim(bottom - 0.12 * span, top + 0.15 * span)


# --------------------------------------------------------------------------- figures


def _plain_log_axis(ax: Axes) -> None:
    """Log x ticks as plain numbers ('3', '10', '30'), not '3×10^0'."""
    fmt = FuncFormatter(lambda v, _: f"{v:g}")
    ax.xaxis.set_major_formatter(fmt)
    ax.xaxis.set_minor_formatter(fmt)
    lo, hi = ax.get_xlim()
    if hi / lo > 30:  # wide ranges: label the decades only
        ax.xaxis.set_minor_formatter(NullFormatter())


def error_vs_complexity(
    x: Floats,
    error: Floats,
    std: Floats,
    names: Sequence[str],
    *,
    xlabel: str,
    title: str,
    front: Sequence[bool] | np.ndarray | None = None,
) -> Figure:
    """One point per candidate with ±std error bars on a log x axis; optional Pareto front."""
    fig, (ax,) = new_figure()
    labels, pattern = short_labels(names)
    set_title(ax, title + (f"   [names: {pattern}]" if pattern else ""))
    xs, ys = np.asarray(x, dtype=float), np.asarray(error, dtype=float)
    err = np.nan_to_num(np.asarray(std, dtype=float))
    ax.set_xscale("log")
    _pad_limits(ax, xs, ys - err, ys + err, logx=True)
    _plain_log_axis(ax)
    ax.errorbar(
        xs,
        ys,
        yerr=err,
        fmt="o",
        color=COLORS[0],
        ecolor="0.45",
        elinewidth=1,
        capsize=3,
        markersize=5,
        label="candidate (mean ± std over seeds)",
        zorder=3,
    )
    lines: list[Bbox] = []
    for xi, yi, ei in zip(xs, ys, err, strict=True):
        lines += line_boxes(ax, [xi, xi], [yi - ei, yi + ei])
    if front is not None and any(front):
        mask = np.asarray(front, dtype=bool)
        order = np.argsort(xs[mask], kind="mergesort")
        fx, fy = xs[mask][order], ys[mask][order]
        ax.step(
            fx,
            fy,
            where="post",
            color=COLORS[3],
            lw=1.2,
            zorder=2,
            label="Pareto front (val error vs MACs)",
        )
        ax.scatter(fx, fy, s=90, facecolors="none", edgecolors=COLORS[3], linewidths=1.4, zorder=4)
        lines += line_boxes(ax, np.repeat(fx, 2)[1:], np.repeat(fy, 2)[:-1])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("validation error (%)")
    ax.legend(loc="best", fontsize=LABEL_SIZE, framealpha=0.9)
    legend = legend_box(ax)
    place_labels(ax, xs, ys, labels, obstacles=[legend, *lines])
    return fig


def training_curves(
    curves: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]], *, title: str
) -> Figure:
    """Train (dashed) and val (solid) error vs epoch per candidate, as in the paper's Fig. 5."""
    fig, (ax,) = new_figure()
    fig.subplots_adjust(right=0.72)
    labels, pattern = short_labels([c[0] for c in curves])
    set_title(ax, title + (f"   [names: {pattern}]" if pattern else ""))
    for i, ((_, epochs, train, val), label) in enumerate(zip(curves, labels, strict=True)):
        color = COLORS[i % len(COLORS)]
        marker = "o" if len(epochs) <= 12 else None  # a one-epoch run is a point, not a line
        ax.plot(epochs, train, ls="--", lw=1.2, color=color, marker=marker, markersize=3)
        ax.plot(epochs, val, ls="-", lw=1.8, color=color, label=label, marker=marker, markersize=4)
    ax.plot([], [], ls="--", color="0.3", label="train error")
    ax.plot([], [], ls="-", color="0.3", label="val error")
    ax.set_xlabel("epoch")
    ax.set_ylabel("error (%)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    first, last = min(c[1].min() for c in curves), max(c[1].max() for c in curves)
    if last - first < 2:  # too short for the locator to choose whole epochs by itself
        ax.set_xlim(first - 1, last + 1)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=LABEL_SIZE, frameon=False)
    return fig


def cardinality_vs_width(
    cardinality: tuple[Floats, Floats, Sequence[str]],
    width: tuple[Floats, Floats, Sequence[str]],
    *,
    title: str,
) -> Figure:
    """Fig. 7's view: error vs params, one line for more cardinality, one for more width."""
    fig, (ax,) = new_figure()
    set_title(ax, title)
    allx = np.asarray([*cardinality[0], *width[0]], dtype=float) / 1e6
    ally = np.asarray([*cardinality[1], *width[1]], dtype=float)
    _pad_limits(ax, allx, ally, ally, logx=False)
    # One label per candidate: the baseline sits on both lines (one label), but two candidates
    # at the same point keep a label each.
    points: set[tuple[float, float, str]] = set()
    lines: list[Bbox] = []
    for (px, py, names), color, marker, label in (
        (cardinality, COLORS[3], "o", "more cardinality (d fixed)"),
        (width, COLORS[0], "s", "more width (C = 1)"),
    ):
        xs = np.asarray(px, dtype=float) / 1e6
        ax.plot(xs, py, marker=marker, color=color, lw=1.6, markersize=6, label=label)
        lines += line_boxes(ax, xs, py)
        points.update((float(x), float(y), str(n)) for x, y, n in zip(xs, py, names, strict=True))
    ax.set_xlabel("parameters (millions)")
    ax.set_ylabel("validation error (%)")
    ax.legend(loc="best", fontsize=LABEL_SIZE, framealpha=0.9)
    legend = legend_box(ax)
    keys = sorted(points)
    labels, _ = short_labels([k[2] for k in keys])
    place_labels(ax, [k[0] for k in keys], [k[1] for k in keys], labels, obstacles=[legend, *lines])
    return fig


def edf_figure(groups: Sequence[tuple[str, np.ndarray, np.ndarray]]) -> Figure:
    """Error EDFs: plain (left) and complexity-normalised (right), one line per design space."""
    fig, (left, right) = new_figure(ncols=2)
    for i, (label, errors, weights) in enumerate(groups):
        color = COLORS[i % len(COLORS)]
        for ax, w in ((left, None), (right, weights)):
            xs, cum = edf.edf_curve(errors, w)  # EDF(e) < e: the value just before each step
            ax.step(
                np.r_[xs[0], xs],
                np.r_[0.0, cum],
                where="post",
                color=color,
                lw=1.6,
                label=f"{label} (n={xs.size})",
            )
    for ax, name, ylabel in (
        (left, "EDF", "fraction of models with error < x"),
        (right, "complexity-normalised EDF", "weighted fraction with error < x"),
    ):
        ax.set_xlabel("validation error x (%)")
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, 1.02)
        ax.set_title(name, fontsize=FONT_SIZE + 1)
    # Below the axes: an EDF fills its panel's diagonal, so no corner is free for long labels.
    rows = -(-len(groups) // 2)
    fig.subplots_adjust(bottom=0.12 + 0.05 * rows)
    fig.legend(*left.get_legend_handles_labels(), loc="lower center", ncol=min(len(groups), 2),
               fontsize=LABEL_SIZE, frameon=False)  # fmt: skip
    return fig


def budget_scatter(
    short: Floats,
    long: Floats,
    names: Sequence[str],
    *,
    xlabel: str,
    ylabel: str,
    title: str,
) -> Figure:
    """Each candidate's error at a short budget against its error at a long one."""
    fig, (ax,) = new_figure()
    set_title(ax, title)
    xs, ys = np.asarray(short, dtype=float), np.asarray(long, dtype=float)
    _pad_limits(ax, xs, ys, ys, logx=False)
    ax.scatter(xs, ys, color=COLORS[0], s=30, zorder=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    labels, _ = short_labels(names)
    place_labels(ax, xs, ys, labels)
    return fig

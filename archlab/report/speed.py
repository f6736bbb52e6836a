"""A study matched on measured time in the report: its arms' times, and error against each cost.

Rendering only: the measured times come with the study's stored arms (``speed``, written by
:mod:`archlab.search.speed_arms`); nothing is measured here. Deterministic text (fixed formats).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from archlab.report import plots
from archlab.stats.study import mean_ci

TIMED = ("speed", "latency")
_WHAT = {"speed": "train-step time per image", "latency": "inference latency per batch"}


def keys(match: str) -> tuple[str, str]:
    """The stored median and interval keys of a match quantity."""
    if match == "speed":
        return "step_ms_per_image", "step_ms_ci"
    return "latency_ms", "latency_ms_ci"


def header(d: dict[str, Any]) -> str:
    """What the arms are matched on, where, and the target, in words."""
    base = d.get("baseline_speed") or {}
    where = f" on {base['device']} at batch {base['batch']}" if base else ""
    return f"matched on measured {_WHAT[d['match']]}{where}, target {d['target']:.4g} ms"


def time_cells(arm: dict[str, Any], match: str) -> str:
    """``| median | [low, high] |`` of one arm (— when it was not measured)."""
    median, ci = keys(match)
    s = arm.get("speed")
    if not s:
        return " — | — |"
    return f" {s[median]:.4g} | [{s[ci][0]:.4g}, {s[ci][1]:.4g}] |"


def speed_figure(d: dict[str, Any], name: str, stem: Path) -> Path:
    """Mean validation error (95% interval) against MACs and against measured time; the PNG."""
    fig, (by_macs, by_time) = plots.new_figure(2)
    median, ci = keys(d["match"])
    for arm in d["arms"]:
        errors, s = arm["val_errors"], arm.get("speed")
        if not errors or not s:
            continue
        m, lo, hi = mean_ci(errors)
        yerr = None if math.isnan(lo) else [[m - lo], [hi - m]]
        color = "C0" if arm["matched"] else "0.5"
        xerr = [[s[median] - s[ci][0]], [s[ci][1] - s[median]]]
        by_macs.errorbar([arm["macs"]], [m], yerr=yerr, fmt="o", color=color, capsize=3)
        by_time.errorbar([s[median]], [m], yerr=yerr, xerr=xerr, fmt="o", color=color, capsize=3)
        for ax, x in ((by_macs, arm["macs"]), (by_time, s[median])):
            ax.annotate(arm["label"], (x, m), textcoords="offset points", xytext=(5, 4),
                        fontsize=8)  # fmt: skip
    by_macs.set_xlabel("MACs (analytic)")
    by_time.set_xlabel(f"measured {_WHAT[d['match']]} (ms)")
    for ax in (by_macs, by_time):
        ax.set_ylabel("validation error (%)")
    plots.set_title(by_macs, f"{name}: error against MACs")
    plots.set_title(by_time, "error against measured time")
    return plots.save(fig, stem)[0]

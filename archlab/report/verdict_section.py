"""The report's **Verdict** section: each stored study's question, arms, pairs and a figure.

Rebuilt from the store alone (:func:`archlab.stats.study.evaluate_study`); deterministic
text (fixed formats, arms in study order) so the report can be golden-tested.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from archlab.report import plots, speed
from archlab.stats.study import StudyOutcome, evaluate_study, mean_ci
from archlab.store import Store
from archlab.store.study import load_study, study_names

FIGURES = "figures"


def _num(value: float | None, fmt: str = ".2f") -> str:
    return (
        "—"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else format(value, fmt)
    )


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "study"


def study_figure(outcome: StudyOutcome, stem: Path) -> Path:
    """Every arm's per-seed validation errors, its mean and 95% interval; returns the PNG."""
    fig, (ax,) = plots.new_figure()
    d = outcome.to_dict()
    seen: list[float] = []
    for i, arm in enumerate(d["arms"]):
        x = arm["val_errors"]
        if not x:
            continue
        jitter = np.linspace(-0.12, 0.12, len(x)) if len(x) > 1 else np.zeros(1)
        color = "C0" if arm["matched"] else "0.5"
        ax.scatter(i + jitter, x, s=14, color=color, alpha=0.6, zorder=2)
        seen += x
        m, lo, hi = mean_ci(x)  # clipped to [0, 100]: an error rate cannot leave it
        if not math.isnan(lo):
            ax.errorbar([i + 0.3], [m], yerr=[[m - lo], [hi - m]], fmt="o", color="k", capsize=3)
        else:
            ax.plot([i + 0.3], [m], "o", color="k")
    ax.set_xticks(range(len(d["arms"])), [a["label"] for a in d["arms"]])
    if seen:
        ax.set_ylim(*data_limits(seen))
    ax.set_ylabel("validation error (%)")
    ax.set_title(f"{outcome.name}: per-seed errors, mean and 95% interval")
    return plots.save(fig, stem)[0]


def data_limits(values: list[float]) -> tuple[float, float]:
    """The y range the per-seed errors span, padded, inside [0, 100]: the data set the axis."""
    lo, hi = min(values), max(values)
    pad = max(0.1 * (hi - lo), 0.5)
    return max(0.0, lo - pad), min(100.0, hi + pad)


def _interval(low: float | None, high: float | None) -> str:
    """A difference's interval, clipped to [-100, 100] points (two error rates differ by no more).

    A bound is None when the look could not bound it (no alpha spent yet at that look, or fewer
    than two seeds): the interval is then shown as — rather than as the whole range.
    """
    if low is None or high is None:
        return "—"
    return f"[{_num(min(100.0, max(-100.0, low)))}, {_num(min(100.0, max(-100.0, high)))}]"


def compute_sentence(d: dict[str, Any]) -> str:
    """What the study trained beside what the fixed design would: the rule's saving."""
    c = d["compute"]
    share = f" ({c['runs'] / c['fixed_design_runs']:.0%})" if c["fixed_design_runs"] else ""
    return (
        f"Compute: {c['runs']} runs of the tested arms, of the {c['fixed_design_runs']} a fixed "
        f"design of {d['max_seeds']} seeds per arm trains{share}."
    )


def _seeds(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def study_lines(outcome: StudyOutcome, out_dir: Path) -> list[str]:
    """The markdown of one study."""
    d = outcome.to_dict()
    timed = d["match"] in speed.TIMED
    unit = "params" if d["match"] == "params" else "MACs"
    matched = speed.header(d) if timed else f"matched on {unit}, target {d['target']:,.0f}"
    time_cols = "| ms/image | 95% interval " if d["match"] == "speed" else "| ms | 95% interval "
    rule = d["settings"]
    lines = [
        f"**{d['question']}** (study `{outcome.name}`, {matched}; alpha {d['alpha']:g}, "
        f"rope {d['rope']:g} points; seeds "
        f"{d['seeds']} to {d['max_seeds']}; status: {d['status'] or 'running'})",
        "",
        f"Test: {rule['test']}. Pairing: {rule['pairing']}; validation split: "
        f"{rule['split']}. Sequential looks: alpha spent by an O'Brien-Fleming-type "
        f"function; futility: a pair whose chance to settle by "
        f"{d['max_seeds']} seeds falls below {rule['futility']:.0%} stops, undecided. "
        f"{compute_sentence(d)}",
        "",
        "| arm | C | d | depth | "
        + unit
        + " "
        + (time_cols if timed else "")
        + "| match err % | seeds | val error % | test error % | P(best) |",
        "|---|---:|---:|---:|---:|" + ("---:|---|" if timed else "") + "---:|---:|---:|---:|---:|",
    ]
    for a in d["arms"]:
        label = a["label"] + ("" if a["matched"] else " (reference, not tested)")
        std = f" ± {a['val_error_std']:.2f}" if a["val_error_std"] is not None else ""
        lines.append(
            f"| {label} | {a['cardinality']} | {a['bottleneck_width']} | {a['depth']} | "
            f"{a['value']:,} |{speed.time_cells(a, d['match']) if timed else ''} "
            f"{100 * a['relative_error']:+.1f} | {a['seeds']} | "
            f"{_num(a['val_error_mean'])}{std} | {_num(a['test_error_mean'])} | "
            f"{_num(a['prob_best'])} |"
        )
    lines += [
        "",
        "| A | B | A − B (points) | interval | p (adjusted) | verdict | decided at | seeds needed: "
        "winner / equivalent | corr |",
        "|---|---|---:|---|---:|---|---:|---:|---:|",
    ]
    for p in d["pairs"]:
        at = (
            "—"
            if p["decided_at"] is None
            else f"{p['decided_at']}" + (" (futile)" if p["futile"] else "")
        )
        need = (
            f"{_seeds(p['seeds_to_win'])} / {_seeds(p['seeds_to_equivalence'])}"
            if p["verdict"] == "undecided"
            else ""
        )
        lines.append(
            f"| {p['a']} | {p['b']} | {p['diff']:+.2f} | {_interval(p['ci_low'], p['ci_high'])} | "
            f"{_num(p['p_adj'], '.3g')} | "
            f"{p['verdict']} | {at} | {need} | {_num(p['correlation'])} |"
        )
    best = d["best"]["arm"]
    lines += [
        "",
        f"Best: **{best}**." if best else "Best: none decided.",
        "Verdicts use the last epoch's validation error; the test error is shown, never used. "
        "P(best) is the probability that the arm's true mean error is the lowest of the tested "
        "arms: each arm's mean drawn from its Student-t posterior (its seeds' mean and spread, "
        "n − 1 degrees of freedom, the spread floored at one validation image), the share of "
        "draws it wins; calibrated in simulation (docs/statistics.md), and blank (—) with fewer "
        "than two seeds. Interval: the difference's simultaneous interval at the look that "
        "decided or stopped the pair, clipped to [−100, 100] points; — when that look could "
        "not bound it (it spent no alpha, as the first look does under O'Brien–Fleming "
        "spending, or an arm held fewer than two seeds). Seeds needed, for an undecided pair: "
        "seeds per arm at which a fixed "
        "design settles it with 80% probability at the observed spread, as a winner (if the "
        "difference is the larger of the observed one and the rope) or as equivalent (if there "
        "is none); — when more than 10,000 or when it cannot settle that way. corr: the "
        "measured correlation between the two arms' errors over their common seeds (paired "
        "seeds share data order; — below three seeds or when an arm does not vary).",
    ]
    if any(d["arms"][i]["val_errors"] for i in range(len(d["arms"]))):
        png = study_figure(outcome, out_dir / FIGURES / f"verdict-{_slug(outcome.name)}")
        lines += ["", f"![per-seed errors of {outcome.name}]({FIGURES}/{png.name})"]
        if timed:
            stem = out_dir / FIGURES / f"verdict-{_slug(outcome.name)}-speed"
            png = speed.speed_figure(d, outcome.name, stem)
            lines += ["", f"![error against MACs and measured time]({FIGURES}/{png.name})"]
    return lines


def verdict_section(store_path: str | Path, out_dir: Path) -> list[str]:
    """The Verdict section for every study in the store; empty when it holds none."""
    with Store(store_path, create=False, read_only=True) as store:
        names = study_names(store)
        outcomes = []
        for name in names:
            record = load_study(store, name)
            assert record is not None
            outcomes.append(evaluate_study(store, record))
    if not outcomes:
        return []
    lines = ["## Verdict"]
    for outcome in outcomes:
        lines += ["", *study_lines(outcome, out_dir)]
    return lines


def with_verdict(text: str, store_path: str | Path, out_dir: Path) -> str:
    """The report's text with the Verdict section placed before its first section."""
    section = verdict_section(store_path, out_dir)
    if not section:
        return text
    head, sep, rest = text.partition("\n## ")
    block = "\n".join(section)
    return f"{head.rstrip()}\n\n{block}\n" + (f"\n## {rest}" if sep else "")

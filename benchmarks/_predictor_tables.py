"""The tables and verdict lines of bench_speed_predictors.py's section: rho per predictor, the
goal judged for each roofline, the measured ceilings, the ridge and the per-model numbers."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import spearmanr

from archlab.measure.ceilings import CeilingShape
from archlab.measure.predict import Ceilings
from archlab.space import NetSpec

ONE_ROOF, CEILINGS = "roofline (one roof)", "roofline (measured ceilings)"
PREDICTORS = ("MACs", "step MACs", "params", "activations", "bytes moved", ONE_ROOF, CEILINGS)
GOAL = "the roofline prediction ranks speed better than MACs do"


@dataclass(frozen=True)
class Model:
    """One model of the comparison: its family, label and spec (input size set)."""

    group: str  # "CIFAR" or "ImageNet"
    label: str
    spec: NetSpec
    mac_error: float | None = None  # MACs / the C = 1 baseline's MACs - 1


@dataclass(frozen=True)
class Row:
    """One model's predictors and its measured step time per image."""

    model: Model
    values: dict[str, float]  # by PREDICTORS
    measured_ms: list[float]  # per image, one per timed round
    memory_bound: tuple[int, int] = (0, 0)  # layers below the ridge, of all conv and fc layers
    memory_bound_ceilings: int = 0  # layers memory-bound under their own ceilings

    @property
    def median_ms(self) -> float:
        """Median measured train-step milliseconds per image."""
        return statistics.median(self.measured_ms)


def rho(rows: Sequence[Row], key: str) -> tuple[float, float] | None:
    """Spearman rho (and its p) of predictor ``key`` against the median time; None below n = 3."""
    if len(rows) < 3:
        return None
    x, y = [r.values[key] for r in rows], [r.median_ms for r in rows]
    if len(set(x)) == 1 or len(set(y)) == 1:
        return math.nan, math.nan  # a constant ranks nothing (spearmanr warns and says nan)
    result = spearmanr(x, y)
    return float(result.statistic), float(result.pvalue)


def _cell(value: tuple[float, float] | None) -> str:
    if value is None:
        return "-"
    return "equal in all" if math.isnan(value[0]) else f"{value[0]:+.2f} (p {value[1]:.2g})"


def rho_table(groups: dict[str, list[Row]]) -> list[str]:
    """Rho per predictor (rows) and group (columns), with n."""
    head = " | ".join(f"{g} (n = {len(rows)})" for g, rows in groups.items())
    lines = [f"| predictor | {head} |", "|---|" + "---:|" * len(groups)]
    for key in PREDICTORS:
        cells = " | ".join(_cell(rho(rows, key)) for rows in groups.values())
        lines.append(f"| {key} | {cells} |")
    return lines


def model_table(rows: Sequence[Row]) -> list[str]:
    """Per-model numbers: the predictors, the prediction and the measured time."""
    lines = [
        "| model | family | MACs | step MACs | params | acts | bytes/img | MAC error "
        "| predicted ms/img: one roof | ceilings | measured ms/img | min-max "
        "| measured / predicted: one roof | ceilings |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        v, err = r.values, r.model.mac_error
        lines.append(
            f"| {r.model.label} | {r.model.group} | {v['MACs']:,.0f} | {v['step MACs']:,.0f} "
            f"| {v['params']:,.0f} | {v['activations']:,.0f} | {v['bytes moved']:,.0f} "
            f"| {'-' if err is None else f'{err:+.1%}'} | {v[ONE_ROOF]:.3f} | {v[CEILINGS]:.3f} "
            f"| {r.median_ms:.3f} | {min(r.measured_ms):.3f}-{max(r.measured_ms):.3f} "
            f"| {r.median_ms / v[ONE_ROOF]:.1f} | {r.median_ms / v[CEILINGS]:.1f} |"
        )
    return lines


def ceilings_table(shapes: Sequence[CeilingShape], ceilings: Ceilings, peak: float) -> list[str]:
    """Each measured ceiling: kind, group width, attained GMAC/s and its fraction of the peak."""
    lines = [
        "| kind | group width | groups | step MMACs | attained GMAC/s | fraction of peak |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for s, c in zip(shapes, ceilings.rows, strict=True):
        lines.append(f"| {c.kind} | {c.group_width} | {s.groups} | {s.step_macs / 1e6:,.1f} "
                     f"| {c.macs_per_s / 1e9:.2f} | {c.macs_per_s / peak:.3f} |")  # fmt: skip
    return lines


def goal_lines(groups: dict[str, list[Row]]) -> list[str]:
    """Whether each roofline's rho beats the MACs' in every family, said per family: the
    issue's (one roof), then the measured ceilings'."""
    lines = []
    for key, who in ((ONE_ROOF, "one roof (the issue's roofline prediction)"),
                     (CEILINGS, "measured ceilings")):  # fmt: skip
        verdicts = []
        for g, rows in groups.items():
            roof, macs = rho(rows, key), rho(rows, "MACs")
            if roof is None or macs is None:
                verdicts.append((g, None, "fewer than 3 models"))
                continue
            better = roof[0] > macs[0] or (math.isnan(macs[0]) and not math.isnan(roof[0]))
            verdicts.append((g, better, f"roofline {_cell(roof)} vs MACs {_cell(macs)}"))
        met = bool(verdicts) and all(b for _, b, _ in verdicts)
        said = "; ".join(f"{g}: {why}" for g, _, why in verdicts)
        lines.append(f"Goal, {who}: {GOAL} in each family: **{'met' if met else 'not met'}** "
                     f"({said}).")  # fmt: skip
    return lines


def pooled_note(groups: dict[str, list[Row]]) -> str:
    """What the pooled rho can and cannot say, from the measured numbers."""
    cifar, imagenet = groups.get("CIFAR", []), groups.get("ImageNet", [])
    note = (
        "Pooled mixes input sizes (32 and the ImageNet size) and heads (10 and 1,000 classes): "
        "per-image MACs, activations, bytes and the prediction account for both, params do not "
        "(a weight count does not grow with the input), so pooled params is no test."
    )
    if cifar and imagenet and max(r.median_ms for r in cifar) < min(r.median_ms for r in imagenet):
        note += (
            " Every CIFAR model trains faster than every ImageNet model here, so much of a "
            "pooled rho is the gap between the families; the per-family columns are the test."
        )
    return note


def ridge_line(rows: Sequence[Row], ridge: float) -> str:
    """How many layers the measured roof puts below its ridge (memory-bound)."""
    below = sum(r.memory_bound[0] for r in rows)
    total = sum(r.memory_bound[1] for r in rows)
    line = (
        f"Ridge: {ridge:.1f} MACs per byte; {below} of the {total} conv and fc layers of these "
        "models lie below it (memory-bound), the rest are predicted at the peak."
    )
    if below == 0:
        line += " So the prediction is MACs / peak, layer by layer, and ranks as the MACs do."
    ceiled = sum(r.memory_bound_ceilings for r in rows)
    return line + f" Under their own measured ceilings, {ceiled} of them are memory-bound."

"""A study's arms at equal measured speed: each MACs-matched arm re-solved on measured time.

``study --match speed`` (or ``latency``) asks the paper's question at equal time on this device
rather than equal MACs (docs/counting.md, "Measured speed"). The arms are first matched on MACs
(:func:`archlab.search.arms.preset_arms` with a loose tolerance, so that an arm MACs cannot place
still reaches the speed solver); then each matched arm's free integer (d, or the depth of a
*deeper* arm) is solved by :func:`archlab.search.speed_match.match_measured` so that its
measured time, timed side by side with the baseline, is ``complexity`` times the baseline's
within the tolerance (the median per-round ratio). A preset's default
cardinalities that no integer brings within the tolerance are left out with a note, as on MACs;
named ones are refused. A reference arm and the arms of a file are timed beside the baseline,
not solved.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from archlab.complexity import totals
from archlab.errors import ArchlabError, SolverError
from archlab.search.arms import Arm, ArmSet
from archlab.search.solver import Match
from archlab.search.speed_match import Meter, check_quantity, match_measured, narrow_enough
from archlab.space import NetSpec

if TYPE_CHECKING:
    from archlab.measure.speed_data import Comparison, Interval, SpeedMeasurement

LOOSE = 0.999  # the MACs tolerance of the first, analytic pass: the speed solver decides


def speed_arms(
    macs: ArmSet,
    baseline: NetSpec,
    meter: Meter,
    *,
    quantity: str,
    tolerance: float,
    strict: bool,
) -> ArmSet:
    """``macs``'s arms re-solved at equal measured ``quantity`` (module docstring)."""
    check_quantity(quantity)
    base: SpeedMeasurement | None = None  # the baseline of the first run, for the header
    arms: list[Arm] = []
    notes = list(macs.notes)
    for arm in macs.arms:
        if not arm.matched or arm.role == "custom":
            # A file's arm is judged against the tolerance: rounds added as a match adds them.
            enough = narrow_enough(quantity, macs.complexity, tolerance) if arm.matched else None
            cmp = meter.specs(baseline, [arm.spec], enough)
            base = base or cmp.baseline
            arms.append(_measured(arm, cmp, quantity, macs.complexity, tolerance))
            continue
        start = Match(arm.spec, baseline, "network", macs.complexity, arm.value,
                      totals(baseline)[0] * macs.complexity, arm.relative_error)  # fmt: skip
        free = "depth" if arm.role == "deeper" else "d"
        try:
            m = match_measured(start, free, meter, quantity=quantity, tolerance=tolerance,
                               complexity=macs.complexity)  # fmt: skip
        except SolverError as exc:
            if strict or arm.role != "cardinality":
                raise ArchlabError(f"arm {arm.label!r} cannot be matched: {exc}") from None
            notes.append(f"left out arm {arm.label!r}: {exc}")
            continue
        base = base or m.baseline_time
        arms.append(Arm(arm.label, arm.role, m.spec, totals(m.spec)[0], m.relative_error,
                        speed=_with_ratio(m.time.values(), m.ratio)))  # fmt: skip
    if sum(a.matched and a.role == "cardinality" for a in arms) == 0 and any(
        a.role == "cardinality" for a in macs.arms
    ):
        raise ArchlabError(f"no cardinality arm lies within {tolerance:.0%} of the target: "
                           + "; ".join(notes))  # fmt: skip
    assert base is not None  # an arm set has at least one arm
    target = base.quantity(quantity).median * macs.complexity
    return replace(macs, match=quantity, target=target, arms=tuple(arms), notes=tuple(notes),
                   baseline_speed=base.values())  # fmt: skip


def _with_ratio(values: dict[str, Any], ratio: Interval) -> dict[str, Any]:
    """An arm's measured values and its ratio to the baseline timed beside it."""
    return {**values, "ratio": ratio.median, "ratio_ci": [ratio.low, ratio.high]}


def _measured(arm: Arm, cmp: Comparison, quantity: str, factor: float, tolerance: float) -> Arm:
    """A reference arm (signed error, never refused) or a file's arm (refused beyond tolerance),
    judged by its ratio to the baseline timed beside it."""
    (m,) = cmp.candidates
    ratio = cmp.ratio(m, quantity)
    error = (ratio.median - factor) / factor
    if arm.matched:
        if abs(error) > tolerance:
            raise ArchlabError(
                f"arm {arm.label!r} measures {ratio.median:.3g}x the baseline, {abs(error):.1%} "
                f"off the target {factor:g}x (tolerance {tolerance:.0%})"
            )
        error = abs(error)
    values = _with_ratio(m.values(), ratio)
    return Arm(arm.label, arm.role, arm.spec, totals(arm.spec)[0], error, arm.matched, values)

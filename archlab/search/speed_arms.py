"""A study's arms at equal measured speed: each MACs-matched arm re-solved on measured time.

``study --match speed`` (or ``latency``) asks the paper's question at equal time on this device
rather than equal MACs (docs/counting.md, "Measured speed"). The arms are first matched on MACs
(:func:`archlab.search.arms.preset_arms` with a loose tolerance, so that an arm MACs cannot place
still reaches the speed solver); then each matched arm's free integer (d, or the depth of a
*deeper* arm) is solved by :func:`archlab.search.speed_match.match_measured` so that its measured
time lies within the tolerance of ``complexity`` times the baseline's. A preset's default
cardinalities that no integer brings within the tolerance are left out with a note, as on MACs;
named ones are refused. A reference arm and the arms of a file are measured, not solved.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from archlab.complexity import totals
from archlab.errors import ArchlabError, SolverError
from archlab.search.arms import Arm, ArmSet
from archlab.search.solver import Match
from archlab.search.speed_match import Meter, check_quantity, match_measured
from archlab.space import NetSpec

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
    base = meter.spec(baseline)
    target = base.quantity(quantity).median * macs.complexity
    base_macs = totals(baseline)[0]
    arms: list[Arm] = []
    notes = list(macs.notes)
    for arm in macs.arms:
        if not arm.matched or arm.role == "custom":
            arms.append(_measured(arm, meter, quantity, target, tolerance))
            continue
        start = Match(arm.spec, baseline, "network", macs.complexity, arm.value,
                      base_macs * macs.complexity, arm.relative_error)  # fmt: skip
        free = "depth" if arm.role == "deeper" else "d"
        try:
            m = match_measured(start, free, meter, quantity=quantity, tolerance=tolerance,
                               target_ms=target)  # fmt: skip
        except SolverError as exc:
            if strict or arm.role != "cardinality":
                raise ArchlabError(f"arm {arm.label!r} cannot be matched: {exc}") from None
            notes.append(f"left out arm {arm.label!r}: {exc}")
            continue
        arms.append(Arm(arm.label, arm.role, m.spec, totals(m.spec)[0], m.relative_error,
                        speed=m.time.values()))  # fmt: skip
    if sum(a.matched and a.role == "cardinality" for a in arms) == 0 and any(
        a.role == "cardinality" for a in macs.arms
    ):
        raise ArchlabError(f"no cardinality arm lies within {tolerance:.0%} of the target: "
                           + "; ".join(notes))  # fmt: skip
    return replace(macs, match=quantity, target=target, arms=tuple(arms), notes=tuple(notes),
                   baseline_speed=base.values())  # fmt: skip


def _measured(arm: Arm, meter: Meter, quantity: str, target: float, tolerance: float) -> Arm:
    """A reference arm (signed error, never refused) or a file's arm (refused beyond tolerance)."""
    m = meter.spec(arm.spec)
    t = m.quantity(quantity).median
    error = (t - target) / target
    if arm.matched:
        if abs(error) > tolerance:
            raise ArchlabError(
                f"arm {arm.label!r} measures {t:.4g} ms, {abs(error):.1%} off the target "
                f"{target:.4g} ms (tolerance {tolerance:.0%})"
            )
        error = abs(error)
    values: dict[str, Any] = m.values()
    return Arm(arm.label, arm.role, arm.spec, totals(arm.spec)[0], error, arm.matched, values)

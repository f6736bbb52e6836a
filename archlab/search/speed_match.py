"""Matching on measured speed: the d (or C, or depth) whose measured time equals the baseline's.

FLOPs are not speed: a grouped 3x3 convolution runs far below a dense one's MAC rate, so a
MACs-matched ResNeXt is slower than its baseline (docs/counting.md, "Measured speed"). Here the
free integer x is solved so that the candidate's measured time (``speed``: train-step time per
image; ``latency``: inference at the batch) lies within a tolerance of ``complexity`` times the
baseline's measured median. The search starts from the analytic MACs match and models time as a
line in analytic MACs through the measured points (a secant; one point: time proportional to
MACs), so it measures a handful of candidates: the prediction, then integers inside the
bracket it narrows (:func:`solve_measured`). Time grows with x (more d, C or blocks never runs
faster, up to noise); the closest measured x is the answer, refused when beyond the tolerance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from archlab.complexity import template_block_params, totals
from archlab.errors import ArchlabError, SolverError
from archlab.search.solver import Match, closest_integer, depth_blocks
from archlab.space import NetSpec, make_spec

if TYPE_CHECKING:
    from archlab.measure.speed_data import Interval, SpeedMeasurement

QUANTITIES: dict[str, str] = {
    "speed": "train-step time per image",
    "latency": "inference latency at the batch",
}
FREE = ("d", "C", "depth")
MAX_MEASURED = 8  # candidates measured at most per solve, the baseline not counted


def check_quantity(quantity: str) -> str:
    """``speed`` or ``latency``; anything else is refused naming both."""
    if quantity not in QUANTITIES:
        raise ArchlabError(f"match must be one of {', '.join(QUANTITIES)}, got {quantity!r}")
    return quantity


def family(spec: NetSpec, free: str) -> Callable[[int], NetSpec]:
    """The specs that differ from ``spec`` only in the free integer: d, C or the depth step."""
    kw: dict[str, Any] = {
        "width_multiplier": spec.width_multiplier,
        "num_classes": spec.num_classes,
        "input_size": spec.input_size,
    }
    c, d, t = spec.cardinality, spec.bottleneck_width, spec.template
    if free == "d":
        return lambda x: make_spec(t, 0, c, x, blocks=spec.blocks, **kw)
    if free == "C":
        return lambda x: make_spec(t, 0, x, d, blocks=spec.blocks, **kw)
    if free == "depth":
        return lambda x: make_spec(t, 0, c, d, blocks=depth_blocks(t, x), **kw)
    raise ArchlabError(f"free must be one of {', '.join(FREE)}, got {free!r}")


def solve_measured(
    time_of: Callable[[int], float],
    macs_of: Callable[[int], int],
    x0: int,
    target: float,
    tolerance: float,
    max_measured: int = MAX_MEASURED,
) -> dict[int, float]:
    """Measured times by x, from ``x0`` until one lies within ``tolerance`` of ``target``, two
    neighbours bracket it, x = 1 is already too slow, or ``max_measured`` were measured."""
    times: dict[int, float] = {}
    x = max(1, x0)
    while True:
        times[x] = time_of(x)
        if abs(times[x] - target) / target <= tolerance or len(times) >= max_measured:
            return times
        lo = max((k for k, t in times.items() if t < target), default=None)
        hi = min((k for k, t in times.items() if t > target), default=None)
        if hi == 1 or (lo is not None and hi is not None and hi - lo <= 1):
            return times
        nxt = _predict(times, macs_of, target)
        if lo is not None:
            nxt = max(nxt, lo + 1)
        if hi is not None:
            nxt = min(nxt, hi - 1)
        if nxt in times:  # the line points at a measured x: step past it toward the target
            nxt = nxt + 1 if times[nxt] < target else nxt - 1
        if nxt < 1 or nxt in times or (lo is not None and hi is not None and lo > hi):
            return times  # nowhere new to go (or noise broke the order): keep the closest
        x = nxt


def _predict(times: dict[int, float], macs_of: Callable[[int], int], target: float) -> int:
    """The x whose analytic MACs a line through the two measured points nearest the target
    (one point: time proportional to MACs) puts at the target time."""
    near = sorted(times, key=lambda k: abs(times[k] - target))[:2]
    m1, t1 = macs_of(near[0]), times[near[0]]
    slope = t1 / m1
    if len(near) == 2:
        m2, t2 = macs_of(near[1]), times[near[1]]
        if m2 != m1 and (t2 - t1) / (m2 - m1) > 0:
            slope = (t2 - t1) / (m2 - m1)
    want = m1 + (target - t1) / slope
    if want <= macs_of(1):
        return 1
    x, _, _ = closest_integer(macs_of, want, "value")
    return x


@dataclass(frozen=True)
class SpeedMatch:
    """A candidate matched on measured time, its baseline's time and what the search measured."""

    analytic: Match  # the MACs match the search started from
    spec: NetSpec
    quantity: str  # speed or latency
    baseline_time: SpeedMeasurement
    time: SpeedMeasurement
    target_ms: float
    relative_error: float  # |candidate - target| / target of the medians, a fraction
    tried: tuple[tuple[str, float], ...]  # (name, median ms) of each candidate measured
    measured: int  # measurements taken now (the baseline's included)
    reused: int  # measurements read back from the store
    tolerance: float

    def interval(self, m: SpeedMeasurement) -> Interval:
        """The matched quantity's interval of one measurement."""
        return m.quantity(self.quantity)

    def warnings(self) -> tuple[str, ...]:
        """A line when either interval is wider than the tolerance: the match is within noise."""
        wide = max(
            self.interval(self.baseline_time).half_width, self.interval(self.time).half_width
        )
        if wide <= self.tolerance:
            return ()
        return (
            f"the measured intervals reach ±{wide:.1%} of their medians, wider than the "
            f"tolerance {self.tolerance:.0%}: the match is within measurement noise (more "
            "--repeats or a quieter machine narrow them)",
        )

    def note(self) -> str:
        """How many candidates the search measured, and how many were reused from the store."""
        return (
            f"matched on measured {QUANTITIES[self.quantity]}: {len(self.tried)} candidate(s) "
            f"tried, {self.measured} measurement(s) taken, {self.reused} reused from the store"
        )

    def to_dict(self) -> dict[str, Any]:
        """``match-flops --json`` with ``match`` and ``baseline`` measured and the time error."""
        data = self.analytic.to_dict() | _spec_keys(self.spec)
        macs, base_macs = totals(self.spec)[0], totals(self.analytic.baseline)[0]
        return {
            **data,
            "matched_on": self.quantity,
            "value": self.interval(self.time).median,
            "target": self.target_ms,
            "relative_error": self.relative_error,
            "macs_relative_error": abs(macs - base_macs * self.analytic.complexity_factor)
            / (base_macs * self.analytic.complexity_factor),
            "analytic_name": self.analytic.spec.name,
            "baseline": {**self.baseline_time.values(), "macs": base_macs},
            "match": {**self.time.values(), "macs": macs},
            "tried": [{"name": n, "ms": t} for n, t in self.tried],
            "measured": self.measured,
            "reused": self.reused,
            "tolerance": self.tolerance,
        }


def _spec_keys(spec: NetSpec) -> dict[str, Any]:
    net = totals(spec)
    return {"name": spec.name, "depth": spec.depth, "blocks": list(spec.blocks),
            "cardinality": spec.cardinality, "bottleneck_width": spec.bottleneck_width,
            "group_width": spec.group_width, "spec": spec.to_dict(),
            "block_params": template_block_params(spec),
            "network": {"macs": net[0], "params": net[1], "acts": net[2]}}  # fmt: skip


class Meter(Protocol):
    """What the solver measures with: :class:`~archlab.measure.speed_data.SpeedMeter`'s shape."""

    measured: int
    reused: int

    def spec(self, spec: NetSpec, input_size: int | None = None) -> SpeedMeasurement:
        """The measurement of one spec."""
        ...


def match_measured(
    analytic: Match,
    free: str,
    meter: Meter,
    *,
    quantity: str = "speed",
    tolerance: float = 0.05,
    target_ms: float | None = None,
) -> SpeedMatch:
    """Solve ``free`` (d, C or depth) of the analytic match on measured time (module docstring).

    ``meter`` times one spec (a :class:`~archlab.measure.speed_data.SpeedMeter`);
    ``target_ms`` defaults to ``complexity`` times the baseline's measured median. No integer
    within the tolerance: a :class:`SolverError` naming the closest and how many were measured.
    """
    check_quantity(quantity)
    start = (meter.measured, meter.reused)
    build = family(analytic.spec, free)
    base = meter.spec(analytic.baseline)
    if target_ms is None:
        target_ms = base.quantity(quantity).median * analytic.complexity_factor
    found: dict[int, SpeedMeasurement] = {}

    def time_of(x: int) -> float:
        found[x] = meter.spec(build(x))
        return found[x].quantity(quantity).median

    def macs_of(x: int) -> int:
        return totals(build(x))[0]

    x0, _, _ = closest_integer(macs_of, totals(analytic.spec)[0], free)
    times = solve_measured(time_of, macs_of, x0, target_ms, tolerance)
    best = min(times, key=lambda k: (abs(times[k] - target_ms) / target_ms, k))
    error = abs(times[best] - target_ms) / target_ms
    measured, reused = meter.measured - start[0], meter.reused - start[1]
    if error > tolerance:
        shown = build(best).depth if free == "depth" else best
        raise SolverError(
            f"no integer {free} brings {analytic.spec.name} within {tolerance:.0%} of the "
            f"target {QUANTITIES[quantity]} {target_ms:.4g} ms: the closest, {free}={shown} "
            f"({build(best).name}), measures {times[best]:.4g} ms, {error:.1%} off "
            f"({len(times)} candidate(s) measured)"
        )
    tried = tuple((build(x).name, t) for x, t in times.items())
    return SpeedMatch(analytic, build(best), quantity, base, found[best], target_ms, error, tried,
                      measured, reused, tolerance)  # fmt: skip

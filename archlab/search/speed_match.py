"""Matching on measured speed: the d (or C, or depth) whose measured time equals the baseline's.

FLOPs are not speed: a grouped 3x3 convolution runs far below a dense one's MAC rate, so a
MACs-matched ResNeXt is slower than its baseline (docs/counting.md, "Measured speed"). Here the
free integer x is solved so that the candidate's measured time (``speed``: train-step time per
image; ``latency``: inference at the batch) is ``complexity`` times the baseline's within a
tolerance. A shared machine drifts, so times are only compared side by side: each run times the
baseline together with the candidates (round-robin, :mod:`archlab.measure._rounds`) and a
candidate is judged by its median per-round ratio to that baseline. The search times the
analytic MACs match and its two neighbours with the baseline; when all three lie on one side of
the target it times three more beyond them, where a line in analytic MACs through the nearest
ratios puts the target (:func:`solve_side_by_side`): at most six candidates in two runs. A run
adds rounds while a candidate that could decide the match has a ratio interval wider than the
tolerance (:func:`narrow_enough`), up to a cap. Time grows with x (more d, C or blocks never runs
faster, up to noise); the closest timed x is the answer, refused when beyond the tolerance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from archlab.complexity import template_block_params, totals
from archlab.errors import ArchlabError, SolverError
from archlab.search.solver import Match, closest_integer, depth_blocks
from archlab.space import NetSpec, make_spec

if TYPE_CHECKING:
    from archlab.measure.speed_data import Comparison, Enough, Interval, SpeedMeasurement

QUANTITIES: dict[str, str] = {
    "speed": "train-step time per image",
    "latency": "inference latency at the batch",
}
FREE = ("d", "C", "depth")
SPAN = 3  # candidates timed with the baseline in one run: the prediction and its neighbours
RUNS = 2  # the first run and one widened beyond it: at most SPAN * RUNS candidates


def check_quantity(quantity: str) -> str:
    """``speed`` or ``latency``; anything else is refused naming both."""
    if quantity not in QUANTITIES:
        raise ArchlabError(f"match must be one of {', '.join(QUANTITIES)}, got {quantity!r}")
    return quantity


def narrow_enough(quantity: str, target: float, tolerance: float) -> Enough:
    """Whether a run's ratios are narrow enough to stop adding rounds: every candidate that could
    decide the match, the one closest to ``target`` and any whose interval reaches the band
    ``target`` x (1 +- ``tolerance``), has a ratio interval within the tolerance (half-width
    relative to its median, as the warning measures it)."""
    low, high = target * (1 - tolerance), target * (1 + tolerance)

    def enough(cmp: Comparison) -> bool:
        ratios = [cmp.ratio(m, quantity) for m in cmp.candidates]
        if not ratios:
            return True
        closest = min(ratios, key=lambda r: abs(r.median - target))
        deciding = [r for r in ratios if r is closest or (r.low <= high and r.high >= low)]
        return all(r.half_width <= tolerance for r in deciding)

    return enough


def rounds_note(rounds: Sequence[int]) -> str:
    """The rounds of the runs timed, for a note: `` (7 + 11 rounds)``, empty when none."""
    if not rounds:
        return ""
    if len(rounds) <= 4:
        return f" ({' + '.join(map(str, rounds))} rounds)"
    return f" ({sum(rounds)} rounds, {min(rounds)} to {max(rounds)} per run)"


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


def solve_side_by_side(
    ratios_of: Callable[[list[int]], dict[int, float]],
    macs_of: Callable[[int], int],
    x0: int,
    target: float,
    tolerance: float,
) -> dict[int, float]:
    """Median ratios to the baseline by x: one run of x0 - 1, x0, x0 + 1 with the baseline;
    when none lies within ``tolerance`` of ``target`` and all lie on one side of it, one more
    run of three beyond them, centred where a line in MACs through the nearest ratios puts the
    target. At most ``2 * SPAN`` candidates, in at most ``RUNS`` runs."""
    ratios = ratios_of(_span(x0))
    if _settled(ratios, target, tolerance):
        return ratios
    guess = _predict(ratios, macs_of, target)
    if all(r > target for r in ratios.values()):  # every one too slow: a smaller x
        low = min(ratios)
        centre = min(guess, low - 2)
        xs = [x for x in _span(centre) if x < low]
    else:  # every one too fast: a larger x
        centre = max(guess, max(ratios) + 2)
        xs = _span(centre)
    if xs:
        ratios |= ratios_of(xs)
    return ratios


def _span(x: int) -> list[int]:
    """The prediction and its neighbours, x >= 1."""
    return [k for k in range(x - SPAN // 2, x + SPAN // 2 + 1) if k >= 1]


def _settled(ratios: dict[int, float], target: float, tolerance: float) -> bool:
    """One ratio within the tolerance, or the target between two measured ones."""
    if any(abs(r - target) / target <= tolerance for r in ratios.values()):
        return True
    return any(r < target for r in ratios.values()) and any(r > target for r in ratios.values())


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
    """A candidate matched on measured time side by side with its baseline, and the search."""

    analytic: Match  # the MACs match the search started from
    spec: NetSpec
    quantity: str  # speed or latency
    baseline_time: SpeedMeasurement  # timed in the same run as ``time``
    time: SpeedMeasurement
    ratios: dict[str, Interval]  # speed and latency: candidate / baseline per round, medians
    complexity: float  # the target ratio
    relative_error: float  # |median ratio - complexity| / complexity, a fraction
    tried: tuple[tuple[str, float, float, str, int], ...]  # (name, ratio, ms, session, rounds)
    measured: int  # measurements taken now (the baseline's included, once per run)
    reused: int  # measurements read back from the store
    runs: int  # round-robin runs timed now
    tolerance: float
    run_rounds: tuple[int, ...] = ()  # the rounds each run timed now took

    @property
    def rounds(self) -> int:
        """The rounds of the run the match was judged in (timed now or read back)."""
        return 0 if self.time.samples is None else len(self.time.samples[0])

    @property
    def ratio(self) -> Interval:
        """The matched quantity's ratio to the baseline."""
        return self.ratios[self.quantity]

    @property
    def target_ms(self) -> float:
        """``complexity`` times the baseline's median, timed in the same run."""
        return self.baseline_time.quantity(self.quantity).median * self.complexity

    def warnings(self) -> tuple[str, ...]:
        """A line when the ratio's interval is wider than the tolerance: within noise."""
        wide = self.ratio.half_width
        if wide <= self.tolerance:
            return ()
        return (
            f"the ratio's interval reaches ±{wide:.1%} of its median, wider than the "
            f"tolerance {self.tolerance:.0%}: the match is within measurement noise (more "
            "--repeats or a quieter machine narrow it)",
        )

    def note(self) -> str:
        """How many candidates were timed side by side, in how many runs, and what was reused."""
        return (
            f"matched on measured {QUANTITIES[self.quantity]}, side by side with the baseline: "
            f"{len(self.tried)} candidate(s) tried, {self.runs} run(s) timed"
            f"{rounds_note(self.run_rounds)}, {self.measured} measurement(s) taken, "
            f"{self.reused} reused from the store; the match judged on {self.rounds} rounds"
        )

    def to_dict(self) -> dict[str, Any]:
        """``match-flops --json`` with ``match`` and ``baseline`` measured and the ratio error."""
        data = self.analytic.to_dict() | _spec_keys(self.spec)
        macs, base_macs = totals(self.spec)[0], totals(self.analytic.baseline)[0]
        step, latency = self.ratios["speed"], self.ratios["latency"]
        return {
            **data,
            "matched_on": self.quantity,
            "value": self.time.quantity(self.quantity).median,
            "target": self.target_ms,
            "target_ratio": self.complexity,
            "relative_error": self.relative_error,
            "ratio": self.ratio.median,
            "ratio_ci": [self.ratio.low, self.ratio.high],
            "step_ratio": step.median,
            "step_ratio_ci": [step.low, step.high],
            "latency_ratio": latency.median,
            "latency_ratio_ci": [latency.low, latency.high],
            "session": self.time.session,
            "macs_relative_error": abs(macs - base_macs * self.analytic.complexity_factor)
            / (base_macs * self.analytic.complexity_factor),
            "analytic_name": self.analytic.spec.name,
            "baseline": {**self.baseline_time.values(), "macs": base_macs},
            "match": {**self.time.values(), "macs": macs},
            "tried": [
                {"name": n, "ratio": r, "ms": t, "session": s, "rounds": k}
                for n, r, t, s, k in self.tried
            ],
            "measured": self.measured,
            "reused": self.reused,
            "runs": self.runs,
            "rounds": self.rounds,
            "run_rounds": list(self.run_rounds),
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
    sessions: int
    run_rounds: list[int]

    def specs(
        self, baseline: NetSpec, candidates: Sequence[NetSpec], enough: Enough | None = None
    ) -> Comparison:
        """The baseline and the candidates timed side by side in one run, rounds added while
        ``enough`` says no."""
        ...


def match_measured(
    analytic: Match,
    free: str,
    meter: Meter,
    *,
    quantity: str = "speed",
    tolerance: float = 0.05,
    complexity: float | None = None,
) -> SpeedMatch:
    """Solve ``free`` (d, C or depth) of the analytic match on measured time (module docstring).

    Each run times the baseline with the candidates it is compared with (``meter.specs``),
    adding rounds while :func:`narrow_enough` says no; a candidate's error is its median
    per-round ratio to that baseline against ``complexity`` (default: the analytic match's). No
    integer within the tolerance: a :class:`SolverError` naming the closest and how many were
    timed.
    """
    check_quantity(quantity)
    factor = analytic.complexity_factor if complexity is None else complexity
    start = (meter.measured, meter.reused, meter.sessions, len(meter.run_rounds))
    enough = narrow_enough(quantity, factor, tolerance)
    build = family(analytic.spec, free)
    runs: dict[int, tuple[Comparison, SpeedMeasurement]] = {}

    def ratios_of(xs: list[int]) -> dict[int, float]:
        cmp = meter.specs(analytic.baseline, [build(x) for x in xs], enough)
        for x, m in zip(xs, cmp.candidates, strict=True):
            runs[x] = (cmp, m)
        return {x: cmp.ratio(runs[x][1], quantity).median for x in xs}

    def macs_of(x: int) -> int:
        return totals(build(x))[0]

    x0, _, _ = closest_integer(macs_of, totals(analytic.spec)[0], free)
    ratios = solve_side_by_side(ratios_of, macs_of, x0, factor, tolerance)
    best = min(ratios, key=lambda k: (abs(ratios[k] - factor) / factor, k))
    error = abs(ratios[best] - factor) / factor
    measured, reused, sessions = (meter.measured - start[0], meter.reused - start[1],
                                  meter.sessions - start[2])  # fmt: skip
    cmp, m = runs[best]
    if error > tolerance:
        shown = build(best).depth if free == "depth" else best
        ci = cmp.ratio(m, quantity)
        raise SolverError(
            f"no integer {free} brings {analytic.spec.name} within {tolerance:.0%} of "
            f"{factor:g}x the baseline's {QUANTITIES[quantity]}: the closest, {free}={shown} "
            f"({build(best).name}), measures {ci.median:.3g}x [{ci.low:.3g}, {ci.high:.3g}], "
            f"{error:.1%} off ({len(ratios)} candidate(s) timed side by side with the baseline "
            f"in {len({c.session for c, _ in runs.values()})} run(s))"
        )
    tried = tuple(
        (build(x).name, r, runs[x][1].quantity(quantity).median, runs[x][0].session,
         runs[x][0].rounds)
        for x, r in ratios.items()
    )  # fmt: skip
    both = {q: cmp.ratio(m, q) for q in QUANTITIES}
    return SpeedMatch(analytic, build(best), quantity, cmp.baseline, m, both, factor, error,
                      tried, measured, reused, sessions, tolerance,
                      tuple(meter.run_rounds[start[3]:]))  # fmt: skip

"""The match-flops workflow: which solver answers a request, and how far off the match is.

Three solvers (:mod:`archlab.search.solver`) match the ResNet baseline's complexity (Sec. 3.3,
Eq. 4): d for a given C, C for a given d, or the depth for a given C and d. This module chooses
among them from the options given, refuses options that contradict each other, and says when the
closest integer is further than a tolerance from the target: an integer d or C cannot match every
target at a small width (docs/design-space.md), and a user should hear so rather than read it off a
table.

Units: a match error is a fraction in every value (``relative_error``, ``tolerance``); text for
people states it in percent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from archlab.errors import ArchlabError, OptionError
from archlab.search.solver import (
    MATCH_TOLERANCE,
    MAX_RELATIVE_ERROR,
    Match,
    match_cardinality,
    match_depth,
    match_flops,
)
from archlab.space import NetSpec, default_depth
from archlab.workflows._speed import SpeedOptions, check_timing, resolve_match, speed_meter

if TYPE_CHECKING:
    from archlab.search.speed_match import SpeedMatch

SOLVES = ("depth",)  # what ``solve`` may name; without it, d (given C) or C (given d) is solved
_UNITS = {"block": "conv2-block params (Eq. 4)", "params": "network params"}


@dataclass(frozen=True)
class MatchResult:
    """The solved match and one warning per match beyond the tolerance (none or one here).

    A match on measured time (``speed``) keeps the analytic match it started from in ``match``.
    """

    match: Match
    tolerance: float
    warnings: tuple[str, ...] = ()
    speed: SpeedMatch | None = None
    note: str | None = None  # how many candidates were measured, for stderr

    def to_dict(self) -> dict[str, object]:
        """The ``match-flops --json`` object."""
        return self.speed.to_dict() if self.speed is not None else self.match.to_dict()


def check_tolerance(tolerance: float) -> float:
    """A tolerance is a fraction in (0, 1): 0.05 means 5% (a percent such as 5 is refused)."""
    ok = isinstance(tolerance, int | float) and not isinstance(tolerance, bool)
    if not ok or not math.isfinite(tolerance) or not 0 < tolerance < 1:
        shown = repr(tolerance).replace("{", "{{").replace("}", "}}")
        raise OptionError("{} must be a fraction in (0, 1), e.g. 0.05 for 5%, got " + shown,
                          "tolerance")  # fmt: skip
    return float(tolerance)


def off_tolerance(spec: NetSpec, relative_error: float | None, tolerance: float) -> str | None:
    """One line when a solved match lies further than ``tolerance`` from its target, else None."""
    if relative_error is None or relative_error <= tolerance:
        return None
    return (
        f"{spec.name} is {relative_error:.2%} off its target (tolerance {tolerance:.0%}): no "
        "integer brings it closer at this width"
    )


def unit_of(scope: str) -> str:
    """What a scope's target counts, in words."""
    return _UNITS.get(scope, "network MACs")


def run_match(
    *,
    cardinality: int | None = None,
    bottleneck_width: int | None = None,
    solve: str | None = None,
    depth: int | None = None,
    template: str = "imagenet",
    complexity: float = 1.0,
    scope: str | None = None,
    width_multiplier: float = 1.0,
    input_size: int | None = None,
    tolerance: float = MATCH_TOLERANCE,
    match: str | None = None,
    batch: int | None = None,
    repeats: int | None = None,
    device: str | None = None,
    store: str | Path | None = None,
) -> MatchResult:
    """Solve d for ``cardinality``, C for ``bottleneck_width``, or (``solve="depth"``) the depth.

    ``scope`` defaults to ``block`` (Eq. 4) for d and C and to ``network`` (MACs) for depth,
    which a block's params do not depend on. With ``solve="depth"``, ``depth`` is the baseline's
    depth and C defaults to 1. A match beyond ``tolerance`` is solved and comes with a warning.

    ``match`` names the scope the short way (``macs``: network, ``params``), or solves on
    measured time: ``speed`` (train step per image) or ``latency`` (inference at ``batch``),
    timed ``repeats`` times on ``device``, measurements kept in and reused from ``store``; no
    integer within ``tolerance`` is then refused, naming the closest.
    """
    tolerance = check_tolerance(tolerance)
    timing = SpeedOptions(batch, repeats, device, store)
    default = "network" if solve == "depth" else "block"
    scope, quantity = resolve_match(match, scope, default)
    check_timing(quantity, timing)
    if quantity is None:
        found = _solve(
            cardinality, bottleneck_width, solve, depth, template, complexity, scope,
            width_multiplier, input_size,
        )  # fmt: skip
        line = off_tolerance(found.spec, found.relative_error, tolerance)
        return MatchResult(found, tolerance, () if line is None else (line,))
    from archlab.search.speed_match import match_measured

    analytic = _solve(cardinality, bottleneck_width, solve, depth, template, complexity, scope,
                      width_multiplier, input_size, max_error=math.inf)  # fmt: skip
    free = "depth" if solve == "depth" else ("d" if cardinality is not None else "C")
    with speed_meter(timing) as meter:
        m = match_measured(analytic, free, meter, quantity=quantity, tolerance=tolerance)
    return MatchResult(analytic, tolerance, m.warnings(), m, m.note())


def _solve(
    cardinality: int | None,
    bottleneck_width: int | None,
    solve: str | None,
    depth: int | None,
    template: str,
    complexity: float,
    scope: str | None,
    width_multiplier: float,
    input_size: int | None,
    max_error: float = MAX_RELATIVE_ERROR,
) -> Match:
    """The one solver the options name, after refusing options that contradict each other."""
    if solve is not None and solve not in SOLVES:
        raise ArchlabError(f"solve must be one of {', '.join(SOLVES)}, got {solve!r}")
    if solve == "depth":
        return match_depth(
            1 if cardinality is None else cardinality, bottleneck_width, template, complexity,
            scope or "network", width_multiplier=width_multiplier, baseline_depth=depth,
            input_size=input_size, max_error=max_error,
        )  # fmt: skip
    if (cardinality is None) == (bottleneck_width is None):
        raise OptionError(
            "give exactly one of {} (to solve d) or {} (to solve C); {} depth takes either",
            "cardinality",
            "bottleneck_width",
            "solve",
        )
    depth = default_depth(template) if depth is None else depth
    kw = dict(depth=depth, template=template, complexity=complexity, scope=scope or "block",
              width_multiplier=width_multiplier, input_size=input_size,
              max_error=max_error)  # fmt: skip
    if cardinality is not None:
        return match_flops(cardinality, **kw)  # type: ignore[arg-type]
    return match_cardinality(bottleneck_width, **kw)  # type: ignore[arg-type]

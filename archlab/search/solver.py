"""Complexity matching (Sec. 3.3, Eq. 4, Tables 2 and 4) and grid enumeration of the design space.

Both scopes are monotone in the free integer (more d or more C never costs less), so the solver
bisects for the first value at or above the target and compares it with its predecessor.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from archlab.complexity import complexity, template_block_params, totals
from archlab.errors import SolverError, SpecError
from archlab.space import BASELINE_BOTTLENECK_WIDTH, NetSpec, make_spec

Scope = Literal["block", "network"]
SCOPES: tuple[str, ...] = ("block", "network")
MAX_RELATIVE_ERROR = 0.5  # refuse matches further than this from the target
_SEARCH_LIMIT = 1 << 16  # no template reaches a sensible target beyond 65,536 channels


@dataclass(frozen=True)
class Match:
    """A solved candidate and how close it came to the target complexity."""

    spec: NetSpec
    baseline: NetSpec
    scope: str
    complexity_factor: float
    value: int  # the candidate's cost in the scope's unit (block params or network MACs)
    target: float
    relative_error: float

    def to_dict(self) -> dict[str, Any]:
        """The ``match-flops --json`` object."""
        net, base = complexity(self.spec), complexity(self.baseline)
        return {
            "name": self.spec.name,
            "template": self.spec.template,
            "depth": self.spec.depth,
            "cardinality": self.spec.cardinality,
            "bottleneck_width": self.spec.bottleneck_width,
            "group_width": self.spec.group_width,
            "width_multiplier": self.spec.width_multiplier,
            "scope": self.scope,
            "complexity": self.complexity_factor,
            "block_params": template_block_params(self.spec),
            "baseline_block_params": template_block_params(self.baseline),
            "target": self.target,
            "value": self.value,
            "relative_error": self.relative_error,
            "network": {"macs": net.macs, "params": net.params, "acts": net.acts},
            "baseline_network": {"macs": base.macs, "params": base.params, "acts": base.acts},
            "baseline_name": self.baseline.name,
            "input_size": self.spec.input_size,
            "spec": self.spec.to_dict(),
        }


def scope_cost(scope: str) -> Callable[[NetSpec], int]:
    """The cost the solver matches: Eq. 4 block params, or whole-network MACs."""
    if scope == "block":
        return template_block_params
    if scope == "network":
        return lambda spec: totals(spec)[0]
    raise SolverError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")


def _check_factor(complexity_factor: float) -> None:
    if not (
        isinstance(complexity_factor, int | float)
        and math.isfinite(complexity_factor)
        and complexity_factor > 0
    ):
        raise SolverError(f"complexity must be a positive number, got {complexity_factor!r}")


def _closest(cost: Callable[[int], int], target: float, what: str) -> tuple[int, int, float]:
    """Smallest relative error over integers >= 1; ties go to the smaller integer."""
    lo, hi = 1, 1
    while cost(hi) < target:
        lo, hi = hi, hi * 2
        if hi > _SEARCH_LIMIT:
            raise SolverError(f"no {what} up to {_SEARCH_LIMIT} reaches the target {target:,.0f}")
    while lo < hi:  # first integer whose cost reaches the target
        mid = (lo + hi) // 2
        if cost(mid) < target:
            lo = mid + 1
        else:
            hi = mid
    best = min(
        (abs(cost(x) - target) / target, x) for x in {max(1, lo - 1), lo}
    )  # (error, x) sorts ties to the smaller x
    error, x = best
    return x, cost(x), error


def _baseline(template: str, depth: int, width_multiplier: float, **kw: Any) -> NetSpec:
    return make_spec(
        template, depth, 1, BASELINE_BOTTLENECK_WIDTH, width_multiplier=width_multiplier, **kw
    )


def match_flops(
    cardinality: int,
    depth: int = 50,
    template: str = "imagenet",
    complexity: float = 1.0,
    scope: str = "block",
    *,
    width_multiplier: float = 1.0,
    num_classes: int | None = None,
    input_size: int | None = None,
) -> Match:
    """The integer d that brings cardinality C closest to the ResNet baseline times ``complexity``.

    ``block`` scope matches Eq. 4 (conv2-stage block params, Table 2); ``network`` matches
    whole-network MACs. d is given before the width multiplier, like "32x4d".
    """
    _check_factor(complexity)
    kw: dict[str, Any] = {"num_classes": num_classes, "input_size": input_size}
    baseline = _baseline(template, depth, width_multiplier, **kw)
    cost = scope_cost(scope)
    make_spec(template, depth, cardinality, 1, width_multiplier=width_multiplier, **kw)  # validate
    target = cost(baseline) * complexity

    def cost_of_d(d: int) -> int:
        return cost(
            make_spec(template, depth, cardinality, d, width_multiplier=width_multiplier, **kw)
        )

    d, value, error = _closest(cost_of_d, target, "bottleneck width")
    if error > MAX_RELATIVE_ERROR:
        raise SolverError(
            f"cardinality {cardinality} cannot reach {complexity:g}x the baseline: the closest "
            f"d={d} is {error:.0%} off (limit {MAX_RELATIVE_ERROR:.0%})"
        )
    spec = make_spec(template, depth, cardinality, d, width_multiplier=width_multiplier, **kw)
    return Match(spec, baseline, scope, float(complexity), value, target, error)


def match_cardinality(
    bottleneck_width: int,
    depth: int = 50,
    template: str = "imagenet",
    complexity: float = 1.0,
    scope: str = "block",
    *,
    width_multiplier: float = 1.0,
    num_classes: int | None = None,
    input_size: int | None = None,
) -> Match:
    """The inverse of :func:`match_flops`: the cardinality C closest to the target for a given d."""
    _check_factor(complexity)
    kw: dict[str, Any] = {"num_classes": num_classes, "input_size": input_size}
    baseline = _baseline(template, depth, width_multiplier, **kw)
    cost = scope_cost(scope)
    make_spec(template, depth, 1, bottleneck_width, width_multiplier=width_multiplier, **kw)
    target = cost(baseline) * complexity

    def cost_of_c(c: int) -> int:
        spec = make_spec(
            template, depth, c, bottleneck_width, width_multiplier=width_multiplier, **kw
        )
        return cost(spec)

    c, value, error = _closest(cost_of_c, target, "cardinality")
    if error > MAX_RELATIVE_ERROR:
        raise SolverError(
            f"bottleneck width {bottleneck_width} cannot reach {complexity:g}x the baseline: "
            f"the closest C={c} is {error:.0%} off (limit {MAX_RELATIVE_ERROR:.0%})"
        )
    spec = make_spec(template, depth, c, bottleneck_width, width_multiplier=width_multiplier, **kw)
    return Match(spec, baseline, scope, float(complexity), value, target, error)


# --------------------------------------------------------------------------- enumeration

SPACE_COLUMNS: tuple[str, ...] = (
    "name",
    "template",
    "depth",
    "cardinality",
    "bottleneck_width",
    "group_width",
    "width_multiplier",
    "macs",
    "params",
    "acts",
    "block_params",
    "relative_error",
    "spec",
)


def space_row(
    spec: NetSpec, counts: tuple[int, int, int], relative_error: float | None
) -> dict[str, Any]:
    """One row of the design-space table (the ``space`` command's output, SPACE_COLUMNS)."""
    macs, params, acts = counts
    return {
        "name": spec.name,
        "template": spec.template,
        "depth": spec.depth,
        "cardinality": spec.cardinality,
        "bottleneck_width": spec.bottleneck_width,
        "group_width": spec.group_width,
        "width_multiplier": spec.width_multiplier,
        "macs": macs,
        "params": params,
        "acts": acts,
        "block_params": template_block_params(spec),
        "relative_error": relative_error,
        "spec": spec.to_dict(),
    }


def _band_ok(value: int, band: tuple[float | None, float | None] | None) -> bool:
    if band is None:
        return True
    lo, hi = band
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def _candidates(
    template: str,
    depths: Sequence[int],
    cardinalities: Sequence[int],
    bottleneck_widths: Sequence[int] | None,
    complexity_factor: float,
    scope: str,
    width_multiplier: float,
    kw: dict[str, Any],
) -> Iterable[tuple[NetSpec, float | None]]:
    for depth in depths:
        for c in cardinalities:
            if bottleneck_widths is None:
                m = match_flops(
                    c,
                    depth,
                    template,
                    complexity_factor,
                    scope,
                    width_multiplier=width_multiplier,
                    **kw,
                )
                yield m.spec, m.relative_error
            else:
                for d in bottleneck_widths:
                    spec = make_spec(template, depth, c, d, width_multiplier=width_multiplier, **kw)
                    yield spec, None


def enumerate_space(
    depths: Sequence[int] = (50,),
    cardinalities: Sequence[int] = (1, 2, 4, 8, 32),
    bottleneck_widths: Sequence[int] | None = None,
    *,
    template: str = "imagenet",
    complexity: float = 1.0,
    scope: str = "block",
    width_multiplier: float = 1.0,
    macs_band: tuple[float | None, float | None] | None = None,
    params_band: tuple[float | None, float | None] | None = None,
    num_classes: int | None = None,
    input_size: int | None = None,
) -> pd.DataFrame:
    """Every candidate of depth × C (× d, or d solved for matched complexity), as a DataFrame.

    Rows are deduplicated by spec and filtered to the MACs and params bands; the ``spec`` column
    holds the spec dict that ``train-candidates --candidates`` reads back.
    """
    if not depths:
        raise SpecError("depths must not be empty")
    if not cardinalities:
        raise SpecError("cardinalities must not be empty")
    if bottleneck_widths is not None and not bottleneck_widths:
        raise SpecError("bottleneck_widths must not be empty when given")
    kw: dict[str, Any] = {"num_classes": num_classes, "input_size": input_size}
    seen: set[NetSpec] = set()
    rows: list[dict[str, Any]] = []
    for spec, error in _candidates(
        template,
        depths,
        cardinalities,
        bottleneck_widths,
        complexity,
        scope,
        width_multiplier,
        kw,
    ):
        if spec in seen:
            continue
        seen.add(spec)
        macs, params, acts = totals(spec)
        if not (_band_ok(macs, macs_band) and _band_ok(params, params_band)):
            continue
        rows.append(space_row(spec, (macs, params, acts), error))
    return pd.DataFrame(rows, columns=list(SPACE_COLUMNS))

"""Complexity matching (Sec. 3.3, Eq. 4, Tables 2 and 4) and grid enumeration of the design space.

One integer solver (:func:`closest_integer`) matches d, C or depth: every scope's cost is
monotone in the free integer (more d, C or blocks never costs less), so it bisects for the first
value at or above the target and compares it with its predecessor.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from archlab.complexity import complexity, template_block_params, totals
from archlab.errors import SolverError, SpecError
from archlab.search.ranges import Band
from archlab.space import (
    DEFAULT_DEPTHS,
    SUMMARY_FIELDS,
    TEMPLATES,
    NetSpec,
    make_spec,
)

Scope = Literal["block", "network", "params"]
# block: Eq. 4 conv2-block params (Table 2); network: whole-network MACs; params: whole-network
# params. Depth leaves the block unchanged, so it matches only the whole-network scopes.
SCOPES: tuple[str, ...] = ("block", "network", "params")
MAX_RELATIVE_ERROR = 0.5  # refuse matches further than this from the target
MATCH_TOLERANCE = 0.05  # a match further off is warned of (match-flops, space); arms refuse it
_SEARCH_LIMIT = 1 << 16  # no template reaches a sensible target beyond 65,536 channels
# Deeper ImageNet networks grow conv4 until it holds 36 blocks, then conv3: the path of He et
# al.'s ResNets (CVPR 2016, Table 1; ResNet-200 from ECCV 2016), which it passes exactly:
# conv4 = 6, 23, 36 with conv3 = 4, 4, 8, 24 gives ResNet-50, 101, 152 and 200.
_CONV4_MAX = 36


@dataclass(frozen=True)
class Match:
    """A solved candidate and how close it came to the target complexity."""

    spec: NetSpec
    baseline: NetSpec
    scope: str
    complexity_factor: float
    value: int  # the candidate's cost in the scope's unit (block params, network MACs or params)
    target: float
    relative_error: float

    def to_dict(self) -> dict[str, Any]:
        """The ``match-flops --json`` object."""
        net, base = complexity(self.spec), complexity(self.baseline)
        return {
            "name": self.spec.name,
            "template": self.spec.template,
            "depth": self.spec.depth,
            "blocks": list(self.spec.blocks),
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
    """The cost the solver matches: Eq. 4 block params, whole-network MACs or params."""
    if scope == "block":
        return template_block_params
    if scope == "network":
        return lambda spec: totals(spec)[0]
    if scope == "params":
        return lambda spec: totals(spec)[1]
    raise SolverError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")


def _check_factor(complexity_factor: float) -> None:
    if not (
        isinstance(complexity_factor, int | float)
        and math.isfinite(complexity_factor)
        and complexity_factor > 0
    ):
        raise SolverError(f"complexity must be a positive number, got {complexity_factor!r}")


def closest_integer(cost: Callable[[int], int], target: float, what: str) -> tuple[int, int, float]:
    """(x, cost(x), relative error) of the integer x >= 1 closest to the target.

    ``cost`` must be non-decreasing in x (more d, C or blocks never costs less): bisect for the
    first x at or above the target and compare it with its predecessor; ties go to the smaller x.
    """
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
    error, x = min((abs(cost(x) - target) / target, x) for x in {max(1, lo - 1), lo})
    return x, cost(x), error


def depth_blocks(template: str, x: int) -> tuple[int, ...]:
    """Blocks per stage of the x-th deeper network (x >= 1; one block more per step of x).

    ImageNet: conv4 holds min(x, 36) blocks, then conv3 grows, the path of He et al.'s
    ResNet-101/152/200 (x = 6, 23, 40, 56 give depths 50, 101, 152, 200 exactly). CIFAR: x blocks
    in all, as even as possible, the extra ones in stage 2 then stage 3; x = 3n gives the official
    9n + 2 depths (Sec. 5.3), and the steps between them (3 layers, not 9) let a 2x target be
    matched within a few percent, which 9n + 2 alone misses by 5-7%.
    """
    if template == "cifar":
        n, extra = divmod(x, 3)
        return (n, n + (extra >= 1), n + (extra >= 2)) if n else (1, 1, 1)
    if template == "imagenet":
        return (3, 4 + max(0, x - _CONV4_MAX), min(x, _CONV4_MAX), 3)
    raise SolverError(f"template must be one of {', '.join(TEMPLATES)}, got {template!r}")


def _solve(
    build: Callable[[int], NetSpec],
    baseline: NetSpec,
    *,
    scope: str,
    complexity_factor: float,
    what: str,
    symbol: str,
    fixed: str,
    max_error: float = MAX_RELATIVE_ERROR,
) -> Match:
    """The one integer solver behind d, C and depth matching."""
    _check_factor(complexity_factor)
    cost = scope_cost(scope)
    build(1)  # validate the fixed arguments before searching
    target = cost(baseline) * complexity_factor
    x, value, error = closest_integer(lambda i: cost(build(i)), target, what)
    spec = build(x)
    if error > max_error:
        shown = spec.depth if symbol == "depth" else x
        raise SolverError(
            f"{fixed} cannot reach {complexity_factor:g}x the baseline: the closest "
            f"{symbol}={shown} is {error:.0%} off (limit {max_error:.0%})"
        )
    return Match(spec, baseline, scope, float(complexity_factor), value, target, error)


def _baseline(template: str, depth: int, width_multiplier: float, **kw: Any) -> NetSpec:
    """The ResNet baseline (C = 1, d = 64 scaled by the multiplier: 1x16d at 1/4 width)."""
    return make_spec(template, depth, 1, None, width_multiplier=width_multiplier, **kw)


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
    max_error: float = MAX_RELATIVE_ERROR,
) -> Match:
    """The integer d that brings cardinality C closest to the ResNet baseline times ``complexity``.

    ``block`` scope matches Eq. 4 (conv2-stage block params, Table 2); ``network`` matches
    whole-network MACs, ``params`` whole-network params. d is the width the network has (the
    "3" of ``resnext29_8x3d_w0.25``), searched over integers at the multiplier's widths.
    """
    kw: dict[str, Any] = {"num_classes": num_classes, "input_size": input_size}
    return _solve(
        lambda d: make_spec(
            template, depth, cardinality, d, width_multiplier=width_multiplier, **kw
        ),
        _baseline(template, depth, width_multiplier, **kw),
        scope=scope,
        complexity_factor=complexity,
        what="bottleneck width",
        symbol="d",
        fixed=f"cardinality {cardinality}",
        max_error=max_error,
    )


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
    max_error: float = MAX_RELATIVE_ERROR,
) -> Match:
    """The inverse of :func:`match_flops`: the cardinality C closest to the target for a given d.

    ``bottleneck_width`` is the first stage's d as the network has it, after the multiplier.
    """
    kw: dict[str, Any] = {"num_classes": num_classes, "input_size": input_size}
    return _solve(
        lambda c: make_spec(
            template, depth, c, bottleneck_width, width_multiplier=width_multiplier, **kw
        ),
        _baseline(template, depth, width_multiplier, **kw),
        scope=scope,
        complexity_factor=complexity,
        what="cardinality",
        symbol="C",
        fixed=f"bottleneck width {bottleneck_width}",
        max_error=max_error,
    )


def match_depth(
    cardinality: int = 1,
    bottleneck_width: int | None = None,
    template: str = "imagenet",
    complexity: float = 1.0,
    scope: str = "network",
    *,
    width_multiplier: float = 1.0,
    baseline_depth: int | None = None,
    num_classes: int | None = None,
    input_size: int | None = None,
    max_error: float = MAX_RELATIVE_ERROR,
) -> Match:
    """The depth that brings (C, d) closest to ``complexity`` x the ResNet baseline (C=1, d=64).

    d is the network's own (None: the baseline's, 64 scaled by the width multiplier).
    The baseline has the template's default depth (50 or 29) unless ``baseline_depth`` is given;
    depths grow by :func:`depth_blocks` (CIFAR 9n + 2; ImageNet along ResNet-101/152/200).
    Only the whole-network scopes apply: depth does not change a block's Eq. 4 params.
    Non-uniform CIFAR block counts are named by their blocks (e.g. ``resnet32`` with (3, 4, 3)).
    """
    if scope == "block":
        raise SolverError(
            f"scope must be network or params to solve depth, got {scope!r}: a block's params "
            "do not depend on depth"
        )
    if template not in TEMPLATES:
        raise SolverError(f"template must be one of {', '.join(TEMPLATES)}, got {template!r}")
    kw: dict[str, Any] = {"num_classes": num_classes, "input_size": input_size}
    base_depth = DEFAULT_DEPTHS[template] if baseline_depth is None else baseline_depth
    baseline = _baseline(template, base_depth, width_multiplier, **kw)
    d = baseline.bottleneck_width if bottleneck_width is None else bottleneck_width
    return _solve(
        lambda x: make_spec(
            template,
            0,
            cardinality,
            d,
            width_multiplier=width_multiplier,
            blocks=depth_blocks(template, x),
            **kw,
        ),
        baseline,
        scope=scope,
        complexity_factor=complexity,
        what="depth",
        symbol="depth",
        fixed=f"{cardinality}x{d}d",
        max_error=max_error,
    )


# --------------------------------------------------------------------------- enumeration

SPACE_COLUMNS: tuple[str, ...] = (
    *SUMMARY_FIELDS,
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

    ``bottleneck_widths`` are the networks' own first-stage d, used as given at the multiplier.
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
    band = Band(macs=macs_band or (None, None), params=params_band or (None, None))
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
        if not band.contains(macs, params, acts):
            continue
        rows.append(space_row(spec, (macs, params, acts), error))
    return pd.DataFrame(rows, columns=list(SPACE_COLUMNS))

"""Random sampling of a design space inside a complexity band (Radosavovic et al. 2019; pycls).

A :class:`DesignSpace` gives each free parameter a :class:`ParamRange`; :func:`sample_space`
draws specs from it with a seeded ``random.Random``, keeps those whose MACs, params and
activations fall inside the :class:`Band`, drops repeats, and counts what it threw away.

Samplers (integers for every parameter but the width multiplier):

- ``uniform``: uniform over [low, high];
- ``log-uniform``: log-uniform over [low, high], then rounded for integers (pycls's habit);
- ``pow2``: uniform over the powers of two in [low, high] (0.125, 0.25, ... for multipliers);
- ``choice``: uniform over ``values``.

Depth draws that are no template depth (ImageNet: 26, 50, 101, 152, 200; CIFAR: 9n+2) and group
widths that C does not divide count as *invalid* draws; prefer ``choice`` for depth.

Spaces are read from TOML files by :mod:`archlab.search.space_file`.

d and group widths are the networks' own, as in their names and :func:`archlab.space.make_spec`:
the width multiplier scales the stem and stage widths, never d (``resnext29_8x3d_w0.25`` has
d = 3), so a d range describes the same networks at any multiplier it is paired with.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace

import pandas as pd

from archlab.bounds import MAX_SAMPLES, MAX_WIDTH_MULTIPLIER, check_at_most
from archlab.complexity import totals
from archlab.errors import ArchlabError, SpecError
from archlab.search.ranges import QUANTITIES, Band, Bound, ParamRange
from archlab.search.solver import SPACE_COLUMNS, space_row
from archlab.space import (
    IMAGENET_BLOCKS,
    NUM_STAGES,
    TEMPLATES,
    NetSpec,
    baseline_bottleneck_width,
    default_depth,
    make_spec,
    template_blocks,
)


def _check_integral(name: str, prange: ParamRange) -> None:
    for key in ("low", "high"):
        value = getattr(prange, key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise SpecError(f"{name}.{key} must be an integer, got {value!r}")
    if any(isinstance(v, bool) or not isinstance(v, int) for v in prange.values or ()):
        raise SpecError(f"{name}.values must be integers, got {list(prange.values or ())!r}")
    if prange.bounds()[0] < 1:
        raise SpecError(f"{name} must be at least 1, got a range from {prange.bounds()[0]:g}")


def _depth_bounds(template: str, prange: ParamRange) -> tuple[int, int]:
    """The smallest and largest template depth a draw can take; an error when there is none."""
    lo, hi = (int(b) for b in prange.bounds())
    if template == "imagenet":
        depths = [d for d in sorted(IMAGENET_BLOCKS) if prange.allows(d)]
    else:
        ns = range(max(1, math.ceil((lo - 2) / 9)), (hi - 2) // 9 + 1)
        first = next((9 * n + 2 for n in ns if prange.allows(9 * n + 2)), None)
        last = next((9 * n + 2 for n in reversed(ns) if prange.allows(9 * n + 2)), None)
        depths = [d for d in (first, last) if d is not None]
    if not depths:
        valid = ", ".join(map(str, IMAGENET_BLOCKS)) if template == "imagenet" else "9n+2"
        raise SpecError(f"depth: no {template} template depth ({valid}) in the range")
    return depths[0], depths[-1]


def _is_template_depth(template: str, depth: int) -> bool:
    try:
        template_blocks(template, depth)
    except SpecError:
        return False
    return True


@dataclass(frozen=True)
class DesignSpace:
    """Ranges to draw specs from, the complexity band to keep them in, and the data's shape."""

    template: str
    cardinality: ParamRange
    depth: ParamRange | None = None
    blocks: tuple[ParamRange, ...] | None = None  # one range per stage
    bottleneck_width: ParamRange | None = None  # d
    group_width: ParamRange | None = None  # C·d
    width_multiplier: ParamRange = field(default_factory=lambda: ParamRange.choice(1.0))
    band: Band = field(default_factory=Band)
    num_classes: int | None = None
    input_size: int | None = None

    def __post_init__(self) -> None:
        if self.template not in TEMPLATES:
            raise SpecError(
                f"template must be one of {', '.join(TEMPLATES)}, got {self.template!r}"
            )
        if (self.depth is None) == (self.blocks is None):
            raise SpecError("give exactly one of depth or blocks")
        if (self.bottleneck_width is None) == (self.group_width is None):
            raise SpecError("give exactly one of bottleneck_width or group_width")
        for name in ("depth", "cardinality", "bottleneck_width", "group_width", "width_multiplier"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, ParamRange):
                raise SpecError(f"{name} must be a ParamRange, got {value!r}")
        if self.blocks is not None:
            n = NUM_STAGES[self.template]
            if not isinstance(self.blocks, tuple) or len(self.blocks) != n:
                raise SpecError(f"blocks must hold {n} ranges for the {self.template} template")
            for i, prange in enumerate(self.blocks):
                if not isinstance(prange, ParamRange):
                    raise SpecError(f"blocks[{i}] must be a ParamRange, got {prange!r}")
                _check_integral(f"blocks[{i}]", prange)
        if self.depth is not None:
            _check_integral("depth", self.depth)
            _depth_bounds(self.template, self.depth)
        for name in ("cardinality", "bottleneck_width", "group_width"):
            if getattr(self, name) is not None:
                _check_integral(name, getattr(self, name))
        lo, hi = self.width_multiplier.bounds()
        if not 0 < lo <= hi <= MAX_WIDTH_MULTIPLIER:
            raise SpecError(
                f"width_multiplier must lie in (0, {MAX_WIDTH_MULTIPLIER}], got [{lo:g}, {hi:g}]"
            )
        if not isinstance(self.band, Band):
            raise SpecError(f"band must be a Band, got {self.band!r}")
        for name in ("num_classes", "input_size"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise SpecError(f"{name} must be a positive integer, got {value!r}")
            if value is not None and value < 1:
                raise SpecError(f"{name} must be a positive integer, got {value!r}")
        if self.group_width is not None and self._d_bounds()[1] < 1:
            raise SpecError(
                f"group_width: the largest group width {self.group_width.bounds()[1]} is below "
                f"the smallest cardinality {self.cardinality.bounds()[0]}"
            )

    def with_band(
        self, *, macs: Bound | None = None, params: Bound | None = None, acts: Bound | None = None
    ) -> DesignSpace:
        """This space with some band bounds replaced (None keeps the file's)."""
        return replace(self, band=self.band.replaced(macs=macs, params=params, acts=acts))

    def _d_bounds(self) -> tuple[int, int]:
        """Bounds on d over every valid draw (with group width: d = C·d / C)."""
        c_lo, c_hi = (int(b) for b in self.cardinality.bounds())
        if self.bottleneck_width is not None:
            d_lo, d_hi = self.bottleneck_width.bounds()
            return int(d_lo), int(d_hi)
        assert self.group_width is not None
        g_lo, g_hi = (int(b) for b in self.group_width.bounds())
        return max(1, -(-g_lo // c_hi)), g_hi // c_lo

    def _corner(self, end: int) -> NetSpec:
        """The spec of all lower (end 0) or all upper (end 1) bounds: complexity is monotone."""
        blocks = None if self.blocks is None else [int(r.bounds()[end]) for r in self.blocks]
        depth = 0 if self.depth is None else _depth_bounds(self.template, self.depth)[end]
        return make_spec(
            self.template,
            depth,
            int(self.cardinality.bounds()[end]),
            self._d_bounds()[end],
            width_multiplier=float(self.width_multiplier.bounds()[end]),
            blocks=blocks,
            num_classes=self.num_classes,
            input_size=self.input_size,
        )

    def draw(self, rng: random.Random) -> NetSpec | None:
        """One spec, or None for an invalid draw (no template depth, C not dividing C·d)."""
        # Every parameter is drawn on every call, in a fixed order, so a seed fixes the sequence.
        depth = 0 if self.depth is None else int(self.depth.sample(rng))
        blocks = None if self.blocks is None else [int(r.sample(rng)) for r in self.blocks]
        c = int(self.cardinality.sample(rng))
        width = self.bottleneck_width or self.group_width
        assert width is not None
        w = int(width.sample(rng))
        m = float(self.width_multiplier.sample(rng, integer=False))
        if self.group_width is not None:
            if w % c:
                return None
            w //= c
        if blocks is None and not _is_template_depth(self.template, depth):
            return None
        return make_spec(
            self.template,
            depth,
            c,
            w,
            width_multiplier=m,
            blocks=blocks,
            num_classes=self.num_classes,
            input_size=self.input_size,
        )


def default_space(
    template: str = "imagenet",
    depths: tuple[int, ...] | None = None,
    cardinalities: tuple[int, ...] | None = None,
    bottleneck_widths: tuple[int, ...] | None = None,
    *,
    width_multiplier: float = 1.0,
    band: Band | None = None,
) -> DesignSpace:
    """The space ``archlab space --sample`` draws from without ``--space``: lists become choices.

    Defaults: the template's usual depth (50 or 29), C a power of two in 1..64, d log-uniform
    from 1 to the ResNet baseline's d at the multiplier (64 at full width, 16 at 1/4).
    """
    d_high = baseline_bottleneck_width(width_multiplier)
    return DesignSpace(
        template=template,
        depth=ParamRange.choice(*(depths or (default_depth(template),))),
        cardinality=(
            ParamRange.choice(*cardinalities) if cardinalities else ParamRange(1, 64, "pow2")
        ),
        bottleneck_width=(
            ParamRange.choice(*bottleneck_widths)
            if bottleneck_widths
            else ParamRange(1, d_high, "log-uniform")
        ),
        width_multiplier=ParamRange.choice(width_multiplier),
        band=band or Band(),
    )


def complexity_bounds(space: DesignSpace) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(MACs, params, acts) at the space's lower and upper corners: bounds on every draw."""
    return totals(space._corner(0)), totals(space._corner(1))


def check_band(space: DesignSpace) -> None:
    """Refuse a band that no spec of the space can reach, judged from the corners alone."""
    lower, upper = complexity_bounds(space)
    for name, (lo, hi), small, large in zip(
        QUANTITIES, space.band._bounds(), lower, upper, strict=True
    ):
        if lo is not None and large < lo:
            raise ArchlabError(
                f"empty band: {name} must be >= {lo:g}, but no spec of this space has more than "
                f"{large:,} {name}"
            )
        if hi is not None and small > hi:
            raise ArchlabError(
                f"empty band: {name} must be <= {hi:g}, but no spec of this space has fewer than "
                f"{small:,} {name}"
            )


@dataclass(frozen=True)
class SampleResult:
    """Kept specs in draw order with their (MACs, params, acts), and what the draws lost."""

    specs: tuple[NetSpec, ...]
    complexities: tuple[tuple[int, int, int], ...]
    draws: int
    rejected: int  # distinct specs outside the band
    duplicates: int  # repeats of a spec drawn before
    invalid: int  # no template depth, or C not dividing the group width
    seed: int

    def summary(self) -> str:
        """One line: how many draws were kept and why the others were not."""
        return (
            f"kept {len(self.specs)} of {self.draws} draws (seed {self.seed}): "
            f"{self.rejected} outside the band, {self.duplicates} duplicates, "
            f"{self.invalid} invalid"
        )

    def to_frame(self) -> pd.DataFrame:
        """The rows of :func:`~archlab.search.solver.enumerate_space` (no ``relative_error``)."""
        rows = [
            space_row(spec, counts, None)
            for spec, counts in zip(self.specs, self.complexities, strict=True)
        ]
        return pd.DataFrame(rows, columns=list(SPACE_COLUMNS))


def sample_space(
    space: DesignSpace, n: int, seed: int, *, max_draws: int | None = None
) -> SampleResult:
    """Draw until ``n`` distinct specs lie in the band; at most ``max_draws`` (200·n + 1000)."""
    for name, value in (("n", n), ("max_draws", 1 if max_draws is None else max_draws)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ArchlabError(f"{name} must be a positive integer, got {value!r}")
    check_at_most("n (specs to sample)", n, MAX_SAMPLES)  # 200·n draws at most: bounded work
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ArchlabError(f"seed must be an integer, got {seed!r}")
    limit = 200 * n + 1000 if max_draws is None else max_draws
    check_band(space)
    rng = random.Random(seed)
    seen: set[NetSpec] = set()
    specs: list[NetSpec] = []
    counts: list[tuple[int, int, int]] = []
    draws = rejected = duplicates = invalid = 0
    while len(specs) < n and draws < limit:
        draws += 1
        spec = space.draw(rng)
        if spec is None:
            invalid += 1
            continue
        if spec in seen:
            duplicates += 1
            continue
        seen.add(spec)
        count = totals(spec)
        if not space.band.contains(*count):
            rejected += 1
            continue
        specs.append(spec)
        counts.append(count)
    if len(specs) < n:
        raise ArchlabError(
            f"found {len(specs)} of {n} specs inside the band in {draws:,} draws ({rejected:,} "
            f"outside the band, {duplicates:,} duplicates, {invalid:,} invalid): the band may be "
            "empty or too narrow for this space, or the space too small"
        )
    return SampleResult(tuple(specs), tuple(counts), draws, rejected, duplicates, invalid, seed)


def sample_frame(
    space: DesignSpace, n: int, seed: int, *, max_draws: int | None = None
) -> pd.DataFrame:
    """:func:`sample_space` as a ``space --json``-shaped DataFrame."""
    return sample_space(space, n, seed, max_draws=max_draws).to_frame()

"""The space workflow: candidates of a design space, enumerated on a grid or sampled at random.

Two requests, one per mode, so that an option of one mode cannot be given to the other:
:class:`Grid` (every depth x cardinality, d solved for matched complexity or given) and
:class:`Draw` (N distinct specs from a TOML space file or from lists turned into choices).
:func:`run_space` chooses the mode from the options given and refuses options that do not fit
it, so a Python caller meets the same rules as ``archlab space``. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from archlab.errors import OptionError
from archlab.search.ranges import Band, Bound
from archlab.search.sampling import default_space, sample_space
from archlab.search.solver import MATCH_TOLERANCE, enumerate_space
from archlab.search.space_file import load_space
from archlab.space import default_depth, spec_from_dict
from archlab.workflows._speed import (
    SpeedOptions,
    check_timing,
    resolve_match,
    speed_meter,
    speed_rows,
)
from archlab.workflows.match import check_tolerance, off_tolerance

DEFAULT_CARDINALITIES = (1, 2, 4, 8, 32)  # Table 3's family (Sec. 5.1)
_SOLVED = ("complexity", "scope", "tolerance", "match")  # what only a solved d takes
_LISTS = ("template", "depths", "cardinalities", "bottleneck_widths", "width_multiplier")


@dataclass(frozen=True)
class Grid:
    """Enumerate depth x cardinality; d is solved for matched complexity unless given."""

    template: str = "imagenet"
    depths: tuple[int, ...] | None = None  # None: the template's usual depth
    cardinalities: tuple[int, ...] = DEFAULT_CARDINALITIES
    bottleneck_widths: tuple[int, ...] | None = None  # given: a grid over d, nothing solved
    complexity: float | None = None  # None: 1 (the baseline's complexity) when d is solved
    scope: str | None = None  # None: block (Eq. 4) when d is solved
    width_multiplier: float = 1.0
    input_size: int | None = None  # None: the template's (224 or 32)
    band: Band = field(default_factory=Band)
    tolerance: float | None = None  # None: MATCH_TOLERANCE; a solved d further off is warned of
    match: str | None = None  # macs, params (scopes), speed or latency (measured time)
    timing: SpeedOptions = field(default_factory=SpeedOptions)  # how speed and latency time

    def __post_init__(self) -> None:
        check_timing(resolve_match(self.match, self.scope, "block")[1], self.timing)
        if self.bottleneck_widths is not None:
            _refuse(self, "does not apply with {} (d is given, not solved)", _SOLVED,
                    "bottleneck_widths")  # fmt: skip
        if self.tolerance is not None:
            check_tolerance(self.tolerance)


@dataclass(frozen=True)
class Draw:
    """Draw ``n`` distinct specs inside the band: from a space file, or lists as choices."""

    n: int
    seed: int = 0
    space_file: Path | None = None  # given: the file describes the space, lists stay None
    template: str | None = None  # None: imagenet
    depths: tuple[int, ...] | None = None
    cardinalities: tuple[int, ...] | None = None
    bottleneck_widths: tuple[int, ...] | None = None
    width_multiplier: float | None = None  # None: 1
    input_size: int | None = None  # None: the file's, else the template's
    band: Band = field(default_factory=Band)

    def __post_init__(self) -> None:
        if self.space_file is not None:
            _refuse(self, "does not apply with {} (the file describes the space)", _LISTS,
                    "space_file")  # fmt: skip


@dataclass(frozen=True)
class CandidateTable:
    """The candidates a request found, one row each, and what to call them."""

    frame: pd.DataFrame
    title: str
    sampled: bool
    note: str | None = None  # how a draw went (tries, rejections), for stderr
    warnings: tuple[str, ...] = ()  # one line per solved row beyond the tolerance, for stderr


def band_of(
    macs: Bound | None = None, params: Bound | None = None, acts: Bound | None = None
) -> Band:
    """A band from optional (min, max) bounds."""
    return Band().replaced(macs=macs, params=params, acts=acts)


def run_space(
    *,
    sample: int | None = None,
    seed: int | None = None,
    space_file: Path | None = None,
    template: str | None = None,
    depths: tuple[int, ...] | None = None,
    cardinalities: tuple[int, ...] | None = None,
    bottleneck_widths: tuple[int, ...] | None = None,
    width_multiplier: float | None = None,
    input_size: int | None = None,
    complexity: float | None = None,
    scope: str | None = None,
    tolerance: float | None = None,
    macs: Bound | None = None,
    params: Bound | None = None,
    acts: Bound | None = None,
    match: str | None = None,
    batch: int | None = None,
    repeats: int | None = None,
    device: str | None = None,
    store: str | Path | None = None,
) -> CandidateTable:
    """The ``space`` command: a grid, or ``sample`` specs drawn; None means 'not given'.

    The mode is the grid unless ``sample`` is given. ``seed`` and ``space_file`` need ``sample``;
    ``complexity``, ``scope``, ``tolerance`` and ``match`` need a solved d (a grid without
    ``bottleneck_widths``); a ``space_file`` describes the space, so the lists do not apply.
    ``match`` ``speed`` or ``latency`` solves d on measured time, timed with ``batch``,
    ``repeats`` and ``device``, measurements kept in ``store`` (docs/counting.md).
    """
    timing = SpeedOptions(batch, repeats, device, store)
    band = band_of(macs, params, acts)
    shape = (
        ("template", template),
        ("depths", depths),
        ("cardinalities", cardinalities),
        ("bottleneck_widths", bottleneck_widths),
        ("width_multiplier", width_multiplier),
        ("input_size", input_size),
    )
    chosen: dict[str, Any] = {name: value for name, value in shape if value is not None}
    if sample is None:
        if seed is not None or space_file is not None:
            raise OptionError("{} needs {}", "seed" if seed is not None else "space_file", "sample")
        solved: dict[str, Any] = {"complexity": complexity, "scope": scope, "tolerance": tolerance,
                                  "match": match}  # fmt: skip
        return space_candidates(Grid(**chosen, **solved, band=band, timing=timing))
    drawn = (("complexity", complexity), ("scope", scope), ("tolerance", tolerance),
             ("match", match), *((name, True) for name in timing.given()))  # fmt: skip
    for name, given in drawn:
        if given is not None:
            raise OptionError("{} does not apply to {} (d is drawn, not solved)", name, "sample")
    draw = Draw(sample, 0 if seed is None else seed, space_file, **chosen, band=band)
    return space_candidates(draw)


def space_candidates(request: Grid | Draw) -> CandidateTable:
    """The candidates of one request: the ``space`` command's two modes."""
    if isinstance(request, Grid) and resolve_match(request.match, request.scope, "block")[1]:
        return _measured(request)
    if isinstance(request, Grid):
        frame = enumerate_space(
            depths=list(request.depths or (default_depth(request.template),)),
            cardinalities=list(request.cardinalities),
            bottleneck_widths=(
                list(request.bottleneck_widths) if request.bottleneck_widths else None
            ),
            template=request.template,
            complexity=1.0 if request.complexity is None else request.complexity,
            scope=resolve_match(request.match, request.scope, "block")[0],
            width_multiplier=request.width_multiplier,
            macs_band=request.band.macs,
            params_band=request.band.params,
            input_size=request.input_size,
        )
        frame = request.band.filter(frame)  # the solver bands MACs and params; this adds acts
        title = f"{len(frame)} candidates{_input(frame)}"
        # An empty table alone reads as a bug; say why (a draw says it in its own note).
        empty = "no candidate of the grid lies inside the band; widen it" if frame.empty else None
        return CandidateTable(
            frame, title, sampled=False, note=empty, warnings=_warnings(frame, request)
        )
    band = request.band
    if request.space_file is not None:
        space = load_space(request.space_file).with_band(
            macs=_side(band.macs), params=_side(band.params), acts=_side(band.acts)
        )
    else:
        space = default_space(
            request.template or "imagenet",
            request.depths,
            request.cardinalities,
            request.bottleneck_widths,
            width_multiplier=1.0 if request.width_multiplier is None else request.width_multiplier,
            band=band,
        )
    if request.input_size is not None:
        space = replace(space, input_size=request.input_size)
    result = sample_space(space, request.n, request.seed)
    frame = result.to_frame()
    title = f"{len(frame)} sampled candidates (seed {result.seed}){_input(frame)}"
    return CandidateTable(frame, title, sampled=True, note=result.summary())


def _measured(grid: Grid) -> CandidateTable:
    """The grid with d solved on measured time (``match`` speed or latency)."""
    quantity = resolve_match(grid.match, grid.scope, "block")[1]
    assert quantity is not None
    tolerance = MATCH_TOLERANCE if grid.tolerance is None else grid.tolerance
    with speed_meter(grid.timing) as meter:
        rows, warnings, note = speed_rows(
            meter, quantity, template=grid.template,
            depths=list(grid.depths or (default_depth(grid.template),)),
            cardinalities=list(grid.cardinalities),
            complexity=1.0 if grid.complexity is None else grid.complexity,
            width_multiplier=grid.width_multiplier, input_size=grid.input_size,
            tolerance=tolerance,
        )  # fmt: skip
    frame = grid.band.filter(pd.DataFrame(rows))
    title = f"{len(frame)} candidates at equal measured {quantity}{_input(frame)}"
    return CandidateTable(frame, title, sampled=False, note=note, warnings=warnings)


def _input(frame: pd.DataFrame) -> str:
    """The input the MACs are for, as the title says it (every row shares it)."""
    sizes = {spec["input_size"] for spec in frame["spec"]}
    if len(sizes) != 1:
        return ""
    size = sizes.pop()
    return f", MACs at {size}x{size} input"


def _side(bound: Bound) -> Bound | None:
    # An open (None, None) bound keeps the file's own band for that quantity.
    return None if bound == (None, None) else bound


def _warnings(frame: pd.DataFrame, grid: Grid) -> tuple[str, ...]:
    """One line per solved row further than the tolerance from its target."""
    tolerance = MATCH_TOLERANCE if grid.tolerance is None else grid.tolerance
    lines = (
        off_tolerance(spec_from_dict(row.spec), row.relative_error, tolerance)
        for row in frame.itertuples(index=False)
        if row.relative_error is not None and not pd.isna(row.relative_error)
    )
    return tuple(line for line in lines if line is not None)


def _refuse(request: object, why: str, names: tuple[str, ...], cause: str) -> None:
    """Refuse the first of ``names`` that ``request`` was given, saying ``why`` (with ``cause``)."""
    for name in names:
        if getattr(request, name, None) is not None:
            raise OptionError("{} " + why, name, cause)

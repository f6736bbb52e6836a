"""The space workflow: candidates of a design space, enumerated on a grid or sampled at random.

Two requests, one per mode, so that an option of one mode cannot be given to the other:
:class:`Grid` (every depth x cardinality, d solved for matched complexity or given) and
:class:`Draw` (N distinct specs from a TOML space file or from lists turned into choices).
Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from archlab.search.ranges import Band, Bound
from archlab.search.sampling import default_space, sample_space
from archlab.search.solver import enumerate_space
from archlab.search.space_file import load_space
from archlab.space import default_depth

DEFAULT_CARDINALITIES = (1, 2, 4, 8, 32)  # Table 3's family (Sec. 5.1)


@dataclass(frozen=True)
class Grid:
    """Enumerate depth x cardinality; d is solved for matched complexity unless given."""

    template: str = "imagenet"
    depths: tuple[int, ...] | None = None  # None: the template's usual depth
    cardinalities: tuple[int, ...] = DEFAULT_CARDINALITIES
    bottleneck_widths: tuple[int, ...] | None = None  # given: a grid over d, nothing solved
    complexity: float = 1.0
    scope: str = "block"
    width_multiplier: float = 1.0
    input_size: int | None = None  # None: the template's (224 or 32)
    band: Band = field(default_factory=Band)


@dataclass(frozen=True)
class Draw:
    """Draw ``n`` distinct specs inside the band: from a space file, or lists as choices."""

    n: int
    seed: int = 0
    space_file: Path | None = None  # given: the file describes the space, lists stay None
    template: str = "imagenet"
    depths: tuple[int, ...] | None = None
    cardinalities: tuple[int, ...] | None = None
    bottleneck_widths: tuple[int, ...] | None = None
    width_multiplier: float = 1.0
    input_size: int | None = None  # None: the file's, else the template's
    band: Band = field(default_factory=Band)


@dataclass(frozen=True)
class CandidateTable:
    """The candidates a request found, one row each, and what to call them."""

    frame: pd.DataFrame
    title: str
    sampled: bool
    note: str | None = None  # how a draw went (tries, rejections), for stderr


def band_of(
    macs: Bound | None = None, params: Bound | None = None, acts: Bound | None = None
) -> Band:
    """A band from optional (min, max) bounds."""
    return Band().replaced(macs=macs, params=params, acts=acts)


def space_candidates(request: Grid | Draw) -> CandidateTable:
    """The candidates of one request: the ``space`` command's two modes."""
    if isinstance(request, Grid):
        frame = enumerate_space(
            depths=list(request.depths or (default_depth(request.template),)),
            cardinalities=list(request.cardinalities),
            bottleneck_widths=(
                list(request.bottleneck_widths) if request.bottleneck_widths else None
            ),
            template=request.template,
            complexity=request.complexity,
            scope=request.scope,
            width_multiplier=request.width_multiplier,
            macs_band=request.band.macs,
            params_band=request.band.params,
            input_size=request.input_size,
        )
        frame = request.band.filter(frame)  # the solver bands MACs and params; this adds acts
        return CandidateTable(frame, f"{len(frame)} candidates{_input(frame)}", sampled=False)
    band = request.band
    if request.space_file is not None:
        space = load_space(request.space_file).with_band(
            macs=_side(band.macs), params=_side(band.params), acts=_side(band.acts)
        )
    else:
        space = default_space(
            request.template,
            request.depths,
            request.cardinalities,
            request.bottleneck_widths,
            width_multiplier=request.width_multiplier,
            band=band,
        )
    if request.input_size is not None:
        space = replace(space, input_size=request.input_size)
    result = sample_space(space, request.n, request.seed)
    frame = result.to_frame()
    title = f"{len(frame)} sampled candidates (seed {result.seed}){_input(frame)}"
    return CandidateTable(frame, title, sampled=True, note=result.summary())


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

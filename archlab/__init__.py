"""archlab: ResNeXt-style design-space search and exact complexity analysis.

The flow runs one way: space (specs) -> complexity (math on specs) -> models (torch) -> train ->
store -> report. Importing archlab does not import torch; :func:`build_model` loads it lazily.
"""

from __future__ import annotations

from typing import Any

from archlab.complexity import Complexity, LayerCount, complexity
from archlab.errors import ArchlabError, SolverError, SpecError
from archlab.presets import PRESETS, get_spec
from archlab.report.verdict import compare_arms
from archlab.search.solver import (
    Match,
    enumerate_space,
    match_cardinality,
    match_depth,
    match_flops,
)
from archlab.space import NetSpec, StageSpec, iter_blocks, make_spec, spec_from_dict

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "ArchlabError",
    "Complexity",
    "LayerCount",
    "Match",
    "NetSpec",
    "SolverError",
    "SpecError",
    "StageSpec",
    "__version__",
    "build_model",
    "compare_arms",
    "complexity",
    "enumerate_space",
    "get_spec",
    "iter_blocks",
    "make_spec",
    "match_cardinality",
    "match_depth",
    "match_flops",
    "run_study",
    "spec_from_dict",
]


def build_model(spec: Any, form: str = "c", num_classes: int | None = None, **kw: Any) -> Any:
    """Build the torch model of a spec or preset name (see :func:`archlab.models.build_model`)."""
    from archlab.models import build_model as _build

    return _build(spec, form=form, num_classes=num_classes, **kw)


def run_study(*args: Any, **kwargs: Any) -> Any:
    """Run or resume a study (see :func:`archlab.workflows.study.run_study`); loads torch lazily."""
    from archlab.workflows.study import run_study as _run

    return _run(*args, **kwargs)

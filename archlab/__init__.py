"""archlab: ResNeXt-style design-space search and exact complexity analysis.

The flow runs one way: space (specs) -> complexity (math on specs) -> models (torch) -> train ->
store -> report. Importing archlab does not import torch; :func:`build_model` loads it lazily.
:class:`Store` opens a results store (``Store(path)`` refuses a missing file; ``create=True``
makes one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from archlab._version import __version__
from archlab.blocks import iter_blocks
from archlab.complexity import Complexity, LayerCount, complexity
from archlab.errors import ArchlabError, SolverError, SpecError
from archlab.presets import PRESETS, get_spec
from archlab.space import NetSpec, StageSpec, make_spec, spec_from_dict
from archlab.store import Store

if TYPE_CHECKING:  # the names served lazily below, typed for mypy; never imported at run time
    from archlab.search.solver import (
        Match,
        enumerate_space,
        match_cardinality,
        match_depth,
        match_flops,
    )
    from archlab.stats.best import prob_best
    from archlab.stats.pairwise import compare_arms
    from archlab.stats.sequential import sequential_verdict
    from archlab.train.plan import RunPlan, resolve_plan
    from archlab.workflows.compare_spaces import compare_spaces
    from archlab.workflows.demo import demo
    from archlab.workflows.study_plan import StudyPlan, resolve_study_plan
    from archlab.workflows.train_candidates import train_candidates

__all__ = [
    "PRESETS",
    "ArchlabError",
    "Complexity",
    "LayerCount",
    "Match",
    "NetSpec",
    "RunPlan",
    "SolverError",
    "SpecError",
    "StageSpec",
    "Store",
    "StudyPlan",
    "__version__",
    "build_model",
    "compare_arms",
    "compare_spaces",
    "complexity",
    "count_model",
    "demo",
    "enumerate_space",
    "get_spec",
    "iter_blocks",
    "make_spec",
    "match_cardinality",
    "match_depth",
    "match_flops",
    "prob_best",
    "resolve_plan",
    "resolve_study_plan",
    "run_study",
    "sequential_verdict",
    "spec_from_dict",
    "train_candidates",
]

# The package imports only the core (tests/e2e/test_rooms.py holds it): every name from a later
# stage (search, stats, train, workflows) loads on first use, so `import archlab` stays quick
# and the stages keep running one way.
_LAZY = {
    "Match": "archlab.search.solver",
    "enumerate_space": "archlab.search.solver",
    "match_cardinality": "archlab.search.solver",
    "match_depth": "archlab.search.solver",
    "match_flops": "archlab.search.solver",
    "compare_arms": "archlab.stats.pairwise",
    "sequential_verdict": "archlab.stats.sequential",
    "prob_best": "archlab.stats.best",
    "RunPlan": "archlab.train.plan",
    "resolve_plan": "archlab.train.plan",
    "StudyPlan": "archlab.workflows.study_plan",
    "resolve_study_plan": "archlab.workflows.study_plan",
    "train_candidates": "archlab.workflows.train_candidates",
    "compare_spaces": "archlab.workflows.compare_spaces",
    "demo": "archlab.workflows.demo",
}


def __getattr__(name: str) -> Any:
    """The names from stages above the core, imported when first asked for (PEP 562)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'archlab' has no attribute {name!r}")


def build_model(spec: Any, form: str = "c", num_classes: int | None = None, **kw: Any) -> Any:
    """Build the torch model of a spec or preset name (see :func:`archlab.models.build_model`)."""
    from archlab.models import build_model as _build

    return _build(spec, form=form, num_classes=num_classes, **kw)


def count_model(
    model: Any,
    input_shape: Sequence[int] = (1, 3, 224, 224),
    *,
    counters: Sequence[str] | None = None,
    per_layer: bool = True,
    training_step: bool = False,
    train_mode: bool = False,
) -> Any:
    """Count any nn.Module: traced, and by each tool (see :mod:`archlab.measure.counters`)."""
    from archlab.measure.counters import count_model as _count

    return _count(model, input_shape, counters=counters or None, per_layer=per_layer,
                  training_step=training_step, train_mode=train_mode)  # fmt: skip


def run_study(*args: Any, **kwargs: Any) -> Any:
    """Run or resume a study (see :func:`archlab.workflows.study.run_study`); loads torch lazily."""
    from archlab.workflows.study import run_study as _run

    return _run(*args, **kwargs)

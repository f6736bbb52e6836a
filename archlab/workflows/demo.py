"""The demo workflow: the README's main job on the built-in default data set.

Match-flops and space on the paper's ImageNet template (Tables 2 and 3), then the paper's
question asked on scikit-learn's digits: a study (:mod:`archlab.workflows.study`) of the ResNet
baseline (C = 1) against more cardinality (C = 2, 4) at the same MACs, on the CIFAR template at
a small width, with seeds added until the verdict is decided; then the report, which opens with
the verdict. Rerunning resumes from the store, so a finished demo only redraws the report.

The recipe is :class:`~archlab.train.loop.TrainConfig`'s defaults, the ones the README's
``train-candidates`` example uses (chosen by ``benchmarks/bench_recipe.py``); the demo sets only
what the README shows: the data set, the epochs, the width, the seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archlab.search.solver import Match, match_flops
from archlab.train.data import DatasetSplits
from archlab.train.defaults import DEMO_OUT, DEMO_STORE
from archlab.train.progress import Reporter
from archlab.workflows._outputs import check_output_folders
from archlab.workflows.space import CandidateTable, Grid, space_candidates
from archlab.workflows.study import StudyResult, run_study
from archlab.workflows.study_plan import StudyPlan, resolve_study_plan

DEMO_CARDINALITIES = (2, 4)  # beside the C = 1 baseline; C = 8, 32 cannot match at 1/8 width
DEMO_DEPTH = 29  # ResNeXt-29, the paper's CIFAR network (Sec. 5.3)
# What the demo sets on top of the library's defaults (a study plan's layout): 6 epochs, width
# 1/8 (the data set, digits, and the seeds, 3 to 10 per arm, are the library's defaults).
DEMO_BASE: dict[str, Any] = {
    "study": {
        "name": "demo", "preset": "cardinality",
        "cardinalities": list(DEMO_CARDINALITIES), "depth": DEMO_DEPTH, "width_multiplier": 0.125,
    },
    "budget": {"epochs": 6},
    "output": {"store": DEMO_STORE},
}  # fmt: skip
# Each step's heading; ``show`` receives it with the step's result.
STEPS = (
    "1. match-flops: d for C=32 at ResNet-50's complexity (Table 2)",
    "2. space: the complexity-matched ResNeXt-50 family (Table 3)",
    "3. study: is more cardinality better at equal MACs on digits? (seeds until decided)",
    "4. report",
)


@dataclass(frozen=True)
class DemoResult:
    """Each step's result: the match, the family, the study, the report's path."""

    match: Match
    family: CandidateTable
    study: StudyResult
    report: Path


def demo_plan(
    file: str | Path | None = None, overrides: Mapping[str, Any] | None = None
) -> StudyPlan:
    """The demo's study (C = 1 against C = 2, 4 at equal MACs on digits), with a plan file and
    ``section.field`` overrides on top, as ``archlab demo --config FILE`` and its flags."""
    return resolve_study_plan(file, overrides, base=DEMO_BASE)


def demo(
    plan: StudyPlan | None = None,
    *,
    out: str | Path = DEMO_OUT,
    command: str = "archlab.demo()",
    reporter: Reporter | None = None,
    show: Callable[[str, Any], None] | None = None,
    data: DatasetSplits | None = None,
) -> DemoResult:
    """Match, enumerate, study on digits and report; ``show(step, result)`` after each step.

    ``plan`` defaults to :func:`demo_plan`; it is validated when built, before the first step.
    """
    from archlab.report.markdown import write_report  # matplotlib loads only here

    plan = plan if plan is not None else demo_plan()
    store = plan.training.store
    check_output_folders(store, workdir=plan.training.workdir, out=out)  # before any training

    def done(step: int, result: Any) -> Any:
        if show is not None:
            show(STEPS[step], result)
        return result

    match = done(0, match_flops(32, 50, "imagenet"))
    family = done(1, space_candidates(Grid()))
    study = done(2, run_study(plan, reporter=reporter, data=data))
    report = done(3, write_report(store, out, command=command))
    return DemoResult(match, family, study, report)

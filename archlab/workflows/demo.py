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

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archlab.search.solver import Match, match_flops
from archlab.train.data import DatasetSplits
from archlab.train.progress import Reporter
from archlab.workflows._outputs import check_output_folders
from archlab.workflows.space import CandidateTable, Grid, space_candidates
from archlab.workflows.study import StudyPlan, StudyResult, run_study

DEMO_CARDINALITIES = (2, 4)  # beside the C = 1 baseline; C = 8, 32 cannot match at 1/8 width
DEMO_DEPTH = 29  # ResNeXt-29, the paper's CIFAR network (Sec. 5.3)
DEMO_TRAIN: dict[str, Any] = {"dataset": "digits"}  # + epochs; every other value is the default
DEMO_STUDY = "demo"
DEFAULT_STORE = "archlab-runs/demo.db"
DEFAULT_OUT = "reports/demo"
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
    *, epochs: int = 6, seeds: int = 3, max_seeds: int = 10, width_multiplier: float = 0.125
) -> StudyPlan:
    """The demo's study: C = 1 against C = 2, 4 at equal MACs on digits, seeds until decided."""
    return StudyPlan(
        preset="cardinality",
        template="cifar",
        cardinalities=DEMO_CARDINALITIES,
        width_multiplier=width_multiplier,
        depth=DEMO_DEPTH,
        seeds=seeds,
        max_seeds=max_seeds,
        train={**DEMO_TRAIN, "epochs": epochs},
    )


def demo(
    *,
    out: str | Path = DEFAULT_OUT,
    store: str | Path = DEFAULT_STORE,
    epochs: int = 6,
    seeds: int = 3,
    max_seeds: int = 10,
    width_multiplier: float = 0.125,
    device: str = "auto",
    threads: int | None = None,
    command: str = "archlab.demo()",
    reporter: Reporter | None = None,
    show: Callable[[str, Any], None] | None = None,
    data: DatasetSplits | None = None,
) -> DemoResult:
    """Match, enumerate, study on digits and report; ``show(step, result)`` after each step."""
    from archlab.report.markdown import write_report  # matplotlib loads only here

    check_output_folders(store, out=out)  # before any training (issue 12)

    def done(step: int, result: Any) -> Any:
        if show is not None:
            show(STEPS[step], result)
        return result

    plan = demo_plan(
        epochs=epochs, seeds=seeds, max_seeds=max_seeds, width_multiplier=width_multiplier
    )
    plan.check()  # refuse bad settings before the first step
    match = done(0, match_flops(32, 50, "imagenet"))
    family = done(1, space_candidates(Grid()))
    if Path(store) == Path(DEFAULT_STORE):  # the default store's folder is ours to create
        Path(store).parent.mkdir(parents=True, exist_ok=True)
    study = done(
        2,
        run_study(
            plan, name=DEMO_STUDY, store_path=store, device=device, threads=threads,
            reporter=reporter, data=data,
        ),
    )  # fmt: skip
    report = done(3, write_report(store, out, command=command))
    return DemoResult(match, family, study, report)

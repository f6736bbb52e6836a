"""The demo workflow: the README's main job on the built-in default data set.

Match-flops and space on the paper's ImageNet template (Tables 2 and 3), then a
matched-complexity CIFAR-template family (C = 1, 2, 4, 8 at a small width multiplier) trained
briefly on scikit-learn's digits, then the report. Rerunning resumes from the store, so a
finished demo only redraws the report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archlab.search.solver import Match, match_flops
from archlab.train.data import DatasetSplits
from archlab.train.loop import TrainConfig
from archlab.train.plan import ExecutionOptions, RunPlan
from archlab.train.progress import Reporter
from archlab.workflows._outputs import check_output_folders
from archlab.workflows.space import CandidateTable, Grid, space_candidates
from archlab.workflows.train_candidates import InvocationSummary, train_candidates

DEMO_CARDINALITIES = (1, 2, 4, 8)
DEFAULT_STORE = "archlab-runs/demo.db"
DEFAULT_OUT = "reports/demo"
# Each step's heading; ``show`` receives it with the step's result.
STEPS = (
    "1. match-flops: d for C=32 at ResNet-50's complexity (Table 2)",
    "2. space: the complexity-matched ResNeXt-50 family (Table 3)",
    "3. train-candidates: ResNeXt-29 C=1,2,4,8 on digits",
    "4. report",
)


@dataclass(frozen=True)
class DemoResult:
    """Each step's result: the match, the family, the training summary, the report's path."""

    match: Match
    family: CandidateTable
    summary: InvocationSummary
    report: Path


def demo(
    *,
    out: str | Path = DEFAULT_OUT,
    store: str | Path = DEFAULT_STORE,
    epochs: int = 12,
    seeds: Sequence[int] = (0, 1),
    width_multiplier: float = 0.25,
    device: str = "auto",
    command: str = "archlab.demo()",
    reporter: Reporter | None = None,
    show: Callable[[str, Any], None] | None = None,
    data: DatasetSplits | None = None,
) -> DemoResult:
    """Match, enumerate, train on digits and report; ``show(step, result)`` after each step."""
    from archlab.report.markdown import write_report  # matplotlib loads only here

    check_output_folders(store, out=out)  # before any training (issue 12)

    def done(step: int, result: Any) -> Any:
        if show is not None:
            show(STEPS[step], result)
        return result

    match = done(0, match_flops(32, 50, "imagenet"))
    family = done(1, space_candidates(Grid()))
    specs = [
        match_flops(c, 29, "cifar", width_multiplier=width_multiplier).spec
        for c in DEMO_CARDINALITIES
    ]
    if Path(store) == Path(DEFAULT_STORE):  # the default store's folder is ours to create
        Path(store).parent.mkdir(parents=True, exist_ok=True)
    plan = RunPlan(
        candidates=tuple(specs),
        config=TrainConfig(dataset="digits", epochs=epochs, batch_size=64),
        seeds=tuple(seeds),
        execution=ExecutionOptions(device=device),
        store=str(store),
    )
    summary = done(2, train_candidates(plan, reporter=reporter, data=data))
    report = done(3, write_report(store, out, command=command))
    return DemoResult(match, family, summary, report)

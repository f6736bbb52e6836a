"""The compare-spaces workflow: sample both spaces in one band, train every sample, compare EDFs.

Radosavovic et al., "On Network Design Spaces" (2019): K candidates from each space, one recipe,
then the error EDFs and their Kolmogorov–Smirnov distance (see :mod:`archlab.report.compare`).
Rerunning with the same arguments resumes from the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archlab.errors import ArchlabError
from archlab.report.compare import Comparison, compare_from_store, sample_both, write_comparison
from archlab.search.ranges import Bound
from archlab.search.space_file import load_space
from archlab.train.config import TrainConfig
from archlab.train.data import DatasetSplits
from archlab.train.plan import ExecutionOptions, RunPlan
from archlab.train.progress import Reporter
from archlab.workflows._outputs import check_output_folders
from archlab.workflows.train_candidates import InvocationSummary, train_candidates

DEFAULT_STORE = "archlab-runs/compare.db"
DEFAULT_OUT = "archlab-runs/compare"
DEFAULT_CONFIG = TrainConfig(epochs=4)  # the house recipe on digits, briefly


def compare_config(**changes: Any) -> TrainConfig:
    """The comparison's default recipe with some fields changed (dataset, epochs, ...)."""
    # Built anew, not dataclasses.replace: an unset lr follows the batch size (the linear rule).
    return TrainConfig(**{"epochs": DEFAULT_CONFIG.epochs, **changes})


@dataclass(frozen=True)
class SpaceComparison:
    """What a comparison trained, what it found, and where compare.md went."""

    summary: InvocationSummary
    comparison: Comparison
    report: Path


def compare_spaces(
    space_a: str | Path,
    space_b: str | Path,
    *,
    samples: int = 16,
    seed: int = 0,
    macs: Bound | None = None,
    params: Bound | None = None,
    acts: Bound | None = None,
    config: TrainConfig | None = None,
    seeds: Sequence[int] = (0,),
    execution: ExecutionOptions | None = None,
    store: str | Path = DEFAULT_STORE,
    out: str | Path = DEFAULT_OUT,
    command: str = "archlab.compare_spaces(...)",
    reporter: Reporter | None = None,
    data: DatasetSplits | None = None,
) -> SpaceComparison:
    """Sample ``samples`` specs per space in one band, train them, write compare.md.

    The given bounds replace both files' bands; ``config`` defaults to
    :data:`DEFAULT_CONFIG`. ``command`` is the report's "Regenerate with" line.
    """
    if samples < 1:
        raise ArchlabError(f"samples must be at least 1, got {samples}")
    check_output_folders(store, out=out)
    a, b = sample_both(load_space(space_a), load_space(space_b), samples=samples, seed=seed,
                       macs=macs, params=params, acts=acts)  # fmt: skip
    if Path(store) == Path(DEFAULT_STORE):  # the default store's folder is ours to create
        Path(store).parent.mkdir(parents=True, exist_ok=True)
    plan = RunPlan(
        candidates=(*a.specs, *b.specs),
        config=config or DEFAULT_CONFIG,
        seeds=tuple(seeds),
        execution=execution or ExecutionOptions(),
        store=str(store),
    )
    summary = train_candidates(plan, reporter=reporter, data=data)
    path_a, path_b = Path(space_a), Path(space_b)
    labels = (
        (path_a.stem, path_b.stem) if path_a.stem != path_b.stem else (str(path_a), str(path_b))
    )
    names = ([s.name for s in a.specs], [s.name for s in b.specs])
    comparison = compare_from_store(store, labels, names, summary.config_key)
    report = write_comparison(comparison, out, command=command)
    return SpaceComparison(summary, comparison, report)

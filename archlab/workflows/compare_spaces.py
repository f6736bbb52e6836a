"""The compare-spaces workflow: sample both spaces in one band, train every sample, compare EDFs.

Radosavovic et al., "On Network Design Spaces" (2019): K candidates from each space, one recipe,
then the error EDFs and their Kolmogorov–Smirnov distance (see :mod:`archlab.report.compare`).
Rerunning with the same arguments resumes from the store.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archlab.errors import ArchlabError
from archlab.report.compare import Comparison, compare_from_store, sample_both, write_comparison
from archlab.search.ranges import Bound
from archlab.search.space_file import load_space
from archlab.train.data import DatasetSplits
from archlab.train.defaults import COMPARE_OUT, COMPARE_STORE
from archlab.train.plan import TRAINING_SECTIONS, Training, toml_text, training_from_dict
from archlab.train.progress import Reporter
from archlab.workflows._outputs import check_output_folders
from archlab.workflows.study_plan import layered_plan
from archlab.workflows.train_candidates import InvocationSummary, train_candidates

# What compare-spaces sets on top of the library's defaults: brief runs, its own store.
COMPARE_BASE: dict[str, Any] = {"budget": {"epochs": 4}, "output": {"store": COMPARE_STORE}}
SECTIONS = ("compare", *TRAINING_SECTIONS)
BANDS = ("macs", "params", "acts")


@dataclass(frozen=True)
class CompareQuestion:
    """Which two spaces, how many samples from each, in which band, and with which seeds."""

    space_a: str | None = None  # design space files (TOML)
    space_b: str | None = None
    samples: int = 16
    seed: int = 0  # the sampling seed
    macs: Bound | None = None  # bands replace both files' bands; None: the files' own
    params: Bound | None = None
    acts: Bound | None = None
    seeds: tuple[int, ...] = (0,)  # training seeds of every sample
    out: str = COMPARE_OUT

    def __post_init__(self) -> None:
        object.__setattr__(self, "seeds", tuple(self.seeds))
        object.__setattr__(self, "out", str(self.out))
        if self.space_a is None or self.space_b is None:
            raise ArchlabError(
                "a comparison needs two design space files, A.toml B.toml "
                "(plan keys compare.space_a and compare.space_b)"
            )
        if isinstance(self.samples, bool) or not isinstance(self.samples, int) or self.samples < 1:
            raise ArchlabError(f"compare.samples must be at least 1, got {self.samples!r}")
        for name in BANDS:
            object.__setattr__(self, name, _bound(name, getattr(self, name)))


def _bound(name: str, value: Any) -> Bound | None:
    """A band as (min, max); TOML has no null, so an open side is written 0 or inf."""
    if value is None:
        return None
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ArchlabError(f"compare.{name} must be [MIN, MAX], got {value!r}")
    lo, hi = value
    return (None if lo in (None, 0) else lo, None if hi is None or math.isinf(hi) else hi)


@dataclass(frozen=True)
class ComparePlan:
    """A comparison: its question and the training every sample gets (one run plan)."""

    question: CompareQuestion
    training: Training = field(default_factory=Training)

    def to_dict(self) -> dict[str, Any]:
        """The plan as nested plain data, in the TOML layout."""
        compare = dataclasses.asdict(self.question)
        compare["seeds"] = list(self.question.seeds)
        for name in BANDS:
            band = getattr(self.question, name)
            compare[name] = None if band is None else [band[0] or 0, band[1] or math.inf]
        return {"compare": compare, **self.training.to_dict()}

    def to_toml(self) -> str:
        """The plan as a TOML file that :func:`compare_plan` turns back into this plan."""
        return toml_text(self.to_dict())


def compare_plan(
    file: str | Path | None = None, overrides: Mapping[str, Any] | None = None
) -> ComparePlan:
    """The comparison's plan: its defaults, a plan file, then ``section.field`` overrides."""
    raw = layered_plan(file, overrides, base=COMPARE_BASE, sections=SECTIONS)
    compare = dict(raw.get("compare", {}))
    allowed = [f.name for f in dataclasses.fields(CompareQuestion)]
    for key in compare:
        if key not in allowed:
            raise ArchlabError(f"unknown plan key compare.{key}; valid: {', '.join(allowed)}")
    try:
        return ComparePlan(CompareQuestion(**compare), training_from_dict(raw))
    except TypeError as exc:
        raise ArchlabError(f"a plan value has the wrong type: {exc}") from None


@dataclass(frozen=True)
class SpaceComparison:
    """What a comparison trained, what it found, and where compare.md went."""

    summary: InvocationSummary
    comparison: Comparison
    report: Path


def compare_spaces(
    plan: ComparePlan,
    *,
    command: str = "archlab.compare_spaces(...)",
    reporter: Reporter | None = None,
    data: DatasetSplits | None = None,
) -> SpaceComparison:
    """Sample the plan's samples per space in one band, train them, write compare.md.

    ``command`` is the report's "Regenerate with" line; ``data`` replaces loading the plan's
    data set (tests).
    """
    q, training = plan.question, plan.training
    check_output_folders(training.store, workdir=training.workdir, out=q.out)
    space_a, space_b = str(q.space_a), str(q.space_b)
    a, b = sample_both(load_space(space_a), load_space(space_b), samples=q.samples, seed=q.seed,
                       macs=q.macs, params=q.params, acts=q.acts)  # fmt: skip
    run_plan = training.plan((*a.specs, *b.specs), q.seeds)
    summary = train_candidates(run_plan, reporter=reporter, data=data)
    path_a, path_b = Path(space_a), Path(space_b)
    labels = (
        (path_a.stem, path_b.stem) if path_a.stem != path_b.stem else (str(path_a), str(path_b))
    )
    names = ([s.name for s in a.specs], [s.name for s in b.specs])
    comparison = compare_from_store(training.store, labels, names, summary.config_key)
    report = write_comparison(comparison, q.out, command=command)
    return SpaceComparison(summary, comparison, report)

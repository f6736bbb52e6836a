"""A study's plan: its question plus the training every round shares, resolved once, frozen.

A study is a run plan (:class:`archlab.train.plan.Training`: data, recipe, budget, execution,
output) plus its question: the arms (a preset or an arms file), the complexity target, how arms
are matched and within what tolerance, the verdict's alpha and rope, the seed policy and the
study's time budget. Flags or a TOML file resolve into one :class:`StudyPlan` (docs/recipe.md);
:meth:`StudyPlan.to_toml` writes it back as a file that resolves to the same plan. The layout::

    [study]      name, preset | arms, cardinalities, template, depth, width_multiplier,
                 complexity, match, tolerance, alpha, rope, min_seeds, max_seeds, time_budget
    [data] [recipe] [budget] [execution] [output]   as in a run plan (archlab.train.plan)

Precedence, lowest first: the library's defaults, a study's own (:data:`STUDY_BASE`: the
validation split drawn per seed), a command's own defaults (``base``: the demo's
epochs and width, say), the file, the flags. A layer that sets a budget replaces the budget
below it (epochs and a time budget are one choice), and one that names ``study.preset`` or
``study.arms`` replaces the other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archlab.bounds import MAX_SEED_COUNT, MAX_TIME_BUDGET_S, check_at_most
from archlab.errors import ArchlabError
from archlab.search.arms import MATCHES, PRESETS, check_arms_file
from archlab.search.solver import MATCH_TOLERANCE
from archlab.stats.pairwise import check_settings
from archlab.stats.sequential import MIN_SEEDS_PER_ARM
from archlab.train.plan import (
    TRAINING_SECTIONS,
    Training,
    apply_overrides,
    read_plan_file,
    toml_text,
    training_from_dict,
)

# The default width for a study whose plan gives none, by device. On the CPU, 1/8 is the demo's
# width: its 29 runs of 6 epochs on digits took about 8 minutes on 2 shared cores (README), so a
# study at the default 10 epochs and 3 to 10 seeds per arm takes minutes; at width 1 every run
# costs about 64x the MACs (widths scale MACs quadratically, docs/scaling.md), hours on a CPU.
# On CUDA the paper's own width (Sec. 5.3).
DEFAULT_WIDTH = {"cpu": 0.125, "cuda": 1.0}
SECTIONS = ("study", *TRAINING_SECTIONS)


@dataclass(frozen=True)
class StudyQuestion:
    """What a study asks: arms, target, matching, the verdict's settings and the seed policy."""

    name: str = "study"  # the study's name in the store
    preset: str | None = None
    arms: str | None = None  # a file of specs (``archlab space --json``)
    cardinalities: tuple[int, ...] | None = None  # the preset's default when None
    template: str = "cifar"
    depth: int | None = None  # the baseline's depth; the template's default (50 or 29) if None
    width_multiplier: float | None = None  # None: DEFAULT_WIDTH for the plan's device
    complexity: float | None = None  # the preset's default (1x or 2x) when None
    match: str = "macs"
    tolerance: float = MATCH_TOLERANCE
    alpha: float = 0.05
    rope: float = 0.5  # points of error
    min_seeds: int = 3  # seeds every arm trains before the first look
    max_seeds: int = 10
    time_budget: float | None = None  # seconds of training for the whole study

    def __post_init__(self) -> None:
        if self.cardinalities is not None:
            object.__setattr__(self, "cardinalities", tuple(self.cardinalities))
        if self.preset is None and self.arms is None:
            raise ArchlabError(
                f"a study needs study.preset ({', '.join(PRESETS)}) or study.arms "
                "(a JSON file of specs from `archlab space --json`)"
            )
        if self.preset is not None and self.arms is not None:
            raise ArchlabError("give study.preset or study.arms, not both")
        if self.preset is not None and self.preset not in PRESETS:
            raise ArchlabError(
                f"study.preset must be one of {', '.join(PRESETS)}, got {self.preset!r}"
            )
        if self.match not in MATCHES:
            raise ArchlabError(
                f"study.match must be one of {', '.join(MATCHES)}, got {self.match!r}"
            )
        check_settings(self.alpha, self.rope)
        self._check_seeds()
        check_at_most("study.time_budget", self.time_budget, MAX_TIME_BUDGET_S)
        if self.time_budget is not None and not self.time_budget > 0:
            raise ArchlabError(
                f"study.time_budget must be positive seconds, got {self.time_budget!r}"
            )

    def _check_seeds(self) -> None:
        seeds = (("study.min_seeds", self.min_seeds), ("study.max_seeds", self.max_seeds))
        for key, value in seeds:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ArchlabError(f"{key} must be a positive integer, got {value!r}")
        check_at_most("study.max_seeds", self.max_seeds, MAX_SEED_COUNT)
        if self.max_seeds < MIN_SEEDS_PER_ARM:  # one seed has no spread: no look could decide
            raise ArchlabError(
                f"study.max_seeds must be at least {MIN_SEEDS_PER_ARM}, got {self.max_seeds}: "
                "a verdict needs at least two seeds per arm"
            )
        if self.max_seeds < self.min_seeds:
            raise ArchlabError(
                f"study.max_seeds ({self.max_seeds}) must be at least "
                f"study.min_seeds ({self.min_seeds})"
            )


@dataclass(frozen=True)
class StudyPlan:
    """A study: its question and the training its rounds share (each round a run plan)."""

    question: StudyQuestion
    training: Training = field(default_factory=Training)

    def __post_init__(self) -> None:
        if self.question.width_multiplier is None:  # resolved once, so the plan says what ran
            width = DEFAULT_WIDTH[_device_kind(self.training.execution.device)]
            question = dataclasses.replace(self.question, width_multiplier=width)
            object.__setattr__(self, "question", question)

    @property
    def width_multiplier(self) -> float:
        """The arms' width multiplier, resolved."""
        assert self.question.width_multiplier is not None  # set in __post_init__
        return self.question.width_multiplier

    def replace(self, **changes: Any) -> StudyPlan:
        """A copy with some of the question's fields changed, validated again."""
        return StudyPlan(dataclasses.replace(self.question, **changes), self.training)

    def to_dict(self) -> dict[str, Any]:
        """The plan as nested plain data, in the TOML layout (``None`` where a field is unset)."""
        study = dataclasses.asdict(self.question)
        if study["cardinalities"] is not None:
            study["cardinalities"] = list(study["cardinalities"])
        return {"study": study, **self.training.to_dict()}

    def to_toml(self) -> str:
        """The plan as a TOML file that :func:`resolve_study_plan` turns back into this plan."""
        return toml_text(self.to_dict())


def _device_kind(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def study_plan_from_dict(raw: Mapping[str, Any]) -> StudyPlan:
    """Build and validate a study plan from the nested TOML layout (module docstring)."""
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ArchlabError(f"unknown plan section {unknown[0]!r}; valid: {', '.join(SECTIONS)}")
    study = raw.get("study", {})
    if not isinstance(study, Mapping):
        raise ArchlabError(f"plan section 'study' must be a table, got {study!r}")
    allowed = [f.name for f in dataclasses.fields(StudyQuestion)]
    for key in study:
        if key not in allowed:
            raise ArchlabError(f"unknown plan key study.{key}; valid: {', '.join(allowed)}")
    try:
        question = StudyQuestion(**{k: v for k, v in study.items() if v is not None})
        return StudyPlan(question, training_from_dict(raw))
    except TypeError as exc:  # e.g. alpha = "low": a comparison in a validator fails
        raise ArchlabError(f"a plan value has the wrong type: {exc}") from None


# A verdict should hold over the choice of validation images, not for one held-out set: a
# split drawn per seed (the same for every arm) puts that choice into the seed variance the
# test sees, and measured no noisier than a fixed split (docs/statistics.md, "The validation
# split"). train-candidates keeps TrainConfig's fixed split: it ranks candidates on one set.
STUDY_BASE: dict[str, Any] = {"data": {"split": "per-seed"}}


def resolve_study_plan(
    file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    base: Mapping[str, Any] | None = None,
) -> StudyPlan:
    """The study plan of ``base`` (a command's defaults), a TOML file and ``section.field``
    overrides, each on top of the one before (see the module docstring).

    An arms file is read and checked here, so a plan that names a missing or malformed one is
    refused when it resolves (``--print-config`` included), not when the study starts.
    """
    base = merge_layers([STUDY_BASE, base or {}])
    plan = study_plan_from_dict(layered_plan(file, overrides, base=base, sections=SECTIONS))
    if plan.question.arms is not None:
        check_arms_file(plan.question.arms)
    return plan


def layered_plan(
    file: str | Path | None,
    overrides: Mapping[str, Any] | None,
    *,
    base: Mapping[str, Any] | None,
    sections: Sequence[str],
) -> dict[str, Any]:
    """A command's defaults, a plan file and flag overrides merged, sections checked."""
    layers = [dict(base or {}), read_plan_file(file) if file is not None else {}]
    layers.append(apply_overrides({}, overrides or {}))
    raw = merge_layers(layers)
    unknown = sorted(set(raw) - set(sections))
    if unknown:
        raise ArchlabError(f"unknown plan section {unknown[0]!r}; valid: {', '.join(sections)}")
    return raw


def merge_layers(layers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Nested plan tables merged, later layers on top; a budget or an arms source replaces."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for section, table in layer.items():
            if not isinstance(table, Mapping):
                merged[section] = table  # refused, naming the section, when the plan is built
                continue
            below = merged.get(section)
            below = dict(below) if isinstance(below, Mapping) else {}
            if section == "budget" and table:
                below = {}
            if section == "study" and ({"preset", "arms"} & set(table)):
                below.pop("preset", None)
                below.pop("arms", None)
            merged[section] = {**below, **table}
    return merged

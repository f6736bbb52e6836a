"""Study presets as data: the paper's questions, each a list of arm rules (one registry).

A study preset says which arms answer its question and how each is matched to the complexity
target; :func:`archlab.search.arms.preset_arms` interprets every entry the same way, with no
per-preset code. Adding a preset is one :class:`StudyPreset` entry in :data:`STUDY_PRESETS`
(or :func:`register_study_preset` at run time).

- ``cardinality`` (Table 3 at 1x, docs/paper.md): the ResNet baseline (C = 1, d = 64 times the
  width multiplier, 16 at 1/4 width) and more cardinality at the same complexity, d solved for
  each C.
- ``depth-width-cardinality`` (Table 4, default 2x): *deeper* (C = 1 at the baseline d, depth
  solved), *wider* (C = 1, d solved), *more cardinality* (C = 2 and a large C, d solved), plus
  the 1x baseline as a reference arm, shown but not matched and not tested.

The network presets (named specs such as ``resnext50_32x4d``) are :mod:`archlab.presets`; these
live in search/ because each arm rule names a solver of this stage.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.errors import ArchlabError

# How an arm is matched to the target: the solver it asks, or none (a reference arm).
SOLVES: dict[str, str] = {
    "width": "d solved for the arm's C at the baseline depth (Eq. 4 of docs/paper.md)",
    "depth": "depth solved for the arm's C at the baseline's d",
    "reference": "the 1x ResNet baseline as it is: shown, never matched or tested",
}
ROLES = ("baseline", "cardinality", "deeper", "wider", "reference")
EACH_CARDINALITY = "C={c}"  # the label of a rule expanded once per cardinality of the study


@dataclass(frozen=True)
class ArmRule:
    """One arm (or, labelled ``C={c}``, one arm per cardinality) and how it is matched."""

    label: str
    role: str
    solve: str  # a key of SOLVES
    cardinality: int | None = 1  # None: each of the study's cardinalities

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ArchlabError(f"arm role must be one of {', '.join(ROLES)}, got {self.role!r}")
        if self.solve not in SOLVES:
            raise ArchlabError(f"arm solve must be one of {', '.join(SOLVES)}, got {self.solve!r}")
        if (self.cardinality is None) != (self.label == EACH_CARDINALITY):
            raise ArchlabError(
                f"arm {self.label!r}: a rule for each cardinality is labelled "
                f"{EACH_CARDINALITY!r} and has cardinality None; any other names its C"
            )


@dataclass(frozen=True)
class StudyPreset:
    """A named question: its arms, default complexity and default cardinalities."""

    name: str
    question: str  # ``{c}`` is replaced by the complexity factor
    complexity: float  # x the baseline's cost
    cardinalities: tuple[int, ...]  # defaults; dropped with a note when no d matches them
    arms: tuple[ArmRule, ...]
    source: str  # where in the paper

    def __post_init__(self) -> None:
        each = [r for r in self.arms if r.cardinality is None]
        if len(each) != 1:
            raise ArchlabError(
                f"study preset {self.name!r} needs exactly one {EACH_CARDINALITY!r} arm rule"
            )


STUDY_PRESETS: dict[str, StudyPreset] = {
    "cardinality": StudyPreset(
        "cardinality",
        "At the baseline's complexity, does more cardinality (C) lower the error?",
        1.0,
        (2, 4, 8, 32),
        (
            ArmRule("C=1", "baseline", "width"),  # C = 1: the baseline itself (d = 64 x M)
            ArmRule(EACH_CARDINALITY, "cardinality", "width", None),
        ),
        "Table 3",
    ),
    "depth-width-cardinality": StudyPreset(
        "depth-width-cardinality",
        "At {c:g}x the baseline's complexity, is more cardinality better than going deeper "
        "or wider?",
        2.0,
        (2, 32),  # Table 4: 2x64d and 64x4d at 2x; 32 for a large C
        (
            ArmRule("deeper", "deeper", "depth"),
            ArmRule("wider", "wider", "width"),
            ArmRule(EACH_CARDINALITY, "cardinality", "width", None),
            ArmRule("1x baseline", "reference", "reference"),
        ),
        "Table 4",
    ),
}


def study_preset(name: str) -> StudyPreset:
    """The study preset called ``name``; a miss names the valid ones."""
    preset = STUDY_PRESETS.get(name) if isinstance(name, str) else None
    if preset is None:
        raise ArchlabError(f"preset must be one of {', '.join(STUDY_PRESETS)}, got {name!r}")
    return preset


def register_study_preset(preset: StudyPreset) -> None:
    """Add a study preset; a name already taken is refused."""
    if preset.name in STUDY_PRESETS:
        raise ArchlabError(f"study preset {preset.name!r} is already registered")
    STUDY_PRESETS[preset.name] = preset

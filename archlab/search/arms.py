"""The arms of a study: candidate specs matched to one complexity target (Tables 3 and 4).

The presets are data in :mod:`archlab.search.presets` (one registry: which arms, how each is
matched); :func:`preset_arms` interprets any entry the same way. Arms from a file are checked
by :func:`file_arms`.

Arms are matched on whole-network MACs (``match="macs"``) or params; every arm must lie within
``tolerance`` of the target, or is refused naming the closest value reachable. A preset's
*default* cardinalities that no d brings within the tolerance at a small width (d is an integer
number of channels, too coarse at 1/8 width for C = 32) are left out with a note; cardinalities
the user names are never left out, only refused. The verdict compares every pair of matched arms.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archlab.complexity import totals
from archlab.errors import ArchlabError, SolverError
from archlab.presets import get_spec
from archlab.search.presets import (
    STUDY_PRESETS,
    ArmRule,
    StudyPreset,
    study_preset,
)
from archlab.search.solver import (
    MATCH_TOLERANCE,
    Match,
    match_depth,
    match_flops,
    scope_cost,
)
from archlab.search.spec_list import read_spec_list
from archlab.space import DEFAULT_DEPTHS, NetSpec, make_spec, spec_from_dict

# The study presets' registry itself (not a copy), so a registered preset is a valid name.
PRESETS: dict[str, StudyPreset] = STUDY_PRESETS
# match -> the analytic scope solved first: speed and latency start from the MACs match and are
# then solved on measured time (archlab.search.speed_arms).
MATCHES: dict[str, str] = {"macs": "network", "params": "params", "speed": "network",
                           "latency": "network"}  # fmt: skip
FILE_QUESTION = "At matched complexity, which of these arms has the lowest error?"


@dataclass(frozen=True)
class Arm:
    """One arm: a label, its spec, and how close its cost lies to the target."""

    label: str
    role: str  # baseline, cardinality, deeper, wider, reference, custom
    spec: NetSpec
    value: int  # MACs or params, as matched
    relative_error: float
    matched: bool = True  # False for a reference arm: shown, never tested
    speed: dict[str, Any] | None = None  # its measured time, when matched on speed or latency

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: label, role, C, d, depth, MACs, params, match error and the spec."""
        macs, params, acts = totals(self.spec)
        measured = {} if self.speed is None else {"speed": self.speed}  # a MACs study: as before
        return {
            "label": self.label,
            "role": self.role,
            "matched": self.matched,
            "name": self.spec.name,
            "cardinality": self.spec.cardinality,
            "bottleneck_width": self.spec.bottleneck_width,
            "depth": self.spec.depth,
            "blocks": list(self.spec.blocks),
            "macs": macs,
            "params": params,
            "acts": acts,
            "value": self.value,
            "relative_error": self.relative_error,
            "spec": self.spec.to_dict(),
            **measured,
        }


@dataclass(frozen=True)
class ArmSet:
    """The arms of a study, their shared target and what a default list had to leave out."""

    question: str
    match: str  # macs or params
    complexity: float
    target: float
    arms: tuple[Arm, ...]
    notes: tuple[str, ...] = ()
    baseline_speed: dict[str, Any] | None = None  # the baseline's measured time (speed, latency)

    @property
    def tested(self) -> list[str]:
        """Labels of the matched arms, the ones the verdict compares."""
        return [a.label for a in self.arms if a.matched]

    def arm(self, label: str) -> Arm:
        """The arm with this label."""
        return next(a for a in self.arms if a.label == label)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description, as stored with the study."""
        return {
            "question": self.question,
            "match": self.match,
            "complexity": self.complexity,
            "target": self.target,
            "arms": [a.to_dict() for a in self.arms],
            "notes": list(self.notes),
            **({} if self.baseline_speed is None else {"baseline_speed": self.baseline_speed}),
        }


@dataclass(frozen=True)
class _Setting:
    template: str
    complexity: float
    width_multiplier: float
    match: str
    tolerance: float
    num_classes: int | None
    input_size: int | None

    @property
    def scope(self) -> str:
        return MATCHES[self.match]

    def kw(self) -> dict[str, Any]:
        return {
            "width_multiplier": self.width_multiplier,
            "num_classes": self.num_classes,
            "input_size": self.input_size,
        }


def _check(setting: _Setting) -> None:
    if setting.match not in MATCHES:
        raise ArchlabError(f"match must be one of {', '.join(MATCHES)}, got {setting.match!r}")
    tol = setting.tolerance
    if not (isinstance(tol, int | float) and math.isfinite(tol) and 0 < tol < 1):
        raise ArchlabError(f"tolerance must lie in (0, 1), got {tol!r}")


def _unit(match: str) -> str:
    return "params" if match == "params" else "MACs"


def _arm(label: str, role: str, solve: Callable[[], Match], s: _Setting) -> Arm:
    """Solve one arm; beyond the tolerance it is refused, naming the closest value reachable."""
    try:
        m = solve()
    except SolverError as exc:
        raise ArchlabError(f"arm {label!r} cannot be matched: {exc}") from None
    if m.relative_error > s.tolerance:
        raise ArchlabError(
            f"arm {label!r} cannot be matched within {s.tolerance:.0%} of the target "
            f"{m.target:,.0f} {_unit(s.match)}: the closest, {m.spec.name}, has {m.value:,} "
            f"({m.relative_error:.1%} off)"
        )
    return Arm(label, role, m.spec, m.value, m.relative_error)


def _cardinality_arms(
    rule: ArmRule, cardinalities: Sequence[int], s: _Setting, *, strict: bool, depth: int
) -> tuple[list[Arm], list[str]]:
    arms: list[Arm] = []
    notes: list[str] = []
    for c in cardinalities:
        try:
            arms.append(_rule_arm(rule, c, s, depth))
        except ArchlabError as exc:
            if strict:
                raise
            notes.append(f"left out {exc}")
    return arms, notes


def _rule_arm(rule: ArmRule, c: int, s: _Setting, depth: int) -> Arm:
    """The arm one rule describes for cardinality ``c``, matched by the rule's solver."""
    label = rule.label.format(c=c)
    if rule.solve == "reference":  # the ResNet baseline as it is, shown beside the arms
        ref = make_spec(s.template, depth, c, None, **s.kw())
        value = scope_cost(s.scope)(ref)
        target = _target(s, depth)
        return Arm(label, rule.role, ref, value, (value - target) / target, False)
    if rule.solve == "depth":  # at the baseline's d for this width (None)
        return _arm(label, rule.role, lambda: _deeper(c, s), s)
    return _arm(label, rule.role, lambda: _one(c, depth, s), s)


def _check_cardinalities(cardinalities: Sequence[int] | None) -> None:
    if cardinalities is None:
        return
    if not cardinalities:
        raise ArchlabError("cardinalities must not be empty")
    if len(set(cardinalities)) != len(cardinalities):
        raise ArchlabError(f"cardinalities must not repeat, got {list(cardinalities)}")
    if any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in cardinalities):
        raise ArchlabError(f"cardinalities must be positive integers, got {list(cardinalities)}")


def preset_arms(
    preset: str,
    *,
    template: str = "cifar",
    complexity: float | None = None,
    cardinalities: Sequence[int] | None = None,
    width_multiplier: float = 1.0,
    match: str = "macs",
    tolerance: float = MATCH_TOLERANCE,
    num_classes: int | None = None,
    input_size: int | None = None,
    depth: int | None = None,
) -> ArmSet:
    """The arms of a registered study preset (:mod:`archlab.search.presets`), matched."""
    entry = study_preset(preset)
    _check_cardinalities(cardinalities)
    factor = entry.complexity if complexity is None else complexity
    s = _Setting(template, factor, width_multiplier, match, tolerance, num_classes, input_size)
    _check(s)
    depth = DEFAULT_DEPTHS.get(template, 50) if depth is None else depth  # the baseline's
    strict = cardinalities is not None
    wanted = tuple(cardinalities) if cardinalities is not None else entry.cardinalities
    arms: list[Arm] = []
    notes: list[str] = []
    for rule in entry.arms:
        if rule.cardinality is not None:
            arms.append(_rule_arm(rule, rule.cardinality, s, depth))
            continue
        # A C whose label a fixed arm already has is that arm (C = 1 is the baseline arm).
        taken = {a.label for a in arms} | {r.label for r in entry.arms}
        each = [c for c in wanted if rule.label.format(c=c) not in taken]
        if not each:  # e.g. --cardinalities 1: C = 1 is the baseline arm, nothing to compare
            own = ", ".join(sorted(taken - {rule.label}))
            raise ArchlabError(
                f"cardinalities needs a C beyond the preset's own arms ({own}), "
                f"got {list(wanted)}; e.g. 1,2,4"
            )
        more, notes = _cardinality_arms(rule, each, s, strict=strict, depth=depth)
        if not more:
            raise ArchlabError(
                f"no cardinality arm lies within {tolerance:.0%} of the target at width "
                f"multiplier {width_multiplier:g}: {'; '.join(notes)}"
            )
        arms += more
    question = entry.question.format(c=factor)
    return ArmSet(question, match, float(factor), _target(s, depth), tuple(arms), tuple(notes))


def _deeper(c: int, s: _Setting) -> Match:
    return match_depth(c, None, s.template, s.complexity, s.scope, max_error=math.inf, **s.kw())


def _one(c: int, depth: int, s: _Setting) -> Match:
    return match_flops(c, depth, s.template, s.complexity, s.scope, max_error=math.inf, **s.kw())


def _target(s: _Setting, depth: int) -> float:
    base = make_spec(s.template, depth, 1, None, **s.kw())  # the ResNet baseline
    return scope_cost(s.scope)(base) * s.complexity


def file_arms(
    path: str | Path,
    *,
    complexity: float = 1.0,
    match: str = "macs",
    tolerance: float = MATCH_TOLERANCE,
    num_classes: int | None = None,
    input_size: int | None = None,
) -> ArmSet:
    """Arms from the JSON list ``archlab space --json`` prints (or spec dicts), checked."""
    specs = _read_specs(Path(path))
    first = specs[0]
    s = _Setting(
        first.template,
        complexity,
        first.width_multiplier,
        match,
        tolerance,
        num_classes if num_classes is not None else first.num_classes,
        input_size if input_size is not None else first.input_size,
    )
    _check(s)
    target = _target(s, DEFAULT_DEPTHS[first.template])
    cost = scope_cost(s.scope)
    specs = [_with_data(spec, s.num_classes, s.input_size) for spec in specs]
    names = [spec.name for spec in specs]
    for label in names:
        if names.count(label) > 1:
            raise ArchlabError(f"arms must not repeat: {label} is listed twice")
    arms: list[Arm] = []
    for spec in specs:
        value = cost(spec)
        error = abs(value - target) / target
        if error > tolerance:
            raise ArchlabError(
                f"arm {spec.name!r} is {error:.1%} off the target {target:,.0f} "
                f"{_unit(match)} (it has {value:,}; tolerance {tolerance:.0%})"
            )
        arms.append(Arm(spec.name, "custom", spec, value, error))
    if len(arms) < 2:
        raise ArchlabError(f"an arms file needs at least two arms, {str(path)!r} has {len(arms)}")
    return ArmSet(FILE_QUESTION, match, float(complexity), target, tuple(arms))


def check_arms_file(path: str | Path) -> None:
    """Refuse an arms file that cannot be read, lists no valid specs or fewer than two, as a
    study would, before any data loads (matching them waits for the data's classes and size)."""
    specs = _read_specs(Path(path))
    if len(specs) < 2:
        raise ArchlabError(f"an arms file needs at least two arms, {str(path)!r} has {len(specs)}")


def _with_data(spec: NetSpec, num_classes: int | None, input_size: int | None) -> NetSpec:
    data = spec.to_dict()
    if num_classes is not None:
        data["num_classes"] = num_classes
    if input_size is not None:
        data["input_size"] = input_size
    return spec_from_dict(data)


def _read_specs(path: Path) -> list[NetSpec]:
    """Specs from a list of names (or ``{"arms": [names]}``), else from a list of spec rows."""
    names = _arm_names(path)
    if names is None:
        return read_spec_list(path, "arms file")
    return [get_spec(name) for name in names]


def _arm_names(path: Path) -> list[str] | None:
    """The names an arms file lists (``["resnext29_8x3d_w0.25", ...]``), or None if it lists
    specs (or cannot be read: :func:`read_spec_list` then says why in its words)."""
    try:
        rows = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, RecursionError, json.JSONDecodeError):
        return None
    if isinstance(rows, dict) and set(rows) == {"arms"}:
        rows = rows["arms"]
        if not isinstance(rows, list) or not all(isinstance(r, str) for r in rows) or not rows:
            raise ArchlabError(f'arms file {str(path)!r}: "arms" must be a non-empty list of names')
    if isinstance(rows, list) and rows and all(isinstance(r, str) for r in rows):
        return rows
    return None

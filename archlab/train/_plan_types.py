"""The type and range of every plan key, in one table, checked before a plan is built.

A plan resolves from flags or from a TOML file through the same nested layout (see
:mod:`archlab.train.plan`), and :func:`check_plan_types` runs on that layout before anything is
constructed, so both routes get one rule: ``amp = "yes"`` and ``epochs = 1.5`` are refused, not
stored verbatim or rounded; an unknown key is refused in every section, ``[[candidates]]``
included; a step milestone at or beyond the end of the run is refused; and ``--print-config``
never prints a plan that training would refuse. Which *value* of a string is valid (a schedule,
a device) stays with the dataclass that owns it; this table holds types and numeric ranges.
Torch-free.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from archlab.bounds import (
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    MAX_LIMIT,
    MAX_THREADS,
    MAX_TIME_BUDGET_S,
    MAX_WORKERS,
    check_at_most,
)
from archlab.errors import ArchlabError
from archlab.train.config import SPLITS

MAX_SEED = 2**31  # torch generators take 64-bit seeds; (seed, epoch) streams need headroom
SPEC_KEYS = ("template", "stem_width", "stages", "num_classes", "input_size")  # NetSpec.to_dict
STAGE_KEYS = ("depth", "w_out", "stride", "cardinality", "bottleneck_width")


@dataclass(frozen=True)
class Check:
    """One key's rule: a predicate on the value, the words that describe what it allows, and an
    upper bound on absurd values (archlab.bounds), refused in check_at_most's words."""

    ok: Callable[[Any], bool]
    allowed: str
    at_most: int | None = None

    def passes(self, value: Any) -> bool:
        """Whether ``value`` is of the type, in the range and within the bound."""
        return self.ok(value) and (self.at_most is None or value <= self.at_most)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def integer(lo: int, at_most: int | None = None) -> Check:
    """An integer >= lo, at most ``at_most`` (no bool, no float such as 1.5 or 2.0)."""
    return Check(lambda v: _is_int(v) and v >= lo, f"an integer >= {lo}", at_most)


def number(
    lo: float,
    hi: float | None = None,
    *,
    lo_open: bool,
    hi_open: bool = False,
    at_most: int | None = None,
) -> Check:
    """A finite number between lo and hi, each end open or closed, at most ``at_most``."""

    def ok(v: Any) -> bool:
        if not _is_number(v) or (v <= lo if lo_open else v < lo):
            return False
        return hi is None or (v < hi if hi_open else v <= hi)

    left = "(" if lo_open else "["
    right = "inf)" if hi is None else _words(hi) + (")" if hi_open else "]")
    return Check(ok, f"a number in {left}{_words(lo)}, {right}", at_most)


def _words(bound: float) -> str:
    return f"{bound:,}" if float(bound).is_integer() and abs(bound) >= 1000 else f"{bound:g}"


def list_of(item: Check) -> Check:
    """A list (or tuple) whose every item passes ``item``."""
    return Check(
        lambda v: isinstance(v, list | tuple) and all(item.passes(x) for x in v),
        f"a list whose items are each {item.allowed}",
    )


BOOL = Check(lambda v: isinstance(v, bool), "true or false")
TEXT = Check(lambda v: isinstance(v, str), "a string")
# A place to write to: an empty one would silently mean the current folder.
WHERE = Check(lambda v: isinstance(v, str) and v.strip() != "", "a non-empty string")
POSITIVE = number(0, lo_open=True)
# Milestones are fractions of the run (Sec. 5.3: 150/300 and 225/300 epochs); one at 1 or
# beyond falls after the last epoch and would never drop the lr.
MILESTONE = Check(
    number(0, 1, lo_open=True, hi_open=True).ok,
    "a fraction of the run in (0, 1) (1 is the run's end)",
)

PLAN_TYPES: dict[str, Check] = {
    # How many seeds (at most MAX_SEED_COUNT) and repeats are the plan's own checks.
    "seeds": Check(
        lambda v: list_of(integer(0, MAX_SEED - 1)).passes(v) and len(v) > 0,
        "a non-empty list of integers in [0, 2**31)",
    ),
    "data.name": TEXT,
    "data.val_fraction": number(0, 0.5, lo_open=True),  # archlab.train.data.split's range
    "data.split_seed": integer(0, MAX_SEED - 1),
    "data.split": Check(lambda v: v in SPLITS, " or ".join(SPLITS)),
    "data.stratify": BOOL,
    "data.limit": integer(1, MAX_LIMIT),
    "recipe.batch_size": integer(1, MAX_BATCH_SIZE),
    "recipe.lr": POSITIVE,
    "recipe.momentum": number(0, 1, lo_open=False, hi_open=True),
    "recipe.weight_decay": number(0, lo_open=False),
    "recipe.nesterov": BOOL,
    "recipe.decay_bn_and_bias": BOOL,
    "recipe.schedule": TEXT,
    "recipe.warmup_epochs": integer(0, MAX_EPOCHS),
    "recipe.step_milestones": list_of(MILESTONE),
    "recipe.label_smoothing": number(0, 1, lo_open=False, hi_open=True),
    "recipe.augment": TEXT,
    "recipe.form": TEXT,
    "recipe.zero_init_residual": BOOL,
    "recipe.channels_last": BOOL,
    "recipe.amp": BOOL,
    "recipe.compile": BOOL,
    "budget.epochs": integer(1, MAX_EPOCHS),
    "budget.time_budget": number(0, lo_open=True, at_most=MAX_TIME_BUDGET_S),
    "strategy.name": TEXT,
    "strategy.eta": integer(2),
    "strategy.min_epochs": integer(1, MAX_EPOCHS),
    "strategy.max_epochs": integer(1, MAX_EPOCHS),
    "execution.executor": TEXT,
    "execution.workers": integer(1, MAX_WORKERS),
    "execution.ray_address": TEXT,
    "execution.gpus_per_run": number(0, lo_open=False, at_most=MAX_WORKERS),
    "execution.threads": integer(1, MAX_THREADS),
    "execution.device": TEXT,
    "execution.reclaim": BOOL,
    "output.store": TEXT,
    "output.workdir": TEXT,
    "output.keep": integer(1),
    "output.mlflow": WHERE,
    "output.tensorboard": WHERE,
    "select.cardinalities": list_of(integer(1)),
    "select.models": list_of(TEXT),
    "select.files": list_of(TEXT),
    "select.depth": integer(1),
    "select.template": TEXT,
    "select.width_multiplier": POSITIVE,
    "select.complexity": POSITIVE,
    "select.scope": TEXT,
}


def check_plan_types(raw: Mapping[str, Any]) -> None:
    """Refuse a value of the wrong type or range, or an unknown key, naming ``section.field``.

    ``raw`` is the nested plan layout; sections, candidates and a ``None`` (unset) pass here
    and are checked by the plan itself.
    """
    for section, table in raw.items():
        if section == "candidates":
            _check_candidates(table)
        elif isinstance(table, Mapping):
            for name, value in table.items():
                _check(f"{section}.{name}", value)
        else:
            _check(section, table)


def _check(key: str, value: Any) -> None:
    rule = PLAN_TYPES.get(key)
    if rule is None or value is None:
        return  # unknown keys are refused by the plan's section check, with the valid ones
    if not rule.ok(value):
        raise ArchlabError(f"{key} must be {rule.allowed}, got {value!r}")
    if rule.at_most is not None:
        check_at_most(key, value, rule.at_most)


def _check_candidates(entries: Any) -> None:
    """Each ``[[candidates]]`` table holds a spec's keys and each stage a stage's, no others."""
    if not isinstance(entries, list | tuple):
        return  # the plan says it must be a list
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            continue  # the plan says it must be a table
        _known(entry, SPEC_KEYS, f"candidates[{i}]")
        stages = entry.get("stages")
        for j, stage in enumerate(stages if isinstance(stages, list | tuple) else ()):
            if isinstance(stage, Mapping):
                _known(stage, STAGE_KEYS, f"candidates[{i}].stages[{j}]")


def _known(table: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ArchlabError(f"unknown key {unknown[0]!r} in {where}; valid: {', '.join(allowed)}")

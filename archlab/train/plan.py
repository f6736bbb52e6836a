"""One frozen run plan: which candidates train, on what data, with which recipe, how long, where.

Flags or a TOML file resolve once into a :class:`RunPlan`, then freeze (docs/recipe.md). The driver
consumes it, every run stores its slice of it (:meth:`RunPlan.run_config`), and
:meth:`RunPlan.to_toml` writes it back as a file that resolves to the same plan. The TOML layout::

    seeds = [0, 1]
    [data]       name, val_fraction, split_seed, split, stratify, limit
    [recipe]     batch_size, lr, momentum, weight_decay, schedule, ... (TrainConfig's recipe)
    [budget]     epochs or time_budget (none with halving: its max_epochs is the budget)
    [strategy]   name = "grid" | "halving", and for halving eta, min_epochs, max_epochs
    [execution]  executor, workers, threads, gpus_per_run, ray_address, device, reclaim
    [output]     store, workdir, keep (newest checkpoints kept per run, besides the best),
                 mlflow (a tracking URI), tensorboard (a folder): docs/training.md, Tracking
    [select]     cardinalities, models, files, depth, template, width_multiplier, complexity,
                 scope: candidates to resolve (read only; a resolved plan lists them instead)
    [[candidates]]  explicit specs, as NetSpec.to_dict() writes them

Error messages name plan keys as ``section.field`` (``strategy.max_epochs``), never CLI flags:
the CLI maps those keys to its own words.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, from PyPI, before 3.11
    import tomli as tomllib

from archlab.bounds import MAX_EPOCHS, MAX_SEED_COUNT, check_at_most
from archlab.errors import ArchlabError
from archlab.presets import get_spec
from archlab.search.solver import match_flops
from archlab.search.spec_list import read_spec_list
from archlab.space import NetSpec, default_depth, spec_from_dict
from archlab.train._plan_types import MAX_SEED, check_plan_types
from archlab.train.config import DEFAULT_KEEP, TrainConfig, check_keep
from archlab.train.defaults import DEFAULT_STORE
from archlab.train.execution import ExecutionOptions as ExecutionOptions  # re-exported

STRATEGIES = ("grid", "halving")
DATA_FIELDS = {"name": "dataset", "val_fraction": "val_fraction", "split_seed": "split_seed",
               "split": "split", "stratify": "stratify", "limit": "limit"}  # fmt: skip
BUDGET_FIELDS = ("epochs", "time_budget")
OUTPUT_FIELDS = ("store", "workdir", "keep", "mlflow", "tensorboard")
RECIPE_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig)
                      if f.name not in (*DATA_FIELDS.values(), *BUDGET_FIELDS))  # fmt: skip
SELECT_FIELDS = ("cardinalities", "models", "files", "depth", "template", "width_multiplier",
                 "complexity", "scope")  # fmt: skip
SELECT_SOURCES = ("cardinalities", "models", "files")
SECTIONS = ("seeds", "data", "recipe", "budget", "strategy", "execution", "output", "select",
            "candidates")  # fmt: skip
TRAINING_SECTIONS = ("data", "recipe", "budget", "execution", "output")  # a study's too


@dataclass(frozen=True)
class Halving:
    """Successive halving: keep the best 1/eta at each rung, from min to max epochs."""

    eta: int = 2
    min_epochs: int = 1
    max_epochs: int = 8

    def __post_init__(self) -> None:
        if isinstance(self.eta, bool) or not isinstance(self.eta, int) or self.eta < 2:
            raise ArchlabError(f"strategy.eta must be an integer >= 2, got {self.eta!r}")
        if self.min_epochs < 1:
            raise ArchlabError(f"strategy.min_epochs must be at least 1, got {self.min_epochs}")
        check_at_most("strategy.max_epochs", self.max_epochs, MAX_EPOCHS)
        if self.min_epochs > self.max_epochs:
            low, high = self.min_epochs, self.max_epochs
            raise ArchlabError(f"strategy.min_epochs {low} is above strategy.max_epochs {high}")

    @property
    def rungs(self) -> tuple[int, ...]:
        """The epoch budget of each rung: min, min·eta, …, max (the last one capped)."""
        budgets, budget = [], self.min_epochs
        while budget < self.max_epochs:
            budgets.append(budget)
            budget *= self.eta
        return (*budgets, self.max_epochs)

    def survivors(self, n: int) -> int:
        """How many of ``n`` candidates go on to the next rung."""
        return max(1, n // self.eta)

    def key_suffix(self) -> str:
        """Marks halving runs apart from grid runs of the same training config."""
        return f"-halving-eta{self.eta}-min{self.min_epochs}"


@dataclass(frozen=True)
class Training:
    """What every run of an invocation shares: recipe, execution, output. A :class:`RunPlan` is
    this plus candidates, seeds and strategy; a study's plan is this plus its question."""

    config: TrainConfig = field(default_factory=TrainConfig)  # data, recipe and budget
    execution: ExecutionOptions = field(default_factory=ExecutionOptions)
    store: str = DEFAULT_STORE
    workdir: str | None = None  # default: beside the store
    keep: int = DEFAULT_KEEP  # checkpoints kept per run: files only, never results
    mlflow: str | None = None  # a tracking URI: runs are copied there too, the store stays truth
    tensorboard: str | None = None  # a folder of event files, one per run

    def __post_init__(self) -> None:
        check_keep(self.keep, "output.keep")

    def plan(self, candidates: Sequence[NetSpec], seeds: Sequence[int]) -> RunPlan:
        """The grid plan that trains these candidates for these seeds under this training."""
        return RunPlan(
            candidates=tuple(candidates), config=self.config, seeds=tuple(seeds),
            execution=self.execution, store=self.store, workdir=self.workdir, keep=self.keep,
            mlflow=self.mlflow, tensorboard=self.tensorboard,
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The data, recipe, budget, execution and output tables of the TOML layout."""
        cfg = self.config.to_dict()
        return {
            # stratify = false too, for --print-config; runs store it only when on (run_config)
            "data": {key: getattr(self.config, name) for key, name in DATA_FIELDS.items()},
            "recipe": {name: cfg[name] for name in RECIPE_FIELDS},
            "budget": {"epochs": cfg["epochs"], "time_budget": cfg["time_budget"]},
            "execution": dataclasses.asdict(self.execution),
            "output": {k: getattr(self, k) for k in OUTPUT_FIELDS},
        }


@dataclass(frozen=True)
class RunPlan:
    """Everything one invocation trains, resolved and validated once; frozen from then on."""

    candidates: tuple[NetSpec, ...]
    config: TrainConfig = field(default_factory=TrainConfig)  # data, recipe and budget
    seeds: tuple[int, ...] = (0,)
    halving: Halving | None = None  # None: a grid, every candidate at one budget
    execution: ExecutionOptions = field(default_factory=ExecutionOptions)
    store: str = DEFAULT_STORE
    workdir: str | None = None  # default: beside the store
    # Checkpoints kept per run: files only, never results, so no part of a run's config key.
    keep: int = DEFAULT_KEEP
    mlflow: str | None = None  # tracking sinks, fed after the store (docs/training.md)
    tensorboard: str | None = None

    def __post_init__(self) -> None:
        check_keep(self.keep, "output.keep")
        object.__setattr__(self, "candidates", tuple(self.candidates))
        object.__setattr__(self, "seeds", tuple(self.seeds))
        object.__setattr__(self, "store", str(self.store))
        if self.workdir is not None:
            object.__setattr__(self, "workdir", str(self.workdir))
        if not self.candidates:
            raise ArchlabError(
                "no candidates: give select.cardinalities, select.models, select.files "
                "or [[candidates]]"
            )
        seeds = list(self.seeds)
        if not seeds or len(set(seeds)) != len(seeds):
            raise ArchlabError(f"seeds must be a non-empty list without repeats, got {seeds}")
        if len(seeds) > MAX_SEED_COUNT:
            raise ArchlabError(f"seeds: at most {MAX_SEED_COUNT:,} seeds, got {len(seeds):,}")
        if not all(isinstance(s, int) and 0 <= s < MAX_SEED for s in seeds):
            raise ArchlabError(f"seeds must be integers in [0, {MAX_SEED}), got {seeds}")
        if self.halving is not None and self.config.epochs != self.halving.max_epochs:
            raise ArchlabError(
                "strategy halving takes strategy.min_epochs and strategy.max_epochs, "
                "not budget.epochs or budget.time_budget"
            )
        # A plan built in Python meets the table a resolved one met (amp="yes" is no bool).
        check_plan_types(self.to_dict())

    @property
    def strategy(self) -> str:
        """``grid`` or ``halving``."""
        return "grid" if self.halving is None else "halving"

    @property
    def config_key(self) -> str:
        """Names "the same run" in a store: the recipe's key, marked apart for halving."""
        suffix = self.halving.key_suffix() if self.halving is not None else ""
        return self.config.key() + suffix

    def replace(self, **changes: Any) -> RunPlan:
        """A copy with some fields changed, validated again."""
        return dataclasses.replace(self, **changes)

    @property
    def training(self) -> Training:
        """What its runs share with any other invocation's: recipe, execution, output."""
        return Training(self.config, self.execution, self.store, self.workdir, self.keep,
                        self.mlflow, self.tensorboard)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The plan as nested plain data, in the TOML layout (``None`` where a field is unset)."""
        strategy: dict[str, Any] = {"name": self.strategy}
        if self.halving is not None:
            strategy.update(dataclasses.asdict(self.halving))
        training = self.training.to_dict()
        if self.halving is not None:  # halving's budget is its max_epochs
            training["budget"]["epochs"] = None
        return {
            "seeds": list(self.seeds),
            **{k: training[k] for k in ("data", "recipe", "budget")},
            "strategy": strategy,
            **{k: training[k] for k in ("execution", "output")},
            "candidates": [spec.to_dict() for spec in self.candidates],
        }

    def run_config(self, *, rung: int, stop_epoch: int | None) -> dict[str, Any]:
        """What one run stores: the plan less candidates, seeds and output, plus its rung."""
        plan = self.to_dict()
        for other_runs in ("candidates", "seeds", "output"):
            plan.pop(other_runs)
        plan["data"] = {k: v for k, v in plan["data"].items() if k != "stratify" or v}  # if on
        return {**plan, "rung": rung, "stop_epoch": stop_epoch}

    def to_toml(self) -> str:
        """The plan as a TOML file that :func:`load_plan` turns back into an equal plan."""
        return toml_text(self.to_dict())


def toml_text(plan: Mapping[str, Any]) -> str:
    """A plan's nested tables as TOML; unset (``None``) fields are left out."""
    import tomli_w

    return tomli_w.dumps(_drop_none(dict(plan)))


def _drop_none(value: Any) -> Any:
    # TOML has no null: an unset field is left out and reads back as its default.
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_drop_none(v) for v in value]
    return value


def read_plan_file(path: str | Path) -> dict[str, Any]:
    """The nested dict of a TOML plan file; a missing, binary or malformed file names itself."""
    where = f"plan file {str(path)!r}"
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ArchlabError(f"cannot read {where}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:  # a binary file: one line, as an arms file says it
        raise ArchlabError(f"{where} is not a text file (byte {exc.start} is not UTF-8)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ArchlabError(f"{where} is not valid TOML: {exc}") from None


def resolve_plan(
    file: str | Path | None = None, overrides: Mapping[str, Any] | None = None
) -> RunPlan:
    """The plan of a TOML file (or of defaults), with ``section.field`` overrides on top.

    An override of a candidate source (``select.cardinalities``, ``select.models``,
    ``select.files``) replaces the file's candidates instead of adding to them.
    """
    raw = read_plan_file(file) if file is not None else {}
    overrides = dict(overrides or {})
    if any(f"select.{source}" in overrides for source in SELECT_SOURCES):
        raw.pop("candidates", None)
        for source in SELECT_SOURCES:
            raw.get("select", {}).pop(source, None)
    return plan_from_dict(apply_overrides(raw, overrides))


def apply_overrides(raw: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``raw`` with each ``section.field`` override set in its table (``seeds``: at the top)."""
    for key, value in overrides.items():
        section, _, name = key.rpartition(".")
        target = raw.setdefault(section, {}) if section else raw
        if not isinstance(target, dict):
            raise ArchlabError(f"plan section {section!r} must be a table")
        target[name] = value
    return raw


def plan_from_dict(raw: Mapping[str, Any]) -> RunPlan:
    """Build and validate a plan from the nested TOML layout (see the module docstring)."""
    try:
        return _build(raw)
    except TypeError as exc:  # e.g. lr = "fast": a comparison in a validator fails
        raise ArchlabError(f"a plan value has the wrong type: {exc}") from None


def training_from_dict(raw: Mapping[str, Any], halving: Halving | None = None) -> Training:
    """The data, recipe, budget, execution and output tables as a :class:`Training`; unset fields
    keep :class:`TrainConfig`'s defaults, and under ``halving`` its max_epochs is the budget."""
    check_plan_types(raw)  # every key's type and range, one rule for flags and files
    data = _section(raw, "data", tuple(DATA_FIELDS))
    recipe = _section(raw, "recipe", RECIPE_FIELDS)
    budget = _section(raw, "budget", BUDGET_FIELDS)
    if halving is not None:
        if budget:
            raise ArchlabError(
                "strategy halving takes strategy.min_epochs and strategy.max_epochs, "
                f"not budget.{sorted(budget)[0]}"
            )
        budget = {"epochs": halving.max_epochs}
    if "time_budget" in budget:
        budget.setdefault("epochs", None)  # a time budget replaces the default epochs
    if "step_milestones" in recipe:
        recipe["step_milestones"] = tuple(recipe["step_milestones"])
    config = TrainConfig(**{DATA_FIELDS[k]: v for k, v in data.items()}, **budget, **recipe)
    output = _section(raw, "output", OUTPUT_FIELDS)
    return Training(
        config=config,
        execution=ExecutionOptions(**_section(raw, "execution", _EXECUTION_FIELDS)),
        store=str(output.get("store", DEFAULT_STORE)),
        workdir=None if output.get("workdir") is None else str(output["workdir"]),
        keep=output.get("keep", DEFAULT_KEEP),
        mlflow=output.get("mlflow"),
        tensorboard=output.get("tensorboard"),
    )


def _build(raw: Mapping[str, Any]) -> RunPlan:
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ArchlabError(f"unknown plan section {unknown[0]!r}; valid: {', '.join(SECTIONS)}")
    check_plan_types(raw)  # before the strategy is built from it
    strategy = _section(raw, "strategy", ("name", "eta", "min_epochs", "max_epochs"))
    name = strategy.pop("name", "grid")
    if name not in STRATEGIES:
        raise ArchlabError(f"strategy.name must be one of {', '.join(STRATEGIES)}, got {name!r}")
    if name == "grid" and strategy:
        raise ArchlabError(f"strategy.{sorted(strategy)[0]} goes with strategy.name halving")
    halving = Halving(**strategy) if name == "halving" else None
    training = training_from_dict(raw, halving)
    seeds = tuple(_list(raw.get("seeds", [0]), "seeds"))
    return dataclasses.replace(training.plan(_candidates(raw), seeds), halving=halving)


_EXECUTION_FIELDS = tuple(f.name for f in dataclasses.fields(ExecutionOptions))


def _section(raw: Mapping[str, Any], name: str, allowed: Sequence[str]) -> dict[str, Any]:
    """One table of the plan, its keys checked against the allowed ones."""
    table = raw.get(name, {})
    if not isinstance(table, Mapping):
        raise ArchlabError(f"plan section {name!r} must be a table, got {table!r}")
    for key in table:
        if key not in allowed:
            raise ArchlabError(f"unknown plan key {name}.{key}; valid: {', '.join(allowed)}")
    return {k: v for k, v in table.items() if v is not None}


def _list(value: Any, key: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise ArchlabError(f"{key} must be a list, got {value!r}")
    return list(value)


def _candidates(raw: Mapping[str, Any]) -> tuple[NetSpec, ...]:
    """Explicit ``[[candidates]]`` specs, then those the ``[select]`` table resolves to."""
    specs: list[NetSpec] = []
    for i, entry in enumerate(_list(raw.get("candidates", []), "candidates")):
        if not isinstance(entry, Mapping):
            raise ArchlabError(f"candidates entry {i} must be a table (a spec), got {entry!r}")
        specs.append(spec_from_dict(dict(entry)))
    select = _section(raw, "select", SELECT_FIELDS)
    if any(source in select for source in SELECT_SOURCES):
        specs += select_candidates(**select)
    return tuple(specs)


def select_candidates(
    *,
    cardinalities: Sequence[int] = (),
    models: Sequence[str] = (),
    files: Sequence[str | Path] = (),
    depth: int | None = None,
    template: str = "cifar",
    width_multiplier: float = 1.0,
    complexity: float = 1.0,
    scope: str = "block",
) -> list[NetSpec]:
    """Candidates from solved cardinalities (d matched, Sec. 4), preset names and spec files."""
    depth = default_depth(template) if depth is None else depth
    specs = [
        match_flops(c, depth, template, complexity, scope, width_multiplier=width_multiplier).spec
        for c in _list(cardinalities, "select.cardinalities")
    ]
    specs += [get_spec(name) for name in _list(models, "select.models")]
    for path in _list(files, "select.files"):
        specs += read_candidates(path)
    return specs


def read_candidates(path: str | Path) -> list[NetSpec]:
    """Specs from the JSON list that ``archlab space --json`` prints (or a list of spec dicts)."""
    return read_spec_list(path, "candidates file")

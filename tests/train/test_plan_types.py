"""Tests for archlab.train._plan_types: every plan key's type and range, one rule for all routes."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from archlab.errors import ArchlabError
from archlab.space import make_spec
from archlab.train._plan_types import PLAN_TYPES, check_plan_types
from archlab.train.config import TrainConfig
from archlab.train.plan import (
    DATA_FIELDS,
    RECIPE_FIELDS,
    ExecutionOptions,
    Halving,
    RunPlan,
    plan_from_dict,
    resolve_plan,
)

SELECT = {"select": {"cardinalities": [1, 2], "depth": 11, "width_multiplier": 0.125}}
TINY = (make_spec("cifar", 11, 2, 2, width_multiplier=0.125),)


def test_the_table_covers_every_plan_key() -> None:
    keys = {f"data.{k}" for k in DATA_FIELDS} | {f"recipe.{k}" for k in RECIPE_FIELDS}
    keys |= {"budget.epochs", "budget.time_budget", "seeds", "output.store", "output.workdir"}
    keys |= {f"strategy.{f.name}" for f in dataclasses.fields(Halving)} | {"strategy.name"}
    keys |= {f"execution.{f.name}" for f in dataclasses.fields(ExecutionOptions)}
    assert keys <= set(PLAN_TYPES)


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("recipe", "amp", "yes", "recipe.amp must be true or false, got 'yes'"),
        ("recipe", "channels_last", 1, "recipe.channels_last must be true or false"),
        ("budget", "epochs", 1.5, "budget.epochs must be an integer >= 1"),
        ("budget", "epochs", 2.0, "budget.epochs must be an integer"),
        ("budget", "epochs", True, "budget.epochs must be an integer"),
        ("budget", "epochs", 10_001, "budget.epochs must be at most 10,000, got 10,001"),
        ("recipe", "step_milestones", [2.0], r"a fraction of the run in \(0, 1\)"),
        ("recipe", "step_milestones", [0.5, 1.0], "recipe.step_milestones"),
        ("recipe", "step_milestones", 0.5, "recipe.step_milestones must be a list"),
        ("data", "val_fraction", 0.9, r"data.val_fraction must be a number in \(0, 0.5\]"),
        ("data", "limit", 0, "data.limit must be an integer >= 1"),
        ("data", "name", 7, "data.name must be a string"),
        ("recipe", "lr", float("nan"), r"recipe.lr must be a number in \(0, inf\)"),
        ("recipe", "momentum", 1, r"recipe.momentum must be a number in \[0, 1\)"),
        ("recipe", "warmup_epochs", 0.5, "recipe.warmup_epochs must be an integer"),
        ("strategy", "eta", 2.5, "strategy.eta must be an integer >= 2"),
        ("execution", "workers", "2", "execution.workers must be an integer"),
        ("execution", "reclaim", "no", "execution.reclaim must be true or false"),
        ("output", "keep", 1.0, "output.keep must be an integer >= 1"),
        ("select", "cardinalities", [1, 2.0], "select.cardinalities must be a list"),
        ("select", "models", "resnet50", "select.models must be a list"),
    ],
)
def test_a_wrong_type_or_range_names_its_key(
    section: str, key: str, value: Any, message: str
) -> None:
    raw = {**SELECT, section: {**SELECT.get(section, {}), key: value}}
    with pytest.raises(ArchlabError, match=message):
        plan_from_dict(raw)


def test_seeds_are_typed_too() -> None:
    for seeds in ([0.5], [True], [], [-1], "0"):
        with pytest.raises(ArchlabError, match="seeds must be a non-empty list of integers"):
            check_plan_types({"seeds": seeds})


def test_unknown_keys_are_refused_in_candidates_and_their_stages() -> None:
    entry = TINY[0].to_dict()
    with pytest.raises(ArchlabError, match=r"unknown key 'colour' in candidates\[0\]; valid: "):
        plan_from_dict({"candidates": [{**entry, "colour": "red"}]})
    stages = [{**entry["stages"][0], "groups": 2}, *entry["stages"][1:]]
    with pytest.raises(ArchlabError, match=r"unknown key 'groups' in candidates\[0\]\.stages\[0\]"):
        plan_from_dict({"candidates": [{**entry, "stages": stages}]})
    assert plan_from_dict({"candidates": [entry]}).candidates == TINY


def test_flags_and_files_meet_the_same_rule(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text("[recipe]\namp = true\n[budget]\nepochs = 2\n")
    with pytest.raises(ArchlabError, match=r"budget\.epochs must be an integer"):
        resolve_plan(path, {"select.cardinalities": [1], "budget.epochs": 1.5})
    with pytest.raises(ArchlabError, match=r"data\.val_fraction"):
        resolve_plan(path, {"select.cardinalities": [1], "data.val_fraction": 0.9})
    good = resolve_plan(path, {"select.cardinalities": [1], "select.depth": 11})
    assert good.config.amp is True and good.config.epochs == 2


def test_every_valid_plan_still_resolves(tmp_path: Path) -> None:
    halving, execution = Halving(3, 1, 4), ExecutionOptions(executor="ray", gpus_per_run=0.5)
    plan = RunPlan(TINY, TrainConfig(epochs=4), halving=halving, execution=execution)
    path = tmp_path / "plan.toml"
    path.write_text(plan.to_toml())
    assert resolve_plan(path) == plan
    # TOML integers where a float is meant: lr = 1 is a number.
    assert plan_from_dict({**SELECT, "recipe": {"lr": 1, "step_milestones": [0.3]}}).config.lr == 1


def test_a_plan_built_in_python_meets_the_same_table() -> None:
    with pytest.raises(ArchlabError, match=r"recipe\.amp must be true or false, got 'yes'"):
        RunPlan(TINY, TrainConfig(amp="yes"))  # type: ignore[arg-type]
    with pytest.raises(ArchlabError, match=r"budget\.epochs must be an integer"):
        RunPlan(TINY, TrainConfig(epochs=1.5))  # type: ignore[arg-type]
    with pytest.raises(ArchlabError, match=r"recipe\.step_milestones"):
        RunPlan(TINY, TrainConfig(schedule="step", step_milestones=(0.5, 1.5)))

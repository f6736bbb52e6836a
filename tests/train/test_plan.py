"""The run plan: resolution from a file and overrides, validation by key, TOML round trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from archlab.errors import ArchlabError
from archlab.space import make_spec
from archlab.train.config import TrainConfig
from archlab.train.plan import ExecutionOptions, Halving, RunPlan, plan_from_dict, resolve_plan

TINY = (make_spec("cifar", 11, 2, 2, width_multiplier=0.125),)
SELECT = {"select": {"cardinalities": [1, 2], "depth": 11, "width_multiplier": 0.125}}


@pytest.mark.parametrize(
    "plan",
    [
        RunPlan(TINY),
        RunPlan(TINY, TrainConfig(epochs=None, time_budget=30.0, lr=0.05), seeds=(2, 0)),
        RunPlan(TINY, TrainConfig(epochs=4, limit=50), halving=Halving(3, 1, 4),
                execution=ExecutionOptions(workers=2, threads=1, device="cpu"), workdir="w"),
    ],
)  # fmt: skip
def test_toml_round_trip(plan: RunPlan, tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(plan.to_toml())
    assert resolve_plan(path) == plan
    assert resolve_plan(path).to_toml() == plan.to_toml()


def test_defaults_and_what_a_run_stores() -> None:
    plan = plan_from_dict(SELECT)
    assert [s.cardinality for s in plan.candidates] == [1, 2]
    assert plan.config == TrainConfig()  # the library's defaults, not restated
    assert plan.config_key == TrainConfig().key()
    stored = plan.run_config(rung=0, stop_epoch=None)
    assert set(stored) == {
        "data",
        "recipe",
        "budget",
        "strategy",
        "execution",
        "rung",
        "stop_epoch",
    }
    assert stored["data"]["name"] == "digits" and stored["budget"]["epochs"] == 10
    halving = plan_from_dict({**SELECT, "strategy": {"name": "halving", "max_epochs": 4}})
    assert halving.config.epochs == 4 and halving.config_key.endswith("-halving-eta2-min1")


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({**SELECT, "strategy": {"name": "halving"}, "budget": {"epochs": 3}}, "budget.epochs"),
        ({**SELECT, "strategy": {"eta": 3}}, "strategy.eta"),
        ({**SELECT, "execution": {"ray_address": "h:1"}}, "execution.ray_address"),
        ({**SELECT, "execution": {"device": "tpu"}}, "execution.device"),
        ({**SELECT, "recipe": {"epochs": 3}}, "recipe.epochs"),
        ({**SELECT, "seeds": [1, 1]}, "seeds"),
        ({"seeds": [0]}, "no candidates"),
        ({**SELECT, "stuff": {}}, "'stuff'"),
        ({**SELECT, "recipe": {"lr": "fast"}}, r"recipe\.lr must be a number"),
        ({**SELECT, "output": {"mlflow": ""}}, "output.mlflow must be a non-empty string"),
        (
            {**SELECT, "strategy": {"name": "halving", "min_epochs": 3, "max_epochs": 2}},
            "strategy.min_epochs 3 is above strategy.max_epochs 2",
        ),
    ],
)
def test_errors_name_plan_keys_not_flags(raw: dict, key: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ArchlabError, match=key) as info:
        plan_from_dict(raw)
    assert "--" not in str(info.value)


def test_a_candidate_override_replaces_the_files_candidates(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(RunPlan(TINY, seeds=(0, 1)).to_toml())
    plan = resolve_plan(path, {"select.models": ["resnext29_8x64d"], "recipe.lr": 0.05})
    assert [s.name for s in plan.candidates] == ["resnext29_8x64d"]
    assert plan.seeds == (0, 1) and plan.config.lr == 0.05


def test_a_binary_plan_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_bytes(b"seeds = [0]\n\xff\xfe")  # --config given an image, say: no traceback
    with pytest.raises(ArchlabError) as info:
        resolve_plan(path)
    assert str(info.value) == (f"plan file {str(path)!r} is not a text file (byte 12 is not UTF-8)")

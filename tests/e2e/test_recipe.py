"""The default recipe (issue 14): lr by the linear scaling rule, the README's example learns with
it, runs that end near chance are flagged in `archlab results` and in the report header."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archlab.report.markdown import write_report
from archlab.report.recipe import recipe_line, run_settings
from archlab.space import make_spec
from archlab.store import EpochRecord, Store
from archlab.store.frames import NEAR_CHANCE_MARGIN, chance_error
from archlab.train.config import TrainConfig
from archlab.train.lr_rule import BASE_LR, REFERENCE_BATCH, linear_scaled_lr
from archlab.train.plan import plan_from_dict, resolve_plan, tomllib
from archlab.workflows.demo import DEMO_BASE, demo_plan
from archlab.workflows.study_plan import STUDY_BASE

Cli = Callable[..., tuple[int, str, str]]


def test_unset_lr_follows_the_linear_scaling_rule() -> None:
    assert linear_scaled_lr(REFERENCE_BATCH) == BASE_LR == 0.1  # the paper's CIFAR recipe
    assert TrainConfig(batch_size=64).lr == pytest.approx(0.05)
    assert TrainConfig(batch_size=256).lr == pytest.approx(0.2)
    assert TrainConfig(batch_size=64, lr=0.3).lr == 0.3  # a given lr is kept
    default = TrainConfig()
    assert default.lr == pytest.approx(linear_scaled_lr(default.batch_size))
    assert default.to_dict()["lr"] == default.lr  # the stored config holds the number
    # Resolved once: an explicit lr equal to the rule's is the same run.
    assert TrainConfig(lr=default.lr).key() == default.key()


def test_plans_and_the_demo_use_the_defaults() -> None:
    plan = resolve_plan(overrides={"select.cardinalities": [1]})
    assert plan.config.batch_size == TrainConfig().batch_size
    assert plan.config.lr == TrainConfig().lr
    assert resolve_plan(
        overrides={"select.cardinalities": [1], "recipe.batch_size": 16}
    ).config.lr == pytest.approx(linear_scaled_lr(16))
    # A written plan reads back as the same plan, the resolved lr included.
    assert plan_from_dict(tomllib.loads(plan.to_toml())) == plan
    assert set(DEMO_BASE) == {"study", "budget", "output"}  # no recipe of its own
    # The demo is a study: its recipe is TrainConfig's, its split the study's (STUDY_BASE).
    assert demo_plan().training.config == TrainConfig(
        epochs=DEMO_BASE["budget"]["epochs"], split=STUDY_BASE["data"]["split"]
    )


def _spec(cardinality: int) -> dict[str, Any]:
    return make_spec("cifar", 29, cardinality, 4, width_multiplier=0.125).to_dict()  # 10 classes


def _store_with(tmp_path: Path, finals: dict[str, float], config: dict[str, Any]) -> Path:
    """A store with one finished 2-epoch run per (name: last val error)."""
    path = tmp_path / "runs.db"
    with Store(path, create=True) as store:
        for i, (name, final) in enumerate(finals.items()):
            cid = store.add_candidate(name=name, spec=_spec(1 + i),
                                      macs=1_000, params=100, acts=10)  # fmt: skip
            run = store.add_run(candidate_id=cid, seed=0, config_key="k", config=config,
                                budget_epochs=2)  # fmt: skip
            store.start_run(run.id, device="cpu", archlab_version="0", torch_version="0",
                            git_commit="0")  # fmt: skip
            for epoch, val in ((1, 0.9), (2, final)):
                store.record_epoch(run.id, EpochRecord(epoch, 1.0, val, val, val))
            store.finish_run(run.id, "finished")
    return path


def _plan_config(**recipe: Any) -> dict[str, Any]:
    plan = resolve_plan(
        overrides={"select.cardinalities": [1], **{f"recipe.{k}": v for k, v in recipe.items()}}
    )
    return plan.run_config(rung=0, stop_epoch=None)


def test_a_run_that_did_not_learn_is_flagged(tmp_path: Path, cli: Cli) -> None:
    near = chance_error(10) - NEAR_CHANCE_MARGIN / 2  # 85%: within the margin of 90%
    store = _store_with(tmp_path, {"stuck_net": near, "good_net": 0.05}, _plan_config())
    with Store(store, create=False, read_only=True) as db:
        frame = db.results_frame().set_index("name")
    assert frame.loc["stuck_net", "chance_error"] == pytest.approx(0.9)
    assert bool(frame.loc["stuck_net", "near_chance"]) is True
    assert bool(frame.loc["good_net", "near_chance"]) is False
    code, out, _ = cli("results", "--store", str(store), "--json")
    assert code == 0
    assert {r["name"]: r["near_chance"] for r in json.loads(out)} == {
        "stuck_net": True,
        "good_net": False,
    }
    code, out, _ = cli("results", "--store", str(store))
    assert code == 0 and "near_chance" in out
    text = write_report(store, tmp_path / "report", command="test").read_text()
    warning = next(line for line in text.splitlines() if "ended near chance" in line)
    assert "1 run ended near chance" in warning
    assert "stuck_net seed 0 at 85.0% (chance 90%)" in warning and "good_net" not in warning


def test_no_warning_when_every_run_learned(tmp_path: Path) -> None:
    store = _store_with(tmp_path, {"a": 0.1, "b": 0.2}, _plan_config())
    text = write_report(store, tmp_path / "report", command="test").read_text()
    assert "near chance" not in text


def test_report_header_shows_every_recipe_value(tmp_path: Path) -> None:
    config = _plan_config(batch_size=64)
    store = _store_with(tmp_path, {"a": 0.1}, config)
    text = write_report(store, tmp_path / "report", command="test").read_text()
    line = next(line for line in text.splitlines() if line.startswith("- recipe: "))
    for key, value in config["recipe"].items():
        assert f"{key} " in line, key
        if isinstance(value, int | str) and not isinstance(value, bool):
            assert f"{key} {value}" in line
    for key in ("val_fraction", "split_seed", "limit"):
        assert f"{key} " in line
    assert "batch_size 64" in line
    assert "lr 0.05 (0.1 x 64/128, the linear scaling rule)" in line


def test_recipe_line_lists_values_that_differ_and_hand_set_lrs() -> None:
    by_rule = json.dumps(_plan_config(batch_size=32))
    by_hand = json.dumps(_plan_config(batch_size=32, lr=0.1))
    line = recipe_line([by_rule, by_hand])
    assert "0.025 (0.1 x 32/128, the linear scaling rule)" in line
    assert "0.1 (set by hand; the linear scaling rule gives 0.025 at batch 32)" in line
    assert recipe_line([None]) == "- recipe: not stored"
    assert recipe_line([json.dumps({"data": {"name": "digits"}})]) == "- recipe: not stored"
    flat = run_settings(json.dumps(TrainConfig(batch_size=16).to_dict()))  # an older layout
    assert flat["batch_size"] == 16 and "dataset" not in flat and "epochs" not in flat


def test_the_readme_example_learns(cli: Cli, tmp_path: Path) -> None:
    """The README's train-candidates command, shortened (C = 1 and 8, 3 epochs, one seed).

    No recipe flag beyond the README's; ``--threads 1`` changes only speed (a few seconds on an
    idle machine; two threads on two shared cores thrash).
    """
    store = str(tmp_path / "store.db")
    code, out, err = cli(
        "train-candidates", "--cardinalities", "1,8", "--width-multiplier", "0.25",
        "--dataset", "digits", "--epochs", "3", "--seeds", "0", "--threads", "1",
        "--store", store, "--json",
    )  # fmt: skip
    assert code == 0, err
    code, out, _ = cli("results", "--store", store, "--json")
    rows = json.loads(out)
    assert len(rows) == 2 and all(r["status"] == "finished" for r in rows)
    # Chance is 90%; every run must be well below it, and none flagged.
    assert all(r["val_error"] < 0.5 and r["near_chance"] is False for r in rows), rows

"""`archlab train-candidates` through the entry point: a real run, and every bad input."""

from __future__ import annotations

import json
import pickle
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

Cli = Callable[..., tuple[int, str, str]]
TINY = ["--cardinalities", "1,2", "--depth", "11", "--width-multiplier", "0.125", "--limit", "200"]


def test_train_then_results(cli: Cli, tmp_path: Path) -> None:
    store = str(tmp_path / "runs.db")
    code, out, err = cli("train-candidates", *TINY, "--epochs", "1", "--store", store, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert [r["status"] for r in summary["runs"]] == ["finished", "finished"]
    code, out, _ = cli("results", "--store", store, "--json")
    rows = json.loads(out)
    assert code == 0 and {r["cardinality"] for r in rows} == {1, 2}
    assert all(r["epochs"] == 1 and 0 <= r["val_error"] <= 1 for r in rows)


def test_candidates_file_from_space_json(cli: Cli, tmp_path: Path) -> None:
    code, out, _ = cli(
        "space",
        "--template",
        "cifar",
        "--depth",
        "11",
        "--cardinalities",
        "2",
        "--width-multiplier",
        "0.125",
        "--json",
    )
    assert code == 0
    path = tmp_path / "cands.json"
    path.write_text(out)
    code, out, err = cli(
        "train-candidates",
        "--candidates",
        str(path),
        "--epochs",
        "1",
        "--limit",
        "200",
        "--store",
        str(tmp_path / "s.db"),
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["runs"][0]["name"] == "resnext11_2x5d_w0.125"


def _truncated_cifar(root: Path) -> Path:
    root.mkdir()
    batch = {b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 3]}
    for i in range(1, 6):
        (root / f"data_batch_{i}").write_bytes(pickle.dumps(batch))
    (root / "test_batch").write_bytes(pickle.dumps(batch)[:50])
    return root


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--dataset", "cifar10:MISSING/cifar"], "MISSING/cifar"),
        (["--dataset", "mnist:/tmp"], "mnist"),
        (["--dataset", "npz:WRONG"], "npz"),
        (["--dataset", "cifar10:TRUNC"], "test_batch"),
        (["--epochs", "0"], "epochs"),
        (["--run-time-budget", "-5"], "--run-time-budget"),
        (["--seeds", ""], "--seeds"),
        (["--store", "WRONG/x.db"], "is a file, not a folder"),
        (["--device", "tpu"], "device"),
    ],
)
def test_bad_input_is_one_line(cli: Cli, tmp_path: Path, extra: list[str], fragment: str) -> None:
    wrong = tmp_path / "wrong.npz"
    wrong.write_text("this is not an npz file")
    trunc = _truncated_cifar(tmp_path / "cifar")
    missing = tmp_path / "missing"  # never created: no path outside the test is assumed absent
    subs = {"WRONG": wrong, "TRUNC": trunc, "MISSING": missing}
    for word, path in subs.items():
        extra = [e.replace(word, str(path)) for e in extra]
        fragment = fragment.replace(word, str(path))
    args = [*TINY, "--epochs", "1", "--store", str(tmp_path / "s.db"), *extra]
    code, out, err = cli("train-candidates", *args)
    assert code == 2, (out, err)
    assert "Traceback" not in out + err
    assert len(err.strip().splitlines()) == 1 and fragment in err


def test_no_candidates_and_unknown_model(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("train-candidates", "--store", str(tmp_path / "s.db"))
    assert code == 2 and "no candidates" in err
    code, _, err = cli(
        "train-candidates", "--models", "resnext30_3x3d", "--store", str(tmp_path / "s.db")
    )
    assert code == 2 and "valid:" in err
    code, _, err = cli(
        "train-candidates",
        "--candidates",
        str(tmp_path / "none.json"),
        "--store",
        str(tmp_path / "s.db"),
    )
    assert code == 2 and "none.json" in err


def test_unwritable_store_dir(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import archlab.train.workspace as run_module

    locked = tmp_path / "locked"
    locked.mkdir()
    # Root ignores permission bits, so the check itself is what is exercised here.
    monkeypatch.setattr(run_module.os, "access", lambda path, mode: Path(path) != locked)
    code, _, err = cli("train-candidates", *TINY, "--store", str(locked / "s.db"))
    assert code == 2 and "not writable" in err


def test_existing_store_is_never_damaged_by_bad_input(cli: Cli, tmp_path: Path) -> None:
    store = str(tmp_path / "s.db")
    assert cli("train-candidates", *TINY, "--epochs", "1", "--store", store)[0] == 0
    before = json.loads(cli("results", "--store", store, "--json")[1])
    code, _, _ = cli(
        "train-candidates",
        *TINY,
        "--epochs",
        "1",
        "--store",
        store,
        "--dataset",
        f"cifar10:{tmp_path / 'missing' / 'cifar'}",
    )
    assert code == 2
    assert json.loads(cli("results", "--store", store, "--json")[1]) == before


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--strategy", "halving", "--eta", "1"], "eta"),
        (
            ["--strategy", "halving", "--min-epochs", "4", "--max-epochs", "2"],
            "--min-epochs 4 is above --max-epochs 2",
        ),
        (["--strategy", "halving", "--epochs", "3"], "--max-epochs"),
        (["--strategy", "random"], "strategy"),
        (["--executor", "spark"], "executor"),
        (["--workers", "0"], "workers"),
        (["--ray-address", "127.0.0.1:1"], "--executor ray"),
    ],
)
def test_search_options_bad_input(
    cli: Cli, tmp_path: Path, extra: list[str], fragment: str
) -> None:
    code, out, err = cli("train-candidates", *TINY, "--store", str(tmp_path / "s.db"), *extra)
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and fragment in err
    assert not (tmp_path / "s.db").exists()


def test_unreachable_ray_address_fails_fast(cli: Cli, tmp_path: Path) -> None:
    start = time.monotonic()
    code, _, err = cli(
        "train-candidates",
        *TINY,
        "--store",
        str(tmp_path / "s.db"),
        "--executor",
        "ray",
        "--ray-address",
        "127.0.0.1:1",
    )
    assert code == 2 and "cannot reach the Ray cluster at 127.0.0.1:1" in err
    assert time.monotonic() - start < 10
    assert not (tmp_path / "s.db").exists()  # nothing written before the failure


def test_halving_from_the_command_line(cli: Cli, tmp_path: Path) -> None:
    store = str(tmp_path / "s.db")
    code, out, err = cli(
        "train-candidates",
        "--cardinalities",
        "1,2,4,8",
        "--depth",
        "11",
        "--width-multiplier",
        "0.125",
        "--limit",
        "200",
        "--strategy",
        "halving",
        "--min-epochs",
        "1",
        "--max-epochs",
        "2",
        "--store",
        store,
        "--json",
    )
    assert code == 0, err
    rungs = [r["rung"] for r in json.loads(out)["runs"]]
    assert sorted(rungs) == [0, 0, 0, 0, 1, 1]


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--momentum", "-1"], "momentum"),
        (["--weight-decay", "-1"], "--weight-decay"),
        (["--lr", "inf"], "lr"),
        (["--form", "x"], "form"),
        (["--run-time-budget", "inf"], "--run-time-budget"),
        (["--epochs", "1", "--run-time-budget", "5"], "one budget"),
        (["--seeds", "20000000000000"], "seeds"),
    ],
)
def test_recipe_bad_input(cli: Cli, tmp_path: Path, extra: list[str], fragment: str) -> None:
    code, out, err = cli("train-candidates", *TINY, "--store", str(tmp_path / "s.db"), *extra)
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and fragment in err
    assert not (tmp_path / "s.db").exists()


def test_workdir_and_export_paths(cli: Cli, tmp_path: Path) -> None:
    store = str(tmp_path / "s.db")
    (tmp_path / "file").write_text("x")
    code, _, err = cli(
        "train-candidates", *TINY, "--store", store, "--workdir", str(tmp_path / "file")
    )
    assert code == 2 and "is a file" in err
    assert cli("train-candidates", *TINY, "--epochs", "1", "--store", store)[0] == 0
    code, _, err = cli("results", "--store", store, "--csv", str(tmp_path))
    assert code == 2 and "is a folder" in err
    code, _, err = cli("results", "--store", store, "--csv", store)
    assert code == 2 and "over the store" in err
    assert cli("results", "--store", store, "--json")[0] == 0  # the store is intact


def test_reclaim_runs_left_by_another_machine(cli: Cli, tmp_path: Path) -> None:
    import sqlite3

    store = str(tmp_path / "s.db")
    args = ["train-candidates", *TINY, "--epochs", "1", "--store", store]
    assert cli(*args)[0] == 0
    with sqlite3.connect(store) as db:  # a run some other, now gone, container was training
        db.execute(
            "UPDATE runs SET status = 'running', hostname = 'gone-7f3a', pid = 4242 WHERE id = 1"
        )
    code, _, err = cli(*args)
    assert code == 2 and "--reclaim" in err
    code, out, err = cli(*args, "--reclaim", "--json")
    assert code == 0, err
    assert {r["status"] for r in json.loads(out)["runs"]} == {"finished"}


def test_config_file_trains_the_same_runs_as_flags(cli: Cli, tmp_path: Path) -> None:
    import sqlite3

    from archlab.store import Store

    args = [*TINY, "--epochs", "1", "--threads", "1", "--device", "cpu", "--quiet"]
    by_flags, by_file = tmp_path / "flags.db", tmp_path / "file.db"
    assert cli("train-candidates", *args, "--store", str(by_flags))[0] == 0
    code, toml_text, err = cli("train-candidates", *args, "--store", str(by_file), "--print-config")
    assert code == 0, err
    assert not by_file.exists()  # printing the plan trains nothing
    plan = tmp_path / "plan.toml"
    plan.write_text(toml_text)
    code, _, err = cli("train-candidates", "--config", str(plan), "--quiet")
    assert code == 0, err
    columns = ["name", "seed", "config_key", "epochs", "train_loss", "val_error", "test_error"]
    frames = [Store(s, create=False).results_frame()[columns] for s in (by_flags, by_file)]
    assert len(frames[0]) == 2 and frames[0].equals(frames[1])  # bit-identical on the CPU
    stored = []
    for store in (by_flags, by_file):
        with sqlite3.connect(store) as db:
            stored.append([row[0] for row in db.execute("SELECT config_json FROM runs")])
    assert stored[0] == stored[1]
    config = json.loads(stored[0][0])
    assert config["data"]["name"] == "digits" and config["execution"]["threads"] == 1


def test_print_config_round_trips(cli: Cli, tmp_path: Path) -> None:
    import tomllib

    from archlab.train.plan import resolve_plan

    args = [*TINY, "--strategy", "halving", "--max-epochs", "4", "--seeds", "3,1", "--lr", "0.05"]
    code, first, err = cli("train-candidates", *args, "--augment", "flip, crop", "--print-config")
    assert code == 0, err
    path = tmp_path / "plan.toml"
    path.write_text(first)
    code, second, err = cli("train-candidates", "--config", str(path), "--print-config")
    assert code == 0 and second == first, err
    plan = resolve_plan(path)
    assert plan == resolve_plan(None, {"output.store": plan.store, **_keys(tomllib.loads(first))})
    assert plan.halving is not None and plan.halving.max_epochs == 4 == plan.config.epochs
    assert plan.seeds == (3, 1) and plan.config.lr == 0.05 and plan.config.augment == "crop,flip"


def _keys(plan: dict) -> dict:  # type: ignore[type-arg]
    """A printed plan as section.field overrides (what the flags would give)."""
    flat = {f"{section}.{k}": v for section, table in plan.items() if isinstance(table, dict)
            for k, v in table.items()}  # fmt: skip
    return {**flat, "seeds": plan["seeds"], "candidates": plan["candidates"]}


def test_flags_override_the_config_file(cli: Cli, tmp_path: Path) -> None:
    import tomllib

    path = tmp_path / "plan.toml"
    path.write_text(
        "seeds = [0, 1]\n[select]\ncardinalities = [1, 2]\ndepth = 11\nwidth_multiplier = 0.125\n"
        "[budget]\nepochs = 3\n[recipe]\nlr = 0.05\n"
    )
    code, out, err = cli("train-candidates", "--config", str(path), "--epochs", "1",
                         "--print-config")  # fmt: skip
    assert code == 0, err
    plan = tomllib.loads(out)
    assert plan["budget"]["epochs"] == 1 and plan["recipe"]["lr"] == 0.05
    assert plan["seeds"] == [0, 1]
    assert [c["stages"][0]["cardinality"] for c in plan["candidates"]] == [1, 2]
    code, out, _ = cli("train-candidates", "--config", str(path), "--cardinalities", "4",
                       "--print-config")  # fmt: skip
    assert [c["stages"][0]["cardinality"] for c in tomllib.loads(out)["candidates"]] == [4]
    path.write_text("[recipe]\nlearning_rate = 0.1\n")
    code, _, err = cli("train-candidates", "--config", str(path), *TINY, "--print-config")
    assert code == 2 and "recipe.learning_rate" in err and len(err.strip().splitlines()) == 1


def test_exits_1_when_a_run_failed(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import archlab.train.tasks as tasks_module

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(tasks_module, "train_run", broken)
    store = str(tmp_path / "s.db")
    code, out, err = cli("train-candidates", *TINY, "--epochs", "1", "--store", store)
    assert code == 1, err
    assert "2 run(s) failed" in out and "disk on fire" in out
    monkeypatch.undo()
    assert cli("train-candidates", *TINY, "--epochs", "1", "--store", store, "--quiet")[0] == 0


def test_time_budget_is_now_run_time_budget_with_a_notice(cli: Cli, tmp_path: Path) -> None:
    code, printed, err = cli("train-candidates", *TINY, "--time-budget", "30", "--print-config")
    assert code == 0 and "time_budget = 30.0" in printed
    assert len(err.strip().splitlines()) == 1 and "deprecated" in err
    assert "--run-time-budget" in err


def test_a_mistake_in_my_data_is_one_line_before_any_training(cli: Cli, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (24, 8, 8, 3), np.uint8)
    names = np.array(["cat", "dog", "emu"] * 8)
    np.savez(tmp_path / "good.npz", x_train=x, y_train=names, x_test=x[:6], y_test=names[:6])
    tiny = ["--cardinalities", "1,2", "--depth", "11", "--width-multiplier", "0.0625",
            "--epochs", "1", "--store", str(tmp_path / "s.db")]  # fmt: skip
    code, _, err = cli("train-candidates", *tiny, "--dataset", f"npz:{tmp_path / 'good.npz'}")
    assert code == 0, err
    assert "3 classes (cat, dog, emu) named by the labels, sorted" in err
    before = json.loads(cli("results", "--store", str(tmp_path / "s.db"), "--json")[1])
    bad = {
        "mixed.npz": ({"y_test": np.arange(6) % 3}, "y_train holds strings but y_test integers"),
        "unseen.npz": ({"y_test": np.array(["yak"] * 6)}, "y_test has label(s) yak that never"),
        "chw.npz": ({"x_train": x.transpose(0, 3, 1, 2).copy()}, "x.transpose(0, 2, 3, 1)"),
    }
    for name, (change, fragment) in bad.items():
        arrays = {"x_train": x, "y_train": names, "x_test": x[:6], "y_test": names[:6], **change}
        np.savez(tmp_path / name, **arrays)
        for command in (["train-candidates", *tiny], ["study", "--preset", "cardinality", *tiny]):
            code, _, err = cli(*command, "--dataset", f"npz:{tmp_path / name}")
            assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
            assert f"npz: {tmp_path / name} " in err and fragment in err and "epoch" not in err
    assert json.loads(cli("results", "--store", str(tmp_path / "s.db"), "--json")[1]) == before

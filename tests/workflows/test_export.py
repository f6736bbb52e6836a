"""`archlab export`: the best-validation epoch as a plain state_dict and its spec as JSON."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from archlab.cli.main import run as archlab

from archlab.errors import ArchlabError
from archlab.models import build_model
from archlab.space import spec_from_dict
from archlab.store import EpochRecord, Store
from archlab.train._evaluate import evaluate
from archlab.train.checkpoint import best_epoch, checkpoint_path, list_checkpoints, load_checkpoint
from archlab.train.data import DatasetSplits, load_dataset, normalize
from archlab.train.workspace import run_dir_path
from archlab.workflows.export import export_run, load_export

Cli = Callable[..., tuple[int, str, str]]
LIMIT = 64
TINY = ["--cardinalities", "1,2", "--depth", "11", "--width-multiplier", "0.125", "--limit",
        str(LIMIT), "--batch-size", "32", "--epochs", "2", "--threads", "1", "--seeds", "0",
        "--device", "cpu", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of two tiny 2-epoch runs on digits (trained once for the module)."""
    store = tmp_path_factory.mktemp("export") / "runs.db"
    assert archlab(["train-candidates", *TINY, "--store", str(store)]) == 0
    return store


@pytest.fixture(scope="module")
def digits() -> DatasetSplits:
    return load_dataset("digits", limit=LIMIT)  # the runs' data: same limit, split and seed


def _run_dir(store: Path, run_id: int) -> Path:
    with Store(store, create=False, read_only=True) as db:
        return run_dir_path(store.with_name("runs-work"), db.store_id, db.run(run_id))


def _stored_best(store: Path, run_id: int) -> tuple[int, EpochRecord]:
    with Store(store, create=False, read_only=True) as db:
        epochs = db.epochs(run_id)
    epoch = best_epoch([{"epoch": e.epoch, "val_error": e.val_error} for e in epochs])
    assert epoch is not None
    return epoch, epochs[epoch - 1]


def test_export_run_reloads_to_the_best_epochs_model(
    trained: Path, digits: DatasetSplits, tmp_path: Path
) -> None:
    result = export_run(trained, run_id=2, out=tmp_path / "out")
    epoch, record = _stored_best(trained, 2)
    assert (result.run_id, result.epoch, result.val_error) == (2, epoch, record.val_error)
    assert result.weights.name == f"{result.name}-s0-run2.pth"
    weights = torch.load(result.weights, weights_only=True)  # a plain state_dict
    assert all(isinstance(v, torch.Tensor) for v in weights.values())
    assert {"conv1.weight", "bn1.running_mean", "layer1.0.conv2.weight", "fc.bias"} <= set(weights)
    description = json.loads(result.spec_file.read_text())
    assert description["epoch"] == epoch and description["dataset"] == "digits"
    assert description["run_id"] == 2 and description["form"] == "c"
    spec = spec_from_dict(description["spec"])
    assert spec.name == result.name and set(weights) == set(build_model(spec).state_dict())
    # The same outputs as the run's own model at its best epoch, read from its checkpoint.
    state = load_checkpoint(checkpoint_path(_run_dir(trained, 2), epoch))
    assert state is not None and state["epoch"] == epoch
    trained_model = build_model(spec).eval()
    trained_model.load_state_dict(state["model"])
    exported = load_export(result.spec_file)
    mean, std = description["input"]["mean"], description["input"]["std"]
    x = normalize(digits.x_val, tuple(mean), tuple(std))
    with torch.no_grad():
        assert torch.equal(exported(x), trained_model(x))
    # ...and it scores the validation error the store recorded for that epoch.
    val_error, _ = evaluate(exported, digits.x_val, digits.y_val, digits, batch_size=256,
                            device=torch.device("cpu"), channels_last=False, amp=False)  # fmt: skip
    assert val_error == pytest.approx(record.val_error)


def test_run_checkpoints_load_with_weights_only(trained: Path) -> None:
    kept = list_checkpoints(_run_dir(trained, 1))
    assert 1 <= len(kept) <= 2  # the default keeps the newest and the best epoch's
    for path in kept:
        state = torch.load(path, weights_only=True)
        assert state["format"].startswith("archlab-checkpoint/") and "optimizer" in state


def test_export_best_picks_the_lowest_best_val_error(trained: Path, tmp_path: Path) -> None:
    with Store(trained, create=False, read_only=True) as db:
        frame = db.results_frame()
    expected = frame.sort_values(["best_val_error", "run_id"]).iloc[0]
    result = export_run(trained, best=True, out=tmp_path)
    assert result.run_id == int(expected["run_id"])
    assert result.val_error == expected["best_val_error"]
    assert export_run(trained, best=True, dataset="digits", out=tmp_path).run_id == result.run_id


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_cli_export_and_its_errors(cli: Cli, trained: Path, tmp_path: Path) -> None:
    store = str(trained)
    code, out, err = cli("export", "--store", store, "--run", "1", "--out", str(tmp_path / "e"))
    assert code == 0, err
    assert "wrote" in out and len(list((tmp_path / "e").glob("*-run1.*"))) == 2
    code, out, err = cli("export", "--store", store, "--best", "--json", "--out", str(tmp_path))
    assert code == 0 and json.loads(out)["epoch"] >= 1, err
    afile = tmp_path / "a-file"
    afile.write_text("")
    failures = {
        "no run with id 99": ["--store", store, "--run", "99"],
        "no results store": ["--store", str(tmp_path / "missing.db"), "--run", "1"],
        "exactly one of --run": ["--store", store],
        "--dataset goes with --best": ["--store", store, "--run", "1", "--dataset", "digits"],
        "no finished run on data set": ["--store", store, "--best", "--dataset", "cifar10"],
        "not a folder": ["--store", store, "--run", "1", "--out", str(afile / "x")],
    }
    for expected, args in failures.items():
        code, _, err = cli("export", *args)
        assert code == 2 and expected in _one_line(err), (args, err)
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_run_without_its_best_checkpoint_is_refused(
    cli: Cli, trained: Path, tmp_path: Path
) -> None:
    code, _, err = cli(
        "export", "--store", str(trained), "--run", "1", "--workdir", str(tmp_path / "empty")
    )
    assert code == 2 and "keeps no readable checkpoint of its best epoch" in _one_line(err)


def test_best_refuses_runs_of_several_data_sets(cli: Cli, trained: Path, tmp_path: Path) -> None:
    store = tmp_path / "mixed.db"
    with sqlite3.connect(trained) as src, sqlite3.connect(store) as dst:
        src.backup(dst)
    with Store(store) as db:  # a finished run on another data set, written by hand
        base = db.run(1)
        config = json.loads(base.config_json or "{}")
        config["data"]["name"] = "npz:other.npz"
        run = db.add_run(candidate_id=base.candidate_id, seed=7, config_key="other", rung=0,
                         config=config, budget_epochs=1)  # fmt: skip
        db.record_epoch(run.id, EpochRecord(1, 1.0, 0.5, 0.0, 0.5))
        db.finish_run(run.id, "finished")
    code, _, err = cli("export", "--store", str(store), "--best", "--out", str(tmp_path))
    line = _one_line(err)
    assert code == 2 and "several data sets" in line and "npz:other.npz" in line
    work = str(trained.with_name("runs-work"))  # the copy's runs trained in the original's
    code, _, err = cli("export", "--store", str(store), "--best", "--dataset", "digits",
                       "--workdir", work, "--out", str(tmp_path))  # fmt: skip
    assert code == 0, err


def test_keep_is_checked_on_the_command_line(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("train-candidates", *TINY, "--store", str(tmp_path / "s.db"), "--keep", "0")
    assert code == 2 and "--keep must be an integer >= 1" in _one_line(err)
    code, out, _ = cli("train-candidates", *TINY, "--keep", "3", "--print-config")
    assert code == 0 and "keep = 3" in out


def test_a_failed_write_leaves_no_half_export(
    trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import archlab.workflows.export as export_module

    real = os.replace
    calls: list[str] = []

    def replace_then_fail(src: Any, dst: Any) -> None:
        calls.append(str(dst))
        if len(calls) == 2:  # the spec file: the disk fills after the weights landed
            raise OSError(errno.ENOSPC, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(export_module.os, "replace", replace_then_fail)
    with pytest.raises(ArchlabError, match="No space left"):
        export_run(trained, run_id=1, out=tmp_path / "out")
    assert len(calls) == 2 and list((tmp_path / "out").iterdir()) == []


def test_a_continued_rung_exports_its_inherited_best_epoch(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Halving continues rung 1 from rung 0's checkpoint; epoch 1 (rung 0's) stays its best."""
    from archlab.train import loop

    real = loop._EpochLoop.run

    def worse_later(self: loop._EpochLoop, epoch: int, epochs: int) -> dict[str, Any] | None:
        metrics = real(self, epoch, epochs)
        assert metrics is not None
        return {**metrics, "val_error": 0.1 * (epoch + 1)}  # epoch 1 the best of every run

    monkeypatch.setattr(loop._EpochLoop, "run", worse_later)
    store = tmp_path / "h.db"
    # Rung 0 trains epochs 1-2 and keeps 1 (best) and 2; rung 1 goes on from 2 to 4.
    halving = ["--strategy", "halving", "--eta", "2", "--min-epochs", "2", "--max-epochs", "4"]
    args = [a for a in TINY if a not in ("--epochs", "2")] + halving
    code, _, err = cli("train-candidates", *args, "--store", str(store))
    assert code == 0, err
    with Store(store, create=False, read_only=True) as db:
        (last,) = [r for r in db.runs() if r.rung == 1]
    result = export_run(store, run_id=last.id, out=tmp_path)
    assert last.epochs_done == 4 and result.epoch == 1 and result.val_error == pytest.approx(0.1)
    assert torch.load(result.weights, weights_only=True)


def test_a_stratified_split_is_another_split_for_the_best_run() -> None:
    from types import SimpleNamespace

    from archlab.workflows.export import _validation_split

    def split(**data: Any) -> tuple[Any, ...]:
        data = {"name": "digits", "val_fraction": 0.1, "split_seed": 0, "limit": None, **data}
        return _validation_split(SimpleNamespace(config_json=json.dumps({"data": data})))  # type: ignore[arg-type]

    assert split() == split(stratify=False)  # runs stored before the switch: not stratified
    assert split(stratify=True) != split()

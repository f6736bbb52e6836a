"""Checkpoint files: plain torch.load, sealed by SHA-256, the best epoch kept beside the newest."""

from __future__ import annotations

import hashlib
import io
import os
import struct
from pathlib import Path
from typing import Any

import pytest
import torch

from archlab.errors import ArchlabError
from archlab.space import make_spec, with_overrides
from archlab.train import checkpoint, loop
from archlab.train.checkpoint import (
    FORMAT,
    best_epoch,
    checkpoint_epoch,
    checkpoint_path,
    copy_checkpoints,
    latest_good_checkpoint,
    list_checkpoints,
    load_checkpoint,
    prune,
    save_checkpoint,
)
from archlab.train.config import TrainConfig
from archlab.train.data import DatasetSplits, load_dataset
from archlab.train.loop import train_run
from archlab.train.plan import RunPlan, resolve_plan

CPU = torch.device("cpu")
# Validation errors by epoch, not monotone: epoch 2 is the best, epoch 4 ties it later.
SCRIPTED_VAL = {1: 0.5, 2: 0.2, 3: 0.4, 4: 0.2}


@pytest.fixture(scope="module")
def digits() -> DatasetSplits:
    return load_dataset("digits", limit=48)


def _spec(data: DatasetSplits):  # type: ignore[no-untyped-def]
    spec = make_spec("cifar", 11, 2, 16, width_multiplier=0.125)
    return with_overrides(spec, num_classes=data.num_classes, input_size=data.image_size)


@pytest.fixture
def scripted_val(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each epoch's validation error replaced by SCRIPTED_VAL (the rest of the metrics real)."""
    real = loop._EpochLoop.run

    def run(self: loop._EpochLoop, epoch: int, epochs: int) -> dict[str, Any] | None:
        metrics = real(self, epoch, epochs)
        assert metrics is not None
        return {**metrics, "val_error": SCRIPTED_VAL[epoch + 1]}

    monkeypatch.setattr(loop._EpochLoop, "run", run)


def _train(data: DatasetSplits, run_dir: Path, keep: int, epochs: int = 4) -> list[dict]:
    seen: list[dict[str, Any]] = []
    outcome = train_run(
        _spec(data), data, TrainConfig(epochs=epochs, batch_size=32), seed=0, device=CPU,
        run_dir=run_dir, on_epoch=seen.append, keep=keep,
    )  # fmt: skip
    assert outcome.status == "finished"
    return seen


def _kept(run_dir: Path) -> list[int]:
    return [checkpoint_epoch(p) for p in list_checkpoints(run_dir)]


# Measurements of the process, not results: the CPU's peak memory is the process's RSS so far.
_MEASURED = ("images_per_s", "wall_s", "peak_mem_bytes")


def _no_timing(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in _MEASURED} for r in rows]


def test_a_checkpoint_is_a_plain_torch_file(tmp_path: Path) -> None:
    path = checkpoint_path(tmp_path, 1)
    save_checkpoint(path, {"epoch": 1, "w": torch.arange(5.0), "history": [{"a": 1.5}]})
    plain = torch.load(path, weights_only=True)  # no archlab code needed to read it
    assert plain["format"] == FORMAT and plain["epoch"] == 1
    assert torch.equal(plain["w"], torch.arange(5.0)) and plain["history"] == [{"a": 1.5}]
    state = load_checkpoint(path)
    assert state is not None and torch.equal(state["w"], plain["w"])


class _Touch:
    """An object whose unpickling runs ``touch``: what a hostile checkpoint would hold."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.target}",))


def test_a_sealed_checkpoint_that_runs_code_loads_as_corrupt_with_weights_only(
    tmp_path: Path,
) -> None:
    """A checkpoint someone else wrote (a copied workdir) is read with weights_only=True: the
    seal proves integrity, not authorship, so a well-sealed hostile file must still not run."""
    victim, path = tmp_path / "pwned", checkpoint_path(tmp_path, 1)
    buffer = io.BytesIO()
    torch.save({"epoch": 1, "w": _Touch(victim)}, buffer)
    path.write_bytes(checkpoint._seal(buffer.getvalue()))
    assert load_checkpoint(path) is None
    assert not victim.exists()


def test_a_flipped_bit_in_a_weight_is_caught(tmp_path: Path) -> None:
    """torch.load itself loads such a file without complaint; the seal does not."""
    path = checkpoint_path(tmp_path, 1)
    save_checkpoint(path, {"w": torch.arange(1000, dtype=torch.float32)})
    raw = bytearray(path.read_bytes())
    at = raw.find(struct.pack("<f", 500.0))
    raw[at] ^= 1
    path.write_bytes(bytes(raw))
    silently = torch.load(path, weights_only=True)["w"]
    assert not torch.equal(silently, torch.arange(1000, dtype=torch.float32))
    assert load_checkpoint(path) is None
    path.write_bytes(bytes(raw[: len(raw) // 2]))  # truncated
    assert load_checkpoint(path) is None


def test_an_old_format_checkpoint_still_resumes(tmp_path: Path) -> None:
    """Format 1 (a hex digest line, then the torch.save payload) is read; a bad one is not."""
    buffer = io.BytesIO()
    torch.save({"epoch": 3, "w": torch.ones(2)}, buffer)
    payload = buffer.getvalue()
    path = checkpoint_path(tmp_path, 3)
    path.write_bytes(hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    state = load_checkpoint(path)
    assert state is not None and state["epoch"] == 3
    path.write_bytes(b"0" * 64 + b"\n" + payload)
    assert load_checkpoint(path) is None


def test_best_epoch_is_the_lowest_val_error_earliest_on_ties() -> None:
    rows = [{"epoch": e, "val_error": v} for e, v in SCRIPTED_VAL.items()]
    assert best_epoch(rows) == 2
    nan_first = [{"epoch": 1, "val_error": float("nan")}, {"epoch": 2, "val_error": 0.9}]
    assert best_epoch(nan_first) == 2
    assert best_epoch([]) is None


def test_prune_keeps_the_newest_and_the_best(tmp_path: Path) -> None:
    for epoch in range(1, 6):
        save_checkpoint(checkpoint_path(tmp_path, epoch), {"epoch": epoch})
    prune(tmp_path, keep=2, best=1)
    assert _kept(tmp_path) == [1, 4, 5]
    prune(tmp_path, keep=1, best=5)
    assert _kept(tmp_path) == [5]


@pytest.mark.usefixtures("scripted_val")
def test_the_best_epoch_survives_pruning(digits: DatasetSplits, tmp_path: Path) -> None:
    history = _train(digits, tmp_path / "one", keep=1)
    assert _kept(tmp_path / "one") == [2, 4]  # the best (2, not the later tie 4) and the newest
    best = torch.load(checkpoint_path(tmp_path / "one", 2), weights_only=True)
    assert best["epoch"] == 2 == best_epoch(history)
    assert [m["val_error"] for m in best["history"]] == [0.5, 0.2]
    _train(digits, tmp_path / "two", keep=2)
    assert _kept(tmp_path / "two") == [2, 3, 4]


@pytest.mark.usefixtures("scripted_val")
def test_a_corrupt_newest_falls_back_to_the_best_and_resumes_exactly(
    digits: DatasetSplits, tmp_path: Path
) -> None:
    whole = _train(digits, tmp_path / "whole", keep=1)
    run_dir = tmp_path / "part"
    _train(digits, run_dir, keep=1)
    newest = checkpoint_path(run_dir, 4)
    newest.write_bytes(newest.read_bytes()[:-100])  # a torn write at the end
    messages: list[str] = []
    assert latest_good_checkpoint(run_dir, warn=messages.append)["epoch"] == 2  # type: ignore[index]
    assert messages and "corrupt" in messages[0]
    resumed = _train(digits, run_dir, keep=1)
    assert [m["epoch"] for m in resumed] == [3, 4]
    assert _no_timing(resumed) == _no_timing(whole[2:])  # bit for bit on the CPU
    assert _kept(run_dir) == [2, 4]


def test_a_continued_rung_takes_the_best_along(tmp_path: Path) -> None:
    source = tmp_path / "rung0"
    source.mkdir()
    for epoch in (1, 3, 4):
        save_checkpoint(checkpoint_path(source, epoch), {"epoch": epoch})
    copy_checkpoints(checkpoint_path(source, 3), tmp_path / "rung1")
    assert _kept(tmp_path / "rung1") == [1, 3]  # never a checkpoint past the continued one
    assert load_checkpoint(checkpoint_path(tmp_path / "rung1", 3)) is not None
    assert not list((tmp_path / "rung1").glob("*.tmp"))


def test_keep_is_an_output_setting_not_part_of_a_runs_identity() -> None:
    plan = resolve_plan(None, {"select.cardinalities": [1], "output.keep": 3})
    assert plan.keep == 3 and "keep = 3" in plan.to_toml()
    assert plan.config_key == plan.replace(keep=1).config_key
    assert "keep" not in str(plan.run_config(rung=0, stop_epoch=None))
    assert RunPlan(candidates=plan.candidates).keep == 1
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ArchlabError, match=r"output\.keep"):
            plan.replace(keep=bad)

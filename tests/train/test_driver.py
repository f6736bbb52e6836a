"""The local executor: store, resume after kill -9, corrupt checkpoints, local failures."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.training import train_specs

from archlab.complexity import totals
from archlab.device import resolve_device
from archlab.errors import ArchlabError, speaking_as
from archlab.space import make_spec, with_overrides
from archlab.store import Store
from archlab.train.checkpoint import checkpoint_path, load_checkpoint, save_checkpoint
from archlab.train.config import TrainConfig
from archlab.train.data import DatasetSplits, load_dataset
from archlab.train.progress import NullReporter

TINY = [make_spec("cifar", 11, c, 2, width_multiplier=0.125) for c in (1, 2)]


@pytest.fixture(scope="module")
def digits() -> DatasetSplits:
    return load_dataset("digits", limit=300)


def test_runs_are_stored_and_rerun_skips_them(digits: DatasetSplits, tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    config = TrainConfig(epochs=2, batch_size=64)
    summary = train_specs(
        TINY, config=config, seeds=(0, 1), device="auto", store_path=store, data=digits
    )
    assert [r.status for r in summary.runs] == ["finished"] * 4
    frame = Store(store, create=False).results_frame()
    assert len(frame) == 4 and set(frame.epochs) == {2}
    assert set(frame.device) == {str(resolve_device("auto"))}  # what ran, not "auto"
    for spec in TINY:
        fitted = with_overrides(spec, num_classes=10, input_size=8)
        assert set(frame[frame.name == spec.name].macs) == {totals(fitted)[0]}
    again = train_specs(
        TINY, config=config, seeds=(0, 1), device="cpu", store_path=store, data=digits
    )
    assert all(r.skipped for r in again.runs)
    assert len(Store(store, create=False).epochs_frame()) == 8
    logs = sorted((tmp_path / "s-work").glob("*-run-*/log.jsonl"))  # beside s.db
    assert len(logs) == 4 and '"event": "epoch"' in logs[0].read_text()


def test_diverging_candidate_beside_a_healthy_one(digits: DatasetSplits, tmp_path: Path) -> None:
    healthy = train_specs(
        TINY[:1],
        config=TrainConfig(epochs=1),
        device="cpu",
        store_path=tmp_path / "s.db",
        data=digits,
    )
    wild = train_specs(
        TINY,
        config=TrainConfig(epochs=2, lr=1e6, warmup_epochs=0),
        device="cpu",
        store_path=tmp_path / "s.db",
        data=digits,
    )
    assert healthy.runs[0].status == "finished"
    assert {r.status for r in wild.runs} == {"diverged"}
    statuses = sorted(Store(tmp_path / "s.db", create=False).results_frame().status)
    assert statuses == ["diverged", "diverged", "finished"]
    assert not wild.any_failed


def test_failure_stays_local(
    digits: DatasetSplits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import archlab.train.tasks as tasks_module

    real = tasks_module.train_run

    def flaky(spec, *args, **kwargs):  # type: ignore[no-untyped-def]
        if spec.cardinality == 1:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB")
        return real(spec, *args, **kwargs)

    monkeypatch.setattr(tasks_module, "train_run", flaky)
    summary = train_specs(
        TINY, config=TrainConfig(epochs=1), device="cpu", store_path=tmp_path / "s.db", data=digits
    )
    assert [r.status for r in summary.runs] == ["failed", "finished"]
    assert "out of memory" in (summary.runs[0].reason or "")
    assert summary.any_failed
    # A rerun retries the failed run and keeps the finished one.
    monkeypatch.setattr(tasks_module, "train_run", real)
    again = train_specs(
        TINY, config=TrainConfig(epochs=1), device="cpu", store_path=tmp_path / "s.db", data=digits
    )
    assert [(r.status, r.skipped) for r in again.runs] == [
        ("finished", False),
        ("finished", True),
    ]


def test_corrupt_checkpoint_restarts_from_the_previous(
    digits: DatasetSplits, tmp_path: Path
) -> None:
    store = tmp_path / "s.db"
    config = TrainConfig(epochs=3, batch_size=64)
    train_specs(TINY[:1], config=config, device="cpu", store_path=store, data=digits)
    reference = Store(store, create=False).epochs_frame()
    run_dir = next((tmp_path / "s-work").glob("*-run-*"))
    # Simulate a crash in epoch 3 whose checkpoint was then damaged on disk.
    with Store(store) as s:
        run = s.runs()[0]
        s.truncate_epochs(run.id, 2)
        s.finish_run(run.id, "interrupted", "test")
    checkpoint_path(run_dir, 3).unlink()
    checkpoint_path(run_dir, 2).write_bytes(b"\x00" * 100)
    messages: list[str] = []

    class Collect(NullReporter):
        def message(self, text: str) -> None:
            messages.append(text)

    with speaking_as("archlab train-candidates"):  # as the CLI runs it: warnings name it
        summary = train_specs(
            TINY[:1], config=config, device="cpu", store_path=store, data=digits, reporter=Collect()
        )
    assert summary.runs[0].status == "finished"
    (warning,) = [m for m in messages if "corrupt" in m]
    assert warning.startswith("archlab train-candidates: warning: resnext")
    after = Store(store, create=False).epochs_frame()
    assert list(after.epoch) == [1, 2, 3]
    cols = ["train_loss", "val_error", "test_error"]
    assert after[cols].equals(reference[cols])  # epochs 2 and 3 redone bit for bit


def _epochs_in(store: Path) -> int:
    if not store.exists():
        return 0
    with sqlite3.connect(store, timeout=10) as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM epochs").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def test_resume_after_kill_9(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    cmd = [
        sys.executable,
        "-m",
        "archlab.cli.main",
        "train-candidates",
        "--cardinalities",
        "1,2",
        "--depth",
        "11",
        "--width-multiplier",
        "0.125",
        "--epochs",
        "6",
        "--batch-size",
        "32",
        "--limit",
        "400",
        "--seeds",
        "0",
        "--device",
        "cpu",
        "--quiet",
        "--store",
        str(store),
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while _epochs_in(store) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    with Store(store) as s:
        assert any(r.status == "running" for r in s.runs())  # left behind by the dead process
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with Store(store, create=False) as s:
        runs = s.runs()
        assert len(runs) == 2 and {r.status for r in runs} == {"finished"}
        epochs = s.epochs_frame()
    assert len(epochs) == 12
    assert not epochs.duplicated(["run_id", "epoch"]).any()
    for _, group in epochs.groupby("run_id"):
        assert list(group.epoch) == [1, 2, 3, 4, 5, 6]


def test_bad_store_paths(digits: DatasetSplits, tmp_path: Path) -> None:
    config = TrainConfig(epochs=1)
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ArchlabError, match="is a file, not a folder"):
        train_specs(TINY, config=config, store_path=tmp_path / "file" / "s.db", data=digits)
    with pytest.raises(ArchlabError, match="directory"):
        train_specs(TINY, config=config, store_path=tmp_path, data=digits)
    with pytest.raises(ArchlabError, match="no candidates"):
        train_specs([], config=config, store_path=tmp_path / "s.db", data=digits)
    with pytest.raises(ArchlabError, match="too small"):
        imagenet = make_spec("imagenet", 26, 2, 1, width_multiplier=0.125)
        train_specs([imagenet], config=config, store_path=tmp_path / "s.db", data=digits)


def test_two_stores_sharing_a_workdir_never_share_runs(
    digits: DatasetSplits, tmp_path: Path
) -> None:
    work = tmp_path / "shared-work"
    first = train_specs(
        TINY[:1],
        config=TrainConfig(epochs=2),
        device="cpu",
        store_path=tmp_path / "a.db",
        workdir=work,
        data=digits,
    )
    second = train_specs(
        TINY[:1],
        config=TrainConfig(epochs=3, lr=0.05),
        device="cpu",
        store_path=tmp_path / "b.db",
        workdir=work,
        data=digits,
    )
    assert first.runs[0].epochs == 2
    assert second.runs[0].epochs == 3 and not second.runs[0].skipped
    assert len(list(work.iterdir())) == 2  # one folder per (store, run)


def test_a_checkpoint_of_another_run_is_refused(digits: DatasetSplits, tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    train_specs(TINY[:1], config=TrainConfig(epochs=1), device="cpu", store_path=store, data=digits)
    run_dir = next((tmp_path / "s-work").glob("*-run-*"))
    # Pretend the folder was reused by another recipe: same file, different seed inside.
    state = load_checkpoint(checkpoint_path(run_dir, 1))
    assert state is not None
    save_checkpoint(checkpoint_path(run_dir, 1), {**state, "seed": 99})
    with Store(store) as s:
        s.finish_run(s.runs()[0].id, "interrupted", "test")
    summary = train_specs(
        TINY[:1], config=TrainConfig(epochs=1), device="cpu", store_path=store, data=digits
    )
    assert summary.runs[0].status == "failed"
    assert "checkpoints of another run (different seed)" in (summary.runs[0].reason or "")


def test_a_failed_retry_keeps_the_stored_epochs(
    digits: DatasetSplits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import archlab.train.tasks as tasks_module

    store = tmp_path / "s.db"
    config = TrainConfig(epochs=4, batch_size=64)
    seen: list[int] = []

    def stop_after_two(metrics):  # type: ignore[no-untyped-def]
        seen.append(metrics["epoch"])
        if len(seen) == 2:
            raise KeyboardInterrupt

    real = tasks_module.train_run
    monkeypatch.setattr(
        tasks_module,
        "train_run",
        lambda *a, **k: real(*a, **{**k, "on_epoch": _chain(k["on_epoch"], stop_after_two)}),
    )
    with pytest.raises(KeyboardInterrupt):
        train_specs(TINY[:1], config=config, device="cpu", store_path=store, data=digits)
    monkeypatch.setattr(tasks_module, "train_run", _raise)
    summary = train_specs(TINY[:1], config=config, device="cpu", store_path=store, data=digits)
    assert summary.runs[0].status == "failed"
    assert len(Store(store, create=False).epochs_frame()) == 2  # nothing stored is lost


def _chain(*callbacks):  # type: ignore[no-untyped-def]
    def call(metrics):  # type: ignore[no-untyped-def]
        for callback in callbacks:
            callback(metrics)

    return call


def _raise(*args, **kwargs):  # type: ignore[no-untyped-def]
    raise RuntimeError("disk on fire")

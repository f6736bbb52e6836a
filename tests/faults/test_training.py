"""A full disk during training fails clean and resumes exactly (issue 12, class 1)."""

from __future__ import annotations

import builtins
import errno
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import archlab.train.checkpoint as checkpoint
import archlab.train.tasks as tasks
from archlab.store import Store

Cli = Callable[..., tuple[int, str, str]]
TINY = ["--cardinalities", "1", "--depth", "11", "--width-multiplier", "0.125", "--limit", "64",
        "--batch-size", "32", "--epochs", "2", "--threads", "1"]  # fmt: skip


class FullDisk:
    """The work folder's disk fills up after ``free_checkpoints`` checkpoint writes."""

    def __init__(self, free_checkpoints: int) -> None:
        self.free = free_checkpoints
        self.full = False

    def checkpoint_open(self, file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "w" in mode:
            if self.free == 0:
                self.full = True
            if self.full:  # a write() on a full disk: no file name in the error
                raise OSError(errno.ENOSPC, "No space left on device")
            self.free -= 1
        return builtins.open(file, mode, *args, **kwargs)

    def log_open(self, file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if self.full and mode != "r":  # the error handler's own log writes fail too
            raise OSError(errno.ENOSPC, "No space left on device")
        return builtins.open(file, mode, *args, **kwargs)


def _fill(monkeypatch: pytest.MonkeyPatch, disk: FullDisk) -> None:
    monkeypatch.setattr(checkpoint, "open", disk.checkpoint_open, raising=False)
    monkeypatch.setattr(tasks, "open", disk.log_open, raising=False)


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_full_work_disk_fails_clean_then_resumes_exactly(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "runs.db"
    _fill(monkeypatch, FullDisk(free_checkpoints=1))
    code, _, err = cli("train-candidates", *TINY, "--store", str(store))
    line = _one_line(err.replace("\r", "\n").splitlines()[-1])
    assert code == 2 and "no space left" in line and "epoch-0002.ckpt.tmp" in line, err
    assert "free space and rerun" in line and "finished epochs are kept" in line
    with Store(store, create=False, read_only=True) as s:
        (run,) = s.runs()
        assert run.status == "failed" and run.reason is not None and "no space" in run.reason
        assert run.epochs_done == 1
    assert not list((tmp_path / "runs-work").glob("*/*.tmp"))  # the half-written file is gone

    monkeypatch.undo()  # space freed
    code, out, err = cli("train-candidates", *TINY, "--store", str(store), "--json")
    assert code == 0, err
    resumed = json.loads(out)["runs"][0]
    code, out, err = cli("train-candidates", *TINY, "--store", str(tmp_path / "clean.db"),
                         "--json")  # fmt: skip
    assert code == 0, err
    clean = json.loads(out)["runs"][0]
    assert resumed["epochs"] == clean["epochs"] == 2
    assert resumed["val_error"] == clean["val_error"]
    assert resumed["test_error"] == clean["test_error"]


def test_store_and_work_disk_both_full_leave_no_run_running_after_recovery(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "runs.db"
    disk = FullDisk(free_checkpoints=1)
    _fill(monkeypatch, disk)
    real_write = Store._write

    def write(self: Store) -> Any:
        if disk.full:
            raise sqlite3.OperationalError("database or disk is full")
        return real_write(self)

    monkeypatch.setattr(Store, "_write", write)
    code, _, err = cli("train-candidates", *TINY, "--store", str(store))
    line = _one_line(err.replace("\r", "\n").splitlines()[-1])
    assert code == 2 and str(store) in line and "full" in line, err
    monkeypatch.undo()
    # The store could not be written, so the row still says running; its lock is free: the
    # next start recovers it and resumes from the kept checkpoint.
    code, out, err = cli("train-candidates", *TINY, "--store", str(store), "--json")
    assert code == 0, err
    assert "was interrupted: resuming" in err
    assert [r["status"] for r in json.loads(out)["runs"]] == ["finished"]


def test_a_store_name_too_long_for_the_file_system_is_one_line(cli: Cli, tmp_path: Path) -> None:
    store = tmp_path / ("x" * 300 + ".db")
    code, _, err = cli("train-candidates", *TINY, "--store", str(store))
    assert code == 2 and "File name too long" in _one_line(err), err

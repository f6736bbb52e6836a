"""One unit of work for an executor: train one (candidate, seed, rung) and return its history.

A task is plain, picklable data, so the same function runs in this process, in a worker process
pinned to one GPU, or in a Ray worker on another machine. It never touches the store: the driver
alone writes there. It does write checkpoints and a JSON-lines log under its run directory, which
must be visible to every worker (one machine, or a shared file system for a cluster).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import json
import os
import socket
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock, Timeout

from archlab.device import resolve_device
from archlab.errors import ArchlabError
from archlab.space import NetSpec
from archlab.train.checkpoint import (
    copy_checkpoints,
    list_checkpoints,
    named_os_errors,
)
from archlab.train.config import DEFAULT_KEEP
from archlab.train.data import DatasetSplits, load_dataset, split_for_seed
from archlab.train.liveness import run_lock_path
from archlab.train.loop import (
    EpochCallback,
    RunOutcome,
    StepCallback,
    TrainConfig,
    train_run,
)
from archlab.train.plan import ExecutionOptions


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs to train (or resume) one stored run."""

    run_id: int
    label: str
    spec: NetSpec
    seed: int
    config: TrainConfig
    # Device and threads (resolved: results on the CPU depend on the thread count).
    execution: ExecutionOptions
    run_dir: str
    stop_epoch: int | None = None  # a rung of successive halving ends here
    start_from: str | None = None  # the previous rung's checkpoint, copied in when starting
    keep: int = DEFAULT_KEEP  # newest checkpoints kept, besides the best-validation one

    def failed(self, reason: str) -> RunOutcome:
        """The outcome of this task when it could not run at all (no history)."""
        return RunOutcome("failed", reason, 0, self.stop_epoch or self.config.epochs or 0,
                          device=self.execution.device)  # fmt: skip


@functools.lru_cache(maxsize=2)
def _cached_dataset(
    source: str, val_fraction: float, split_seed: int, limit: int | None, stratify: bool
) -> Any:
    # A worker serves many tasks of one invocation: load the data once per process.
    return load_dataset(
        source, val_fraction=val_fraction, seed=split_seed, limit=limit, stratify=stratify
    )


def dataset_for(config: TrainConfig) -> DatasetSplits:
    """The config's data set with its seeded validation split (cached per process)."""
    return _cached_dataset(
        config.dataset, config.val_fraction, config.split_seed, config.limit, config.stratify
    )


def run_data(config: TrainConfig, seed: int, data: DatasetSplits | None = None) -> DatasetSplits:
    """The data one run trains on: the config's (or ``data``), its validation split drawn from
    ``seed`` when ``config.split`` is ``per-seed`` (the same for every arm of a study), and
    stratified when ``config.stratify`` is on."""
    data = data if data is not None else dataset_for(config)
    if config.split != "per-seed":
        return data
    return split_for_seed(data, seed, stratify=config.stratify)


def append_log(run_dir: Path, event: dict[str, Any]) -> None:
    """Append one event to the run's JSON-lines log."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "log.jsonl"
    with named_os_errors(path), open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(event, default=str) + "\n")


# A reason that starts so stops the whole invocation: every later run would fail the same way.
DISK_FULL = "no space left on the device"
_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def failure_reason(exc: BaseException, run_dir: Path) -> str:
    """One line saying why a run failed; a full disk names the file and what to do."""
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
        where = exc.filename if exc.filename is not None else run_dir
        return (
            f"{DISK_FULL} writing {where}: free space and rerun the same command "
            "(finished epochs are kept)"
        )
    if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG:
        where = exc.filename if exc.filename is not None else run_dir
        return f"file name too long for its file system: {where}; choose a shorter workdir"
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def _log_quietly(run_dir: Path, event: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        append_log(run_dir, event)


def _seed_from_previous_rung(task: RunTask, run_dir: Path) -> None:
    if task.start_from is None or list_checkpoints(run_dir):
        return
    copy_checkpoints(Path(task.start_from), run_dir)


def _lock_run_dir(run_dir: Path) -> FileLock:
    """Hold the run folder for this process: two trainers of one run would overwrite each other.

    The lock is the operating system's (``filelock``: flock on POSIX, msvcrt on Windows), so it
    goes with the process, however that ends; liveness.py reads it to tell a live run from a dead
    one whatever pid the store recorded.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(run_lock_path(run_dir), timeout=0)
    try:
        lock.acquire(blocking=False)
    except Timeout:
        raise ArchlabError(f"{run_dir} is in use by another process training this run") from None
    return lock


def execute_task(
    task: RunTask,
    *,
    data: DatasetSplits | None = None,
    on_epoch: EpochCallback | None = None,
    on_step: StepCallback | None = None,
    warn: Callable[[str], None] | None = None,
) -> RunOutcome:
    """Train the task's run to its stop epoch; a failure is returned, never raised."""
    assert task.execution.threads is not None  # the driver resolves it before dispatch
    torch.set_num_threads(task.execution.threads)
    run_dir = Path(task.run_dir)
    where: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid()}
    device_name = task.execution.device
    said: list[str] = []  # returned with the outcome, for a parent in another process

    def log_warning(text: str) -> None:
        said.append(text)
        append_log(run_dir, {"event": "warning", "message": text})
        if warn is not None:
            warn(text)

    def log_epoch(metrics: dict[str, Any]) -> None:
        append_log(run_dir, {"event": "epoch", **metrics})
        if on_epoch is not None:
            on_epoch(metrics)

    try:
        lock = _lock_run_dir(run_dir)
    except ArchlabError as exc:
        return dataclasses.replace(task.failed(str(exc)), **where)
    except OSError as exc:  # the work folder's disk is full, or the name is too long
        return dataclasses.replace(task.failed(failure_reason(exc, run_dir)), **where)
    try:  # the lock is released however the task ends, Ctrl-C included
        try:
            device = resolve_device(task.execution.device)
            device_name = str(device)
            _seed_from_previous_rung(task, run_dir)
            start = {
                "event": "start",
                **where,
                "device": device_name,
                "threads": task.execution.threads,
                "config": task.config.to_dict(),
            }
            append_log(run_dir, start)
            data = run_data(task.config, task.seed, data).to(device)
            outcome = train_run(
                task.spec,
                data,
                task.config,
                seed=task.seed,
                device=device,
                run_dir=run_dir,
                on_epoch=log_epoch,
                on_step=on_step,
                stop_epoch=task.stop_epoch,
                keep=task.keep,
                warn=log_warning,
            )
        except Exception as exc:  # the failure belongs to this run alone
            outcome = task.failed(failure_reason(exc, run_dir))
            # The log is a convenience: on a full disk this write fails too, and must not turn
            # one run's clean failure into a traceback.
            _log_quietly(run_dir, {"event": "error", "traceback": traceback.format_exc()})
        _log_quietly(
            run_dir, {"event": "finish", "status": outcome.status, "reason": outcome.reason}
        )
    finally:
        lock.release(force=True)
    return dataclasses.replace(outcome, device=device_name, warnings=tuple(said), **where)

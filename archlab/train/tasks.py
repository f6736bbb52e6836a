"""One unit of work for an executor: train one (candidate, seed, rung) and return its history.

A task is plain, picklable data, so the same function runs in this process, in a worker process
pinned to one GPU, or in a Ray worker on another machine. It never touches the store: the driver
alone writes there. It does write checkpoints and a JSON-lines log under its run directory, which
must be visible to every worker (one machine, or a shared file system for a cluster).
"""

from __future__ import annotations

import dataclasses
import fcntl
import functools
import json
import os
import shutil
import socket
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import torch

from archlab.device import resolve_device
from archlab.errors import ArchlabError
from archlab.space import NetSpec
from archlab.train.checkpoint import checkpoint_epoch, checkpoint_path, list_checkpoints
from archlab.train.data import DatasetSplits, load_dataset
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

    def failed(self, reason: str) -> RunOutcome:
        """The outcome of this task when it could not run at all (no history)."""
        return RunOutcome("failed", reason, 0, self.stop_epoch or self.config.epochs or 0,
                          device=self.execution.device)  # fmt: skip


@functools.lru_cache(maxsize=2)
def _cached_dataset(source: str, val_fraction: float, split_seed: int, limit: int | None) -> Any:
    # A worker serves many tasks of one invocation: load the data once per process.
    return load_dataset(source, val_fraction=val_fraction, seed=split_seed, limit=limit)


def dataset_for(config: TrainConfig) -> DatasetSplits:
    """The config's data set with its seeded validation split (cached per process)."""
    return _cached_dataset(config.dataset, config.val_fraction, config.split_seed, config.limit)


def append_log(run_dir: Path, event: dict[str, Any]) -> None:
    """Append one event to the run's JSON-lines log."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "log.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps(event, default=str) + "\n")


def _seed_from_previous_rung(task: RunTask, run_dir: Path) -> None:
    if task.start_from is None or list_checkpoints(run_dir):
        return
    source = Path(task.start_from)
    epoch = checkpoint_epoch(source)
    run_dir.mkdir(parents=True, exist_ok=True)
    target = checkpoint_path(run_dir, epoch)
    tmp = target.with_name(target.name + ".tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)  # atomic: a crash leaves either nothing or the whole checkpoint


def _lock_run_dir(run_dir: Path) -> IO[str]:
    """Hold the run folder for this process: two trainers of one run would overwrite each other.

    The lock is the operating system's, so it goes with the process, however that ends.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    handle = open(run_dir / ".lock", "w")  # noqa: SIM115 - held for the whole task
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ArchlabError(f"{run_dir} is in use by another process training this run") from None
    return handle


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

    def log_warning(text: str) -> None:
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
    with lock:  # released however the task ends, Ctrl-C included
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
            data = (data if data is not None else dataset_for(task.config)).to(device)
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
                warn=log_warning,
            )
        except Exception as exc:  # the failure belongs to this run alone
            outcome = task.failed(f"{type(exc).__name__}: {exc}".splitlines()[0])
            append_log(run_dir, {"event": "error", "traceback": traceback.format_exc()})
        append_log(run_dir, {"event": "finish", "status": outcome.status, "reason": outcome.reason})
    return dataclasses.replace(outcome, device=device_name, **where)

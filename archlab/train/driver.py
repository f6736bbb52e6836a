"""The driver of ``train-candidates``: plan the runs, hand them to an executor, store everything.

Rerunning the same command is the resume: finished and diverged runs are skipped, interrupted
and failed runs continue from their newest good checkpoint, and a run left ``running`` by a dead
process is first marked interrupted. Only this process writes the store.

Strategies: ``grid`` trains every candidate at one budget. ``halving`` is successive halving
(Jamieson & Talwalkar 2016; Li et al.'s Hyperband): every candidate trains ``min_epochs``, the
best 1/eta by mean validation error go on from their checkpoints to eta times the budget, and
so on up to ``max_epochs``. All rungs share one learning-rate schedule over ``max_epochs``, so a
rung's result is exactly the prefix of a full run and continuing from its checkpoint is exact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import socket
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from archlab._version import __version__
from archlab.complexity import totals
from archlab.errors import ArchlabError
from archlab.space import NetSpec
from archlab.store import EpochRecord, RunRecord, Store
from archlab.train.checkpoint import checkpoint_epoch, checkpoint_path, list_checkpoints
from archlab.train.executors import Executor
from archlab.train.liveness import driver_is_alive, run_is_alive
from archlab.train.loop import RunOutcome
from archlab.train.plan import RunPlan
from archlab.train.progress import Reporter
from archlab.train.tasks import DISK_FULL, RunTask
from archlab.train.tracking import GuardedTracker
from archlab.train.workspace import (
    git_commit,
    run_dir_path,
)

SKIP_STATUSES = ("finished", "diverged")  # results: rerunning them would repeat them


@dataclass(frozen=True)
class RunRow:
    """One run's line in an :class:`InvocationSummary`: how it ended and its final errors."""

    run_id: int
    name: str
    seed: int
    rung: int
    status: str
    reason: str | None
    epochs: int
    val_error: float | None  # the last epoch's, a fraction
    test_error: float | None
    skipped: bool = False  # already finished or diverged in the store: not trained again


@dataclass(frozen=True)
class InvocationSummary:
    """All runs of one ``train_candidates`` call, and where their results and files went."""

    store: str
    workdir: str
    config_key: str  # the store's name for this plan's recipe (runs.config_key)
    runs: tuple[RunRow, ...] = field(default_factory=tuple)

    def count(self, status: str) -> int:
        """Runs that ended with ``status``."""
        return sum(r.status == status for r in self.runs)

    @property
    def any_failed(self) -> bool:
        """Whether a run failed (the command then exits 1)."""
        return any(r.status == "failed" for r in self.runs)


def _run_tasks(executor: Executor, driver: Driver, tasks: list[RunTask]) -> None:
    pending = {task.run_id for task in tasks}

    def on_done(task: RunTask, outcome: RunOutcome) -> None:
        try:
            driver.on_done(task, outcome)
        finally:
            pending.discard(task.run_id)

    try:
        executor.run(tasks, on_epoch=driver.on_epoch, on_done=on_done)
    except BaseException as exc:
        # No run is left 'running' by a process that is exiting: each is closed (resumed by the
        # next invocation) while the store can still be written; when it cannot, the next start
        # finds their locks free and recovers them.
        reason = "stopped by the user" if isinstance(exc, KeyboardInterrupt) else str(exc)
        for run_id in pending:
            with contextlib.suppress(ArchlabError, sqlite3.Error, OSError):
                driver.store.finish_run(run_id, "interrupted", reason.splitlines()[0][:500])
        raise


@dataclass
class Driver:
    """What one invocation knows while it plans, dispatches and stores runs."""

    plan: RunPlan
    store: Store
    work: Path
    reporter: Reporter
    rows: list[RunRow] = field(default_factory=list)
    # (spec, seed, rung) -> run id, for the runs this invocation added to the store.
    run_ids: dict[tuple[NetSpec, int, int], int] = field(default_factory=dict)
    # The plan as said before the first epoch (issue 18): said once the first rung's runs are
    # stored and checked, so a refused invocation says one line, its error.
    announce: Sequence[str] = ()
    # MLflow / TensorBoard sinks, told after each store write (archlab.train.tracking).
    tracker: GuardedTracker = field(default_factory=lambda: GuardedTracker(()))

    @property
    def rungs(self) -> tuple[int | None, ...]:
        return self.plan.halving.rungs if self.plan.halving is not None else (None,)

    def planned_runs(self, n: int) -> int:
        seeds = len(self.plan.seeds)
        if self.plan.halving is None:
            return n * seeds
        total, alive = 0, n
        for _ in self.rungs:
            total, alive = total + alive * seeds, self.plan.halving.survivors(alive)
        return total

    def run_rungs(self, executor: Executor, candidates: Sequence[NetSpec]) -> None:
        """Every rung in turn: train its runs, then promote the best (halving) or stop (grid)."""
        halving, survivors = self.plan.halving, list(candidates)
        for rung, stop in enumerate(self.rungs):
            tasks = self.prepare(survivors, rung, stop)
            if rung == 0 and self.announce:
                self.reporter.plan(self.announce)
            _run_tasks(executor, self, tasks)
            if halving is None or rung + 1 == len(self.rungs):
                return
            unfinished = self.unfinished(survivors, rung)
            if unfinished:  # promote only from a whole rung, so a rerun promotes the same
                self.reporter.message(
                    f"rung {rung}: {unfinished} run(s) failed or were interrupted; "
                    "rerun the same command to retry them before promotion"
                )
                return
            survivors = self.select(survivors, rung, halving.survivors(len(survivors)))
            if not survivors:
                self.reporter.message(f"rung {rung}: no candidate finished; nothing to promote")
                return

    def _add_run(self, spec: NetSpec, seed: int, rung: int, stop: int | None) -> RunRecord:
        """Write the candidate and its run to the store (both idempotent); the stored run."""
        macs, params, acts = totals(spec)
        cid = self.store.add_candidate(name=spec.name, spec=spec, macs=macs, params=params,
                                       acts=acts)  # fmt: skip
        run = self.store.add_run(
            candidate_id=cid,
            seed=seed,
            config_key=self.plan.config_key,
            rung=rung,
            config=self.plan.run_config(rung=rung, stop_epoch=stop),
            budget_epochs=stop or self.plan.config.epochs,
        )
        self.run_ids[(spec, seed, rung)] = run.id
        return run

    def _stored(self, spec: NetSpec, seed: int, rung: int) -> RunRecord:
        """A run this invocation added, as the store holds it now (a read)."""
        return self.store.run(self.run_ids[(spec, seed, rung)])

    def _run_dir(self, run: RunRecord) -> Path:
        return run_dir_path(self.work, self.store.store_id, run)

    def prepare(self, specs: Sequence[NetSpec], rung: int, stop: int | None) -> list[RunTask]:
        """Store the rung's runs; tasks for those not already done."""
        tasks = []
        for spec in specs:
            for seed in self.plan.seeds:
                run = self._add_run(spec, seed, rung, stop)
                if run.status in SKIP_STATUSES:
                    self.reporter.run_finished(_label(run), f"{run.status} (stored)", run.reason)
                    self.rows.append(self._row(run, skipped=True))
                    self._tell_ended(run, spec)  # a sink fills in what it missed before
                    continue
                start_from = None
                if rung > 0:
                    previous = self._stored(spec, seed, rung - 1)
                    if previous.epochs_done:  # else this rung trains from scratch
                        path = checkpoint_path(self._run_dir(previous), previous.epochs_done)
                        start_from = str(path)
                run_dir = self._run_dir(run)
                if run.status == "running":
                    raise ArchlabError(self._in_use(run))
                self._forget_unsaved_epochs(run, run_dir)
                self.store.start_run(
                    run.id,
                    device=self.plan.execution.device,
                    archlab_version=__version__,
                    torch_version=torch.__version__,
                    git_commit=git_commit(),
                )
                if self.tracker:
                    self.tracker.run_started(self.store.store_id, self.store.run(run.id), spec,
                                             self.plan)  # fmt: skip
                tasks.append(
                    RunTask(
                        run_id=run.id,
                        label=_label(run),
                        spec=spec,
                        seed=seed,
                        config=self.plan.config,
                        execution=self.plan.execution,
                        run_dir=str(run_dir),
                        stop_epoch=stop,
                        start_from=start_from,
                        keep=self.plan.keep,
                    )
                )
        return tasks

    def _in_use(self, run: RunRecord) -> str:
        """Why a run still 'running' after recovery cannot be taken, in one line."""
        where = f"pid {run.pid} on {run.hostname}"
        if self.alive(run):
            return (
                f"run {run.id} ({run.name} seed {run.seed}) is being trained by another process "
                f"({where}; its run folder {self._run_dir(run)} is locked); wait for it or stop it"
            )
        return (
            f"run {run.id} ({run.name} seed {run.seed}) is marked running by {where}; "
            "if that machine no longer runs it, rerun with execution.reclaim"
        )

    def _forget_unsaved_epochs(self, run: RunRecord, run_dir: Path) -> None:
        # Epochs stored after the newest checkpoint are trained again: drop them now, so none is
        # duplicated; the task reports the checkpointed ones again from the checkpoint's history.
        on_disk = list_checkpoints(run_dir)
        newest = checkpoint_epoch(on_disk[-1]) if on_disk else 0
        if run.epochs_done > newest:
            self.store.truncate_epochs(run.id, newest)

    def on_epoch(self, task: RunTask, metrics: dict[str, Any]) -> None:
        """Store an epoch the moment it is checkpointed (in-process executors stream these)."""
        self.store.record_epoch(task.run_id, _epoch_record(metrics))
        self.reporter.epoch(task.label, metrics)
        self.tracker.epoch(task.run_id, metrics)

    def on_done(self, task: RunTask, outcome: RunOutcome) -> None:
        """Store the whole history (idempotent), then the run's final status."""
        if outcome.history:  # a task that failed before reading its checkpoint brings none
            for metrics in outcome.history:
                self.store.record_epoch(task.run_id, _epoch_record(metrics))
            self.store.truncate_epochs(task.run_id, len(outcome.history))
        if outcome.device:
            self.store.set_device(task.run_id, outcome.device)
        self.store.finish_run(task.run_id, outcome.status, outcome.reason)
        self.reporter.run_finished(task.label, outcome.status, outcome.reason)
        self.rows.append(self._row(self.store.run(task.run_id)))
        self._tell_ended(self.store.run(task.run_id), task.spec)
        if outcome.reason is not None and outcome.reason.startswith(DISK_FULL):
            raise ArchlabError(outcome.reason)  # every later run would fail the same way

    def _tell_ended(self, run: RunRecord, spec: NetSpec) -> None:
        if self.tracker:
            history = [dataclasses.asdict(e) for e in self.store.epochs(run.id)]
            self.tracker.run_ended(self.store.store_id, run, spec, self.plan, history)

    def alive(self, run: RunRecord) -> bool:
        """Whether a process trains ``run`` now: its run folder's lock or its driver's is held.

        Locks, not pids: a pid recorded in the store may since belong to an unrelated process.
        """
        if run_is_alive(self._run_dir(run)):
            return True
        if run.hostname is None or run.pid is None:
            return False
        if (run.hostname, run.pid) == (socket.gethostname(), os.getpid()):
            return False  # an earlier call in this process, over now: its task holds no lock
        return driver_is_alive(self.work, run.hostname, run.pid)

    def unfinished(self, specs: Sequence[NetSpec], rung: int) -> int:
        """Runs of the rung that neither finished nor diverged."""
        runs = [self._stored(spec, seed, rung) for spec in specs for seed in self.plan.seeds]
        return sum(run.status not in SKIP_STATUSES for run in runs)

    def select(self, specs: Sequence[NetSpec], rung: int, keep: int) -> list[NetSpec]:
        """The ``keep`` best candidates of a rung by mean final validation error (ties: name).

        A candidate with a diverged seed scores infinity and is never promoted.
        """
        scored = []
        for spec in specs:
            errors = []
            for seed in self.plan.seeds:
                run = self._stored(spec, seed, rung)
                epochs = self.store.epochs(run.id) if run.status == "finished" else []
                errors.append(epochs[-1].val_error if epochs else math.inf)
            scored.append((sum(errors) / len(errors), spec.name, spec))
        ranked = sorted((s for s in scored if math.isfinite(s[0])), key=lambda s: s[:2])
        return [spec for _, _, spec in ranked[:keep]]

    def _row(self, run: RunRecord, skipped: bool = False) -> RunRow:
        epochs = self.store.epochs(run.id)
        last = epochs[-1] if epochs else None
        return RunRow(
            run_id=run.id,
            name=run.name,
            seed=run.seed,
            rung=run.rung,
            status=run.status,
            reason=run.reason,
            epochs=run.epochs_done,
            val_error=last.val_error if last else None,
            test_error=last.test_error if last else None,
            skipped=skipped,
        )


def _label(run: RunRecord) -> str:
    rung = f" rung {run.rung}" if run.rung else ""
    return f"{run.name} seed {run.seed}{rung}"


def _epoch_record(metrics: dict[str, Any]) -> EpochRecord:
    return EpochRecord(**{k: v for k, v in metrics.items() if k != "budget_epochs"})

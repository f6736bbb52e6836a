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

import math
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

import archlab
from archlab.complexity import totals
from archlab.device import resolve_device
from archlab.errors import ArchlabError
from archlab.space import NetSpec, with_overrides
from archlab.store import EpochRecord, RunRecord, Store
from archlab.train.checkpoint import checkpoint_epoch, checkpoint_path, list_checkpoints
from archlab.train.data import DatasetSplits, load_dataset
from archlab.train.executors import ExecutionOptions, make_executor
from archlab.train.loop import TrainConfig
from archlab.train.progress import NullReporter, Reporter
from archlab.train.tasks import RunTask, TaskResult

SKIP_STATUSES = ("finished", "diverged")  # results: rerunning them would repeat them
MAX_SEED = 2**31  # torch generators take 64-bit seeds; (seed, epoch) streams need headroom
STRATEGIES = ("grid", "halving")


@dataclass(frozen=True)
class Halving:
    """Successive halving: keep the best 1/eta at each rung, from min to max epochs."""

    eta: int = 2
    min_epochs: int = 1
    max_epochs: int = 8

    def __post_init__(self) -> None:
        if isinstance(self.eta, bool) or not isinstance(self.eta, int) or self.eta < 2:
            raise ArchlabError(f"eta must be an integer >= 2, got {self.eta!r}")
        if self.min_epochs < 1:
            raise ArchlabError(f"min epochs must be at least 1, got {self.min_epochs}")
        if self.min_epochs > self.max_epochs:
            raise ArchlabError(
                f"min epochs {self.min_epochs} is above max epochs {self.max_epochs}"
            )

    @property
    def rungs(self) -> tuple[int, ...]:
        """The epoch budget of each rung: min, min·eta, …, max (the last one capped)."""
        budgets, budget = [], self.min_epochs
        while budget < self.max_epochs:
            budgets.append(budget)
            budget *= self.eta
        return (*budgets, self.max_epochs)

    def survivors(self, n: int) -> int:
        """How many of ``n`` candidates go on to the next rung."""
        return max(1, n // self.eta)

    def key_suffix(self) -> str:
        """Marks halving runs apart from grid runs of the same training config."""
        return f"-halving-eta{self.eta}-min{self.min_epochs}"


@dataclass(frozen=True)
class RunResult:
    """One run's outcome as the summary shows it."""

    name: str
    seed: int
    rung: int
    status: str
    reason: str | None
    epochs: int
    val_error: float | None
    test_error: float | None
    skipped: bool = False


@dataclass(frozen=True)
class Summary:
    """All runs of one ``train-candidates`` invocation."""

    store: str
    workdir: str
    results: tuple[RunResult, ...] = field(default_factory=tuple)

    def count(self, status: str) -> int:
        """Runs that ended with ``status``."""
        return sum(r.status == status for r in self.results)

    @property
    def any_failed(self) -> bool:
        """Whether a run failed (the command then exits 1)."""
        return any(r.status == "failed" for r in self.results)


def check_store_path(path: Path) -> None:
    """A store path must be a file in an existing, writable directory."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ArchlabError(f"store path {str(path)!r} is a directory; give a file such as runs.db")
    if not parent.is_dir():
        raise ArchlabError(f"store directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise ArchlabError(f"store directory {str(parent)!r} is not writable")


def default_workdir(store: Path) -> Path:
    """Checkpoints and logs beside the store: ``runs.db`` -> ``runs-work/``."""
    return store.with_name(store.stem + "-work")


def make_workdir(work: Path) -> None:
    """Create the work folder, or say in one line why it cannot be."""
    if work.exists() and not work.is_dir():
        raise ArchlabError(f"workdir {str(work)!r} is a file, not a folder")
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchlabError(f"cannot create workdir {str(work)!r}: {exc.strerror}") from None
    if not os.access(work, os.W_OK):
        raise ArchlabError(f"workdir {str(work)!r} is not writable")


def git_commit() -> str | None:
    """The commit of the archlab checkout, when it is one."""
    root = Path(archlab.__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def fit_to_data(specs: Sequence[NetSpec], data: DatasetSplits) -> list[NetSpec]:
    """Each candidate for the dataset's classes and image size, validated before any training."""
    if not specs:
        raise ArchlabError("no candidates to train: give --cardinalities, --models or --candidates")
    fitted: list[NetSpec] = []
    for spec in specs:
        spec = with_overrides(spec, num_classes=data.num_classes, input_size=data.image_size)
        totals(spec)  # raises SpecError now if the images are too small for the template
        if spec not in fitted:
            fitted.append(spec)
    return fitted


def train_candidates(
    specs: Sequence[NetSpec],
    *,
    config: TrainConfig,
    seeds: Sequence[int] = (0,),
    device: str = "auto",
    store_path: str | Path = "archlab-runs/store.db",
    workdir: str | Path | None = None,
    reporter: Reporter | None = None,
    data: DatasetSplits | None = None,
    halving: Halving | None = None,
    execution: ExecutionOptions | None = None,
    reclaim: bool = False,
) -> Summary:
    """Train every candidate for every seed (by grid or halving), storing all of it."""
    store_file = Path(store_path)
    check_store_path(store_file)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ArchlabError(f"seeds must be a non-empty list without repeats, got {list(seeds)}")
    if not all(0 <= s < MAX_SEED for s in seeds):
        raise ArchlabError(f"seeds must be in [0, {MAX_SEED}), got {list(seeds)}")
    if halving is not None and config.epochs != halving.max_epochs:
        raise ArchlabError("with halving, the schedule length must be --max-epochs")
    execution = execution or ExecutionOptions()
    torch_device = resolve_device(device)
    if data is None:
        data = load_dataset(
            config.dataset,
            val_fraction=config.val_fraction,
            seed=config.split_seed,
            limit=config.limit,
        )
    candidates = fit_to_data(specs, data)
    work = Path(workdir) if workdir is not None else default_workdir(store_file)
    make_workdir(work)
    reporter = reporter or NullReporter()
    executor, threads = make_executor(execution, device=torch_device, data=data, reporter=reporter)
    driver = _Driver(
        config=config,
        seeds=tuple(seeds),
        device=device,
        work=work,
        reporter=reporter,
        threads=threads,
        halving=halving,
    )
    with Store(store_file) as store:
        driver.store = store
        for run in store.recover_stale_runs(other_hosts=reclaim):
            reporter.message(f"run {run.id} ({run.name} seed {run.seed}) was interrupted: resuming")
        reporter.start(driver.planned_runs(len(candidates)))
        try:
            survivors = candidates
            for rung, stop in enumerate(driver.rungs):
                tasks = driver.prepare(survivors, rung, stop)
                _run_tasks(executor, driver, tasks)
                if halving is not None and rung + 1 < len(driver.rungs):
                    unfinished = driver.unfinished(survivors, rung)
                    if unfinished:  # promote only from a whole rung, so a rerun promotes the same
                        reporter.message(
                            f"rung {rung}: {unfinished} run(s) failed or were interrupted; "
                            "rerun the same command to retry them before promotion"
                        )
                        break
                    survivors = driver.select(survivors, rung, halving.survivors(len(survivors)))
                    if not survivors:
                        reporter.message(f"rung {rung}: no candidate finished; nothing to promote")
                        break
        finally:
            reporter.close()
    ordered = sorted(driver.results, key=lambda r: (r.rung, r.name, r.seed))
    return Summary(str(store_file), str(work), tuple(ordered))


def _run_tasks(executor: Any, driver: _Driver, tasks: list[RunTask]) -> None:
    pending = {task.run_id for task in tasks}

    def on_done(task: RunTask, result: TaskResult) -> None:
        try:
            driver.on_done(task, result)
        finally:
            pending.discard(task.run_id)

    try:
        executor.run(tasks, on_epoch=driver.on_epoch, on_done=on_done)
    except KeyboardInterrupt:
        for run_id in pending:  # stored as interrupted now, resumed by the next invocation
            driver.store.finish_run(run_id, "interrupted", "stopped by the user")
        raise


@dataclass
class _Driver:
    """What one invocation knows while it plans, dispatches and stores runs."""

    config: TrainConfig
    seeds: tuple[int, ...]
    device: str
    work: Path
    reporter: Reporter
    threads: int
    halving: Halving | None
    store: Store = field(init=False)
    results: list[RunResult] = field(default_factory=list)

    @property
    def rungs(self) -> tuple[int | None, ...]:
        return self.halving.rungs if self.halving is not None else (None,)

    @property
    def config_key(self) -> str:
        suffix = self.halving.key_suffix() if self.halving is not None else ""
        return self.config.key() + suffix

    def planned_runs(self, n: int) -> int:
        if self.halving is None:
            return n * len(self.seeds)
        total, alive = 0, n
        for _ in self.rungs:
            total, alive = total + alive * len(self.seeds), self.halving.survivors(alive)
        return total

    def _run(self, spec: NetSpec, seed: int, rung: int, stop: int | None) -> RunRecord:
        macs, params, acts = totals(spec)
        cid = self.store.add_candidate(
            name=spec.name, spec=spec.to_dict(), macs=macs, params=params, acts=acts
        )
        return self.store.get_or_create_run(
            candidate_id=cid,
            seed=seed,
            config_key=self.config_key,
            rung=rung,
            config={
                **self.config.to_dict(),
                "threads": self.threads,
                "rung": rung,
                "stop_epoch": stop,
            },
            budget_epochs=stop or self.config.epochs,
        )

    def _run_dir(self, run: RunRecord) -> Path:
        # The store's id keeps runs of two stores sharing a work folder apart (run ids restart).
        return self.work / f"{self.store.store_id}-run-{run.id:05d}-{run.name}-s{run.seed}"

    def prepare(self, specs: Sequence[NetSpec], rung: int, stop: int | None) -> list[RunTask]:
        """Store the rung's runs; tasks for those not already done."""
        tasks = []
        for spec in specs:
            for seed in self.seeds:
                run = self._run(spec, seed, rung, stop)
                if run.status in SKIP_STATUSES:
                    self.reporter.run_finished(_label(run), f"{run.status} (stored)", run.reason)
                    self.results.append(self._result(run, skipped=True))
                    continue
                start_from = None
                if rung > 0:
                    previous = self._run(spec, seed, rung - 1, self.rungs[rung - 1])
                    if previous.epochs_done:  # else this rung trains from scratch
                        path = checkpoint_path(self._run_dir(previous), previous.epochs_done)
                        start_from = str(path)
                run_dir = self._run_dir(run)
                self._forget_unsaved_epochs(run, run_dir)
                self.store.start_run(
                    run.id,
                    device=self.device,
                    archlab_version=archlab.__version__,
                    torch_version=torch.__version__,
                    git_commit=git_commit(),
                )
                tasks.append(
                    RunTask(
                        run_id=run.id,
                        label=_label(run),
                        spec=spec,
                        seed=seed,
                        config=self.config,
                        device=self.device,
                        threads=self.threads,
                        run_dir=str(run_dir),
                        stop_epoch=stop,
                        start_from=start_from,
                    )
                )
        return tasks

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

    def on_done(self, task: RunTask, result: TaskResult) -> None:
        """Store the whole history (idempotent), then the run's final status."""
        if result.history:  # a task that failed before reading its checkpoint brings none
            for metrics in result.history:
                self.store.record_epoch(task.run_id, _epoch_record(metrics))
            self.store.truncate_epochs(task.run_id, len(result.history))
        if result.device:
            self.store.set_device(task.run_id, result.device)
        self.store.finish_run(task.run_id, result.status, result.reason)
        self.reporter.run_finished(task.label, result.status, result.reason)
        self.results.append(self._result(self.store.run(task.run_id)))

    def unfinished(self, specs: Sequence[NetSpec], rung: int) -> int:
        """Runs of the rung that neither finished nor diverged."""
        stop = self.rungs[rung]
        runs = [self._run(spec, seed, rung, stop) for spec in specs for seed in self.seeds]
        return sum(run.status not in SKIP_STATUSES for run in runs)

    def select(self, specs: Sequence[NetSpec], rung: int, keep: int) -> list[NetSpec]:
        """The ``keep`` best candidates of a rung by mean final validation error (ties: name).

        A candidate with a diverged seed scores infinity and is never promoted.
        """
        scored = []
        for spec in specs:
            errors = []
            for seed in self.seeds:
                run = self._run(spec, seed, rung, self.rungs[rung])
                epochs = self.store.epochs(run.id) if run.status == "finished" else []
                errors.append(epochs[-1].val_error if epochs else math.inf)
            scored.append((sum(errors) / len(errors), spec.name, spec))
        ranked = sorted((s for s in scored if math.isfinite(s[0])), key=lambda s: s[:2])
        return [spec for _, _, spec in ranked[:keep]]

    def _result(self, run: RunRecord, skipped: bool = False) -> RunResult:
        epochs = self.store.epochs(run.id)
        last = epochs[-1] if epochs else None
        return RunResult(
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

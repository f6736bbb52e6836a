"""Where tasks run: in this process, in one worker process per GPU, or on a Ray cluster.

Every executor hands each task's :class:`~archlab.train.loop.RunOutcome` back to the driver through
``on_done``; only the driver writes the store, so a worker that dies loses nothing stored. A run's
warnings reach stderr as one line each, ``archlab COMMAND: warning: LABEL: TEXT``, through the
reporter (above any live bars): as they come in this process, with the outcome from a worker
(docs/scaling.md).
"""

from __future__ import annotations

import concurrent.futures as futures
import contextlib
import ctypes
import multiprocessing
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from archlab.errors import ArchlabError, warning_line
from archlab.train.data import DatasetSplits
from archlab.train.execution import ExecutionOptions
from archlab.train.loop import RunOutcome
from archlab.train.progress import NullReporter, Reporter
from archlab.train.tasks import RunTask, execute_task

DoneCallback = Callable[[RunTask, RunOutcome], None]
EpochSink = Callable[[RunTask, dict[str, Any]], None]


class Executor(Protocol):
    """Runs tasks and reports each result as it arrives."""

    def run(self, tasks: Sequence[RunTask], *, on_epoch: EpochSink, on_done: DoneCallback) -> None:
        """Run every task; call ``on_done`` once per task."""
        ...


@dataclass
class InProcessExecutor:
    """One task after another in this process, epochs streamed to the store as they finish."""

    data: DatasetSplits
    reporter: Reporter

    def run(self, tasks: Sequence[RunTask], *, on_epoch: EpochSink, on_done: DoneCallback) -> None:
        """Run the tasks in order."""
        steps = -(-len(self.data.y_train) // tasks[0].config.batch_size) if tasks else 0
        for task in tasks:
            self.reporter.run_started(task.label, task.stop_epoch or task.config.epochs, steps, 0)
            result = execute_task(
                task,
                data=self.data,
                on_epoch=lambda metrics, task=task: on_epoch(task, metrics),  # type: ignore[misc]
                on_step=self.reporter.step,
                warn=lambda text, task=task: say_warning(  # type: ignore[misc]
                    self.reporter, task, text
                ),
            )
            on_done(task, result)


def say_warning(reporter: Reporter, task: RunTask, text: str) -> None:
    """One of a run's warnings on the reporter's message path, named by the run's label."""
    reporter.message(warning_line(f"{task.label}: {text}"))


def _say_worker_warnings(reporter: Reporter, task: RunTask, outcome: RunOutcome) -> None:
    # A worker's stderr is not this command's (Ray's is not even on this machine), and its run
    # log is a file: the parent says what the run warned of once its outcome is back.
    for text in outcome.warnings:
        say_warning(reporter, task, text)


def _init_worker(slots: Any, gpus: int) -> None:
    """First thing in each spawned worker, before anything touches CUDA."""
    _die_with_parent()
    index = slots.get()
    if gpus:  # one GPU per worker, round robin when there are more workers than GPUs
        os.environ["CUDA_VISIBLE_DEVICES"] = str(index % gpus)


def _die_with_parent() -> None:
    # A worker orphaned by a killed driver would keep training beside the rerun's new worker.
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass
class PoolExecutor:
    """``workers`` processes on this machine; on CUDA each is pinned to one GPU.

    A worker that dies breaks the whole pool; the tasks it left unfinished go to a fresh pool
    (they resume from their checkpoints), at most ``max_retries`` times, as Ray retries a task.
    """

    workers: int
    gpus: int
    max_retries: int = 3
    reporter: Reporter = field(default_factory=NullReporter)

    def run(self, tasks: Sequence[RunTask], *, on_epoch: EpochSink, on_done: DoneCallback) -> None:
        """Run the tasks across the pool; results arrive in completion order."""
        pending = list(tasks)
        for attempt in range(self.max_retries + 1):
            pending = self._one_pool(pending, on_done)
            if not pending:
                return
            if attempt == self.max_retries:
                for task in pending:
                    reason = f"worker died {self.max_retries + 1} times"
                    on_done(task, task.failed(reason))

    def _one_pool(self, tasks: Sequence[RunTask], on_done: DoneCallback) -> list[RunTask]:
        """Run tasks until done or the pool breaks; returns the tasks left unfinished."""
        context = multiprocessing.get_context("spawn")  # CUDA cannot survive a fork
        slots = context.Queue()
        for index in range(self.workers):
            slots.put(index)
        pool = futures.ProcessPoolExecutor(
            self.workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(slots, self.gpus),
        )
        pending = {pool.submit(execute_task, task): task for task in tasks}
        left: list[RunTask] = []
        try:
            for future in futures.as_completed(pending):
                task = pending[future]
                try:
                    result = future.result()
                except futures.process.BrokenProcessPool:
                    left.append(task)
                    continue
                _say_worker_warnings(self.reporter, task, result)
                on_done(task, result)
        except BaseException:  # Ctrl-C: stop now, do not drain the queue
            _stop(pool)
            raise
        pool.shutdown(wait=True)
        return left


def _stop(pool: futures.ProcessPoolExecutor) -> None:
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.kill()


def check_ray_address(address: str, timeout: float = 3.0) -> None:
    """Fail within seconds when HOST:PORT does not answer, instead of hanging in ray.init."""
    if address == "auto":
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ArchlabError(f"execution.ray_address must be auto or HOST:PORT, got {address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return
    except OSError as exc:
        raise ArchlabError(f"cannot reach the Ray cluster at {address}: {exc}") from None


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ArchlabError(
            "execution.executor ray needs Ray: pip install 'archlab[ray]' (or: pip install ray)"
        ) from None
    return ray


@dataclass
class RayExecutor:
    """One Ray task per run, retried when its worker dies; the driver stores the results."""

    address: str | None = None
    gpus_per_run: float = 0
    cpus_per_run: int = 1
    max_retries: int = 3
    reporter: Reporter = field(default_factory=NullReporter)

    def connect(self) -> Any:
        """Join the cluster (or start a local Ray) unless this process is already connected."""
        ray = _import_ray()
        if self.address is not None:
            check_ray_address(self.address)
        if ray.is_initialized():
            return ray
        try:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self.address or "a local instance"
            raise ArchlabError(f"cannot start or join Ray at {where}: {exc}") from None
        return ray

    def run(self, tasks: Sequence[RunTask], *, on_epoch: EpochSink, on_done: DoneCallback) -> None:
        """Submit every task, then store results as they complete."""
        ray = self.connect()
        remote = ray.remote(
            num_cpus=self.cpus_per_run,
            num_gpus=self.gpus_per_run,
            max_retries=self.max_retries,
            retry_exceptions=False,
        )(execute_task)
        pending = {remote.remote(task): task for task in tasks}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            task = pending.pop(done[0])
            try:
                result = ray.get(done[0])
            except ray.exceptions.RayError as exc:  # retries exhausted
                reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
                result = task.failed(reason)
            _say_worker_warnings(self.reporter, task, result)
            on_done(task, result)


def make_executor(
    options: ExecutionOptions, *, device: Any, data: DatasetSplits, reporter: Reporter
) -> tuple[Executor, int]:
    """The executor the options ask for, and the torch thread count each of its runs gets
    (:func:`planned_threads`)."""
    threads = planned_threads(options, device)
    if options.executor == "ray":
        gpus = options.gpus_per_run
        executor = RayExecutor(
            options.ray_address,
            gpus if gpus is not None else float(device.type == "cuda"),
            cpus_per_run=threads,
            reporter=reporter,
        )
        executor.connect()  # fail now, before any run is written to the store
        return executor, threads
    gpus_here = _visible_gpus() if device.type == "cuda" else 0
    workers = options.workers or max(gpus_here, 1)
    if workers == 1:
        # The airbench pattern: the whole data set moves to the GPU once, for every run.
        return InProcessExecutor(data.to(device), reporter), threads
    pool_gpus = gpus_here if gpus_here > 1 else 0
    return PoolExecutor(workers, gpus=pool_gpus, reporter=reporter), threads


def planned_threads(options: ExecutionOptions, device: Any) -> int:
    """The torch thread count each run gets under these options on ``device``.

    By default what a run can have without crowding the others: all of this process's
    in-process, the cores shared out in a pool, one per Ray task (which asks Ray for that many
    CPUs). Results on the CPU depend on the count, so fix ``threads`` to compare executors.
    """
    import torch

    if options.threads is not None:
        return options.threads
    if options.executor == "ray":
        return 1
    gpus_here = _visible_gpus() if device.type == "cuda" else 0
    workers = options.workers or max(gpus_here, 1)
    if workers == 1:
        return torch.get_num_threads()
    return max(1, (os.cpu_count() or 1) // workers)


def _visible_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0

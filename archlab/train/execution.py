"""How a plan's runs are executed: where, how many workers, each run's torch threads.

Part of every plan that trains (:mod:`archlab.train.plan`); kept apart so the executors and the
plans share one validated record.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.bounds import MAX_THREADS, MAX_WORKERS, check_at_most
from archlab.device import DEVICES
from archlab.errors import ArchlabError

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class ExecutionOptions:
    """How to run: where, how many workers, each run's torch threads, and reclaiming."""

    executor: str = "local"
    workers: int | None = None  # local: default one per visible GPU, else 1
    ray_address: str | None = None
    gpus_per_run: float | None = None  # ray: default 1 on CUDA, 0 on the CPU
    threads: int | None = None  # default: what a run can have without crowding the others
    device: str = "auto"
    # Resume runs left 'running' by another machine: the user's word that it no longer runs them.
    reclaim: bool = False

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise ArchlabError(
                f"execution.executor must be one of {', '.join(EXECUTORS)}, got {self.executor!r}"
            )
        if self.workers is not None and self.workers < 1:
            raise ArchlabError(f"execution.workers must be at least 1, got {self.workers}")
        if self.threads is not None and self.threads < 1:
            raise ArchlabError(f"execution.threads must be at least 1, got {self.threads}")
        check_at_most("execution.workers", self.workers, MAX_WORKERS)
        check_at_most("execution.threads", self.threads, MAX_THREADS)
        check_at_most("execution.gpus_per_run", self.gpus_per_run, MAX_WORKERS)
        if self.gpus_per_run is not None and self.gpus_per_run < 0:
            raise ArchlabError(f"execution.gpus_per_run must be >= 0, got {self.gpus_per_run}")
        if self.ray_address is not None and self.executor != "ray":
            raise ArchlabError("execution.ray_address goes with execution.executor ray")
        if self.device not in DEVICES:
            raise ArchlabError(
                f"execution.device must be one of {', '.join(DEVICES)}, got {self.device!r}"
            )

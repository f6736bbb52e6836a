"""Tracking sinks opened for a plan's output section, checked before any training.

``output.mlflow`` (a tracking URI) and ``output.tensorboard`` (a folder) each open a sink that
the driver feeds after every store write (archlab.train.tracking). Both tools are optional
extras: archlab imports and trains without them, and asking for one that is not installed, a
URI that does not answer, or a folder that cannot be written is refused in one line before the
first epoch (docs/training.md, "Tracking").
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from archlab.errors import ArchlabError
from archlab.report.output import check_writable_dir
from archlab.train.tracking import GuardedTracker, Tracker

if TYPE_CHECKING:
    from archlab.stats.study import StudyOutcome
    from archlab.train.plan import Training

EXTRAS = {"mlflow": ("mlflow", "mlflow"), "tensorboard": ("tensorboard", "tensorboard")}


def require(key: str) -> None:
    """Refuse ``output.<key>`` when its package is missing, naming the extra that installs it."""
    module, extra = EXTRAS[key]
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a module blocked or half-installed
        found = False
    if not found:
        raise ArchlabError(
            f"output.{key} needs the {module} package: pip install 'archlab[{extra}]'"
        )


def open_tracking(training: Training) -> StudyTracker:
    """The sinks the training's output section asks for (none: an empty tracker)."""
    sinks: list[Tracker] = []
    if training.tensorboard is not None:
        require("tensorboard")
        folder = check_writable_dir(training.tensorboard, field="output.tensorboard")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ArchlabError(
                f"output.tensorboard {str(folder)!r} cannot be made: {exc.strerror}"
            ) from None
        from archlab.workflows._tracking_tb import TensorBoardSink

        sinks.append(TensorBoardSink(folder))
    if training.mlflow is not None:
        require("mlflow")
        from archlab.workflows._tracking_mlflow import MlflowSink

        sinks.append(MlflowSink(training.mlflow, store=training.store, workdir=training.workdir))
    return StudyTracker(sinks)


class StudyTracker(GuardedTracker):
    """The sinks, plus a study's parent run for those that keep one (MLflow)."""

    def study_started(self, store_id: str, name: str, definition: dict[str, Any]) -> None:
        """Runs sent from now on belong to the study ``name``."""
        self.each("study_started", store_id, name, definition)

    def study_ended(self, outcome: StudyOutcome, stop: str) -> None:
        """The study's verdict, sent once its invocation is over."""
        self.each("study_ended", outcome, stop)

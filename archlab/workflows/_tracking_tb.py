"""The TensorBoard sink: event files per run under DIR/<name>-s<seed>-r<rung>.

Scalars per epoch at step = epoch (losses, errors, learning rate, images/s) and, when the run
ends, its hparams with the final metrics, so ``tensorboard --logdir DIR`` shows a study's arms
side by side (docs/training.md, "Tracking"). Written with ``torch.utils.tensorboard``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archlab.train.tracking import tracked_metrics

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

    from archlab.space import NetSpec
    from archlab.store import RunRecord
    from archlab.train.plan import RunPlan

FINAL = ("train_loss", "train_error", "val_error", "test_error")  # the hparams view's metrics


def run_folder(run: RunRecord) -> str:
    """A run's folder under DIR: its candidate, seed and rung."""
    return f"{run.name}-s{run.seed}-r{run.rung}"


class TensorBoardSink:
    """One SummaryWriter per run in progress."""

    name = "TensorBoard"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._writers: dict[int, SummaryWriter] = {}
        self._last: dict[int, int] = {}

    def _open(self, run: RunRecord, done: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        # Resuming: events after the stored epochs are purged, the stored ones not written twice.
        self._writers[run.id] = SummaryWriter(
            log_dir=str(self.root / run_folder(run)), purge_step=done + 1 if done else None
        )
        self._last[run.id] = done

    def run_started(self, store_id: str, run: RunRecord, spec: NetSpec, plan: RunPlan) -> None:
        """Open the run's writer."""
        self._open(run, run.epochs_done)

    def epoch(self, run_id: int, metrics: Mapping[str, Any]) -> None:
        """The epoch's scalars, once."""
        writer, epoch = self._writers.get(run_id), int(metrics["epoch"])
        if writer is None or epoch <= self._last[run_id]:
            return
        for key, value in tracked_metrics(metrics).items():
            writer.add_scalar(key, value, global_step=epoch)
        writer.flush()
        self._last[run_id] = epoch

    def run_ended(
        self,
        store_id: str,
        run: RunRecord,
        spec: NetSpec,
        plan: RunPlan,
        history: Sequence[Mapping[str, Any]],
    ) -> None:
        """Epochs not written yet, then the hparams with the final metrics; the writer closes."""
        if run.id not in self._writers:
            if (self.root / run_folder(run)).exists():
                return  # written by an earlier invocation
            self._open(run, 0)
        for metrics in history:
            self.epoch(run.id, metrics)
        writer = self._writers.pop(run.id)
        if history:
            _write_hparams(writer, _hparams(spec, plan, run), history[-1], len(history))
        writer.close()

    def close(self) -> None:
        """Close writers still open (runs that never ended in this invocation)."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()


def _hparams(spec: NetSpec, plan: RunPlan, run: RunRecord) -> dict[str, Any]:
    config = plan.config
    values = {"candidate": spec.name, "cardinality": spec.cardinality,
              "bottleneck_width": spec.bottleneck_width, "depth": spec.depth, "seed": run.seed,
              "rung": run.rung, "dataset": config.dataset, "lr": config.lr,
              "batch_size": config.batch_size, "schedule": config.schedule,
              "weight_decay": config.weight_decay, "epochs": config.epochs}  # fmt: skip
    return {k: v for k, v in values.items() if v is not None}


def _write_hparams(
    writer: SummaryWriter, hparams: dict[str, Any], last: Mapping[str, Any], step: int
) -> None:
    """TensorBoard's hparams record in the run's own folder, its metrics as final/<name>."""
    from torch.utils.tensorboard.summary import hparams as hparams_summary

    final = {f"final/{k}": float(last[k]) for k in FINAL if isinstance(last.get(k), int | float)}
    for summary in hparams_summary(hparams, final):
        writer._get_file_writer().add_summary(summary)
    for key, value in final.items():
        writer.add_scalar(key, value, global_step=step)

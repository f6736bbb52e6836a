"""The local executor of ``train-candidates``: every (candidate, seed) run, stored and resumable.

Rerunning the same command is the resume: finished and diverged runs are skipped, interrupted
and failed runs continue from their newest good checkpoint, and a run left ``running`` by a dead
process is first marked interrupted. Only this process writes the store.
"""

from __future__ import annotations

import json
import os
import subprocess
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

import archlab
from archlab.complexity import totals
from archlab.data import DatasetSplits, load_dataset
from archlab.errors import ArchlabError
from archlab.progress import NullReporter, Reporter
from archlab.space import NetSpec, with_overrides
from archlab.store import EpochRecord, RunRecord, Store
from archlab.train import TrainConfig, checkpoint_path, resolve_device, train_run

SKIP_STATUSES = ("finished", "diverged")  # results: rerunning them would repeat them


@dataclass(frozen=True)
class RunResult:
    """One run's outcome as the summary shows it."""

    name: str
    seed: int
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
    return out.stdout.strip() or None if out.returncode == 0 else None


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
) -> Summary:
    """Train every candidate for every seed, storing all of it; resume whatever is unfinished."""
    store_file = Path(store_path)
    check_store_path(store_file)
    if not seeds:
        raise ArchlabError("seeds must not be empty")
    torch_device = resolve_device(device)
    if data is None:
        data = load_dataset(
            config.dataset,
            val_fraction=config.val_fraction,
            seed=config.split_seed,
            limit=config.limit,
        )
    candidates = fit_to_data(specs, data)
    work = Path(workdir) if workdir is not None else store_file.parent / "work"
    work.mkdir(parents=True, exist_ok=True)
    data_on_device = data.to(torch_device)  # the airbench pattern: the whole set on the GPU
    reporter = reporter or NullReporter()
    results: list[RunResult] = []
    with Store(store_file) as store:
        for run in store.recover_stale_runs():
            reporter.message(f"run {run.id} ({run.name} seed {run.seed}) was interrupted: resuming")
        plan = [(spec, seed) for spec in candidates for seed in seeds]
        reporter.start(len(plan))
        try:
            for spec, seed in plan:
                results.append(
                    _one_run(
                        store, spec, seed, config, torch_device, data_on_device, work, reporter
                    )
                )
        finally:
            reporter.close()
    return Summary(str(store_file), str(work), tuple(results))


def _one_run(
    store: Store,
    spec: NetSpec,
    seed: int,
    config: TrainConfig,
    device: torch.device,
    data: DatasetSplits,
    work: Path,
    reporter: Reporter,
) -> RunResult:
    macs, params, acts = totals(spec)
    cid = store.add_candidate(
        name=spec.name, spec=spec.to_dict(), macs=macs, params=params, acts=acts
    )
    run = store.get_or_create_run(
        candidate_id=cid,
        seed=seed,
        config_key=config.key(),
        config=_stored_config(config, data),
        budget_epochs=config.epochs,
    )
    label = f"{spec.name} seed {seed}"
    if run.status in SKIP_STATUSES:
        reporter.run_finished(label, f"{run.status} (stored)", run.reason)
        return _result(store, run, skipped=True)
    run_dir = work / f"run-{run.id:05d}-{spec.name}-s{seed}"
    log = _RunLog(run_dir / "log.jsonl")
    store.start_run(
        run.id,
        device=str(device),
        archlab_version=archlab.__version__,
        torch_version=torch.__version__,
        git_commit=git_commit(),
    )

    def warn(text: str) -> None:
        reporter.message(f"warning: {label}: {text}")
        log.write({"event": "warning", "message": text})

    def on_epoch(metrics: dict[str, Any]) -> None:
        record = EpochRecord(**{k: v for k, v in metrics.items() if k != "budget_epochs"})
        store.record_epoch(run.id, record)
        log.write({"event": "epoch", **metrics})
        reporter.epoch(label, metrics)

    try:
        first = _resume_point(store, run, run_dir, warn)
        log.write(
            {
                "event": "start",
                "resume_from_epoch": first,
                "device": str(device),
                "config": config.to_dict(),
            }
        )
        steps = -(-len(data.y_train) // config.batch_size)
        reporter.run_started(label, run.budget_epochs or config.epochs, steps, first)
        outcome = train_run(
            spec,
            data,
            config,
            seed=seed,
            device=device,
            run_dir=run_dir,
            on_epoch=on_epoch,
            on_step=reporter.step,
            warn=warn,
        )
        status, reason = outcome.status, outcome.reason
    except KeyboardInterrupt:
        store.finish_run(run.id, "interrupted", "stopped by the user")
        log.write({"event": "finish", "status": "interrupted"})
        raise
    except Exception as exc:  # a failure stays with its run; the others go on
        status, reason = "failed", f"{type(exc).__name__}: {exc}".splitlines()[0]
        log.write({"event": "error", "traceback": traceback.format_exc()})
    store.finish_run(run.id, status, reason)
    log.write({"event": "finish", "status": status, "reason": reason})
    reporter.run_finished(label, status, reason)
    return _result(store, store.run(run.id))


def _resume_point(store: Store, run: RunRecord, run_dir: Path, warn: Any) -> int:
    """Drop stored epochs beyond the newest checkpoint, so none is duplicated or lost."""
    on_disk = sorted(run_dir.glob("epoch-*.ckpt"))
    newest = int(on_disk[-1].stem.split("-")[1]) if on_disk else 0
    if run.epochs_done > newest:
        warn(f"store has {run.epochs_done} epochs but the newest checkpoint is epoch {newest}")
    # The trainer may still fall back past a corrupt newest checkpoint: it reports epochs again.
    store.truncate_epochs(run.id, min(newest, run.epochs_done))
    return newest if checkpoint_path(run_dir, newest).exists() else 0


def _stored_config(config: TrainConfig, data: DatasetSplits) -> dict[str, Any]:
    return {**config.to_dict(), "data": data.describe()}


def _result(store: Store, run: RunRecord, skipped: bool = False) -> RunResult:
    epochs = store.epochs(run.id)
    last = epochs[-1] if epochs else None
    return RunResult(
        name=run.name,
        seed=run.seed,
        status=run.status,
        reason=run.reason,
        epochs=run.epochs_done,
        val_error=last.val_error if last else None,
        test_error=last.test_error if last else None,
        skipped=skipped,
    )


class _RunLog:
    """A JSON-lines log per run, appended and flushed line by line."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path

    def write(self, event: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(event, default=str) + "\n")

"""Export a run's best-validation model: a plain ``state_dict`` or a ``torch.export`` program,
and beside it JSON that says what the model is, how to feed it and what its outputs mean.

The weights file (``state_dict``, the default) is what ``torch.load(path, weights_only=True)``
reads back, keyed in torchvision's ResNet layout (``conv1``, ``layer1.0.conv2``, ``fc``: models.py
builds with those names), from the checkpoint a run keeps of its best-validation epoch (lowest val
error, the earliest on ties, as ``results`` reports ``best_val_error``). The JSON beside it says
how to rebuild the model (``spec``, ``form``), how to feed it (``input``: image size, three
channels and whether grey images were repeated to three, x / scale, then per-channel mean and
std), what its outputs are (``classes``: names in label order, from a folder's class folders, the
data set's ``dataset.toml`` or the label indices) and where it came from (store, run, epoch,
errors, recipe). ``pt2`` writes instead a ``torch.export`` program with a dynamic batch dimension,
which plain PyTorch loads and runs without archlab (``torch.export.load(path).module()``): the
same network, taking the same normalised input (docs/training.md). Both files are written
atomically: a failure leaves neither half-written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archlab.errors import ArchlabError, OptionError
from archlab.models import build_model
from archlab.report.output import check_writable_dir
from archlab.space import spec_from_dict
from archlab.store import RunRecord, Store
from archlab.train.checkpoint import best_epoch, checkpoint_path, load_checkpoint
from archlab.train.workspace import default_workdir, run_dir_path
from archlab.workflows._standalone import (
    FILE_FORMATS,
    check_file_format,
    program_bytes,
    standalone_fields,
)

FORMAT = "archlab-export/1"


@dataclass(frozen=True)
class ExportResult:
    """What one export wrote: the two files and the run and epoch they hold."""

    weights: Path
    spec_file: Path
    run_id: int
    name: str
    seed: int
    epoch: int
    val_error: float
    test_error: float
    file_format: str = "state_dict"  # weights is the .pth, or the .pt2 program for "pt2"


def export_run(
    store: str | Path,
    *,
    run_id: int | None = None,
    best: bool = False,
    dataset: str | None = None,
    workdir: str | Path | None = None,
    out: str | Path = ".",
    file_format: str = "state_dict",
) -> ExportResult:
    """Write ``<name>-s<seed>-run<id>.pth`` and ``.json`` (``.pt2`` and ``.pt2.json`` for the
    ``pt2`` format) for a run (``run_id``) or the best one.

    ``best`` picks the finished run with the lowest best validation error (ties: the lowest run
    id) among runs validated on one split; ``dataset`` narrows the choice to one data set, and
    is needed when the store holds several. ``workdir`` is where the runs were trained (default:
    beside the store, as train-candidates and study put it).
    """
    if (run_id is None) == (not best):
        raise OptionError("give exactly one of {} and {}", "run_id", "best")
    if dataset is not None and not best:
        raise OptionError("{} goes with {} (a run id names its data set)", "dataset", "best")
    store_file = Path(store)
    check_file_format(file_format)
    out_dir = check_writable_dir(out, field="out")
    with Store(store_file, create=False, read_only=True) as db:
        run = db.run(run_id) if run_id is not None else _best_run(db, dataset)
        history = [dataclasses.asdict(e) for e in db.epochs(run.id)]
        store_id = db.store_id
    epoch = best_epoch(history)
    if epoch is None:
        raise ArchlabError(f"run {run.id} ({run.name}) has no epoch with a validation error")
    work = Path(workdir) if workdir is not None else default_workdir(store_file)
    run_dir = run_dir_path(work, store_id, run)
    state = load_checkpoint(checkpoint_path(run_dir, epoch))
    if state is None:
        raise ArchlabError(
            f"run {run.id} ({run.name} seed {run.seed}) keeps no readable checkpoint of its best "
            f"epoch {epoch} in {str(run_dir)!r}; give workdir if it was trained elsewhere"
        )
    _check_same_run(state, run, epoch, history[epoch - 1])
    stem = f"{run.name}-s{run.seed}-run{run.id}"
    weights = out_dir / f"{stem}{FILE_FORMATS[file_format]}"
    # One description per model file: a pt2 export beside a state_dict one keeps both JSONs.
    spec_file = out_dir / (f"{stem}.pt2.json" if file_format == "pt2" else f"{stem}.json")
    metrics = history[epoch - 1]
    description = _description(state, run, store_file, store_id, metrics, weights.name)
    description.update(standalone_fields(state, weights.name, file_format))
    # A plain layout: channels-last tensors from training load into any model as contiguous.
    state_dict = {key: value.contiguous() for key, value in state["model"].items()}
    if file_format == "pt2":
        model_bytes = program_bytes(state, state_dict, description["input"]["size"])
    else:
        model_bytes = _torch_bytes(state_dict)
    _write_both(out_dir, {weights: model_bytes, spec_file: _json_bytes(description)})
    return ExportResult(weights, spec_file, run.id, run.name, run.seed, epoch,
                        float(metrics["val_error"]), float(metrics["test_error"]),
                        file_format)  # fmt: skip


def load_export(spec_file: str | Path) -> nn.Module:
    """The exported model, rebuilt from its JSON and loaded with its weights (eval mode), or
    the ``torch.export`` program's module for a ``pt2`` export."""
    path = Path(spec_file)
    try:
        description = json.loads(path.read_text(encoding="utf-8"))
        if description.get("program"):
            module: nn.Module = torch.export.load(path.parent / description["program"]).module()
            return module
        weights = torch.load(path.parent / description["weights"], weights_only=True)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ArchlabError(f"cannot read export {str(path)!r}: {exc}") from None
    model = build_model(spec_from_dict(description["spec"]), form=description["form"])
    model.load_state_dict(weights)
    return model.eval()


def _best_run(db: Store, dataset: str | None) -> RunRecord:
    """The finished run with the lowest best val error, among runs of one validation split."""
    frame = db.results_frame()
    frame = frame[(frame["status"] == "finished") & frame["best_val_error"].notna()]
    runs = {run.id: run for run in db.runs(status="finished")}
    splits = {int(i): _validation_split(runs[int(i)]) for i in frame["run_id"]}
    if dataset is not None:
        splits = {i: split for i, split in splits.items() if split[0] == dataset}
    where = f" on data set {dataset!r}" if dataset is not None else ""
    if not splits:
        raise ArchlabError(f"no finished run{where} in {str(db.path)!r} to export")
    if len(set(splits.values())) > 1:
        names = sorted({str(split[0]) for split in splits.values()})
        if len(names) > 1:
            raise ArchlabError(
                f"{str(db.path)!r} holds finished runs on several data sets "
                f"({', '.join(names)}); set dataset to one of them"
            )
        raise ArchlabError(
            f"finished runs{where} were validated on different splits (val_fraction, "
            "split_seed, stratify or limit differ): their errors do not compare; export one run "
            "by id"
        )
    chosen = frame[frame["run_id"].isin(list(splits))]
    best = chosen.sort_values(["best_val_error", "run_id"]).iloc[0]
    return runs[int(best["run_id"])]


def _validation_split(run: RunRecord) -> tuple[Any, ...]:
    """What makes two runs' validation errors comparable: the data set and its held-out split."""
    data = json.loads(run.config_json).get("data", {}) if run.config_json else {}
    held = tuple(data.get(key) for key in ("name", "val_fraction", "split_seed", "limit"))
    return (*held, bool(data.get("stratify", False)))  # stored only when on


def _check_same_run(
    state: dict[str, Any], run: RunRecord, epoch: int, stored: dict[str, Any]
) -> None:
    """Refuse a checkpoint that is not this run's best epoch (a reused or foreign work folder)."""
    history = state.get("history", [])
    found = history[epoch - 1] if len(history) >= epoch else {}
    same = (
        state.get("epoch") == epoch
        and state.get("seed") == run.seed
        and spec_from_dict(state["spec"]).name == run.name
        and found.get("val_error") == stored["val_error"]
    )
    if not same:
        raise ArchlabError(
            f"the checkpoint of epoch {epoch} in run {run.id}'s folder is not that run's "
            "(another store's run in the same workdir?); refusing to export it"
        )


def _description(
    state: dict[str, Any],
    run: RunRecord,
    store_file: Path,
    store_id: str,
    metrics: dict[str, Any],
    weights_name: str,
) -> dict[str, Any]:
    """The JSON beside the weights: how to rebuild and feed the model, and where it came from."""
    config = state.get("config", {})
    return {
        "format": FORMAT,
        "weights": weights_name,
        "spec": state["spec"],
        "form": config.get("form", "c"),
        "name": run.name,
        "run_id": run.id,
        "seed": run.seed,
        "rung": run.rung,
        "status": run.status,
        "store": str(store_file),
        "store_id": store_id,
        "dataset": config.get("dataset"),
        "epoch": state["epoch"],
        "epochs_done": run.epochs_done,
        "val_error": metrics["val_error"],
        "test_error": metrics["test_error"],
        "config": config,
        "run_config": json.loads(run.config_json) if run.config_json else None,
    }


def _torch_bytes(value: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, default=str) + "\n").encode()


def _write_both(out_dir: Path, files: dict[Path, bytes]) -> None:
    """Every file written to a temporary name first, then all renamed: none half-written.

    A failure removes what this call wrote, renamed ones included: no weights without a spec.
    """
    tmps = {path: path.with_name(f".{path.name}.tmp") for path in files}
    renamed: list[Path] = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for path, data in files.items():
            with open(tmps[path], "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        for path in files:
            os.replace(tmps[path], path)
            renamed.append(path)
    except OSError as exc:
        for leftover in [*tmps.values(), *renamed]:
            with contextlib.suppress(OSError):
                leftover.unlink(missing_ok=True)
        where = exc.filename if exc.filename is not None else out_dir
        raise ArchlabError(f"cannot write the export to {str(where)!r}: {exc.strerror}") from None

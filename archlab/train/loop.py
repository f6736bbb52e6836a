"""One short training run of one candidate: SGD, warm-up + cosine or step schedule, checkpoints.

A run is a pure function of (spec, data, config, seed, device) plus the checkpoint it resumes
from: the model is initialised from ``seed``, and each epoch's data order and augmentation come
from a generator seeded by (seed, epoch), so a resumed run continues exactly as an uninterrupted
one would (bit-identical on the CPU). The run knows nothing of the store; it reports each epoch
through a callback and the executor above it persists.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archlab.errors import ArchlabError
from archlab.models import build_model
from archlab.space import NetSpec
from archlab.train._evaluate import (
    estimate_epoch_seconds,
    evaluate,
    forward,
    model_inputs,
    peak_memory,
)
from archlab.train.checkpoint import (
    best_epoch,
    checkpoint_path,
    latest_good_checkpoint,
    prune,
    save_checkpoint,
)
from archlab.train.config import DEFAULT_KEEP, TrainConfig, check_keep
from archlab.train.data import (
    DatasetSplits,
    augment,
    augment_parts,
    default_pad,
    iterate_batches,
    resolve_augment,
)


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended: ``finished``, ``diverged`` or ``failed`` (with the reason)."""

    status: str
    reason: str | None
    epochs_done: int
    budget_epochs: int
    history: tuple[dict[str, Any], ...] = ()  # every epoch's metrics, resumed ones included
    # Where it ran, filled in by the task that ran it (``auto`` resolved).
    device: str = ""
    host: str = ""
    pid: int = 0
    # What the run warned of, in order (each also in its run log), filled in by its task: a
    # worker's parent says them on stderr, as this process says an in-process run's as they come.
    warnings: tuple[str, ...] = ()


EpochCallback = Callable[[dict[str, Any]], None]
StepCallback = Callable[[int, int, float], None]  # (epoch, step, loss)


# --------------------------------------------------------------------------- the loop


def lr_at(config: TrainConfig, epoch: int, step: int, steps_per_epoch: int, epochs: int) -> float:
    """Learning rate at a step: linear warm-up, then cosine to zero or ÷10 steps (Sec. 5.3)."""
    t = epoch + step / steps_per_epoch  # epochs elapsed, fractional
    warmup = min(config.warmup_epochs, max(epochs - 1, 0))
    if warmup and t < warmup:
        return config.peak_lr * (t + 1 / steps_per_epoch) / warmup
    if config.schedule == "cosine":
        progress = (t - warmup) / max(epochs - warmup, 1e-9)
        return config.peak_lr * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    drops = sum(t >= m * epochs for m in config.step_milestones)
    return config.peak_lr * 0.1**drops


def _generator(seed: int, epoch: int) -> torch.Generator:
    # One stream per (seed, epoch): a resumed epoch sees the same order and crops.
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def prepare_model(spec: NetSpec, config: TrainConfig, seed: int, device: torch.device) -> nn.Module:
    """The freshly initialised model for a seed, on the device, in the configured layout."""
    torch.manual_seed(seed)
    model = build_model(spec, form=config.form, zero_init_residual=config.zero_init_residual)
    model = model.to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return model


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.SGD:
    """SGD with momentum; weight decay on every parameter unless BN and biases are exempted."""
    params = list(model.parameters())
    groups: list[dict[str, Any]] = [{"params": params, "weight_decay": config.weight_decay}]
    if not config.decay_bn_and_bias:  # BN parameters and biases are the 1-d tensors
        groups = [
            {"params": [p for p in params if p.ndim > 1], "weight_decay": config.weight_decay},
            {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0},
        ]
    return torch.optim.SGD(
        groups, lr=config.peak_lr, momentum=config.momentum, nesterov=config.nesterov
    )


# Long by design (~70 lines): its keyword list is the public signature that tests and the
# benchmarks call; the body itself is resume, the epoch loop and the outcome in one reading.
def train_run(
    spec: NetSpec,
    data: DatasetSplits,
    config: TrainConfig,
    *,
    seed: int,
    device: torch.device,
    run_dir: Path,
    on_epoch: EpochCallback,
    on_step: StepCallback | None = None,
    budget_epochs: int | None = None,
    stop_epoch: int | None = None,
    keep: int = DEFAULT_KEEP,
    warn: Callable[[str], None] = lambda msg: warnings.warn(msg, stacklevel=2),
) -> RunOutcome:
    """Train (or resume) one run; every finished epoch is checkpointed, then reported.

    The schedule runs over ``budget_epochs`` (default: the config's); ``stop_epoch`` ends the
    run early on that schedule, as a rung of successive halving does. The run folder keeps the
    newest ``keep`` checkpoints and the best-validation epoch's.
    """
    check_keep(keep)
    run_dir.mkdir(parents=True, exist_ok=True)
    model = prepare_model(spec, config, seed, device)
    optimizer = make_optimizer(model, config)
    start_epoch, epochs = 0, budget_epochs or config.epochs
    history: list[dict[str, Any]] = []
    state = latest_good_checkpoint(run_dir, warn=warn)
    if state is not None:
        _check_same_run(state, spec, config, seed, run_dir)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, epochs = int(state["epoch"]), int(state["budget_epochs"])
        history = list(state.get("history", []))[:start_epoch]
    step_model: nn.Module = torch.compile(model) if config.compile else model  # type: ignore[assignment]
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    if epochs is None:  # a time budget: the schedule needs its length before the first step
        assert config.time_budget is not None
        per_epoch = estimate_epoch_seconds(step_model, optimizer, loss_fn, data, config, device)
        epochs = max(1, int(config.time_budget // per_epoch))
    last = epochs if stop_epoch is None else min(stop_epoch, epochs)
    loop = _EpochLoop(step_model, model, optimizer, loss_fn, data, config, seed, device, on_step)
    deadline = time.monotonic() + config.time_budget if config.time_budget else math.inf
    epoch = start_epoch
    while epoch < last:
        if time.monotonic() >= deadline:  # the estimate was off: the budget is a hard limit
            warn(f"time budget of {config.time_budget:g} s spent after {epoch} of {epochs} epochs")
            break
        try:
            metrics = loop.run(epoch, epochs)
        except torch.cuda.OutOfMemoryError as exc:
            reason = f"CUDA out of memory at epoch {epoch + 1}: {str(exc).splitlines()[0]}"
            return RunOutcome("failed", reason, epoch, epochs, tuple(history))
        if metrics is None:
            reason = f"non-finite loss in epoch {epoch + 1}"
            return RunOutcome("diverged", reason, epoch, epochs, tuple(history))
        epoch += 1
        history.append({"epoch": epoch, "budget_epochs": epochs, **metrics})
        save_checkpoint(
            checkpoint_path(run_dir, epoch),
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "epoch": epoch,
                "budget_epochs": epochs,
                "history": history,
                "spec": spec.to_dict(),
                "seed": seed,
                "config": config.to_dict(),
                # What an exported model needs to see the images it was trained on.
                "input": {
                    "mean": list(data.mean),
                    "std": list(data.std),
                    "scale": 255.0,
                    "size": list(data.x_train.shape[2:]),
                    "grey": data.grey,
                },
                "classes": {"names": data.classes, "from": data.classes_from},
            },
        )
        prune(run_dir, keep, best=best_epoch(history))
        on_epoch(history[-1])
    return RunOutcome("finished", None, epoch, epochs, tuple(history))


def _check_same_run(
    state: dict[str, Any], spec: NetSpec, config: TrainConfig, seed: int, run_dir: Path
) -> None:
    """Refuse to resume from a checkpoint of another run (another spec, seed or recipe)."""
    mine = {"spec": spec.to_dict(), "seed": seed, "config": config.to_dict()}
    # Checkpoints written before the split switch existed were trained with a fixed split.
    theirs = {**state, "config": {"split": "fixed", **state.get("config", {})}}
    differs = [key for key, value in mine.items() if theirs.get(key) != value]
    if differs:
        raise ArchlabError(
            f"{run_dir} holds checkpoints of another run (different {', '.join(differs)}); "
            "give this run its own workdir"
        )


@dataclass
class _EpochLoop:
    """What every epoch of one run shares."""

    step_model: nn.Module
    model: nn.Module
    optimizer: torch.optim.Optimizer
    loss_fn: nn.Module
    data: DatasetSplits
    config: TrainConfig
    seed: int
    device: torch.device
    on_step: StepCallback | None

    def run(self, epoch: int, epochs: int) -> dict[str, Any] | None:
        """One epoch of SGD and the evaluations after it; None when the loss is not finite."""
        config, data, device, optimizer = self.config, self.data, self.device, self.optimizer
        steps = math.ceil(len(data.y_train) / config.batch_size)
        crop, flip = augment_parts(resolve_augment(config.augment, flip_ok=data.flip))
        pad = default_pad(data.image_size) if crop else 0
        generator = _generator(self.seed, epoch)
        self.step_model.train()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        loss_sum = torch.zeros((), device=device)
        wrong = torch.zeros((), device=device, dtype=torch.long)
        seen, lr = 0, config.peak_lr
        start = time.perf_counter()
        batches = iterate_batches(
            data.x_train, data.y_train, config.batch_size, shuffle=True, generator=generator
        )
        for step, (xb, yb) in enumerate(batches):
            lr = lr_at(config, epoch, step, steps, epochs)
            for group in optimizer.param_groups:
                group["lr"] = lr
            if crop or flip:
                xb = augment(xb, pad=pad, flip=flip, generator=generator)
            x = model_inputs(xb, data, device, config.channels_last)
            yb = yb.to(device, non_blocking=True)
            logits = forward(self.step_model, x, device, config.amp)
            loss = self.loss_fn(logits.float(), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(yb)
            wrong += (logits.detach().argmax(1) != yb).sum()
            seen += len(yb)
            if self.on_step is not None:
                self.on_step(
                    epoch, step, float(loss.detach()) if device.type == "cpu" else math.nan
                )
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        train_s = time.perf_counter() - start
        train_loss = float(loss_sum) / max(seen, 1)
        if not math.isfinite(train_loss):
            return None
        val_error, test_error, test_top5 = self._evaluate()
        return {
            "train_loss": train_loss,
            "train_error": float(wrong) / max(seen, 1),
            "val_error": val_error,
            "test_error": test_error,
            "test_top5_error": test_top5,
            "images_per_s": seen / max(train_s, 1e-9),
            "wall_s": time.perf_counter() - start,
            "peak_mem_bytes": peak_memory(device),
            "lr": lr,
        }

    def _evaluate(self) -> tuple[float, float, float | None]:
        """Validation error, test error and test top-5 error after an epoch."""
        kw: dict[str, Any] = {
            "batch_size": max(self.config.batch_size, 256),
            "device": self.device,
            "channels_last": self.config.channels_last,
            "amp": self.config.amp,
        }
        data = self.data
        val_error, _ = evaluate(self.model, data.x_val, data.y_val, data, **kw)
        test_error, test_top5 = evaluate(self.model, data.x_test, data.y_test, data, **kw)
        return val_error, test_error, test_top5

"""One short training run of one candidate: SGD, warm-up + cosine or step schedule, checkpoints.

A run is a pure function of (spec, data, config, seed, device) plus the checkpoint it resumes
from: the model is initialised from ``seed``, and each epoch's data order and augmentation come
from a generator seeded by (seed, epoch), so a resumed run continues exactly as an uninterrupted
one would (bit-identical on the CPU). The run knows nothing of the store; it reports each epoch
through a callback and the executor above it persists.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archlab.bounds import (
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    MAX_LIMIT,
    MAX_TIME_BUDGET_S,
    check_at_most,
)
from archlab.errors import ArchlabError
from archlab.models import FORMS, build_model
from archlab.space import NetSpec
from archlab.train._evaluate import (
    estimate_epoch_seconds,
    evaluate,
    forward,
    model_inputs,
    peak_memory,
)
from archlab.train.checkpoint import (
    DEFAULT_KEEP,
    best_epoch,
    check_keep,
    checkpoint_path,
    latest_good_checkpoint,
    prune,
    save_checkpoint,
)
from archlab.train.data import (
    DEFAULT_VAL_FRACTION,
    DatasetSplits,
    augment,
    augment_parts,
    default_pad,
    iterate_batches,
    normalize_augment,
    resolve_augment,
)
from archlab.train.lr_rule import linear_scaled_lr

SCHEDULES = ("cosine", "step")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a run's numbers; its :meth:`key` names "the same run" in a store.

    Defaults follow the paper's CIFAR recipe (Sec. 5.3: SGD, momentum 0.9, weight decay 5e-4,
    lr 0.1 at batch 128) shortened with warm-up + cosine for brief runs, at the batch size that
    trained best in ``benchmarks/bench_recipe.py`` (small data sets give batch 128 too few
    steps). An unset ``lr`` resolves here to :func:`linear_scaled_lr` of the batch size, so the
    stored config holds the number; ``dataclasses.replace`` keeps that number, so build a new
    config to change the batch size and have the rule rescale the lr.
    """

    dataset: str = "digits"
    epochs: int | None = 10
    # Seconds per run (with epochs=None): the schedule's length is estimated from a few timed
    # steps before the first epoch, and no epoch starts once the budget is spent.
    time_budget: float | None = None
    batch_size: int = 32
    lr: float | None = None  # None: linear_scaled_lr(batch_size), resolved in __post_init__
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = False
    # The paper and fb.resnet.torch decay every parameter; False exempts BN parameters and
    # biases (1-d tensors), the "no bias decay" of He et al., "Bag of Tricks", 2019.
    decay_bn_and_bias: bool = True
    schedule: str = "cosine"
    warmup_epochs: int = 1
    step_milestones: tuple[float, ...] = (0.5, 0.75)  # fractions of the run (150/300, 225/300)
    label_smoothing: float = 0.0
    # auto | crop,flip | crop | flip | none; a run stores the value resolved for its data set
    # (for_data): auto is random crops, plus flips where the data set says they keep labels.
    augment: str = "auto"
    val_fraction: float = DEFAULT_VAL_FRACTION
    split_seed: int = 0
    limit: int | None = None
    form: str = "c"
    zero_init_residual: bool = False
    channels_last: bool = True
    amp: bool = True  # bf16 autocast, CUDA only
    compile: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "augment", normalize_augment(self.augment))
        if self.epochs is None and self.time_budget is None:
            raise ArchlabError("give a budget: epochs or time_budget (seconds)")
        if self.epochs is not None and (isinstance(self.epochs, bool) or self.epochs < 1):
            raise ArchlabError(f"epochs must be a positive integer, got {self.epochs!r}")
        if self.time_budget is not None and not (
            math.isfinite(self.time_budget) and self.time_budget > 0
        ):
            raise ArchlabError(f"time budget must be positive seconds, got {self.time_budget!r}")
        if self.epochs is not None and self.time_budget is not None:
            raise ArchlabError("give one budget: epochs or time_budget (seconds), not both")
        if self.batch_size < 1:
            raise ArchlabError(f"batch size must be positive, got {self.batch_size}")
        if self.lr is None:
            object.__setattr__(self, "lr", linear_scaled_lr(self.batch_size))
        if not (math.isfinite(self.peak_lr) and self.peak_lr > 0):
            raise ArchlabError(f"lr must be a positive number, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ArchlabError(f"momentum must be in [0, 1), got {self.momentum}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ArchlabError(f"weight decay must be >= 0, got {self.weight_decay}")
        if self.form not in FORMS:
            raise ArchlabError(f"form must be one of {', '.join(FORMS)}, got {self.form!r}")
        if self.schedule not in SCHEDULES:
            raise ArchlabError(
                f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}"
            )
        if not 0 <= self.label_smoothing < 1:
            raise ArchlabError(f"label smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.warmup_epochs < 0:
            raise ArchlabError(f"warm-up epochs must be >= 0, got {self.warmup_epochs}")
        check_at_most("epochs", self.epochs, MAX_EPOCHS)
        check_at_most("warmup_epochs", self.warmup_epochs, MAX_EPOCHS)
        check_at_most("time budget (seconds)", self.time_budget, MAX_TIME_BUDGET_S)
        check_at_most("batch size", self.batch_size, MAX_BATCH_SIZE)
        check_at_most("limit", self.limit, MAX_LIMIT)
        if not isinstance(self.split_seed, int) or not 0 <= self.split_seed < 2**31:
            raise ArchlabError(
                f"split_seed must be an integer in [0, 2**31), got {self.split_seed!r}"
            )

    def for_data(self, data: DatasetSplits) -> TrainConfig:
        """This config with ``augment`` resolved for the data set (``auto`` never stored)."""
        return dataclasses.replace(self, augment=resolve_augment(self.augment, flip_ok=data.flip))

    @property
    def peak_lr(self) -> float:
        """The lr after warm-up: the given one, or the linear rule's for the batch size."""
        assert self.lr is not None  # resolved in __post_init__
        return self.lr

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready config, stored with every run."""
        return dataclasses.asdict(self)

    def key(self) -> str:
        """Short hash of the fields that change results; runtime-only switches are left out."""
        fields = self.to_dict()
        for runtime_only in ("compile", "channels_last"):
            fields.pop(runtime_only)
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


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
                "input": {"mean": list(data.mean), "std": list(data.std), "scale": 255.0},
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
    differs = [key for key, value in mine.items() if state.get(key) != value]
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

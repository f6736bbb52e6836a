"""What decides a run's numbers: :class:`TrainConfig`, and the switches it validates.

Torch-free, so importing a run plan (:mod:`archlab.train.plan`) or a workflow's options never
loads torch; the epoch loop that consumes the config is :mod:`archlab.train.loop`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archlab.bounds import (
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    MAX_LIMIT,
    MAX_TIME_BUDGET_S,
    check_at_most,
)
from archlab.errors import ArchlabError
from archlab.layers import FORMS
from archlab.train.lr_rule import linear_scaled_lr

if TYPE_CHECKING:
    from archlab.train.data import DatasetSplits

DEFAULT_VAL_FRACTION = 0.1  # of the training pool, when the source has no validation split
DEFAULT_KEEP = 1  # newest checkpoints kept per run, besides the best-validation one
SCHEDULES = ("cosine", "step")
# How the validation split is drawn when the source has none of its own (docs/data.md):
# ``fixed`` holds out the same images for every seed (by ``split_seed``); ``per-seed`` draws
# them from the run's seed, identical across a study's arms (docs/statistics.md, pairing).
SPLITS = ("fixed", "per-seed")
DEFAULT_SPLIT = "fixed"


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
    split: str = DEFAULT_SPLIT
    # Hold out each class's share of the validation images (docs/data.md, "Splits"). Off by
    # default, and absent from to_dict() while off: stored runs, studies and checkpoints keep
    # the keys and the splits they had before the switch existed.
    stratify: bool = False
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

        if self.split not in SPLITS:
            raise ArchlabError(f"split must be one of {' | '.join(SPLITS)}, got {self.split!r}")
        if not isinstance(self.stratify, bool):
            raise ArchlabError(f"stratify must be true or false, got {self.stratify!r}")

    def for_data(self, data: DatasetSplits) -> TrainConfig:
        """This config with ``augment`` resolved for the data set (``auto`` never stored)."""
        return dataclasses.replace(self, augment=resolve_augment(self.augment, flip_ok=data.flip))

    @property
    def peak_lr(self) -> float:
        """The lr after warm-up: the given one, or the linear rule's for the batch size."""
        assert self.lr is not None  # resolved in __post_init__
        return self.lr

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready config, stored with every run; ``stratify`` only when it is on."""
        fields = dataclasses.asdict(self)
        if not fields["stratify"]:  # runs stored before the switch existed keep their config
            fields.pop("stratify")
        return fields

    def key(self) -> str:
        """Short hash of the fields that change results; runtime-only switches are left out."""
        fields = self.to_dict()
        for runtime_only in ("compile", "channels_last"):
            fields.pop(runtime_only)
        if fields["split"] == "fixed":  # the keys of runs stored before the switch existed
            fields.pop("split")
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


AUGMENT_CHOICES = ("auto", "crop,flip", "crop", "flip", "none")
_AUGMENT_PARTS = ("crop", "flip")  # the order a list of parts is written in


def normalize_augment(value: object) -> str:
    """The augmentation switch written one way (``flip, crop`` -> ``crop,flip``), or refused."""
    parts = [p.strip() for p in value.split(",")] if isinstance(value, str) else []
    if parts in (["auto"], ["none"]):
        return parts[0]
    if parts and len(set(parts)) == len(parts) and set(parts) <= set(_AUGMENT_PARTS):
        return ",".join(p for p in _AUGMENT_PARTS if p in parts)
    raise ArchlabError(
        f"augment must be one of {' | '.join(AUGMENT_CHOICES)} (parts in any order), got {value!r}"
    )


def resolve_augment(value: str, *, flip_ok: bool) -> str:
    """``auto`` for a data set: crop, and flip only where flips keep labels; others unchanged."""
    value = normalize_augment(value)
    if value != "auto":
        return value
    return "crop,flip" if flip_ok else "crop"


def augment_parts(value: str) -> tuple[bool, bool]:
    """Whether a resolved switch crops and whether it flips."""
    value = normalize_augment(value)
    if value == "auto":
        raise ArchlabError("augment 'auto' must be resolved for a data set before training")
    parts = value.split(",")
    return "crop" in parts, "flip" in parts


def check_keep(keep: object, field: str = "keep") -> int:
    """``keep`` as a positive integer, or an error naming ``field``."""
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ArchlabError(
            f"{field} must be an integer >= 1 (newest checkpoints kept), got {keep!r}"
        )
    return keep

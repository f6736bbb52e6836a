"""Datasets for short training runs: splits, their checks, and the batching the trainer uses.

Every source loads to the same in-memory form, :class:`DatasetSplits`: uint8 images
``(N, 3, H, W)`` (grayscale repeated to RGB, since the models take 3 channels) and int64 labels.
The sources are one registry, :mod:`archlab.train.sources` (their loaders in ``_sources``);
normalisation, augmentation and batching are in ``_batches`` (re-exported here).

Data that would train without error but give wrong results is refused at load time: test labels
that never occur in training, a class without training images, splits with different channels
or image sizes. A held-out validation split leaves every class a training image.

Split policy: the test split is fixed by the source, never by ``seed``, so every run of a study
is scored on the same images (``folder:`` reads it from ``test/`` and refuses a tree without
one; digits carves a fixed one). The validation split is the source's own when it has one
(``folder:``'s ``val/``, an ``.npz``'s ``x_val``/``y_val``): then ``val_fraction`` does not apply
and a value other than the default is refused. Otherwise validation is held out from train with
a generator seeded by ``seed``. Either way model selection never sees the test set.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from archlab.errors import ArchlabError
from archlab.train._batches import augment, check_int, default_pad, iterate_batches, normalize
from archlab.train._sources import DIGITS_TEST_FRACTION, IMAGE_SUFFIXES, METADATA_NAME, TEST_SEED
from archlab.train._stratify import stratified_hold_out
from archlab.train.config import (
    AUGMENT_CHOICES,
    DEFAULT_VAL_FRACTION,
    augment_parts,
    normalize_augment,
    resolve_augment,
)
from archlab.train.sources import load_source

__all__ = [
    "AUGMENT_CHOICES",
    "DEFAULT_VAL_FRACTION",
    "DIGITS_TEST_FRACTION",
    "IMAGE_SUFFIXES",
    "METADATA_NAME",
    "DatasetSplits",
    "augment",
    "augment_parts",
    "channel_stats",
    "default_pad",
    "iterate_batches",
    "load_dataset",
    "normalize",
    "normalize_augment",
    "resolve_augment",
    "split_for_seed",
]


# Tensors have no useful ==, so eq=False keeps the default identity comparison and hash.
@dataclass(frozen=True, eq=False)
class DatasetSplits:
    """Train, validation and test images of one dataset, with the train split's statistics."""

    name: str
    x_train: torch.Tensor  # (N, 3, H, W) uint8
    y_train: torch.Tensor  # (N,) int64
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    mean: tuple[float, float, float]  # per channel, of x_train / 255
    std: tuple[float, float, float]
    flip: bool  # whether horizontal flips keep the label (not for digits)
    val_given: bool = False  # the source's own validation split, not one held out from train
    class_names: tuple[str, ...] = ()  # in label order; empty: the labels' indices
    classes_from: str = "indices"  # folder, dataset.toml, labels or indices (as exports say)
    grey: bool = False  # every training image's three channels equal: grey repeated to three

    def __post_init__(self) -> None:
        n_cls = self.num_classes
        if isinstance(n_cls, bool) or not isinstance(n_cls, int) or n_cls < 2:
            raise ArchlabError(f"{self.name}: need at least 2 classes, got {n_cls!r}")
        hw = self.x_train.shape[2:]
        for split in ("train", "val", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] != 3 or x.shape[2:] != hw:
                raise ArchlabError(
                    f"{self.name}: x_{split} must be uint8 (N, 3, H, W) with H, W = {tuple(hw)}, "
                    f"got {x.dtype} {tuple(x.shape)}"
                )
            if y.dtype != torch.int64 or y.shape != (len(x),) or len(x) == 0:
                raise ArchlabError(
                    f"{self.name}: y_{split} must be int64 of shape (N,) with N = {len(x)} > 0, "
                    f"got {y.dtype} {tuple(y.shape)}"
                )
            lo, hi = int(y.min()), int(y.max())
            if lo < 0 or hi >= n_cls:
                raise ArchlabError(
                    f"{self.name}: y_{split} labels span {lo}..{hi}, allowed 0..{n_cls - 1}"
                )
        if self.class_names and len(self.class_names) != n_cls:
            raise ArchlabError(
                f"{self.name}: {len(self.class_names)} class names for {n_cls} classes"
            )

    @property
    def classes(self) -> list[str]:
        """Each class's name in label order: the source's names, else the label's index."""
        return list(self.class_names) or [str(i) for i in range(self.num_classes)]

    @property
    def image_size(self) -> int:
        """Side of the square images, H (== W)."""
        h, w = self.x_train.shape[2:]
        if h != w:
            raise ArchlabError(f"{self.name}: images must be square, got {h}x{w}")
        return int(h)

    def to(self, device: torch.device | str) -> DatasetSplits:
        """The same splits with every tensor on ``device``."""
        moved = {
            f"{k}_{s}": getattr(self, f"{k}_{s}").to(device)
            for k in ("x", "y")
            for s in ("train", "val", "test")
        }
        return dataclasses.replace(self, **moved)

    def summary(self) -> str:
        """One line said before training: the classes, where their names came from, the image
        size and colour, and each split's size (docs/data.md, "Labels")."""
        names = self.classes
        shown = ", ".join(names[:8]) + (f", ... ({len(names)})" if len(names) > 8 else "")
        told = {"folder": "class folders", "labels": "the labels, sorted",
                "indices": "label indices"}.get(self.classes_from, self.classes_from)  # fmt: skip
        counts = torch.bincount(self.y_train.cpu(), minlength=self.num_classes).tolist()
        fewest = min(range(len(counts)), key=counts.__getitem__)
        h, w = self.x_train.shape[2:]
        return (
            f"data: {self.name}, {self.num_classes} classes ({shown}) named by {told}; "
            f"{h}x{w} {'grey' if self.grey else 'colour'}; {len(self.y_train)} train "
            f"(fewest: {names[fewest]}, {counts[fewest]}) / {len(self.y_val)} val / "
            f"{len(self.y_test)} test images"
        )

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary: name, classes, image size and split sizes."""
        return {
            "name": self.name,
            "num_classes": self.num_classes,
            "image_size": self.image_size,
            "n_train": len(self.y_train),
            "n_val": len(self.y_val),
            "n_test": len(self.y_test),
            "validation": "given by the source" if self.val_given else "held out from train",
            "flip_keeps_label": self.flip,
        }


def channel_stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and population std of ``x / 255`` for uint8 ``(N, C, H, W)`` images."""
    # From a 256-bin histogram: exact, and no float copy of a 50,000-image dataset.
    levels = torch.arange(256, dtype=torch.float64) / 255
    means, stds = [], []
    for c in range(x.shape[1]):
        counts = torch.bincount(x[:, c].reshape(-1).cpu(), minlength=256).double()
        mean = float((counts * levels).sum() / counts.sum())
        var = float((counts * (levels - mean) ** 2).sum() / counts.sum())
        means.append(mean)
        stds.append(var**0.5)
    return tuple(means), tuple(stds)


# --------------------------------------------------------------------------- loading


def load_dataset(
    source: str,
    *,
    val_fraction: float = DEFAULT_VAL_FRACTION,
    seed: int = 0,
    limit: int | None = None,
    stratify: bool = False,
) -> DatasetSplits:
    """Load a registered source (:mod:`archlab.train.sources`): ``digits``, ``cifar10:PATH``, ...

    Without a validation split of the source's own, ``val_fraction`` (in (0, 0.5]) of the
    training pool is held out by a generator seeded with ``seed``; ``stratify`` shares those
    images out among the classes in proportion to their size (docs/data.md, "Splits").
    ``limit`` caps train + val together (the first ``limit`` examples of that seeded shuffle);
    with a given validation split it caps train (seeded) and val (fixed, seed-independent) at
    ``limit`` each. The test split is capped at ``limit`` by a fixed, seed-independent subset.
    """
    number = isinstance(val_fraction, int | float) and not isinstance(val_fraction, bool)
    if not (number and 0 < val_fraction <= 0.5):
        raise ArchlabError(f"val_fraction must be a number in (0, 0.5], got {val_fraction!r}")
    if limit is not None:
        check_int("limit", limit, 2)
    _check_stratify(stratify)
    src = load_source(source)
    name, xtr, ytr = src.name, src.x_train, src.y_train
    check_test_labels(name, ytr, src.y_test)
    pool = torch.randperm(len(ytr), generator=torch.Generator().manual_seed(seed))
    pool = pool[:limit] if limit is not None else pool
    if src.x_val is not None and src.y_val is not None:
        if val_fraction != DEFAULT_VAL_FRACTION:
            raise ArchlabError(
                f"{name}: val_fraction={val_fraction} does not apply: the source has its own "
                f"validation split (val/ or x_val); leave val_fraction at {DEFAULT_VAL_FRACTION}"
            )
        check_test_labels(name, ytr, src.y_val, split="validation")
        train_idx = pool.sort().values
        x_val, y_val = _fixed_subset(src.x_val, src.y_val, limit)
    else:
        n_val = max(1, round(val_fraction * len(pool)))
        # A limit that left whole classes out of the pool made a quick try: no refusal there.
        strict = len(ytr[pool].unique()) == len(ytr.unique())
        why = f"val_fraction={val_fraction}"
        val_idx, train_idx = _hold_out(
            name, pool, ytr, n_val, why, strict=strict, stratify=stratify
        )
        x_val, y_val = xtr[val_idx], ytr[val_idx]
    x_test, y_test = _fixed_subset(src.x_test, src.y_test, limit)
    x_train = xtr[train_idx]
    mean, std = channel_stats(x_train)  # training split only: val and test stay unseen
    return DatasetSplits(
        name=name,
        x_train=x_train,
        y_train=ytr[train_idx],
        x_val=x_val,
        y_val=y_val,
        x_test=x_test,
        y_test=y_test,
        num_classes=src.num_classes,
        mean=(mean[0], mean[1], mean[2]),
        std=(std[0], std[1], std[2]),
        flip=src.flip,
        val_given=src.x_val is not None,
        class_names=src.class_names or (),
        classes_from=src.classes_from,
        grey=_grey(src.x_train),
    )


# Added to a run's seed for its split's generator, so the split's stream is not the stream
# of any (seed, epoch) batch generator of the loop (archlab.train.loop) nor the model's init.
_SPLIT_STREAM = 2**40


def split_for_seed(data: DatasetSplits, seed: int, *, stratify: bool = False) -> DatasetSplits:
    """The same data with its validation split drawn again from ``seed`` (``split = per-seed``).

    Train and validation are pooled and ``len(y_val)`` examples are held out by a generator
    seeded from ``seed`` alone, so seed s of every arm of a study sees the same split and
    seeds differ; ``stratify`` shares them out among the classes (docs/data.md, "Splits").
    Sizes, the test split and the normalisation (the loaded data's) stay as they are. A
    source's own validation split is never redrawn: it comes back unchanged.
    """
    check_int("seed", seed, 0)
    _check_stratify(stratify)
    if data.val_given:
        return data
    x = torch.cat([data.x_train, data.x_val.to(data.x_train.device)])
    y = torch.cat([data.y_train, data.y_val.to(data.y_train.device)])
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(_SPLIT_STREAM + seed))
    # Not strict: the loaded split kept every class when it could, and this pool is its pool.
    val_idx, train_idx = _hold_out(
        data.name, order, y, len(data.y_val), f"seed {seed}", stratify=stratify
    )
    val_idx, train_idx = val_idx.to(x.device), train_idx.to(x.device)
    return dataclasses.replace(
        data, x_train=x[train_idx], y_train=y[train_idx], x_val=x[val_idx], y_val=y[val_idx]
    )


def _hold_out(
    name: str,
    order: torch.Tensor,
    y: torch.Tensor,
    n_val: int,
    why: str,
    *,
    strict: bool = False,
    stratify: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validation and training indices (sorted): the first ``n_val`` of ``order`` held out,
    passing over an example that is the last of its class left for training, so that every
    class of the pool keeps a training example (docs/data.md, "Splits"). A draw that keeps one
    of every class anyway is the plain one: only a class of a few images changes the split.
    Where no draw can keep them all, ``strict`` refuses; otherwise (a ``limit``'s pool that
    lacks whole classes already) the plain draw is taken, or under ``stratify`` a stratified
    one that may hold out a class whole. ``stratify`` holds out each class's share of
    ``n_val`` instead, from the front of the same ``order`` (:mod:`archlab.train._stratify`)."""
    labels = y.cpu()[order]
    n_classes = len(labels.unique())
    short = len(order) - n_val < n_classes  # no draw can keep a training example per class
    if short and strict:
        raise ArchlabError(
            f"{name}: {len(order)} training examples of {n_classes} classes cannot spare "
            f"{n_val} for validation ({why}) and keep a training example of every class; "
            "give more images or a validation split of its own (val/, x_val)"
        )
    if stratify:
        return stratified_hold_out(order, labels, n_val, keep_one=not short)
    if short or len(labels[n_val:].unique()) == n_classes:
        return order[:n_val].sort().values, order[n_val:].sort().values
    left = torch.bincount(labels).tolist()  # each class's examples not held out (yet)
    held = torch.zeros(len(order), dtype=torch.bool)
    taken = 0
    for pos, label in enumerate(labels.tolist()):
        if taken == n_val:
            break
        if left[label] > 1:
            held[pos], left[label], taken = True, left[label] - 1, taken + 1
    return order[held].sort().values, order[~held].sort().values


def _check_stratify(stratify: object) -> None:
    if not isinstance(stratify, bool):
        raise ArchlabError(f"stratify must be true or false, got {stratify!r}")


def _grey(x: torch.Tensor) -> bool:
    """Whether every image's three channels are equal: a grey source repeated to RGB."""
    return bool(torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2]))


def _fixed_subset(
    x: torch.Tensor, y: torch.Tensor, limit: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """At most ``limit`` examples of a fixed split, the same subset for every seed."""
    if limit is None or len(y) <= limit:
        return x, y
    fixed = torch.Generator().manual_seed(TEST_SEED)
    keep = torch.randperm(len(y), generator=fixed)[:limit].sort().values
    return x[keep], y[keep]


def check_test_labels(
    name: str, y_train: torch.Tensor, y_test: torch.Tensor, *, split: str = "test"
) -> None:
    """Refuse test (or given val) labels that never occur in the source's training images.

    Such a class can only ever be misclassified: the run would finish, exit 0 and report a
    test error inflated by a fault of the data. Checked on the whole training pool, before
    ``limit`` and the validation hold-out (val is drawn from that pool, so it cannot hold a
    label the pool lacks); a small ``limit`` may still leave a class out of the train split.
    """
    unseen = sorted(set(y_test.unique().tolist()) - set(y_train.unique().tolist()))
    if unseen:
        shown = ", ".join(str(v) for v in unseen[:5]) + (", ..." if len(unseen) > 5 else "")
        raise ArchlabError(
            f"{name}: the {split} split has label(s) {shown} that never occur in the training "
            f"split ({len(unseen)} class(es) it could never learn)"
        )

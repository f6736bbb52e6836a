"""Tiny fake data set files in every source format (CIFAR-10/100 pickles, image folders, npz)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from PIL import Image


def _dump(path: Path, obj: object) -> None:
    with path.open("wb") as f:
        pickle.dump(obj, f)


def _cifar_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)


def make_cifar10(root: Path, per_batch: int = 4, n_test: int = 5) -> dict[str, np.ndarray]:
    """Five train batches, a test batch and meta; returns the raw rows written."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    rows = {}
    for i in range(1, 6):
        data = _cifar_rows(rng, per_batch)
        labels = [(i + j - 1) % 10 for j in range(per_batch)]  # 0..7: holds every test label
        _dump(root / f"data_batch_{i}", {b"data": data, b"labels": labels, b"batch_label": b"x"})
        rows[f"data_batch_{i}"] = data
    test = _cifar_rows(rng, n_test)
    # A known image: R plane all 10, G plane 20, B plane 30, one marked R pixel at (row 1, col 2).
    test[0, :1024], test[0, 1024:2048], test[0, 2048:] = 10, 20, 30
    test[0, 1 * 32 + 2] = 200
    _dump(root / "test_batch", {b"data": test, b"labels": list(range(n_test))})
    _dump(root / "batches.meta", {b"label_names": [f"c{i}".encode() for i in range(10)]})
    rows["test_batch"] = test
    return rows


def make_cifar100(root: Path, *, meta: bool = True) -> None:
    rng = np.random.default_rng(1)
    root.mkdir(parents=True, exist_ok=True)
    # Every test label also occurs in training: a label training never sees is refused.
    # One class twice: a held-out validation image must leave every class a training image.
    labels = [*range(0, 72, 8), 0, 50, 99]
    _dump(root / "train", {b"data": _cifar_rows(rng, 12), b"fine_labels": labels})
    _dump(root / "test", {b"data": _cifar_rows(rng, 3), b"fine_labels": [99, 0, 50]})
    if meta:
        _dump(root / "meta", {b"fine_label_names": [b"n"] * 100, b"coarse_label_names": [b"c"]})


def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def make_folder(root: Path, *, test: bool = True, size: int = 6) -> None:
    """Classes ant, cat, dog (written out of order); 4 train and 1 val/test image each."""
    rng = np.random.default_rng(2)
    for cls in ("dog", "ant", "cat"):
        for i in range(4):
            _png(root / "train" / cls / f"{i}.png", rng.integers(0, 256, (size, size, 3), np.uint8))
        _png(root / "val" / cls / "v.PNG", np.full((size, size, 3), 7, np.uint8))
        if test:
            _png(root / "test" / cls / "t.png", np.full((size, size, 3), 9, np.uint8))
    (root / "train" / "ant" / "notes.txt").write_text("not an image")


def make_npz(path: Path, **arrays: np.ndarray) -> Path:
    rng = np.random.default_rng(3)
    base = {
        "x_train": rng.integers(0, 256, (20, 4, 4, 3), np.uint8),
        "y_train": np.arange(20) % 3,
        "x_test": rng.integers(0, 256, (6, 4, 4, 3), np.uint8),
        "y_test": np.arange(6) % 3,
    }
    base.update(arrays)
    np.savez(path, **base)
    return path

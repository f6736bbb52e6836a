"""An ``npz:`` data set's labels: integers or strings, as class indices 0..K-1 with their names.

Internal to :mod:`archlab.train._sources`. The rule (docs/data.md, "Labels"): integer labels
that are exactly 0..K-1 are the class indices; other integers (3, 7, 42) and strings ("cat")
are the class names, and the classes are the distinct training labels in sorted order, as
torchvision's ImageFolder sorts its class folders. A ``classes`` list in the data set's
``dataset.toml`` sets the order instead. Either way every class needs a training example, and a
validation or test label that training lacks is refused, naming the array.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from archlab.errors import ArchlabError
from archlab.train._metadata import METADATA_NAME, named_classes, read_metadata

# Where class names came from, as an export's classes.from says (docs/training.md).
FROM_LABELS = "labels"


def _raw(y: np.ndarray, where: str) -> np.ndarray:
    """A split's labels as a 1-D integer or str array; anything else refused in one line."""
    if y.ndim != 1 or y.dtype.kind not in "iuUS":
        raise ArchlabError(
            f"{where}: labels must be a 1-D array of integers or strings, got {y.dtype} {y.shape}"
        )
    if y.dtype.kind == "S":  # bytes, as numpy stores Python bytes: read as ASCII text
        try:
            y = y.astype(str)
        except UnicodeDecodeError:
            raise ArchlabError(f"{where}: byte-string labels must be ASCII") from None
    if y.dtype.kind == "U" and y.size and not all(str(v).strip() for v in np.unique(y)):
        raise ArchlabError(f"{where}: a label is an empty string; name every class")
    if y.dtype.kind in "iu" and y.size and y.min() < 0:
        raise ArchlabError(f"{where}: labels must be >= 0, got {y.min()}")
    return y


def _shown(values: Sequence[object]) -> str:
    return ", ".join(str(v) for v in values[:5]) + (", ..." if len(values) > 5 else "")


def npz_labels(
    arrays: dict[str, np.ndarray], path: Path, splits: Sequence[str]
) -> tuple[dict[str, torch.Tensor], tuple[str, ...] | None, str]:
    """Each split's labels as int64 class indices, the class names (None: the indices) and
    where the names came from (``indices``, ``labels`` or ``dataset.toml``)."""
    raw = {s: _raw(arrays[f"y_{s}"], f"npz: {path} y_{s}") for s in splits}
    text = {s: r.dtype.kind == "U" for s, r in raw.items()}
    for s in splits[1:]:
        if len(raw[s]) and text[s] != text["train"]:
            kind = {True: "strings", False: "integers"}
            raise ArchlabError(
                f"npz: {path} y_train holds {kind[text['train']]} but y_{s} "
                f"{kind[text[s]]}; give every split the same kind of label"
            )
    seen = np.unique(raw["train"])  # sorted: numbers by value, strings as Python sorts them
    for s in splits[1:]:
        unseen = np.setdiff1d(np.unique(raw[s]), seen)
        if unseen.size:
            raise ArchlabError(
                f"npz: {path} y_{s} has label(s) {_shown(unseen.tolist())} that never occur in "
                f"y_train ({unseen.size} class(es) it could never learn)"
            )
    if len(seen) < 2:
        raise ArchlabError(
            f"npz: {path} y_train holds one class ({_shown(seen.tolist())}); need at least 2"
        )
    meta_path = path.with_name(path.stem + "." + METADATA_NAME)
    listed = read_metadata(meta_path).get("classes")
    names: tuple[str, ...] | None
    if listed is not None and text["train"]:  # strings, in the order the file lists them
        names = tuple(str(n) for n in listed)
        stray = sorted(set(seen.tolist()) - set(names))
        if stray:
            raise ArchlabError(
                f"npz: {path} y_train has label(s) {_shown(stray)} that the classes of "
                f"{meta_path} do not name; name every class once, in label order"
            )
        vocabulary, named_from = np.array(names), METADATA_NAME
    elif listed is not None:  # integers index the file's names
        names, named_from = named_classes(meta_path, int(seen[-1]) + 1, None, "indices")
        vocabulary = np.arange(len(names or ()))
    elif text["train"] or not np.array_equal(seen, np.arange(len(seen))):
        vocabulary, named_from = seen, FROM_LABELS
        names = tuple(str(v) for v in seen.tolist())
    else:  # 0..K-1: the labels are the indices
        vocabulary, names, named_from = seen, None, "indices"
    _every_class_trained(path, seen, vocabulary, names)
    order = np.argsort(vocabulary, kind="stable")
    indices = {
        s: torch.from_numpy(order[np.searchsorted(vocabulary, r, sorter=order)].astype(np.int64))
        for s, r in raw.items()
    }
    return indices, names, named_from


def _every_class_trained(
    path: Path, seen: np.ndarray, vocabulary: np.ndarray, names: tuple[str, ...] | None
) -> None:
    """Refuse a named class without a training example: the model could never predict it."""
    trained = set(seen.tolist())
    untrained = [i for i, v in enumerate(vocabulary.tolist()) if v not in trained]
    if untrained:
        shown = [names[i] if names else str(i) for i in untrained]
        raise ArchlabError(
            f"npz: {path} y_train has no example of class(es) {_shown(shown)} "
            f"({len(untrained)} of {len(vocabulary)}); every class needs training images"
        )

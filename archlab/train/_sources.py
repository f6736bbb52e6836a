"""Loaders per dataset source, each returning train, test and (when given) val images.

Internal to :mod:`archlab.train.sources`, the registry that names each source and its loader;
:mod:`archlab.train.data` splits, checks and describes what these return.
Images are uint8 (N, 3, H, W): grayscale is repeated to RGB here, since the models take 3
channels; a source whose splits disagree in channels (grayscale train, colour test) is refused
rather than silently converted.

Whether horizontal flips keep labels: digits no (glyphs), CIFAR yes. A ``folder:`` or ``npz:``
data set says so in a small TOML file, ``ROOT/dataset.toml`` or ``NAME.dataset.toml`` beside
``NAME.npz``, holding ``flip = false`` (or true); an ``.npz`` may instead hold a 0-d bool
``flip`` array. Without either, flips are allowed (natural images). The same file may name the
classes, ``classes = ["cat", "dog"]`` in label order (for a folder, the class folders' sorted
order); a folder's classes are otherwise its class folders' names, an npz's its labels. An
export carries them (docs/data.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from archlab.errors import ArchlabError
from archlab.train._labels import npz_labels
from archlab.train._metadata import METADATA_NAME, named_classes, read_metadata
from archlab.train._unpickle import load_batch

# torchvision's ImageFolder's extensions (IMG_EXTENSIONS), matched case-blind as it does.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
DIGITS_TEST_FRACTION = 0.2
# The test split (digits' carve-out, a limited test subset) never depends on the run's seed.
TEST_SEED = 0
_CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_FILES: dict[str, tuple[tuple[str, ...], str, str, bytes, bytes, int]] = {
    # name: (train files, test file, meta file, label key, label-names key, classes)
    "cifar10": (_CIFAR10_TRAIN, "test_batch", "batches.meta", b"labels", b"label_names", 10),
    "cifar100": (("train",), "test", "meta", b"fine_labels", b"fine_label_names", 100),
}
# PIL modes without colour: they hold one channel before the repeat to RGB.
_GRAY_MODES = frozenset({"1", "L", "LA"})
# Modes of more than 8 bits a channel: PIL's convert("RGB") clips them to 255, which would turn
# a 16-bit image white without a word, so they are refused (docs/data.md).
_WIDE_MODES = ("I", "F")


@dataclass(frozen=True, eq=False)
class Source:
    """What a loader read: name, whether flips keep labels, train, test, classes, given val."""

    name: str
    flip: bool
    x_train: torch.Tensor  # (N, 3, H, W) uint8
    y_train: torch.Tensor  # (N,) int64
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    x_val: torch.Tensor | None = None  # a validation split of the source's own (val/, x_val)
    y_val: torch.Tensor | None = None
    class_names: tuple[str, ...] | None = None  # in label order; None: the labels' indices
    classes_from: str = "indices"  # where the names came from: folder, dataset.toml, indices


# x_train, y_train, x_test, y_test, num_classes
Loaded = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int]


def _existing(raw: str, kind: str, *, directory: bool) -> Path:
    path = Path(raw).expanduser()
    if not (path.is_dir() if directory else path.is_file()):
        raise ArchlabError(f"{kind} {'directory' if directory else 'file'} not found: {path}")
    return path


def _to_rgb(x: np.ndarray) -> torch.Tensor:
    """(N, H, W), (N, H, W, 1) or (N, H, W, 3) uint8 -> contiguous (N, 3, H, W) uint8."""
    t = torch.from_numpy(np.ascontiguousarray(x))
    t = t.unsqueeze(-1) if t.dim() == 3 else t
    return t.permute(0, 3, 1, 2).expand(-1, 3, -1, -1).contiguous()


def _labels(y: Any, where: str) -> torch.Tensor:
    arr = np.asarray(y)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ArchlabError(
            f"{where}: labels must be a 1-D integer array, got {arr.dtype} {arr.shape}"
        )
    if arr.size and arr.min() < 0:
        raise ArchlabError(f"{where}: labels must be >= 0, got {arr.min()}")
    return torch.from_numpy(arr.astype(np.int64))


def _load_digits() -> Loaded:
    from sklearn.datasets import load_digits  # ships with scikit-learn; nothing downloads

    digits = load_digits()
    x = _to_rgb(np.rint(digits.images * 255 / 16).astype(np.uint8))  # 0..16 -> 0..255
    y = torch.from_numpy(digits.target.astype(np.int64))
    # No official test split: carve a fixed one, the same for every seed.
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(TEST_SEED))
    n_test = round(DIGITS_TEST_FRACTION * len(y))
    test, train = order[:n_test].sort().values, order[n_test:].sort().values
    return x[train], y[train], x[test], y[test], 10


def _read_pickle(path: Path) -> Any:
    # CIFAR's python layout is pickled: read through the restricted unpickler, which admits
    # only plain data and numpy arrays, never a callable the file names (docs/trust.md).
    return load_batch(path)


def _cifar_batch(path: Path, label_key: bytes, n_cls: int) -> tuple[torch.Tensor, torch.Tensor]:
    batch = _read_pickle(path)
    if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
        raise ArchlabError(f"{path} is not a CIFAR batch: need b'data' and {label_key!r}")
    data = np.asarray(batch[b"data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ArchlabError(f"{path}: data must be uint8 (N, 3072), got {data.dtype} {data.shape}")
    y = _labels(batch[label_key], str(path))
    if len(y) != len(data):
        raise ArchlabError(f"{path}: {len(data)} images but {len(y)} labels")
    if len(y) and int(y.max()) >= n_cls:
        raise ArchlabError(f"{path}: label {int(y.max())} out of range, allowed 0..{n_cls - 1}")
    # Each row holds the R, then G, then B plane of a 32x32 image, row-major.
    return torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()), y


def _load_cifar(kind: str, root: Path) -> Loaded:
    train_files, test_file, meta_file, label_key, names_key, n_cls = _CIFAR_FILES[kind]
    for fname in (*train_files, test_file):
        if not (root / fname).is_file():
            raise ArchlabError(f"{kind}: missing {fname} in {root}")
    if (root / meta_file).is_file():  # optional: the class count comes from it when present
        meta = _read_pickle(root / meta_file)
        if not isinstance(meta, dict) or names_key not in meta:
            raise ArchlabError(f"{root / meta_file} is not CIFAR meta: no {names_key!r}")
        n_cls = len(meta[names_key])
    xs, ys = zip(*(_cifar_batch(root / f, label_key, n_cls) for f in train_files), strict=True)
    x_test, y_test = _cifar_batch(root / test_file, label_key, n_cls)
    return torch.cat(xs), torch.cat(ys), x_test, y_test, n_cls


def _load_folder(root: Path, flip: bool) -> Source:
    """train/ is training, val/ (optional) validation, test/ the test set; classes from train/."""
    train_dir = root / "train"
    if not train_dir.is_dir():
        raise ArchlabError(f"folder: {root} has no train/ directory")
    classes = sorted(p.name for p in train_dir.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise ArchlabError(f"folder: {train_dir} must hold at least 2 class folders, got {classes}")
    if not (root / "test").is_dir():
        raise ArchlabError(
            f"folder: {root} has no test/ directory; test error is measured on test/ "
            "(val/ is validation: rename it test/ to score on it)"
        )
    dirs = {"train": train_dir, "test": root / "test"}
    if (root / "val").is_dir():
        dirs["val"] = root / "val"
    read = {split: _read_split(d, classes, split) for split, d in dirs.items()}
    train = read["train"][0]
    for split in ("val", "test"):
        # Mixed kinds inside a split are tolerated (ImageNet's train set holds a few grayscale
        # JPEGs); splits with nothing in common are two different datasets.
        if split in read and not read["train"][1] & read[split][1]:
            raise ArchlabError(
                f"folder: {train_dir} holds {' and '.join(sorted(read['train'][1]))} images but "
                f"{dirs[split]} holds {' and '.join(sorted(read[split][1]))} images; give both "
                "splits the same channels"
            )
    empty = [c for i, c in enumerate(classes) if i not in {label for *_, label in train}]
    if empty:
        raise ArchlabError(f"folder: class folders without images in {train_dir}: {empty}")
    _check_one_size([item for items, _ in read.values() for item in items])
    x_val, y_val = _stack(read["val"][0]) if "val" in read else (None, None)
    name = f"folder:{root.name}"
    names, named_from = named_classes(root / METADATA_NAME, len(classes), classes, "folder")
    return Source(name, flip, *_stack(train), *_stack(read["test"][0]), len(classes), x_val,
                  y_val, names, named_from)  # fmt: skip


def _read_split(
    split_dir: Path, classes: Sequence[str], split: str
) -> tuple[list[tuple[Path, np.ndarray, int]], set[str]]:
    """The split's (path, RGB array, label) items and the kinds (grayscale, colour) it holds."""
    from PIL import Image

    unknown = sorted(p.name for p in split_dir.iterdir() if p.is_dir() and p.name not in classes)
    if unknown:
        raise ArchlabError(
            f"folder: the {split} split {split_dir} has class folders not in train/: {unknown}"
        )
    items, kinds = [], set()
    for label, cls in enumerate(classes):
        for path in sorted(_image_files(split_dir / cls, split_dir)):
            try:
                with Image.open(path) as img:
                    mode = img.mode
                    if not mode.startswith(_WIDE_MODES):
                        items.append((path, np.asarray(img.convert("RGB")), label))
            except Exception as exc:  # PIL raises several types for unreadable files
                raise ArchlabError(f"cannot read image {path}: {exc}") from None
            if mode.startswith(_WIDE_MODES):
                raise ArchlabError(
                    f"folder: {path} has more than 8 bits per channel (PIL mode {mode}); "
                    "archlab reads 8-bit images: save it as 8-bit grayscale or RGB"
                )
            kinds.add("grayscale" if mode in _GRAY_MODES else "colour")
    if not items:
        raise ArchlabError(f"folder: no images ({', '.join(IMAGE_SUFFIXES)}) under {split_dir}")
    return items, kinds


def _image_files(class_dir: Path, split_dir: Path) -> list[Path]:
    """The image files under a class folder, at any depth, through symlinked folders and files.

    As ImageFolder reads a tree (``os.walk(followlinks=True)``, docs/data.md "Image folders"),
    except that a link to a folder it sits in (an ancestor, up to the split folder, or one
    already on the way down) is refused naming the link: os.walk would go round until the
    system refuses the path (too many links), reading the same images again on each lap. A
    dangling link with an image suffix is refused too (ImageFolder would fail when it loads it).
    """
    found: list[Path] = []

    def walk(folder: Path, chain: tuple[Path, ...]) -> None:
        if folder.is_symlink():
            target = _resolved(folder)
            if any(target == up or target in up.parents for up in chain):
                raise ArchlabError(
                    f"folder: {folder} links back to {target}, a folder it sits in (a loop); "
                    "links inside class folders are followed, loops refused: remove the link"
                )
        chain = (*chain, _resolved(folder))
        try:
            entries = sorted(folder.iterdir())
        except OSError as exc:
            raise ArchlabError(f"folder: cannot list {folder}: {exc.strerror or exc}") from None
        for entry in entries:
            if entry.is_dir():  # a symlinked folder too
                walk(entry, chain)
            elif entry.suffix.lower() in IMAGE_SUFFIXES:
                if not entry.exists():
                    raise ArchlabError(f"folder: {entry} is a broken link (nothing at its target)")
                found.append(entry)

    walk(class_dir, (_resolved(split_dir),))
    return found


def _resolved(path: Path) -> Path:
    try:
        return path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a loop of links, before Python 3.13
        raise ArchlabError(f"folder: cannot follow {path}: {exc}") from None


def _check_one_size(items: list[tuple[Path, np.ndarray, int]]) -> None:
    """Refuse images of another size than the commonest, naming the first odd one out."""
    sizes = Counter(arr.shape[:2] for _, arr, _ in items)
    (h, w), count = sizes.most_common(1)[0]
    for path, arr, _ in items:
        if arr.shape[:2] != (h, w):
            raise ArchlabError(
                f"folder: {path} is {arr.shape[1]}x{arr.shape[0]} but {count} of the "
                f"{len(items)} images are {w}x{h}; all images must share one size "
                "(no resizing is done)"
            )


def _stack(items: list[tuple[Path, np.ndarray, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    x = _to_rgb(np.stack([arr for _, arr, _ in items]))
    return x, torch.tensor([label for *_, label in items], dtype=torch.int64)


def _channels(x: np.ndarray) -> int:
    """Channels of (N, H, W) (one) or (N, H, W, C) images."""
    return 1 if x.ndim == 3 else int(x.shape[3])


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz that archlab reads; a missing split or a bad file in one line."""
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in keys if k not in z.files]
            if missing:
                raise ArchlabError(f"npz: {path} lacks {missing}; needs {list(keys)}")
            arrays = {k: z[k] for k in (*keys, "x_val", "y_val", "flip") if k in z.files}
    except ArchlabError:
        raise
    except Exception as exc:  # not a zip, a pickled object array, a truncated member, ...
        raise ArchlabError(f"cannot read npz {path}: {type(exc).__name__}: {exc}") from None
    if ("x_val" in arrays) != ("y_val" in arrays):
        raise ArchlabError(f"npz: {path} has only one of x_val, y_val; give both or neither")
    return arrays


def _load_npz(path: Path) -> Source:
    arrays = _npz_arrays(path)
    splits = ("train", "val", "test") if "x_val" in arrays else ("train", "test")
    out: dict[str, torch.Tensor] = {}
    for split in splits:
        x = arrays[f"x_{split}"]
        if x.dtype != np.uint8 or not (x.ndim == 3 or (x.ndim == 4 and x.shape[3] in (1, 3))):
            raise ArchlabError(
                f"npz: {path} x_{split} must be uint8 (N, H, W) or (N, H, W, 1|3), "
                f"got {x.dtype} {x.shape}{_layout_hint(x)}"
            )
        y = arrays[f"y_{split}"]
        if len(y) != len(x) or len(x) == 0:
            raise ArchlabError(f"npz: {path} x_{split} has {len(x)} images, y_{split} {len(y)}")
        out[f"x_{split}"] = _to_rgb(x)
    for split in splits[1:]:
        train, other = _channels(arrays["x_train"]), _channels(arrays[f"x_{split}"])
        if train != other:
            raise ArchlabError(
                f"npz: {path} x_train has {train} channel(s) per image but x_{split} has "
                f"{other}; give both splits the same channels"
            )
        if out["x_train"].shape[2:] != out[f"x_{split}"].shape[2:]:
            raise ArchlabError(
                f"npz: {path} train images are {tuple(out['x_train'].shape[2:])}, "
                f"{split} images {tuple(out[f'x_{split}'].shape[2:])}"
            )
    # Integers 0..K-1 are class indices; other integers and strings are names (docs/data.md).
    labels, names, named_from = npz_labels(arrays, path, splits)
    out.update({f"y_{split}": y for split, y in labels.items()})
    n_cls = len(names) if names is not None else int(labels["train"].max()) + 1
    flip = _npz_flip(path, arrays.get("flip"))
    return Source(f"npz:{path.name}", flip, num_classes=n_cls, **out, class_names=names,
                  classes_from=named_from)  # fmt: skip


def _layout_hint(x: np.ndarray) -> str:
    """What to do about the commonest wrong forms: floats in 0..1, channels first."""
    hints = []
    if x.dtype.kind == "f":
        hints.append("floats: store (x * 255).round().astype(uint8) for images in 0..1")
    if x.ndim == 4 and x.shape[1] in (1, 3) and x.shape[3] not in (1, 3):
        hints.append("channels first: store x.transpose(0, 2, 3, 1)")
    return "; " + "; ".join(hints) if hints else ""


def _npz_flip(path: Path, array: np.ndarray | None) -> bool:
    """Whether flips keep labels: NAME.dataset.toml or the npz's ``flip`` array (default yes)."""
    meta_path = path.with_name(path.stem + "." + METADATA_NAME)
    meta = read_metadata(meta_path)
    if array is not None and (array.shape != () or array.dtype != np.bool_):
        raise ArchlabError(f"npz: {path} flip must be a 0-d bool array, got {array.shape}")
    if array is not None and "flip" in meta and bool(array) != meta["flip"]:
        raise ArchlabError(
            f"npz: {path} says flip={bool(array)} but {meta_path} says flip={meta['flip']}; "
            "keep one"
        )
    if "flip" in meta:
        return bool(meta["flip"])
    return True if array is None else bool(array)  # flips suit most natural images

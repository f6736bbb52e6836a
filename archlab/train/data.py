"""Datasets for short training runs, and the batching and augmentation the trainer uses.

Every source loads to the same in-memory form, :class:`DatasetSplits`: uint8 images
``(N, 3, H, W)`` (grayscale repeated to RGB, since the models take 3 channels) and int64 labels.
Augmentation and normalisation work on whatever device the tensors are on: on CUDA the whole
dataset lives on the GPU and each batch is cropped and flipped there (airbench's pattern).

Split policy: the test split is fixed by the source, never by ``seed``, so every run of a study
is scored on the same images; the validation split is always held out from train with a
generator seeded by ``seed``, so model selection never sees the test set.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from archlab.errors import ArchlabError

SOURCE_FORMS = "digits, cifar10:PATH, cifar100:PATH, folder:PATH, npz:PATH"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
DIGITS_TEST_FRACTION = 0.2
# The test split (digits' carve-out, a limited test subset) never depends on the run's seed.
_TEST_SEED = 0
_CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_FILES: dict[str, tuple[tuple[str, ...], str, str, bytes, bytes, int]] = {
    # name: (train files, test file, meta file, label key, label-names key, classes)
    "cifar10": (_CIFAR10_TRAIN, "test_batch", "batches.meta", b"labels", b"label_names", 10),
    "cifar100": (("train",), "test", "meta", b"fine_labels", b"fine_label_names", 100),
}


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

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary: name, classes, image size and split sizes."""
        return {
            "name": self.name,
            "num_classes": self.num_classes,
            "image_size": self.image_size,
            "n_train": len(self.y_train),
            "n_val": len(self.y_val),
            "n_test": len(self.y_test),
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
    source: str, *, val_fraction: float = 0.1, seed: int = 0, limit: int | None = None
) -> DatasetSplits:
    """Load ``digits``, ``cifar10:PATH``, ``cifar100:PATH``, ``folder:PATH`` or ``npz:PATH``.

    ``val_fraction`` (in (0, 0.5]) of the training pool is held out as validation by a generator
    seeded with ``seed``. ``limit`` caps train + val together (the first ``limit`` examples of
    that seeded shuffle) and caps test at ``limit`` (a fixed, seed-independent subset).
    """
    number = isinstance(val_fraction, int | float) and not isinstance(val_fraction, bool)
    if not (number and 0 < val_fraction <= 0.5):
        raise ArchlabError(f"val_fraction must be a number in (0, 0.5], got {val_fraction!r}")
    if limit is not None:
        _check_int("limit", limit, 2)
    kind, _, rest = source.partition(":")
    if source == "digits":
        name, flip, (xtr, ytr, xte, yte, n_cls) = "digits", False, _load_digits()
    elif kind in _CIFAR_FILES and rest:
        name, flip = kind, True
        xtr, ytr, xte, yte, n_cls = _load_cifar(kind, _existing(rest, kind, directory=True))
    elif kind == "folder" and rest:
        path = _existing(rest, kind, directory=True)
        name, flip = f"folder:{path.name}", True
        xtr, ytr, xte, yte, n_cls = _load_folder(path)
    elif kind == "npz" and rest:
        path = _existing(rest, kind, directory=False)
        name = f"npz:{path.name}"
        xtr, ytr, xte, yte, n_cls, flip = _load_npz(path)
    else:
        raise ArchlabError(f"unknown dataset source {source!r}; valid forms: {SOURCE_FORMS}")

    pool = torch.randperm(len(ytr), generator=torch.Generator().manual_seed(seed))
    if limit is not None:
        pool = pool[:limit]
        if len(yte) > limit:
            fixed = torch.Generator().manual_seed(_TEST_SEED)
            keep = torch.randperm(len(yte), generator=fixed)[:limit].sort().values
            xte, yte = xte[keep], yte[keep]
    n_val = max(1, round(val_fraction * len(pool)))
    if len(pool) - n_val < 1:
        raise ArchlabError(
            f"{name}: {len(pool)} training examples leave none for training "
            f"after holding out val_fraction={val_fraction}"
        )
    val_idx, train_idx = pool[:n_val].sort().values, pool[n_val:].sort().values
    x_train = xtr[train_idx]
    mean, std = channel_stats(x_train)  # training split only: val and test stay unseen
    return DatasetSplits(
        name=name,
        x_train=x_train,
        y_train=ytr[train_idx],
        x_val=xtr[val_idx],
        y_val=ytr[val_idx],
        x_test=xte,
        y_test=yte,
        num_classes=n_cls,
        mean=(mean[0], mean[1], mean[2]),
        std=(std[0], std[1], std[2]),
        flip=flip,
    )


# x_train, y_train, x_test, y_test, num_classes
Loaded = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int]


def _check_int(field: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ArchlabError(f"{field} must be an integer >= {low}, got {value!r}")


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
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(_TEST_SEED))
    n_test = round(DIGITS_TEST_FRACTION * len(y))
    test, train = order[:n_test].sort().values, order[n_test:].sort().values
    return x[train], y[train], x[test], y[test], 10


def _read_pickle(path: Path) -> Any:
    # CIFAR's python layout is pickled; pickle runs code, so load only files you trust.
    try:
        with path.open("rb") as f:
            return pickle.load(f, encoding="bytes")
    except Exception as exc:  # any unpickling failure means a corrupt or foreign file
        raise ArchlabError(f"cannot read {path}: {type(exc).__name__}: {exc}") from None


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


def _load_folder(root: Path) -> Loaded:
    train_dir = root / "train"
    if not train_dir.is_dir():
        raise ArchlabError(f"folder: {root} has no train/ directory")
    classes = sorted(p.name for p in train_dir.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise ArchlabError(f"folder: {train_dir} must hold at least 2 class folders, got {classes}")
    # The official val set serves as test when there is no test/ (ImageNet practice).
    test_dir = root / "test" if (root / "test").is_dir() else root / "val"
    if not test_dir.is_dir():
        raise ArchlabError(f"folder: {root} needs a test/ or val/ directory")
    train, test = _read_split(train_dir, classes), _read_split(test_dir, classes)
    empty = [c for i, c in enumerate(classes) if i not in {label for *_, label in train}]
    if empty:
        raise ArchlabError(f"folder: class folders without images in {train_dir}: {empty}")
    first_path, (h, w, _) = train[0][0], train[0][1].shape
    for path, arr, _ in (*train, *test):
        if arr.shape[:2] != (h, w):
            raise ArchlabError(
                f"folder: {path} is {arr.shape[1]}x{arr.shape[0]} but {first_path} is {w}x{h}; "
                "all images must share one size (no resizing is done)"
            )
    return (*_stack(train), *_stack(test), len(classes))


def _read_split(split_dir: Path, classes: Sequence[str]) -> list[tuple[Path, np.ndarray, int]]:
    from PIL import Image

    unknown = sorted(p.name for p in split_dir.iterdir() if p.is_dir() and p.name not in classes)
    if unknown:
        raise ArchlabError(f"folder: {split_dir} has classes not in train/: {unknown}")
    items = []
    for label, cls in enumerate(classes):
        files = (split_dir / cls).glob("*")
        for path in sorted(p for p in files if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES):
            try:
                with Image.open(path) as img:
                    items.append((path, np.asarray(img.convert("RGB")), label))
            except Exception as exc:  # PIL raises several types for unreadable files
                raise ArchlabError(f"cannot read image {path}: {exc}") from None
    if not items:
        raise ArchlabError(f"folder: no .png/.jpg/.jpeg images under {split_dir}")
    return items


def _stack(items: list[tuple[Path, np.ndarray, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    x = _to_rgb(np.stack([arr for _, arr, _ in items]))
    return x, torch.tensor([label for *_, label in items], dtype=torch.int64)


def _load_npz(
    path: Path,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int, bool]:
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in keys if k not in z.files]
            if missing:
                raise ArchlabError(f"npz: {path} lacks {missing}; needs {list(keys)}")
            arrays = {k: z[k] for k in (*keys, "flip") if k in z.files}
    except ArchlabError:
        raise
    except Exception as exc:  # not a zip, a pickled object array, a truncated member, ...
        raise ArchlabError(f"cannot read npz {path}: {type(exc).__name__}: {exc}") from None
    out: list[torch.Tensor] = []
    for split in ("train", "test"):
        x = arrays[f"x_{split}"]
        if x.dtype != np.uint8 or not (x.ndim == 3 or (x.ndim == 4 and x.shape[3] in (1, 3))):
            raise ArchlabError(
                f"npz: {path} x_{split} must be uint8 (N, H, W) or (N, H, W, 1|3), "
                f"got {x.dtype} {x.shape}"
            )
        y = _labels(arrays[f"y_{split}"], f"npz: {path} y_{split}")
        if len(y) != len(x) or len(x) == 0:
            raise ArchlabError(f"npz: {path} x_{split} has {len(x)} images, y_{split} {len(y)}")
        out += [_to_rgb(x), y]
    if out[0].shape[2:] != out[2].shape[2:]:
        raise ArchlabError(
            f"npz: {path} train images are {tuple(out[0].shape[2:])}, "
            f"test images {tuple(out[2].shape[2:])}"
        )
    n_cls = int(max(out[1].max(), out[3].max())) + 1  # labels span both splits
    flip = arrays.get("flip", np.array(True))  # optional: flips suit most natural images
    if flip.shape != () or flip.dtype != np.bool_:
        raise ArchlabError(f"npz: {path} flip must be a 0-d bool array, got {flip.shape}")
    return out[0], out[1], out[2], out[3], n_cls, bool(flip)


# --------------------------------------------------------------------------- batches


def default_pad(image_size: int) -> int:
    """Crop padding for an image size: 4 for 32x32 (paper Sec. 5.3), 1 for 8x8."""
    _check_int("image_size", image_size, 1)
    return image_size // 8


def normalize(
    x_uint8: torch.Tensor,
    mean: Sequence[float],
    std: Sequence[float],
    *,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """``(x / 255 - mean) / std`` per channel of (N, C, H, W) uint8, on x's device."""
    if x_uint8.dtype != torch.uint8 or x_uint8.dim() != 4:
        raise ArchlabError(
            f"normalize needs uint8 (N, C, H, W), got {x_uint8.dtype} {tuple(x_uint8.shape)}"
        )
    if len(mean) != x_uint8.shape[1] or len(std) != x_uint8.shape[1] or min(std) <= 0:
        raise ArchlabError(f"mean/std need {x_uint8.shape[1]} entries, std > 0; got {mean}, {std}")
    m = torch.tensor(mean, dtype=torch.float32, device=x_uint8.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=x_uint8.device).view(1, -1, 1, 1)
    # float32 arithmetic, one rounding to a low-precision dtype at the end.
    return ((x_uint8.float() / 255 - m) / s).to(dtype)


def augment(
    x_uint8: torch.Tensor, *, pad: int, flip: bool, generator: torch.Generator
) -> torch.Tensor:
    """Random crop from the zero-padded batch, then a random horizontal flip if ``flip``.

    Sec. 5.3's CIFAR recipe is ``pad=4``: 32x32 crops of a 40x40 zero-padded image. Row
    offsets, column offsets and flip coins are drawn on ``generator``'s device, then moved.
    """
    if x_uint8.dim() != 4:
        raise ArchlabError(f"augment needs (N, C, H, W) images, got shape {tuple(x_uint8.shape)}")
    _check_int("pad", pad, 0)
    n, _, h, w = x_uint8.shape
    gen_dev, dev, out = generator.device, x_uint8.device, x_uint8
    if pad:
        padded = torch.nn.functional.pad(x_uint8, (pad, pad, pad, pad))  # zeros
        dy, dx = torch.randint(0, 2 * pad + 1, (2, n), generator=generator, device=gen_dev).to(dev)
        rows = (dy[:, None] + torch.arange(h, device=dev))[:, :, None]  # (N, H, 1)
        cols = (dx[:, None] + torch.arange(w, device=dev))[:, None, :]  # (N, 1, W)
        idx = torch.arange(n, device=dev)[:, None, None]
        # Advanced indices split by a slice put the broadcast dims first: (N, H, W, C).
        out = padded[idx, :, rows, cols].permute(0, 3, 1, 2).contiguous()
    if flip:
        coin = (torch.rand(n, generator=generator, device=gen_dev) < 0.5).to(dev)
        out = torch.where(coin[:, None, None, None], out.flip(3), out)
    return out


def iterate_batches(
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None,
    drop_last: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(x, y)`` batches, in a permutation drawn from ``generator`` when shuffling.

    With ``shuffle`` and no generator, torch's global RNG is used (not reproducible).
    """
    _check_int("batch_size", batch_size, 1)
    if len(x) != len(y):
        raise ArchlabError(f"x has {len(x)} examples but y has {len(y)}")
    n = len(x)
    order = None
    if shuffle:
        dev = generator.device if generator is not None else torch.device("cpu")
        order = torch.randperm(n, generator=generator, device=dev).to(x.device)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        if order is None:
            yield x[start : start + batch_size], y[start : start + batch_size]
        else:
            idx = order[start : start + batch_size]
            yield x[idx], y[idx.to(y.device)]

"""Tests for archlab.train.data: every source format from tiny fake files, splits, augmentation."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.datasets import (
    _cifar_rows,
    _dump,
    _png,
    make_cifar10,
    make_cifar100,
    make_folder,
    make_npz,
)
from PIL import Image

from archlab.errors import ArchlabError
from archlab.train.data import (
    DatasetSplits,
    augment,
    channel_stats,
    default_pad,
    iterate_batches,
    load_dataset,
    normalize,
)


def _multiset(x: torch.Tensor, y: torch.Tensor) -> Counter[bytes]:
    return Counter(xi.numpy().tobytes() + bytes([int(yi)]) for xi, yi in zip(x, y, strict=True))


def _check_form(ds: DatasetSplits) -> None:
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val), (ds.x_test, ds.y_test)):
        assert x.dtype == torch.uint8 and x.dim() == 4 and x.shape[1] == 3
        assert y.dtype == torch.int64 and y.shape == (len(x),)
        assert int(y.min()) >= 0 and int(y.max()) < ds.num_classes


# --------------------------------------------------------------------------- digits


@pytest.fixture(scope="module")
def digits() -> DatasetSplits:
    return load_dataset("digits")


def test_digits_shapes_and_counts(digits: DatasetSplits) -> None:
    _check_form(digits)
    d = digits.describe()
    assert d["n_train"] + d["n_val"] + d["n_test"] == 1797
    assert d["n_test"] == round(0.2 * 1797)
    assert d["n_val"] == round(0.1 * (1797 - d["n_test"]))
    assert (digits.num_classes, digits.image_size, digits.flip) == (10, 8, False)
    assert digits.name == "digits" and d["name"] == "digits"
    assert int(digits.x_train.max()) == 255  # 16 scaled to 255
    # Grayscale repeated to three identical channels.
    assert torch.equal(digits.x_train[:, 0], digits.x_train[:, 2])


def test_digits_splits_partition_the_dataset(digits: DatasetSplits) -> None:
    from sklearn.datasets import load_digits

    raw = load_digits()
    x = torch.from_numpy(np.rint(raw.images * 255 / 16).astype(np.uint8))[:, None].repeat(
        1, 3, 1, 1
    )
    together = (
        _multiset(digits.x_train, digits.y_train)
        + _multiset(digits.x_val, digits.y_val)
        + _multiset(digits.x_test, digits.y_test)
    )
    assert together == _multiset(x, torch.from_numpy(raw.target))


def test_digits_split_seeded(digits: DatasetSplits) -> None:
    again = load_dataset("digits", seed=0)
    other = load_dataset("digits", seed=1)
    assert torch.equal(again.x_val, digits.x_val) and torch.equal(again.y_train, digits.y_train)
    assert not torch.equal(other.x_val, digits.x_val)
    # The test set is fixed by the source, so runs with different seeds score the same images.
    assert torch.equal(other.x_test, digits.x_test)
    train, val = _multiset(other.x_train, other.y_train), _multiset(other.x_val, other.y_val)
    assert sum((train + val).values()) == sum(
        (_multiset(digits.x_train, digits.y_train) + _multiset(digits.x_val, digits.y_val)).values()
    )


def test_limit_caps_train_val_and_test() -> None:
    ds = load_dataset("digits", limit=50, val_fraction=0.2)
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (40, 10, 50)
    again = load_dataset("digits", limit=50, val_fraction=0.2, seed=5)
    assert torch.equal(again.x_test, ds.x_test)


def test_mean_std_from_train_split_only(digits: DatasetSplits) -> None:
    x = digits.x_train.double() / 255
    assert digits.mean == pytest.approx(x.mean(dim=(0, 2, 3)).tolist(), abs=1e-9)
    assert digits.std == pytest.approx(x.std(dim=(0, 2, 3), correction=0).tolist(), abs=1e-9)


# --------------------------------------------------------------------------- cifar


def test_cifar10_layout(tmp_path: Path) -> None:
    rows = make_cifar10(tmp_path / "c10")
    ds = load_dataset(f"cifar10:{tmp_path / 'c10'}", val_fraction=0.25)
    _check_form(ds)
    assert (ds.name, ds.num_classes, ds.image_size, ds.flip) == ("cifar10", 10, 32, True)
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (15, 5, 5)
    # R plane first: the marked pixel is channel 0, row 1, column 2.
    img = ds.x_test[0]
    assert int(img[0, 1, 2]) == 200 and int(img[0, 0, 0]) == 10
    assert int(img[1, 1, 2]) == 20 and int(img[2, 31, 31]) == 30
    assert torch.equal(ds.x_test, torch.from_numpy(rows["test_batch"]).view(-1, 3, 32, 32))
    assert ds.y_test.tolist() == [0, 1, 2, 3, 4]
    every = np.concatenate([rows[f"data_batch_{i}"] for i in range(1, 6)])
    labels = torch.tensor([(i + j - 1) % 10 for i in range(1, 6) for j in range(4)])
    got = _multiset(ds.x_train, ds.y_train) + _multiset(ds.x_val, ds.y_val)
    assert got == _multiset(torch.from_numpy(every).view(-1, 3, 32, 32), labels)


@pytest.mark.parametrize("meta", [True, False])
def test_cifar100_layout(tmp_path: Path, meta: bool) -> None:
    make_cifar100(tmp_path, meta=meta)
    ds = load_dataset(f"cifar100:{tmp_path}")
    _check_form(ds)
    assert (ds.name, ds.num_classes) == ("cifar100", 100)
    assert (len(ds.y_train) + len(ds.y_val), len(ds.y_test)) == (12, 3)
    assert ds.y_test.tolist() == [99, 0, 50]  # fine labels, not coarse


# --------------------------------------------------------------------------- folder


def test_folder_layout(tmp_path: Path) -> None:
    make_folder(tmp_path / "imgs")
    ds = load_dataset(f"folder:{tmp_path / 'imgs'}")
    _check_form(ds)
    assert (ds.name, ds.num_classes, ds.image_size, ds.flip) == ("folder:imgs", 3, 6, True)
    assert (len(ds.y_train), len(ds.y_val)) == (12, 3)  # the .txt file is ignored
    # train/ is all training, val/ the validation split, test/ the test split; classes sorted.
    assert ds.y_val.tolist() == ds.y_test.tolist() == [0, 1, 2]
    assert bool((ds.x_val == 7).all()) and bool((ds.x_test == 9).all())
    assert ds.describe()["validation"] == "given by the source"
    first_ant = np.array(Image.open(tmp_path / "imgs" / "train" / "ant" / "0.png"))
    want = torch.from_numpy(first_ant).permute(2, 0, 1)
    assert any(torch.equal(img, want) for img in ds.x_train)


def test_folder_without_test_dir_is_refused(tmp_path: Path) -> None:
    make_folder(tmp_path, test=False)
    with pytest.raises(ArchlabError) as info:
        load_dataset(f"folder:{tmp_path}")
    assert str(info.value) == (
        f"folder: {tmp_path} has no test/ directory; test error is measured on test/ "
        "(val/ is validation: rename it test/ to score on it)"
    )


def test_folder_mismatched_sizes(tmp_path: Path) -> None:
    make_folder(tmp_path)
    _png(tmp_path / "train" / "ant" / "a.png", np.zeros((8, 8, 3), np.uint8))  # sorts first
    with pytest.raises(ArchlabError, match=r"a\.png is 8x8 but 18 of the 19 images are 6x6; all"):
        load_dataset(f"folder:{tmp_path}")


def test_folder_reads_as_imagefolder_does(tmp_path: Path) -> None:
    make_folder(tmp_path)  # 4 train images a class, and ant/notes.txt that is no image
    _png(tmp_path / "train" / "ant" / "more" / "deep.png", np.zeros((6, 6, 3), np.uint8))
    Image.fromarray(np.zeros((6, 6, 3), np.uint8)).save(tmp_path / "train" / "cat" / "b.BMP")
    Image.fromarray(np.zeros((6, 6), np.uint8)).save(tmp_path / "train" / "dog" / "g.TIFF")
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.y_train.bincount().tolist() == [5, 5, 5]  # nested, .BMP, .TIFF (grey) all read
    (tmp_path / "train" / "dog" / "g.TIFF").unlink()
    wide = Image.fromarray(np.full((6, 6), 4000, np.uint16))  # 16-bit: convert() would clip
    wide.save(tmp_path / "train" / "dog" / "w.png")
    with pytest.raises(ArchlabError, match=r"w\.png has more than 8 bits per channel \(PIL mode I"):
        load_dataset(f"folder:{tmp_path}")


def _imagefolder_counts(split: Path) -> list[int]:
    """Images per class as ImageFolder counts them: os.walk(followlinks=True), its suffixes."""
    suffixes = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
    classes = sorted(p.name for p in split.iterdir() if p.is_dir())
    return [
        sum(f.lower().endswith(suffixes) for _, _, files in os.walk(split / c, followlinks=True)
            for f in files)
        for c in classes
    ]  # fmt: skip


def test_folder_follows_symlinked_folders_and_files(tmp_path: Path) -> None:
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    make_folder(data)  # 4 train images in each of ant, cat, dog
    for i in range(2):  # a folder of ant images kept outside the tree, linked in
        _png(elsewhere / "ants" / f"x{i}.png", np.full((6, 6, 3), 50 + i, np.uint8))
    (data / "train" / "ant" / "linked").symlink_to(elsewhere / "ants", target_is_directory=True)
    _png(elsewhere / "one.png", np.full((6, 6, 3), 60, np.uint8))  # one cat image, a file link
    (data / "train" / "cat" / "l.png").symlink_to(elsewhere / "one.png")
    (data / "train" / "dog").rename(elsewhere / "dogs")  # a whole class folder as a link
    (data / "train" / "dog").symlink_to(elsewhere / "dogs", target_is_directory=True)
    ds = load_dataset(f"folder:{data}")
    assert ds.y_train.bincount().tolist() == [6, 5, 4] == _imagefolder_counts(data / "train")
    for value, label in ((50, 0), (51, 0), (60, 1)):
        assert any(bool((x == value).all()) for x in ds.x_train[ds.y_train == label]), value


@pytest.mark.parametrize(
    "link",
    [
        lambda d: (d / "train" / "ant" / "up", d / "train"),  # the split folder, ant inside it
        lambda d: (d / "train" / "ant" / "a" / "self", d / "train" / "ant" / "a"),  # itself
        lambda d: (d / "train" / "ant" / "root", d),
        lambda d: (d / "train" / "zebra", d),  # a class folder that is a link to the data set
    ],
)
def test_a_link_back_to_a_folder_it_sits_in_is_refused_naming_it(tmp_path: Path, link) -> None:
    """os.walk(followlinks=True), as ImageFolder walks, goes round until too many links."""
    make_folder(tmp_path)
    path, target = link(tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target, target_is_directory=True)
    with pytest.raises(ArchlabError) as info:
        load_dataset(f"folder:{tmp_path}")
    assert str(info.value).startswith(f"folder: {path} links back to {target.resolve()}, ")
    assert "(a loop)" in str(info.value)


def test_two_links_into_each_other_are_a_loop_and_a_dangling_one_is_named(tmp_path: Path) -> None:
    make_folder(tmp_path / "d")
    (tmp_path / "other").mkdir()
    (tmp_path / "d" / "train" / "ant" / "to_other").symlink_to(tmp_path / "other")
    (tmp_path / "other" / "back").symlink_to(tmp_path / "d" / "train" / "ant")
    with pytest.raises(ArchlabError, match=r"ant/to_other/back links back to .* \(a loop\)"):
        load_dataset(f"folder:{tmp_path / 'd'}")
    (tmp_path / "other" / "back").unlink()  # a link to a folder beside the tree: followed
    _png(tmp_path / "other" / "o.png", np.zeros((6, 6, 3), np.uint8))
    assert load_dataset(f"folder:{tmp_path / 'd'}").y_train.bincount().tolist() == [5, 4, 4]
    (tmp_path / "d" / "train" / "cat" / "gone.png").symlink_to(tmp_path / "nothing.png")
    with pytest.raises(ArchlabError, match=r"cat/gone\.png is a broken link"):
        load_dataset(f"folder:{tmp_path / 'd'}")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: (p / "train" / "only").mkdir(parents=True), "at least 2 class"),
        (lambda p: p.mkdir(parents=True, exist_ok=True), "no train/"),
        (lambda p: [(p / "train" / c).mkdir(parents=True) for c in "ab"], "no test/ directory"),
    ],
)
def test_folder_bad_layouts(tmp_path: Path, setup, message: str) -> None:
    setup(tmp_path / "d")
    with pytest.raises(ArchlabError, match=message):
        load_dataset(f"folder:{tmp_path / 'd'}")


def test_folder_empty_class_and_bad_image(tmp_path: Path) -> None:
    make_folder(tmp_path)
    (tmp_path / "test" / "zebra").mkdir()
    with pytest.raises(ArchlabError, match=r"the test split .* not in train/: \[.zebra.\]"):
        load_dataset(f"folder:{tmp_path}")
    (tmp_path / "test" / "zebra").rmdir()
    (tmp_path / "train" / "cat" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ArchlabError, match=r"cannot read image .*broken\.jpg"):
        load_dataset(f"folder:{tmp_path}")


def test_folder_split_without_images(tmp_path: Path) -> None:
    for split, cls in (("train", "a"), ("train", "b"), ("test", "a")):
        (tmp_path / split / cls).mkdir(parents=True)
    with pytest.raises(ArchlabError, match=r"no images \(\.jpg, \.jpeg, \.png, .*\) under"):
        load_dataset(f"folder:{tmp_path}")


# --------------------------------------------------------------------------- npz


def test_npz_rgb_round_trip(tmp_path: Path) -> None:
    path = make_npz(
        tmp_path / "foo.npz", y_train=np.arange(20) % 5, y_test=np.array([0, 1, 2, 3, 4, 0])
    )
    ds = load_dataset(f"npz:{path}")
    _check_form(ds)
    assert (ds.name, ds.num_classes, ds.image_size, ds.flip) == ("npz:foo.npz", 5, 4, True)
    raw = np.load(path)["x_test"]
    assert int(ds.x_test[2, 1, 3, 0]) == int(raw[2, 3, 0, 1])  # (N,H,W,C) -> (N,C,H,W)
    assert torch.equal(ds.x_test, torch.from_numpy(raw).permute(0, 3, 1, 2))


@pytest.mark.parametrize("shape", [(20, 5, 5), (20, 5, 5, 1)])
def test_npz_grayscale_to_rgb(tmp_path: Path, shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(4).integers(0, 256, shape, np.uint8)
    path = make_npz(tmp_path / "g.npz", x_train=x, x_test=x[:6], flip=np.array(False))
    ds = load_dataset(f"npz:{path}")
    assert ds.x_train.shape[1:] == (3, 5, 5) and not ds.flip
    assert torch.equal(ds.x_test[:, 0], torch.from_numpy(x[:6].reshape(6, 5, 5)))
    assert torch.equal(ds.x_test[:, 0], ds.x_test[:, 1])


def test_npz_mean_std_ignore_test(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    x_train = rng.integers(0, 100, (20, 4, 4, 3), np.uint8)
    x_train[..., 2] = rng.integers(0, 10, (20, 4, 4), np.uint8)  # a distinct blue channel
    path = make_npz(
        tmp_path / "s.npz", x_train=x_train, x_test=np.full((6, 4, 4, 3), 255, np.uint8)
    )
    ds = load_dataset(f"npz:{path}")
    x = ds.x_train.double() / 255
    assert ds.mean == pytest.approx(x.mean(dim=(0, 2, 3)).tolist(), abs=1e-9)
    assert ds.std == pytest.approx(x.std(dim=(0, 2, 3), correction=0).tolist(), abs=1e-9)
    assert max(ds.mean) < 100 / 255 and ds.mean[2] < 10 / 255
    # Unlike statistics of all the data, which the all-white test set would pull up.
    everything = torch.cat([ds.x_train, ds.x_val, ds.x_test])
    assert channel_stats(everything)[0][0] > ds.mean[0] + 0.1


def test_non_square_images(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    x = rng.integers(0, 256, (20, 4, 6, 3), np.uint8)
    ds = load_dataset(f"npz:{make_npz(tmp_path / 'r.npz', x_train=x, x_test=x[:6])}")
    with pytest.raises(ArchlabError, match="square, got 4x6"):
        _ = ds.image_size


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x_train": np.zeros((20, 4, 4, 3), np.float32)}, "x_train must be uint8"),
        ({"x_train": np.zeros((20, 3, 4, 4), np.float32)}, r"0\.\.1; channels first: store x"),
        ({"x_test": np.zeros((6, 4, 4, 2), np.uint8)}, r"x_test must be uint8 \(N, H, W\)"),
        ({"y_train": np.arange(19)}, "x_train has 20 images, y_train 19"),
        ({"y_test": np.array([0, 1, -1, 0, 1, 0])}, "labels must be >= 0"),
        ({"y_test": np.zeros(6, np.float32)}, "1-D array of integers or strings, got float32"),
        ({"x_test": np.zeros((6, 5, 5, 3), np.uint8)}, r"train images are \(4, 4\)"),
        (
            {"y_train": np.zeros(20, int), "y_test": np.zeros(6, int)},
            r"y_train holds one class \(0\); need at least 2",
        ),
        ({"flip": np.array([True, False])}, "flip must be a 0-d bool"),
    ],
)
def test_npz_bad_arrays(tmp_path: Path, arrays: dict[str, np.ndarray], message: str) -> None:
    path = make_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ArchlabError, match=message):
        load_dataset(f"npz:{path}")


def test_npz_missing_key_and_corrupt(tmp_path: Path) -> None:
    np.savez(tmp_path / "m.npz", x_train=np.zeros((2, 4, 4), np.uint8), y_train=np.arange(2))
    with pytest.raises(ArchlabError, match=r"lacks \['x_test', 'y_test'\]"):
        load_dataset(f"npz:{tmp_path / 'm.npz'}")
    (tmp_path / "c.npz").write_bytes(b"garbage")
    with pytest.raises(ArchlabError, match=r"cannot read npz .*c\.npz: \w+"):
        load_dataset(f"npz:{tmp_path / 'c.npz'}")
    np.savez(tmp_path / "o.npz", x_train=np.array([object()]), y_train=[0], x_test=[0], y_test=[0])
    with pytest.raises(ArchlabError, match="cannot read npz"):
        load_dataset(f"npz:{tmp_path / 'o.npz'}")


# --------------------------------------------------------------------------- bad sources


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("mnist", "unknown dataset source 'mnist'; valid forms: digits, cifar10:PATH"),
        ("imagenet:/x", "unknown dataset source"),
        ("npz:", "dataset source 'npz:' needs a path: write npz:PATH \\(valid forms: digits, "),
        ("digits:x", "dataset source 'digits:x' takes no path: write digits \\(valid"),
        ("cifar10:/no/such/dir", "cifar10 directory not found: /no/such/dir"),
        ("folder:/no/such/dir", "folder directory not found"),
        ("npz:/no/such.npz", "npz file not found: /no/such.npz"),
    ],
)
def test_bad_source(source: str, message: str) -> None:
    with pytest.raises(ArchlabError, match=message):
        load_dataset(source)


@pytest.mark.parametrize("fraction", [0, 0.9, -0.1, float("nan"), True])
def test_bad_val_fraction(fraction: float) -> None:
    with pytest.raises(ArchlabError, match=r"val_fraction must be .*\(0, 0\.5\]"):
        load_dataset("digits", val_fraction=fraction)


@pytest.mark.parametrize("limit", [0, 1, -3, 2.5])
def test_bad_limit(limit: int) -> None:
    with pytest.raises(ArchlabError, match="limit must be an integer >= 2, got"):
        load_dataset("digits", limit=limit)


def test_cifar_missing_and_corrupt_files(tmp_path: Path) -> None:
    make_cifar10(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(ArchlabError, match="cifar10: missing data_batch_3 in"):
        load_dataset(f"cifar10:{tmp_path}")
    (tmp_path / "data_batch_3").write_bytes(b"\x80\x04garbage that is not a pickle")
    with pytest.raises(ArchlabError, match=r"cannot read .*data_batch_3: \w+"):
        load_dataset(f"cifar10:{tmp_path}")
    _dump(tmp_path / "data_batch_3", [1, 2, 3])
    with pytest.raises(ArchlabError, match="data_batch_3 is not a CIFAR batch"):
        load_dataset(f"cifar10:{tmp_path}")
    _dump(tmp_path / "data_batch_3", {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]})
    with pytest.raises(ArchlabError, match=r"data must be uint8 \(N, 3072\)"):
        load_dataset(f"cifar10:{tmp_path}")
    _dump(tmp_path / "data_batch_3", {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 12]})
    with pytest.raises(ArchlabError, match=r"data_batch_3: label 12 out of range, allowed 0\.\.9"):
        load_dataset(f"cifar10:{tmp_path}")


def test_cifar100_needs_its_own_files(tmp_path: Path) -> None:
    make_cifar10(tmp_path)  # a CIFAR-10 directory is not a CIFAR-100 one
    with pytest.raises(ArchlabError, match="cifar100: missing train in"):
        load_dataset(f"cifar100:{tmp_path}")


# --------------------------------------------------------------------------- splits object


def test_splits_to_and_validation(digits: DatasetSplits) -> None:
    moved = digits.to("cpu")
    assert moved.describe() == digits.describe() and moved.mean == digits.mean
    assert moved.x_test.device.type == "cpu"
    with pytest.raises(ArchlabError, match="x_val must be uint8 \\(N, 3, H, W\\)"):
        import dataclasses

        dataclasses.replace(digits, x_val=digits.x_val.float())


# --------------------------------------------------------------------------- augmentation


def _images(n: int = 16, c: int = 3, h: int = 5, w: int = 5) -> torch.Tensor:
    # Values 1..250 everywhere, so a zero can only come from the padding.
    return (torch.arange(n * c * h * w) % 250 + 1).to(torch.uint8).view(n, c, h, w)


def test_default_pad() -> None:
    assert (default_pad(32), default_pad(8), default_pad(224)) == (4, 1, 28)
    with pytest.raises(ArchlabError, match="image_size must be an integer >= 1, got 0"):
        default_pad(0)


def test_augment_identity_and_shape() -> None:
    x = _images()
    g = torch.Generator().manual_seed(0)
    assert torch.equal(augment(x, pad=0, flip=False, generator=g), x)
    out = augment(x, pad=2, flip=True, generator=g)
    assert out.shape == x.shape and out.dtype == torch.uint8


def test_augment_reproducible() -> None:
    x = _images(64)
    a = augment(x, pad=2, flip=True, generator=torch.Generator().manual_seed(7))
    b = augment(x, pad=2, flip=True, generator=torch.Generator().manual_seed(7))
    c = augment(x, pad=2, flip=True, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_augment_crop_is_window_of_padded() -> None:
    x, pad = _images(32), 1
    out = augment(x, pad=pad, flip=False, generator=torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(x, (pad,) * 4)
    offsets = []
    for img, src in zip(out, padded, strict=True):
        hits = [
            (dy, dx)
            for dy in range(2 * pad + 1)
            for dx in range(2 * pad + 1)
            if torch.equal(img, src[:, dy : dy + 5, dx : dx + 5])
        ]
        assert len(hits) == 1
        offsets.append(hits[0])
    assert len(set(offsets)) > 1 and any(o != (pad, pad) for o in offsets)


def test_augment_flip_flips_some() -> None:
    x = _images(64)
    out = augment(x, pad=0, flip=True, generator=torch.Generator().manual_seed(0))
    flipped = [torch.equal(o, i.flip(2)) for o, i in zip(out, x, strict=True)]
    same = [torch.equal(o, i) for o, i in zip(out, x, strict=True)]
    assert all(f != s for f, s in zip(flipped, same, strict=True))
    assert 10 < sum(flipped) < 54


def test_augment_bad_args() -> None:
    g = torch.Generator()
    with pytest.raises(ArchlabError, match="pad must be an integer >= 0, got -1"):
        augment(_images(), pad=-1, flip=False, generator=g)
    with pytest.raises(ArchlabError, match=r"\(N, C, H, W\)"):
        augment(_images()[0], pad=1, flip=False, generator=g)


def test_normalize() -> None:
    x = _images(4)
    mean, std = (0.1, 0.5, 0.9), (0.2, 0.3, 0.4)
    out = normalize(x, mean, std)
    want = (x.double() / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(
        1, 3, 1, 1
    )
    assert out.dtype == torch.float32 and out.shape == x.shape
    assert torch.allclose(out.double(), want, atol=1e-6)
    assert normalize(x, mean, std, dtype=torch.bfloat16).dtype == torch.bfloat16
    with pytest.raises(ArchlabError, match="std > 0"):
        normalize(x, mean, (0.2, 0.0, 0.4))
    with pytest.raises(ArchlabError, match="uint8"):
        normalize(x.float(), mean, std)


# --------------------------------------------------------------------------- batching


@pytest.mark.parametrize("shuffle", [True, False])
def test_iterate_batches_covers_each_once(shuffle: bool) -> None:
    x, y = torch.arange(23).view(23, 1), torch.arange(23)
    g = torch.Generator().manual_seed(0)
    batches = list(iterate_batches(x, y, 5, shuffle=shuffle, generator=g))
    assert [len(b[1]) for b in batches] == [5, 5, 5, 5, 3]
    seen = torch.cat([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(23))
    assert all(torch.equal(bx.view(-1), by) for bx, by in batches)  # x and y stay paired
    assert (seen.tolist() == list(range(23))) is not shuffle


def test_iterate_batches_seeded_and_drop_last() -> None:
    x, y = torch.arange(23).view(23, 1), torch.arange(23)

    def order(seed: int) -> list[int]:
        g = torch.Generator().manual_seed(seed)
        return torch.cat(
            [b for _, b in iterate_batches(x, y, 5, shuffle=True, generator=g)]
        ).tolist()

    assert order(1) == order(1) != order(2)
    g = torch.Generator().manual_seed(0)
    kept = list(iterate_batches(x, y, 5, shuffle=True, generator=g, drop_last=True))
    assert [len(b) for _, b in kept] == [5, 5, 5, 5]
    assert len(set(torch.cat([b for _, b in kept]).tolist())) == 20
    with pytest.raises(ArchlabError, match="batch_size must be an integer >= 1, got 0"):
        next(iterate_batches(x, y, 0, shuffle=False, generator=None))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensors_with_cpu_generator() -> None:
    x = _images(64).cuda()
    g = torch.Generator().manual_seed(3)
    out = augment(x, pad=2, flip=True, generator=g)
    assert out.device == x.device
    cpu = augment(x.cpu(), pad=2, flip=True, generator=torch.Generator().manual_seed(3))
    assert torch.equal(out.cpu(), cpu)
    assert normalize(x, (0.5,) * 3, (0.2,) * 3).device == x.device
    y = torch.arange(64, device="cuda")
    batches = iterate_batches(x, y, 10, shuffle=True, generator=g)
    assert sorted(torch.cat([b for _, b in batches]).tolist()) == list(range(64))


# --------------------------------------------------------------------------- data faults
# Data that trains without error but gives wrong results (issue 12, class 3): one line each.


def test_npz_test_labels_never_seen_in_training(tmp_path: Path) -> None:
    path = make_npz(tmp_path / "t.npz", y_test=np.array([0, 1, 2, 7, 7, 9]))  # train: 0..2
    with pytest.raises(ArchlabError) as info:
        load_dataset(f"npz:{path}")
    message = str(info.value)
    assert message.startswith(f"npz: {path} y_test has label(s) 7, 9 that never occur in y_train")
    assert "\n" not in message


def test_folder_test_class_without_train_images_is_refused(tmp_path: Path) -> None:
    make_folder(tmp_path)  # the per-class empty check covers folders: a class needs train images
    for img in (tmp_path / "train" / "cat").glob("*.png"):
        img.unlink()
    with pytest.raises(ArchlabError, match=r"class folders without images .*\['cat'\]"):
        load_dataset(f"folder:{tmp_path}")


def test_cifar_test_label_missing_from_training(tmp_path: Path) -> None:
    make_cifar100(tmp_path)
    _dump(tmp_path / "test", {b"data": _cifar_rows(np.random.default_rng(9), 2),
                              b"fine_labels": [0, 98]})  # fmt: skip
    with pytest.raises(ArchlabError, match=r"cifar100: the test split has label\(s\) 98 "):
        load_dataset(f"cifar100:{tmp_path}")


def test_a_huge_label_is_a_class_name_not_a_giant_classifier(tmp_path: Path) -> None:
    y_train = np.arange(20) % 3
    y_train[5] = 1_000_000_000  # labels other than 0..K-1 name the classes, in sorted order
    ds = load_dataset(f"npz:{make_npz(tmp_path / 'h.npz', y_train=y_train)}", val_fraction=0.1)
    assert (ds.num_classes, ds.classes_from) == (4, "labels")
    assert ds.classes == ["0", "1", "2", "1000000000"]


def test_as_many_classes_as_images_cannot_spare_validation(tmp_path: Path) -> None:
    path = make_npz(tmp_path / "e.npz", y_train=np.arange(20))
    with pytest.raises(ArchlabError) as info:  # any held-out image leaves a class untrained
        load_dataset(f"npz:{path}", val_fraction=0.1)
    assert str(info.value) == (
        "npz:e.npz: 20 training examples of 20 classes cannot spare 2 for validation "
        "(val_fraction=0.1) and keep a training example of every class; give more images or a "
        "validation split of its own (val/, x_val)"
    )
    with pytest.raises(ArchlabError, match="cannot spare"):  # a limit that cuts nothing
        load_dataset(f"npz:{path}", val_fraction=0.1, limit=20)
    # A --limit pool that lacks classes already is a quick try: it takes the plain draw.
    ds = load_dataset(f"npz:{path}", val_fraction=0.1, limit=10)
    assert (ds.num_classes, len(ds.y_train), len(ds.y_val)) == (20, 9, 1)


@pytest.mark.parametrize(
    ("x_train", "x_test", "message"),
    [
        ((20, 4, 4, 3), (6, 4, 4), "x_train has 3 channel(s) per image but x_test has 1"),
        ((20, 4, 4), (6, 4, 4, 3), "x_train has 1 channel(s) per image but x_test has 3"),
        ((20, 4, 4, 1), (6, 4, 4, 3), "x_train has 1 channel(s) per image but x_test has 3"),
    ],
)
def test_npz_splits_with_different_channels(
    tmp_path: Path, x_train: tuple[int, ...], x_test: tuple[int, ...], message: str
) -> None:
    rng = np.random.default_rng(10)
    path = make_npz(
        tmp_path / "c.npz",
        x_train=rng.integers(0, 256, x_train, np.uint8),
        x_test=rng.integers(0, 256, x_test, np.uint8),
    )
    with pytest.raises(ArchlabError) as info:
        load_dataset(f"npz:{path}")
    assert message in str(info.value)


def test_folder_splits_with_different_channels(tmp_path: Path) -> None:
    make_folder(tmp_path)
    for cls in ("dog", "ant", "cat"):  # a grayscale val/ beside colour train/
        _png(tmp_path / "val" / cls / "v.PNG", np.full((6, 6), 7, np.uint8))
    with pytest.raises(ArchlabError) as info:
        load_dataset(f"folder:{tmp_path}")
    assert str(info.value) == (
        f"folder: {tmp_path / 'train'} holds colour images but {tmp_path / 'val'} holds "
        "grayscale images; give both splits the same channels"
    )


def test_folder_with_a_few_grayscale_images_among_colour_loads(tmp_path: Path) -> None:
    make_folder(tmp_path)
    _png(tmp_path / "train" / "dog" / "gray.png", np.full((6, 6), 3, np.uint8))
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.num_classes == 3 and len(ds.y_train) == 13


def test_npz_splits_with_different_image_sizes(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    path = make_npz(tmp_path / "s.npz", x_test=rng.integers(0, 256, (6, 8, 8, 3), np.uint8))
    with pytest.raises(ArchlabError, match=r"train images are \(4, 4\), test images \(8, 8\)"):
        load_dataset(f"npz:{path}")

"""Split rules per source (val/ is validation, test/ is the test set) and the flip metadata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.datasets import _png, make_folder, make_npz

from archlab.errors import ArchlabError
from archlab.train.data import load_dataset, split_for_seed


def _raises_one_line(source: str, match: str, **kw: object) -> str:
    with pytest.raises(ArchlabError, match=match) as info:
        load_dataset(source, **kw)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- folder splits


def test_folder_without_val_holds_validation_out_of_train(tmp_path: Path) -> None:
    make_folder(tmp_path)
    import shutil

    shutil.rmtree(tmp_path / "val")
    a = load_dataset(f"folder:{tmp_path}", val_fraction=0.25, seed=0)
    b = load_dataset(f"folder:{tmp_path}", val_fraction=0.25, seed=1)
    assert (len(a.y_train), len(a.y_val), len(a.y_test)) == (9, 3, 3)
    assert a.describe()["validation"] == "held out from train"
    # The held-out images come from train/ (none is a val/ or test/ constant image), by seed.
    assert not any(bool((img == 7).all() or (img == 9).all()) for img in a.x_val)
    assert not torch.equal(a.x_val, b.x_val) and torch.equal(a.x_test, b.x_test)


def test_folder_val_is_the_validation_split_whatever_the_seed(tmp_path: Path) -> None:
    make_folder(tmp_path)
    _png(tmp_path / "val" / "cat" / "gray.png", np.full((6, 6), 42, np.uint8))  # mode L
    a, b = (load_dataset(f"folder:{tmp_path}", seed=s) for s in (0, 5))
    assert (len(a.y_train), len(a.y_val), len(a.y_test)) == (12, 4, 3)
    assert sorted(a.y_val.tolist()) == [0, 1, 1, 2]  # ant, cat (two), dog
    assert any(bool((img == 42).all()) for img in a.x_val)  # grayscale became RGB
    assert torch.equal(a.x_val, b.x_val) and torch.equal(a.x_train, b.x_train)


@pytest.mark.parametrize("split", ["val", "test"])
def test_a_class_missing_from_train_is_refused_naming_the_split(tmp_path: Path, split: str) -> None:
    make_folder(tmp_path)
    _png(tmp_path / split / "zebra" / "z.png", np.zeros((6, 6, 3), np.uint8))
    message = _raises_one_line(f"folder:{tmp_path}", "class folders not in train/")
    assert message == (
        f"folder: the {split} split {tmp_path / split} has class folders not in train/: ['zebra']"
    )


def test_a_given_val_split_refuses_another_val_fraction(tmp_path: Path) -> None:
    make_folder(tmp_path)
    message = _raises_one_line(f"folder:{tmp_path}", "does not apply", val_fraction=0.2)
    assert "val_fraction=0.2" in message and "leave val_fraction at 0.1" in message


def test_limit_with_a_given_val_split(tmp_path: Path) -> None:
    make_folder(tmp_path)
    for cls in ("ant", "cat", "dog"):  # 4 val images per class, distinct values
        for i in range(3):
            _png(tmp_path / "val" / cls / f"w{i}.png", np.full((6, 6, 3), 20 + i, np.uint8))
    a, b = (load_dataset(f"folder:{tmp_path}", limit=5, seed=s) for s in (0, 1))
    assert (len(a.y_train), len(a.y_val), len(a.y_test)) == (5, 5, 3)
    assert not torch.equal(a.x_train, b.x_train)  # train: a seeded subset
    assert torch.equal(a.x_val, b.x_val) and torch.equal(a.x_test, b.x_test)  # fixed subsets


def test_val_split_channels_and_size_are_checked(tmp_path: Path) -> None:
    make_folder(tmp_path)
    _png(tmp_path / "val" / "ant" / "big.png", np.zeros((8, 8, 3), np.uint8))
    _raises_one_line(f"folder:{tmp_path}", r"big\.png is 8x8 .* share one size")


# --------------------------------------------------------------------------- npz val split


def test_npz_val_arrays_are_the_validation_split(tmp_path: Path) -> None:
    x_val = np.full((5, 4, 4, 3), 77, np.uint8)
    path = make_npz(tmp_path / "v.npz", x_val=x_val, y_val=np.array([0, 1, 2, 0, 1]))
    ds = load_dataset(f"npz:{path}")
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (20, 5, 6)
    assert bool((ds.x_val == 77).all()) and ds.y_val.tolist() == [0, 1, 2, 0, 1]
    assert ds.describe()["validation"] == "given by the source"


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x_val": np.zeros((2, 4, 4, 3), np.uint8)}, "only one of x_val, y_val"),
        ({"y_val": np.array([0, 1])}, "only one of x_val, y_val"),
        (
            {"x_val": np.zeros((2, 4, 4, 3), np.uint8), "y_val": np.array([0, 7])},
            r"y_val has label\(s\) 7 that never occur in y_train",
        ),
        (
            {"x_val": np.zeros((2, 4, 4), np.uint8), "y_val": np.array([0, 1])},
            r"x_train has 3 channel\(s\) per image but x_val has 1",
        ),
        (
            {"x_val": np.zeros((2, 5, 5, 3), np.uint8), "y_val": np.array([0, 1])},
            r"train images are \(4, 4\), val images \(5, 5\)",
        ),
        ({"x_val": np.zeros((2, 4, 4, 3), np.uint8), "y_val": np.array([0])}, "x_val has 2"),
    ],
)
def test_npz_bad_val_arrays(tmp_path: Path, arrays: dict[str, np.ndarray], message: str) -> None:
    _raises_one_line(f"npz:{make_npz(tmp_path / 'b.npz', **arrays)}", message)


# --------------------------------------------------------------------------- flip metadata


def test_folder_metadata_says_whether_flips_keep_labels(tmp_path: Path) -> None:
    make_folder(tmp_path)
    assert load_dataset(f"folder:{tmp_path}").flip  # no metadata: natural images
    (tmp_path / "dataset.toml").write_text("# glyphs\nflip = false\n")
    assert not load_dataset(f"folder:{tmp_path}").flip
    (tmp_path / "dataset.toml").write_text("flip = true\n")
    assert load_dataset(f"folder:{tmp_path}").flip


def test_npz_metadata_file_and_flip_array(tmp_path: Path) -> None:
    path = make_npz(tmp_path / "glyphs.npz")
    meta = tmp_path / "glyphs.dataset.toml"
    meta.write_text("flip = false\n")
    assert not load_dataset(f"npz:{path}").flip
    make_npz(path, flip=np.array(False))  # both, agreeing
    assert not load_dataset(f"npz:{path}").flip
    make_npz(path, flip=np.array(True))
    message = _raises_one_line(f"npz:{path}", "keep one")
    assert message == f"npz: {path} says flip=True but {meta} says flip=False; keep one"
    meta.unlink()
    assert load_dataset(f"npz:{path}").flip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("flip = ", r"dataset\.toml cannot be read: "),
        ("flips = false\n", r"unknown key 'flips'; valid: flip, classes$"),
        ('flip = "no"\n', r"flip must be true or false, got 'no'$"),
        (b"\xff\xfe", "cannot be read"),
    ],
)
def test_malformed_metadata_is_refused_in_one_line(
    tmp_path: Path, text: str | bytes, message: str
) -> None:
    make_folder(tmp_path)
    meta = tmp_path / "dataset.toml"
    meta.write_bytes(text if isinstance(text, bytes) else text.encode())
    got = _raises_one_line(f"folder:{tmp_path}", message)
    assert got.startswith(f"data set metadata {meta}")


def test_a_per_seed_split_is_drawn_from_the_seed_alone() -> None:
    from archlab.train.config import TrainConfig
    from archlab.train.data import load_dataset, split_for_seed
    from archlab.train.tasks import run_data

    data = load_dataset("digits", limit=300)
    a, again, b = split_for_seed(data, 1), split_for_seed(data, 1), split_for_seed(data, 2)
    assert torch.equal(a.x_val, again.x_val) and torch.equal(a.y_train, again.y_train)
    assert not torch.equal(a.x_val, b.x_val)  # another seed, another split
    assert len(a.y_val) == len(data.y_val) and len(a.y_train) == len(data.y_train)
    pooled = torch.cat([data.x_train, data.x_val]).flatten(1)
    for drawn in (a, b):  # the same images, split anew; test and normalisation untouched
        mine = torch.cat([drawn.x_train, drawn.x_val]).flatten(1)
        assert torch.equal(mine.unique(dim=0), pooled.unique(dim=0))
        assert torch.equal(drawn.x_test, data.x_test) and drawn.mean == data.mean
    # What a run trains on: its seed's split with per-seed, the loaded one with fixed.
    per_seed = run_data(TrainConfig(split="per-seed", limit=300), 2, data)
    assert torch.equal(per_seed.x_val, b.x_val)
    assert run_data(TrainConfig(limit=300), 2, data) is data
    with pytest.raises(ArchlabError, match=r"split must be one of fixed \| per-seed, got 'x'"):
        TrainConfig(split="x")


def test_a_given_validation_split_is_never_redrawn(tmp_path: Path) -> None:
    from archlab.train.data import split_for_seed

    make_folder(tmp_path)
    data = load_dataset(f"folder:{tmp_path}")
    assert split_for_seed(data, 5) is data


# --------------------------------------------------------------------------- every class trains


def test_a_class_of_one_image_is_never_held_out_of_training(tmp_path: Path) -> None:
    y = np.array([0, 1] * 9 + [2, 1])  # class 2: one image, that a random draw may hold out
    path = make_npz(tmp_path / "t.npz", y_train=y, y_test=np.array([0, 1, 2, 0, 1, 2]))
    moved = 0
    for seed in (0, 1, 13):  # seed 13's plain draw holds it out
        plain = torch.randperm(20, generator=torch.Generator().manual_seed(seed))[:2]
        moved += int(2 in y[plain.numpy()])  # where the plain draw would have held it out
        ds = load_dataset(f"npz:{path}", seed=seed)
        assert 2 in ds.y_train.tolist() and len(ds.y_val) == 2
        for run_seed in range(4):
            drawn = split_for_seed(ds, run_seed)
            assert 2 in drawn.y_train.tolist() and len(drawn.y_val) == 2
    assert moved  # the rule did change some draw
    # A draw that keeps every class anyway is the plain one: ordinary data splits as before.
    ds = load_dataset(f"npz:{make_npz(tmp_path / 'p.npz')}", seed=3)
    plain = torch.randperm(20, generator=torch.Generator().manual_seed(3))[:2].sort().values
    assert torch.equal(ds.x_val, torch.from_numpy(np.load(tmp_path / "p.npz")["x_train"])[
        plain].permute(0, 3, 1, 2))  # fmt: skip

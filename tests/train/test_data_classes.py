"""What a data set says about itself for an export: class names and grey-to-three channels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from archlab.errors import ArchlabError
from archlab.train.data import load_dataset


def _folder(root: Path, *, grey: bool) -> Path:
    rng = np.random.default_rng(0)
    for cls in ("n02", "n01"):  # written out of order: labels follow the sorted names
        for split, count in (("train", 4), ("test", 1)):
            for i in range(count):
                shape = (6, 6) if grey else (6, 6, 3)
                path = root / split / cls / f"{i}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(rng.integers(0, 256, shape, np.uint8)).save(path)
    return root


def test_folder_classes_are_its_class_folders(tmp_path: Path) -> None:
    ds = load_dataset(f"folder:{_folder(tmp_path / 'd', grey=False)}")
    assert (ds.classes, ds.classes_from, ds.grey) == (["n01", "n02"], "folder", False)


def test_dataset_toml_names_the_classes_in_label_order(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d", grey=True)
    (root / "dataset.toml").write_text('classes = ["tench", "goldfish"]\n')
    ds = load_dataset(f"folder:{root}")
    assert (ds.classes, ds.classes_from, ds.grey) == (["tench", "goldfish"], "dataset.toml", True)


@pytest.mark.parametrize(
    ("text", "words"),
    [('classes = ["a"]\n', "names 1 classes but the data set has 2"),
     ('classes = ["a", "a"]\n', "distinct non-empty names"),
     ("classes = 3\n", "distinct non-empty names")],
)  # fmt: skip
def test_bad_class_names_are_refused(tmp_path: Path, text: str, words: str) -> None:
    root = _folder(tmp_path / "d", grey=False)
    (root / "dataset.toml").write_text(text)
    with pytest.raises(ArchlabError, match=words):
        load_dataset(f"folder:{root}")


def test_npz_classes_are_indices_or_its_dataset_toml(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    path = tmp_path / "d.npz"
    np.savez(path, x_train=rng.integers(0, 256, (12, 4, 4), np.uint8), y_train=np.arange(12) % 3,
             x_test=rng.integers(0, 256, (3, 4, 4), np.uint8), y_test=np.arange(3))  # fmt: skip
    ds = load_dataset(f"npz:{path}")
    assert (ds.classes, ds.classes_from, ds.grey) == (["0", "1", "2"], "indices", True)
    (tmp_path / "d.dataset.toml").write_text('classes = ["x", "y", "z"]\n')
    ds = load_dataset(f"npz:{path}")
    assert (ds.classes, ds.classes_from) == (["x", "y", "z"], "dataset.toml")


def test_digits_are_grey_with_index_names() -> None:
    ds = load_dataset("digits", limit=20)
    assert (ds.classes, ds.classes_from, ds.grey) == ([str(i) for i in range(10)], "indices", True)

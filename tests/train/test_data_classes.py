"""What a data set says about itself for an export: class names and grey-to-three channels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
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


# --------------------------------------------------------------------------- npz label kinds


def _labelled_npz(path: Path, y_train: np.ndarray, y_test: np.ndarray) -> Path:
    """An npz whose every image is filled with its own label's position in y_train's order."""
    codes = {v: i for i, v in enumerate(sorted(set(y_train.tolist())))}

    def images(y: np.ndarray) -> np.ndarray:
        return np.stack([np.full((4, 4), 10 * codes[v], np.uint8) for v in y.tolist()])

    np.savez(path, x_train=images(y_train), y_train=y_train, x_test=images(y_test), y_test=y_test)
    return path


@pytest.mark.parametrize(
    ("train", "names"),
    [
        (np.array(["dog", "cat", "emu"] * 4), ["cat", "dog", "emu"]),  # strings, sorted
        (np.array([42, 3, 7] * 4), ["3", "7", "42"]),  # ids with gaps: 3 classes, not 43
        (np.array([b"dog", b"cat"] * 6), ["cat", "dog"]),  # bytes read as text
    ],
)
def test_npz_labels_that_are_not_0_to_k_are_class_names(
    tmp_path: Path, train: np.ndarray, names: list[str]
) -> None:
    ds = load_dataset(f"npz:{_labelled_npz(tmp_path / 'l.npz', train, train[:3])}")
    assert (ds.classes, ds.classes_from, ds.num_classes) == (names, "labels", len(names))
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val), (ds.x_test, ds.y_test)):
        # Every split maps a name to the same index: the one its images were filled with.
        assert torch.equal(x[:, 0, 0, 0].long(), 10 * y)


def test_a_dataset_toml_orders_string_labels(tmp_path: Path) -> None:
    path = _labelled_npz(tmp_path / "o.npz", np.array(["b", "a"] * 6), np.array(["a", "b"]))
    (tmp_path / "o.dataset.toml").write_text('classes = ["b", "a"]\n')
    ds = load_dataset(f"npz:{path}")
    assert (ds.classes, ds.classes_from) == (["b", "a"], "dataset.toml")
    assert torch.equal(ds.y_test, torch.tensor([1, 0]))  # "a" is label 1 now
    (tmp_path / "o.dataset.toml").write_text('classes = ["b", "c"]\n')
    with pytest.raises(ArchlabError, match=r"y_train has label\(s\) a that the classes of .*"):
        load_dataset(f"npz:{path}")
    (tmp_path / "o.dataset.toml").write_text('classes = ["b", "a", "c"]\n')
    with pytest.raises(ArchlabError, match=r"no example of class\(es\) c \(1 of 3\); every"):
        load_dataset(f"npz:{path}")


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"y_test": np.array(["0", "1"])}, "y_train holds integers but y_test strings; give"),
        ({"y_test": np.array([0, 5])}, r"y_test has label\(s\) 5 that never occur in y_train"),
        ({"y_train": np.array(["a", ""] * 6)}, "y_train: a label is an empty string"),
        ({"y_train": np.array([True, False] * 6)}, "integers or strings, got bool"),
    ],
)
def test_npz_label_mistakes_name_the_array(
    tmp_path: Path, arrays: dict[str, np.ndarray], message: str
) -> None:
    base = {"x_train": np.zeros((12, 4, 4), np.uint8), "y_train": np.arange(12) % 2,
            "x_test": np.zeros((2, 4, 4), np.uint8), "y_test": np.array([0, 1])}  # fmt: skip
    np.savez(tmp_path / "m.npz", **{**base, **arrays})
    with pytest.raises(ArchlabError, match=message) as info:
        load_dataset(f"npz:{tmp_path / 'm.npz'}")
    assert str(info.value).startswith(f"npz: {tmp_path / 'm.npz'} y_")


def test_integer_labels_named_by_dataset_toml_need_training_images(tmp_path: Path) -> None:
    path = _labelled_npz(tmp_path / "g.npz", np.array([0, 2] * 6), np.array([0, 2]))
    (tmp_path / "g.dataset.toml").write_text('classes = ["x", "y", "z"]\n')  # y: no image
    with pytest.raises(ArchlabError, match=r"no example of class\(es\) y \(1 of 3\)"):
        load_dataset(f"npz:{path}")


def test_the_summary_says_what_the_classes_are_before_training(tmp_path: Path) -> None:
    y = np.array([42, 3, 7, 7, 3, 42] * 3 + [7, 99])  # 99: one image
    ds = load_dataset(f"npz:{_labelled_npz(tmp_path / 's.npz', y, y[:4])}")
    assert ds.summary() == (
        "data: npz:s.npz, 4 classes (3, 7, 42, 99) named by the labels, sorted; 4x4 grey; "
        "18 train (fewest: 99, 1) / 2 val / 4 test images"
    )

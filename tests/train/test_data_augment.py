"""The augmentation switch: values, resolution per data set, what the loop does, what is stored."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers.datasets import make_cifar10, make_folder, make_npz
from helpers.training import train_specs

from archlab.errors import ArchlabError
from archlab.space import make_spec, with_overrides
from archlab.train import loop
from archlab.train.config import TrainConfig
from archlab.train.data import (
    DatasetSplits,
    augment,
    augment_parts,
    load_dataset,
    normalize_augment,
    resolve_augment,
)
from archlab.train.loop import train_run
from archlab.train.progress import NullReporter

Cli = Any


@pytest.fixture(scope="module")
def digits() -> DatasetSplits:
    return load_dataset("digits", limit=64)


# --------------------------------------------------------------------------- the values


@pytest.mark.parametrize(
    ("given", "written"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("crop", "crop"),
        ("flip", "flip"),
        ("crop,flip", "crop,flip"),
        ("flip,crop", "crop,flip"),
        (" flip , crop ", "crop,flip"),
        (" crop", "crop"),
    ],
)
def test_values_are_written_one_way(given: str, written: str) -> None:
    assert normalize_augment(given) == written
    assert TrainConfig(augment=given).augment == written
    assert TrainConfig(augment=given).key() == TrainConfig(augment=written).key()


@pytest.mark.parametrize("bad", ["", "rotate", "crop,crop", "crop,none", "auto,flip", True, None])
def test_other_values_are_refused_naming_the_field_and_choices(bad: object) -> None:
    with pytest.raises(ArchlabError) as info:
        TrainConfig(augment=bad)  # type: ignore[arg-type]
    assert str(info.value) == (
        f"augment must be one of auto | crop,flip | crop | flip | none (parts in any order), "
        f"got {bad!r}"
    )


def test_resolution_and_parts() -> None:
    assert resolve_augment("auto", flip_ok=True) == "crop,flip"
    assert resolve_augment("auto", flip_ok=False) == "crop"
    # An explicit choice is the user's word, whatever the data set says.
    assert resolve_augment("flip,crop", flip_ok=False) == "crop,flip"
    assert resolve_augment("none", flip_ok=True) == "none"
    assert [augment_parts(v) for v in ("crop,flip", "crop", "flip", "none")] == [
        (True, True), (True, False), (False, True), (False, False)
    ]  # fmt: skip
    with pytest.raises(ArchlabError, match="must be resolved"):
        augment_parts("auto")


# --------------------------------------------------------------------------- auto per source


def test_auto_resolves_per_source(tmp_path: Path, digits: DatasetSplits) -> None:
    make_cifar10(tmp_path / "c10")
    make_folder(tmp_path / "f")
    make_folder(tmp_path / "glyphs")
    (tmp_path / "glyphs" / "dataset.toml").write_text("flip = false\n")
    npz = make_npz(tmp_path / "n.npz")
    npz_no = make_npz(tmp_path / "m.npz")
    (tmp_path / "m.dataset.toml").write_text("flip = false\n")
    resolved = {
        source: TrainConfig().for_data(load_dataset(source)).augment
        for source in (
            f"cifar10:{tmp_path / 'c10'}",
            f"folder:{tmp_path / 'f'}",
            f"folder:{tmp_path / 'glyphs'}",
            f"npz:{npz}",
            f"npz:{npz_no}",
        )
    }
    assert list(resolved.values()) == ["crop,flip", "crop,flip", "crop", "crop,flip", "crop"]
    assert TrainConfig().for_data(digits).augment == "crop"
    assert TrainConfig(augment="none").for_data(digits).augment == "none"


# --------------------------------------------------------------------------- the batches


def _images(n: int = 64) -> torch.Tensor:
    # Values 1..250 everywhere, so a zero can only come from the padding.
    return (torch.arange(n * 3 * 5 * 5) % 250 + 1).to(torch.uint8).view(n, 3, 5, 5)


def _apply(value: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch as the loop augments it under ``value`` (pad 1), with a seeded generator."""
    x = _images()
    crop, flip = augment_parts(value)
    out = x
    if crop or flip:
        out = augment(
            x, pad=1 if crop else 0, flip=flip, generator=torch.Generator().manual_seed(0)
        )
    return x, out


def _windows(img: torch.Tensor, src: torch.Tensor) -> set[tuple[int, int, bool]]:
    """Which (dy, dx, mirrored) windows of the zero-padded source the image is."""
    padded = torch.nn.functional.pad(src, (1, 1, 1, 1))
    return {
        (dy, dx, mirrored)
        for dy in range(3)
        for dx in range(3)
        for mirrored in (False, True)
        if torch.equal(img, (padded.flip(2) if mirrored else padded)[:, dy : dy + 5, dx : dx + 5])
    }


def test_none_leaves_batches_unchanged() -> None:
    x, out = _apply("none")
    assert torch.equal(out, x)


def test_crop_shifts_and_never_mirrors() -> None:
    x, out = _apply("crop")
    hits = [_windows(o, i) for o, i in zip(out, x, strict=True)]
    assert all(len(h) == 1 and not next(iter(h))[2] for h in hits)
    assert sum((1, 1, False) not in h for h in hits) > 20  # most images moved
    assert bool((out == 0).any())  # the padding shows


def test_flip_mirrors_some_and_never_shifts() -> None:
    x, out = _apply("flip")
    mirrored = [torch.equal(o, i.flip(2)) for o, i in zip(out, x, strict=True)]
    unchanged = [torch.equal(o, i) for o, i in zip(out, x, strict=True)]
    assert all(m != u for m, u in zip(mirrored, unchanged, strict=True))
    assert 10 < sum(mirrored) < 54 and not bool((out == 0).any())


def test_crop_and_flip_do_both() -> None:
    x, out = _apply("crop,flip")
    hits = [_windows(o, i) for o, i in zip(out, x, strict=True)]
    assert all(len(h) == 1 for h in hits)
    assert 10 < sum(next(iter(h))[2] for h in hits) < 54
    assert sum(next(iter(h))[:2] != (1, 1) for h in hits) > 20


@pytest.mark.parametrize(
    ("value", "calls"),
    [
        ("auto", (1, False)),  # digits: crops, no flips
        ("crop,flip", (1, True)),
        ("crop", (1, False)),
        ("flip", (0, True)),
        ("none", None),
    ],
)
def test_the_loop_applies_the_resolved_switch(
    digits: DatasetSplits,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    value: str,
    calls: tuple[int, bool] | None,
) -> None:
    seen: list[tuple[int, bool]] = []

    def recording(x: torch.Tensor, *, pad: int, flip: bool, generator: torch.Generator) -> Any:
        seen.append((pad, flip))
        return augment(x, pad=pad, flip=flip, generator=generator)

    monkeypatch.setattr(loop, "augment", recording)
    spec = with_overrides(make_spec("cifar", 11, 1, 16, width_multiplier=0.125),
                          num_classes=10, input_size=8)  # fmt: skip
    config = TrainConfig(epochs=1, batch_size=32, augment=value, amp=False)
    outcome = train_run(spec, digits, config, seed=0, device=torch.device("cpu"),
                        run_dir=tmp_path, on_epoch=lambda m: None)  # fmt: skip
    assert outcome.status == "finished"
    assert seen == ([] if calls is None else [calls] * 2)  # 2 batches of 32 (limit 64: 58)


# --------------------------------------------------------------------------- what is stored


def _stored_configs(store: Path) -> list[tuple[str, dict[str, Any]]]:
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT config_key, config_json FROM runs ORDER BY id").fetchall()
    return [(key, json.loads(text)) for key, text in rows]


def test_the_store_holds_the_resolved_value_and_one_key(
    digits: DatasetSplits, tmp_path: Path
) -> None:
    spec = make_spec("cifar", 11, 1, 16, width_multiplier=0.125)
    store = tmp_path / "runs.db"
    auto = TrainConfig(epochs=1, batch_size=32, limit=64)
    first = train_specs([spec], config=auto, store_path=store, device="cpu", data=digits)
    stored = _stored_configs(store)
    assert [c["recipe"]["augment"] for _, c in stored] == ["crop"]
    assert (
        first.config_key
        == stored[0][0]
        == TrainConfig(epochs=1, batch_size=32, limit=64, augment="crop").key()
    )
    # The same recipe stated explicitly is the same run: found in the store, not trained again.
    explicit = TrainConfig(epochs=1, batch_size=32, limit=64, augment="crop")
    again = train_specs([spec], config=explicit, store_path=store, device="cpu", data=digits)
    assert again.config_key == first.config_key and [r.skipped for r in again.runs] == [True]
    assert len(_stored_configs(store)) == 1
    # Flips asked for on digits: done as asked (stored as given), with one warning line.
    messages = _Messages()
    flipped = TrainConfig(epochs=1, batch_size=32, limit=64, augment="flip,crop")
    train_specs([spec], config=flipped, store_path=store, device="cpu", data=digits,
                reporter=messages)  # fmt: skip
    assert [c["recipe"]["augment"] for _, c in _stored_configs(store)] == ["crop", "crop,flip"]
    assert messages.lines == [
        "archlab: warning: augment crop,flip: flipping digits as asked, though it says "
        "horizontal flips change its labels"
    ]


class _Messages(NullReporter):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def message(self, text: str) -> None:
        self.lines.append(text)


# --------------------------------------------------------------------------- the CLI


def test_cli_bad_augment_is_one_line_exit_2(cli: Cli) -> None:
    code, out, err = cli("train-candidates", "--cardinalities", "1", "--augment", "rotate",
                         "--print-config")  # fmt: skip
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "archlab train-candidates: error: --augment must be one of auto | crop,flip | crop | "
        "flip | none (parts in any order), got 'rotate'"
    ]


def test_cli_plan_file_augment_round_trips(cli: Cli, tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text('[recipe]\naugment = "flip, crop"\n[select]\ncardinalities = [1]\n')
    code, out, err = cli("train-candidates", "--config", str(plan), "--print-config")
    assert code == 0, err
    assert 'augment = "crop,flip"' in out.splitlines()
    code, out, err = cli("train-candidates", "--config", str(plan), "--augment", "crop",
                         "--print-config")  # fmt: skip
    assert code == 0 and 'augment = "crop"' in out.splitlines(), err


def test_cli_bad_metadata_is_one_line_exit_2(cli: Cli, tmp_path: Path) -> None:
    make_folder(tmp_path / "d")
    (tmp_path / "d" / "dataset.toml").write_text("flip = maybe\n")
    code, _, err = cli("train-candidates", "--cardinalities", "1", "--depth", "11",
                       "--width-multiplier", "0.125", "--dataset", f"folder:{tmp_path / 'd'}",
                       "--epochs", "1", "--store", str(tmp_path / "runs.db"))  # fmt: skip
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith(
        f"archlab train-candidates: error: data set metadata {tmp_path / 'd' / 'dataset.toml'}"
    )
    assert not (tmp_path / "runs.db").exists()


def test_cli_study_bad_augment(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli(
        "study",
        "--preset",
        "cardinality",
        "--augment",
        "crop,crop",
        "--store",
        str(tmp_path / "s.db"),
    )
    assert code == 2 and err.strip().splitlines() == [
        "archlab study: error: --augment must be one of auto | crop,flip | crop | flip | none "
        "(parts in any order), got 'crop,crop'"
    ]

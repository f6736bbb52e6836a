"""The stratified hold-out (``data.stratify``): its shares, fixed and per-seed splits, that the
default leaves the plain draw as it was, and what a run stores."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from archlab.errors import ArchlabError
from archlab.train._stratify import class_quotas
from archlab.train.config import TrainConfig
from archlab.train.data import DatasetSplits, load_dataset, split_for_seed
from archlab.train.plan import resolve_plan

SIZES = (40, 20, 10, 5, 3, 1, 1)  # an imbalanced set: 80 images of 7 classes
# 16 of 80 held out (val_fraction 0.2). Owed 16 * n / 80: 8, 4, 2, 1, 0.6, 0.2, 0.2; rounded
# down 15, and the largest remainder (0.6) gets the 16th. The two single images stay in train.
SHARES = [8, 4, 2, 1, 1, 0, 0]


def _imbalanced(path: Path) -> str:
    """An npz whose image i holds i in its first pixel, classes of SIZES interleaved."""
    y = np.concatenate([np.full(n, c) for c, n in enumerate(SIZES)])[(np.arange(80) * 37) % 80]
    x = np.random.default_rng(0).integers(0, 256, (80, 8, 8, 3), np.uint8)
    x[:, 0, 0, 0] = np.arange(80)  # the draw depends on labels and seeds only, not on pixels
    np.savez(path, x_train=x, y_train=y, x_test=x[:7], y_test=np.arange(7))
    return f"npz:{path}"


def _ids(x: torch.Tensor) -> list[int]:
    """The source indices of a split's images (their first pixel), sorted."""
    return sorted(x[:, 0, 0, 0].tolist())


def _counts(data: DatasetSplits) -> list[int]:
    return torch.bincount(data.y_val, minlength=len(SIZES)).tolist()


# --------------------------------------------------------------------------- the shares


@pytest.mark.parametrize(
    ("counts", "n_val", "tie_order", "shares"),
    [
        ((50, 30, 20), 10, (0, 1, 2), [5, 3, 2]),  # exact shares
        ((26, 14, 7), 5, (0, 1, 2), [3, 1, 1]),  # owed 2.6, 1.4, 0.7: remainders .6 and .7 win
        ((10, 10), 5, (0, 1), [3, 2]),  # owed 2.5 each: the tie goes to the class ranked first
        ((10, 10), 5, (1, 0), [2, 3]),
        ((9, 1), 5, (1, 0), [5, 0]),  # owed 4.5, 0.5: the single image stays, its share moves
        ((3, 0, 5), 4, (2, 0, 1), [1, 0, 3]),  # an absent class (limit) gets none
    ],
)
def test_class_quotas_follow_the_largest_remainder_rule(
    counts: tuple[int, ...], n_val: int, tie_order: tuple[int, ...], shares: list[int]
) -> None:
    got = class_quotas(counts, n_val, keep_one=True, tie_order=tie_order)
    assert got == shares and sum(got) == n_val


def test_every_share_is_its_exact_share_rounded_down_or_up() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        counts = [int(c) for c in rng.integers(2, 60, size=int(rng.integers(2, 12)))]
        n_val = max(1, round(float(rng.uniform(0.05, 0.5)) * sum(counts)))
        got = class_quotas(counts, n_val, keep_one=True, tie_order=range(len(counts)))
        assert sum(got) == n_val
        for share, c in zip(got, counts, strict=True):
            owed = n_val * c / sum(counts)
            assert np.floor(owed) <= share <= np.ceil(owed) and share <= c - 1


# --------------------------------------------------------------------------- fixed and per-seed


def test_a_fixed_stratified_split_holds_out_each_class_share(tmp_path: Path) -> None:
    source = _imbalanced(tmp_path / "d.npz")
    plain = load_dataset(source, val_fraction=0.2, seed=0)
    for seed in (0, 1, 2):
        data = load_dataset(source, val_fraction=0.2, seed=seed, stratify=True)
        assert _counts(data) == SHARES and len(data.y_val) == len(plain.y_val) == 16
        assert set(data.y_train.tolist()) == set(range(len(SIZES)))  # every class trains
        assert torch.equal(data.x_test, plain.x_test)
    a, b = (load_dataset(source, val_fraction=0.2, seed=s, stratify=True) for s in (0, 1))
    assert _ids(a.x_val) != _ids(b.x_val)  # another split seed, other images


def test_a_per_seed_stratified_split_is_the_seeds_own_with_the_same_shares(
    tmp_path: Path,
) -> None:
    data = load_dataset(_imbalanced(tmp_path / "d.npz"), val_fraction=0.2, stratify=True)
    drawn = {s: split_for_seed(data, s, stratify=True) for s in range(6)}
    assert all(_counts(d) == SHARES for d in drawn.values())
    assert len({tuple(_ids(d.x_val)) for d in drawn.values()}) == 6  # every seed its own
    again = split_for_seed(data, 3, stratify=True)
    assert torch.equal(again.x_val, drawn[3].x_val) and torch.equal(again.y_train, drawn[3].y_train)
    # The plain draw of the same seeds varies the class mix: what stratifying takes away.
    plain = {tuple(_counts(split_for_seed(data, s))) for s in range(6)}
    assert len(plain) > 1


def test_the_default_leaves_the_plain_draw_as_it_was(tmp_path: Path) -> None:
    source = _imbalanced(tmp_path / "d.npz")
    # The indices the code drew before data.stratify existed, for these seeds (recorded then).
    data = load_dataset(source, val_fraction=0.2, seed=0)
    assert _ids(data.x_val) == [3, 9, 15, 17, 27, 30, 31, 41, 43, 44, 55, 56, 59, 61, 66, 76]
    assert _ids(split_for_seed(data, 7).x_val) == [
        3, 13, 14, 17, 19, 37, 40, 43, 45, 49, 50, 52, 57, 61, 62, 75,
    ]  # fmt: skip
    limited = load_dataset(source, val_fraction=0.2, seed=0, limit=30)
    assert _ids(limited.x_val) == [15, 30, 44, 55, 59, 61]
    assert _counts(data) != SHARES  # so the stratified draw is another one
    # Run keys and stored configs: a default config's key is the one stored before the switch.
    assert TrainConfig().key() == "939ff091556a"
    assert TrainConfig(split="per-seed", limit=40, epochs=1).key() == "7e9b8bb77c39"
    assert "stratify" not in TrainConfig().to_dict()
    assert TrainConfig(stratify=True).to_dict()["stratify"] is True
    assert TrainConfig(stratify=True).key() != TrainConfig().key()
    plan = resolve_plan(overrides={"select.cardinalities": [1]})
    assert plan.to_dict()["data"]["stratify"] is False  # --print-config shows it
    assert "stratify" not in plan.run_config(rung=0, stop_epoch=None)["data"]  # not stored
    on = resolve_plan(overrides={"select.cardinalities": [1], "data.stratify": True})
    assert on.run_config(rung=0, stop_epoch=None)["data"]["stratify"] is True


def test_a_bad_stratify_value_is_refused_in_one_line(tmp_path: Path) -> None:
    source = _imbalanced(tmp_path / "d.npz")
    for call in (
        lambda: TrainConfig(stratify="yes"),  # type: ignore[arg-type]
        lambda: load_dataset(source, stratify=1),  # type: ignore[arg-type]
        lambda: split_for_seed(load_dataset(source), 0, stratify=None),  # type: ignore[arg-type]
    ):
        with pytest.raises(ArchlabError, match="stratify must be true or false, got") as info:
            call()
        assert "\n" not in str(info.value)


def test_a_split_that_cannot_keep_every_class_is_refused_stratified_too(tmp_path: Path) -> None:
    y = np.array([0, 1, 2, 0])  # holding out 2 of 4 leaves no training image for some class
    x = np.zeros((4, 8, 8, 3), np.uint8)
    path = tmp_path / "tiny.npz"
    np.savez(path, x_train=x, y_train=y, x_test=x[:3], y_test=np.arange(3))
    with pytest.raises(ArchlabError, match="keep a training example of every class"):
        load_dataset(f"npz:{path}", val_fraction=0.5, stratify=True)


# --------------------------------------------------------------------------- through training


def test_every_arm_of_a_seed_is_validated_on_one_stratified_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers.training import train_specs

    from archlab.space import make_spec
    from archlab.train import tasks

    seen: list[tuple[str, int, list[int], list[int]]] = []
    real = tasks.train_run

    def recording(spec: Any, data: DatasetSplits, *args: Any, **kwargs: Any) -> Any:
        seen.append((spec.name, kwargs["seed"], _ids(data.x_val), _counts(data)))
        return real(spec, data, *args, **kwargs)

    monkeypatch.setattr(tasks, "train_run", recording)
    specs = [make_spec("cifar", 11, c, 16, width_multiplier=0.0625) for c in (1, 2)]
    config = TrainConfig(dataset=_imbalanced(tmp_path / "d.npz"), val_fraction=0.2, epochs=1,
                         split="per-seed", stratify=True, amp=False)  # fmt: skip
    store = tmp_path / "runs.db"
    result = train_specs(specs, config=config, store_path=store, seeds=(0, 1), device="cpu")
    assert [r.status for r in result.runs] == ["finished"] * 4, [r.reason for r in result.runs]
    by_seed: dict[int, set[tuple[int, ...]]] = {0: set(), 1: set()}
    for name, seed, ids, counts in seen:
        assert counts == SHARES, name
        by_seed[seed].add(tuple(ids))
    assert {len(v) for v in by_seed.values()} == {1}  # both arms of a seed: one split
    assert by_seed[0] != by_seed[1]  # seeds differ
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT config_key, config_json FROM runs").fetchall()
    assert {json.loads(text)["data"]["stratify"] for _, text in rows} == {True}
    off = TrainConfig(**{**config.to_dict(), "stratify": False, "augment": "crop,flip"})
    assert {key for key, _ in rows} == {result.config_key} != {off.key()}

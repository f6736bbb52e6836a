"""The training loop: schedule, checkpoints, determinism, resume, divergence."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

from archlab.device import resolve_device
from archlab.errors import ArchlabError
from archlab.models import build_model
from archlab.space import make_spec, with_overrides
from archlab.train.checkpoint import (
    checkpoint_epoch,
    checkpoint_path,
    latest_good_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from archlab.train.config import TrainConfig
from archlab.train.data import DatasetSplits, load_dataset
from archlab.train.loop import lr_at, make_optimizer, train_run

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def digits() -> DatasetSplits:
    return load_dataset("digits", limit=400)


def _spec(data: DatasetSplits, cardinality: int = 2):  # type: ignore[no-untyped-def]
    spec = make_spec("cifar", 11, cardinality, 2, width_multiplier=0.125)
    return with_overrides(spec, num_classes=data.num_classes, input_size=data.image_size)


def _train(
    data: DatasetSplits, run_dir: Path, config: TrainConfig, seed: int = 0, keep: int = 1
) -> list[dict]:
    epochs: list[dict[str, Any]] = []
    outcome = train_run(
        _spec(data), data, config, seed=seed, device=CPU, run_dir=run_dir, on_epoch=epochs.append,
        keep=keep,
    )  # fmt: skip
    assert outcome.status == "finished", outcome
    return epochs


def _strip_timing(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    timing = {"images_per_s", "wall_s", "peak_mem_bytes"}
    return [{k: v for k, v in r.items() if k not in timing} for r in rows]


def test_config_validation_and_key() -> None:
    with pytest.raises(ArchlabError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ArchlabError, match="time budget"):
        TrainConfig(epochs=None, time_budget=-1)
    with pytest.raises(ArchlabError, match="budget"):
        TrainConfig(epochs=None, time_budget=None)
    with pytest.raises(ArchlabError, match="schedule"):
        TrainConfig(schedule="linear")
    assert TrainConfig().key() == TrainConfig(compile=True, channels_last=False).key()
    assert TrainConfig().key() != TrainConfig(lr=0.05).key()


def test_lr_schedules() -> None:
    cosine = TrainConfig(epochs=10, warmup_epochs=1, lr=0.1)
    assert lr_at(cosine, 0, 0, 10, 10) == pytest.approx(0.01)
    assert lr_at(cosine, 0, 9, 10, 10) == pytest.approx(0.1)
    assert lr_at(cosine, 1, 0, 10, 10) == pytest.approx(0.1)
    assert lr_at(cosine, 9, 9, 10, 10) < 0.005
    step = TrainConfig(epochs=300, schedule="step", warmup_epochs=0, lr=0.1)
    # Sec. 5.3: divided by 10 at epochs 150 and 225 of 300.
    assert lr_at(step, 149, 0, 1, 300) == pytest.approx(0.1)
    assert lr_at(step, 150, 0, 1, 300) == pytest.approx(0.01)
    assert lr_at(step, 225, 0, 1, 300) == pytest.approx(0.001)


def test_checkpoint_round_trip_and_corruption(tmp_path: Path) -> None:
    path = tmp_path / "epoch-0001.ckpt"
    save_checkpoint(path, {"epoch": 1, "w": torch.arange(5)})
    state = load_checkpoint(path)
    assert state is not None and torch.equal(state["w"], torch.arange(5))
    assert not list(tmp_path.glob("*.tmp"))
    raw = path.read_bytes()
    path.write_bytes(raw[:-10])  # truncated
    assert load_checkpoint(path) is None
    path.write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))  # one flipped bit
    assert load_checkpoint(path) is None
    assert load_checkpoint(tmp_path / "missing.ckpt") is None


def test_latest_good_checkpoint_falls_back(tmp_path: Path) -> None:
    save_checkpoint(checkpoint_path(tmp_path, 1), {"epoch": 1})
    save_checkpoint(checkpoint_path(tmp_path, 2), {"epoch": 2})
    checkpoint_path(tmp_path, 2).write_bytes(b"garbage")
    warnings: list[str] = []
    state = latest_good_checkpoint(tmp_path, warn=warnings.append)
    assert state is not None and state["epoch"] == 1
    assert len(warnings) == 1 and "corrupt" in warnings[0]


def test_same_seed_is_bit_identical(digits: DatasetSplits, tmp_path: Path) -> None:
    config = TrainConfig(epochs=2, batch_size=64)
    first = _train(digits, tmp_path / "a", config)
    second = _train(digits, tmp_path / "b", config)
    assert _strip_timing(first) == _strip_timing(second)
    other = _train(digits, tmp_path / "c", config, seed=1)
    assert _strip_timing(other) != _strip_timing(first)


def test_resume_continues_exactly(digits: DatasetSplits, tmp_path: Path) -> None:
    config = TrainConfig(epochs=3, batch_size=64)
    whole = _train(digits, tmp_path / "whole", config)
    # A crash during epoch 3: its checkpoint never landed, so the run resumes from epoch 2's
    # (kept: keep=2 holds epochs 2 and 3, as keep=1 holds epoch 2 while epoch 3 trains).
    part = tmp_path / "part"
    assert _strip_timing(_train(digits, part, config, keep=2)) == _strip_timing(whole)
    checkpoint_path(part, 3).unlink()
    last = _train(digits, part, config)
    assert [m["epoch"] for m in last] == [3]
    assert _strip_timing(last) == _strip_timing(whole[2:])
    first_only = tmp_path / "first"
    first_only.mkdir()
    # A clean interruption: train one epoch of a 3-epoch run, then resume.
    seen: list[dict[str, Any]] = []

    def stop_after_one(metrics: dict[str, Any]) -> None:
        seen.append(metrics)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_run(
            _spec(digits),
            digits,
            config,
            seed=0,
            device=CPU,
            run_dir=first_only,
            on_epoch=stop_after_one,
        )
    resumed = _train(digits, first_only, config)
    assert [m["epoch"] for m in resumed] == [2, 3]
    assert _strip_timing(seen + resumed) == _strip_timing(whole)


def test_divergence_is_reported(digits: DatasetSplits, tmp_path: Path) -> None:
    outcome = train_run(
        _spec(digits),
        digits,
        TrainConfig(epochs=2, lr=1e6, warmup_epochs=0),
        seed=0,
        device=CPU,
        run_dir=tmp_path,
        on_epoch=lambda m: None,
    )
    assert outcome.status == "diverged"
    assert "non-finite loss in epoch" in (outcome.reason or "")


@pytest.mark.parametrize("limit", [400, 40])  # 40 images: a single batch per epoch
def test_time_budget_plans_and_enforces(tmp_path: Path, limit: int) -> None:
    data = load_dataset("digits", limit=limit)
    epochs: list[dict[str, Any]] = []
    warnings: list[str] = []
    config = TrainConfig(epochs=None, time_budget=1.0, batch_size=64)
    outcome = train_run(
        _spec(data),
        data,
        config,
        seed=0,
        device=CPU,
        run_dir=tmp_path,
        on_epoch=epochs.append,
        warn=warnings.append,
    )
    assert outcome.status == "finished"
    assert 1 <= len(epochs) <= outcome.budget_epochs < 1000  # no runaway plan from no timings
    assert [m["epoch"] for m in epochs] == list(range(1, len(epochs) + 1))
    spent = [m["wall_s"] for m in epochs]
    # The deadline is checked before each epoch: at most one epoch runs past the budget.
    assert sum(spent[:-1]) <= config.time_budget + 0.5
    assert len(epochs) == outcome.budget_epochs or "time budget" in " ".join(warnings)


def test_devices() -> None:
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ArchlabError, match="device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ArchlabError, match="CUDA"):
            resolve_device("cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_run_with_bf16(digits: DatasetSplits, tmp_path: Path) -> None:
    epochs: list[dict[str, Any]] = []
    cuda = torch.device("cuda")
    outcome = train_run(
        _spec(digits),
        digits.to(cuda),
        TrainConfig(epochs=2),
        seed=0,
        device=cuda,
        run_dir=tmp_path,
        on_epoch=epochs.append,
    )
    assert outcome.status == "finished" and len(epochs) == 2
    assert epochs[-1]["peak_mem_bytes"] > 0


def test_every_training_batch_is_augmented(
    digits: DatasetSplits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With augmentation on, what the model trains on is augment's output, batch by batch."""
    from archlab.train import loop
    from archlab.train.data import augment, normalize

    originals: list[torch.Tensor] = []
    augmented: list[torch.Tensor] = []
    trained_on: list[torch.Tensor] = []

    def counting_augment(x: torch.Tensor, **kw: Any) -> torch.Tensor:
        originals.append(x)
        augmented.append(augment(x, **kw))
        return augmented[-1]

    def hooked_build(*args: Any, **kw: Any) -> torch.nn.Module:
        model = build_model(*args, **kw)

        def record(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            if module.training:
                trained_on.append(inputs[0].detach().clone())

        model.register_forward_pre_hook(record)
        return model

    monkeypatch.setattr(loop, "augment", counting_augment)
    monkeypatch.setattr(loop, "build_model", hooked_build)
    _train(digits, tmp_path / "on", TrainConfig(epochs=2, batch_size=64))
    steps = -(-len(digits.y_train) // 64)
    assert len(augmented) == len(trained_on) == 2 * steps
    for x_aug, x_model in zip(augmented, trained_on, strict=True):
        torch.testing.assert_close(x_model, normalize(x_aug, digits.mean, digits.std))
    assert any(not torch.equal(a, x) for a, x in zip(augmented, originals, strict=True))
    augmented.clear()
    _train(digits, tmp_path / "off", TrainConfig(epochs=1, batch_size=64, augment="none"))
    assert augmented == []


def test_recipe_defaults_are_the_papers_and_reach_the_optimizer(
    digits: DatasetSplits, tmp_path: Path
) -> None:
    """Sec. 5.3 (CIFAR): SGD, momentum 0.9, weight decay 5e-4 on every parameter, lr 0.1 at
    batch 128, scaled linearly with the batch size (Goyal et al. 2017): 0.05 at batch 64."""
    config = TrainConfig(epochs=1, batch_size=64)
    assert (config.momentum, config.weight_decay, config.lr) == (0.9, 5e-4, 0.05)
    assert config.decay_bn_and_bias and not config.nesterov
    _train(digits, tmp_path, config)
    state = load_checkpoint(checkpoint_path(tmp_path, 1))
    assert state is not None
    groups = state["optimizer"]["param_groups"]
    n_params = len(list(_spec_model(digits).parameters()))
    assert sum(len(g["params"]) for g in groups) == n_params
    assert all(g["momentum"] == 0.9 and g["weight_decay"] == 5e-4 for g in groups)
    # The explicit exemption (no decay on BN parameters and biases) is one switch away.
    exempt = make_optimizer(_spec_model(digits), replace(config, decay_bn_and_bias=False))
    decays = {p.ndim > 1: g["weight_decay"] for g in exempt.param_groups for p in g["params"]}
    assert decays == {True: 5e-4, False: 0.0}
    assert TrainConfig().key() != replace(TrainConfig(), decay_bn_and_bias=False).key()


def _spec_model(data: DatasetSplits) -> torch.nn.Module:
    return build_model(_spec(data))


def test_checkpoint_names_are_parsed_in_one_place(tmp_path: Path) -> None:
    for epoch in (10_000, 2, 1):
        save_checkpoint(checkpoint_path(tmp_path, epoch), {"epoch": epoch})
    (tmp_path / "epoch-0003.ckpt.corrupt").write_bytes(b"x")
    found = list_checkpoints(tmp_path)
    assert [checkpoint_epoch(p) for p in found] == [1, 2, 10_000]  # by epoch, not by name
    assert list_checkpoints(tmp_path / "missing") == []


def test_seed_s_of_two_architectures_sees_the_same_batches(
    digits: DatasetSplits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pairing across arms: data order and augmentation draws depend on the seed alone, not on
    the architecture, whose init draws from another stream (docs/statistics.md)."""
    from archlab.train import loop
    from archlab.train.data import augment, iterate_batches

    seen: list[tuple[str, torch.Tensor]] = []

    def recording_batches(*args: Any, **kw: Any) -> Any:
        for xb, yb in iterate_batches(*args, **kw):
            seen.append(("batch", torch.cat([xb.flatten(1), yb[:, None]], 1)))
            yield xb, yb

    def recording_augment(x: torch.Tensor, **kw: Any) -> torch.Tensor:
        seen.append(("augmented", augment(x, **kw)))
        return seen[-1][1]

    monkeypatch.setattr(loop, "iterate_batches", recording_batches)
    monkeypatch.setattr(loop, "augment", recording_augment)
    config = TrainConfig(epochs=1, batch_size=64)
    # Every image distinct, so equal batches are equal indices.
    assert len(torch.unique(digits.x_train.flatten(1), dim=0)) == len(digits.y_train)
    streams = []
    for cardinality, seed in ((1, 3), (4, 3), (1, 4)):
        seen.clear()
        spec = _spec(digits, cardinality)
        outcome = train_run(
            spec, digits, config, seed=seed, device=CPU, run_dir=tmp_path / f"{cardinality}-{seed}",
            on_epoch=lambda _: None,
        )  # fmt: skip
        assert outcome.status == "finished"
        streams.append(list(seen))
    c1, c4, other_seed = streams
    steps = -(-len(digits.y_train) // 64)
    assert len(c1) == 2 * steps  # a batch and its augmentation, every step
    assert [kind for kind, _ in c1] == [kind for kind, _ in c4]
    for (_, a), (_, b) in zip(c1, c4, strict=True):
        assert torch.equal(a, b)
    # The same architecture under another seed sees another order: the check can fail.
    assert any(not torch.equal(a, b) for (_, a), (_, b) in zip(c1, other_seed, strict=True))


def test_a_fixed_split_keeps_the_keys_of_runs_stored_before_the_switch() -> None:
    # Keys computed before data.split existed: those stores' runs are still the same runs.
    assert TrainConfig().key() == "939ff091556a"
    assert TrainConfig(epochs=6, limit=150).key() == "89b21a75c6b9"
    assert TrainConfig(split="per-seed").key() != TrainConfig().key()  # another split, other runs

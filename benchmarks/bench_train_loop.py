"""Images/s of train-candidates' training loop against a bare PyTorch loop, side by side.

    .venv/bin/python benchmarks/bench_train_loop.py

Same model, data, batch size, dtype and memory layout; augmentation off in both, so the ratio
measures what archlab's loop adds (schedule, bookkeeping, callbacks). Epochs alternate between
the two loops and the medians are compared. Goal: ratio >= 0.97.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _sections import command, machine_line, write_section
from torch import nn

from archlab.space import NetSpec, make_spec, scaled, with_overrides
from archlab.train.config import TrainConfig
from archlab.train.data import DatasetSplits, iterate_batches, load_dataset, normalize
from archlab.train.loop import make_optimizer, prepare_model, train_run

GOAL = 0.97


def bare_epoch(
    model: nn.Module,
    data: DatasetSplits,
    config: TrainConfig,
    seed: int,
    optimizer: torch.optim.Optimizer | None = None,
) -> float:
    """Images/s of one epoch of a plain loop: normalise, forward, loss, backward, step.

    Runs where the model and data are; on CUDA with bf16 autocast when ``config.amp`` (as
    archlab's loop does) and synchronised before the clock stops.
    """
    device = next(model.parameters()).device
    optimizer = optimizer or make_optimizer(model, config)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    layout = torch.channels_last if config.channels_last else torch.contiguous_format
    amp = config.amp and device.type == "cuda"
    model.train()
    start, seen = time.perf_counter(), 0
    for xb, yb in iterate_batches(
        data.x_train, data.y_train, config.batch_size, shuffle=True, generator=generator
    ):
        x = normalize(xb, data.mean, data.std).contiguous(memory_format=layout)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(x)
        loss = loss_fn(logits.float(), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seen += len(yb)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return seen / (time.perf_counter() - start)


def archlab_rates(
    data: DatasetSplits,
    config: TrainConfig,
    spec: NetSpec,
    seed: int,
    device: torch.device = torch.device("cpu"),
) -> list[float]:
    """Images/s of each of ``config.epochs`` epochs of train_run, as it records them."""
    history: list[dict] = []  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as run_dir:
        train_run(
            spec,
            data,
            config,
            seed=seed,
            device=device,
            run_dir=Path(run_dir),
            on_epoch=history.append,
        )
    return [float(h["images_per_s"]) for h in history]


def synthetic(folder: Path) -> DatasetSplits:
    """CIFAR-sized random images in the npz format, loaded like any user's data."""
    rng = np.random.default_rng(0)
    path = folder / "random32.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, (1024, 32, 32, 3), dtype=np.uint8),
        y_train=rng.integers(0, 10, 1024),
        x_test=rng.integers(0, 256, (256, 32, 32, 3), dtype=np.uint8),
        y_test=rng.integers(0, 10, 256),
    )
    return load_dataset(f"npz:{path}")


def bench(label: str, data: DatasetSplits, width: float, rounds: int) -> tuple[str, float, float]:
    spec = with_overrides(
        make_spec("cifar", 29, 4, scaled(16, width), width_multiplier=width),  # 4x4d at 1/4
        num_classes=data.num_classes,
        input_size=data.image_size,
    )
    config = TrainConfig(epochs=1, batch_size=128, augment="none", warmup_epochs=0)
    ours, bare = [], []
    for seed in range(rounds):
        ours.append(archlab_rates(data, config, spec, seed)[0])
        bare.append(
            bare_epoch(prepare_model(spec, config, seed, torch.device("cpu")), data, config, seed)
        )
    return f"{spec.name} on {label}", statistics.median(ours), statistics.median(bare)


def main() -> None:
    """Measure and write the section of reports/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    digits = load_dataset("digits")
    rows = [bench("digits 8x8", digits, 0.25, args.rounds)]
    with tempfile.TemporaryDirectory() as folder:
        rows.append(
            bench("random 32x32 (1,024 images)", synthetic(Path(folder)), 0.25, args.rounds)
        )
    lines = [
        "## Training loop: train-candidates vs a bare PyTorch loop",
        "",
        f"Command: `{command()}`",
        f"Run: {machine_line()}, {torch.get_num_threads()} torch threads",
        "",
        f"CPU, batch 128, float32, channels_last, no augmentation; median of {args.rounds} "
        "alternating epochs each. Goal: ratio >= 0.97.",
        "",
        "| model and data | archlab images/s | bare loop images/s | ratio | goal met |",
        "|---|---:|---:|---:|---|",
    ]
    for label, ours, bare in rows:
        ratio = ours / bare
        lines.append(
            f"| {label} | {ours:,.0f} | {bare:,.0f} | {ratio:.3f} | "
            f"{'yes' if ratio >= GOAL else 'no'} |"
        )
    body = "\n".join(lines)
    write_section("bench_train_loop", body)
    print(body)


if __name__ == "__main__":
    main()

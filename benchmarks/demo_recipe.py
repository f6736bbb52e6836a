"""Per-epoch validation error of a few seeds per demo arm, to choose a recipe that trains stably.

    .venv/bin/python benchmarks/demo_recipe.py [--epochs 6 --seeds 3 --batch-size 32 --augment none]

Trains the demo's arms (``archlab.workflows.demo.demo_plan``; C = 1 and C = 4 by default) on
digits under the given recipe and prints one line per seed: seconds and val error (%) per epoch.
A recipe is stable when no seed stays near chance (90%) for several epochs. Nothing is stored.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from archlab.train.config import TrainConfig
from archlab.train.data import load_dataset
from archlab.train.loop import train_run
from archlab.workflows.demo import demo_plan
from archlab.workflows.study import resolve_arms


def main() -> None:
    """Train each arm's seeds under the recipe and print their per-epoch val errors."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--lr", type=float, default=None)  # None: the linear scaling rule
    parser.add_argument("--warmup-epochs", type=int, default=1)
    parser.add_argument("--augment", default="auto", help="auto | crop,flip | crop | flip | none")
    parser.add_argument("--width-multiplier", type=float, default=0.125)
    parser.add_argument("--arms", default="C=1,C=4")
    args = parser.parse_args()
    config = TrainConfig(
        dataset="digits", epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        warmup_epochs=args.warmup_epochs, augment=args.augment,
    )  # fmt: skip
    data = load_dataset("digits", val_fraction=config.val_fraction, seed=config.split_seed)
    plan = demo_plan(overrides={"study.width_multiplier": args.width_multiplier})
    arms = resolve_arms(plan, num_classes=data.num_classes, input_size=data.image_size)
    for label in args.arms.split(","):
        for seed in range(args.seeds):
            errors: list[float] = []
            start = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                train_run(
                    arms.arm(label).spec, data, config, seed=seed, device=torch.device("cpu"),
                    run_dir=Path(tmp), on_epoch=lambda r, e=errors: e.append(100 * r["val_error"]),
                )  # fmt: skip
            took = time.perf_counter() - start
            print(f"{label} seed {seed} ({took:.1f}s): " + " ".join(f"{e:.1f}" for e in errors))


if __name__ == "__main__":
    main()

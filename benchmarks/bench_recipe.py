"""Final validation error of a small grid of recipes, to choose TrainConfig's defaults.

    .venv/bin/python benchmarks/bench_recipe.py [--part digits|generated|all] [--cache DIR]

Trains each recipe of a small grid (batch size; lr by the linear scaling rule, Goyal et al. 2017,
lr = 0.1 x batch / 128 from the paper's CIFAR recipe, Sec. 5.3; warm-up epochs; random crops on
or off) on (a) digits with the README's ResNeXt-29 models at width 0.25 (C = 1 and C = 8, d
matched) and (b) a generated 32x32 set (digits scaled x2 at random places on a noisy canvas; no
download) with C = 1 and C = 4 at width 0.125; 10 epochs, one torch thread, on the CPU. Each
run's result is cached under ``--cache`` (one JSON file per run), so the two parts can run as two
processes and a final ``--part all`` writes the section of reports/benchmarks.md from the cache.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from _sections import command, machine_line, write_section

from archlab.space import NetSpec, with_overrides
from archlab.store.frames import NEAR_CHANCE_MARGIN, chance_error
from archlab.train.config import TrainConfig
from archlab.train.data import DatasetSplits, load_dataset
from archlab.train.loop import train_run
from archlab.train.lr_rule import BASE_LR, REFERENCE_BATCH, linear_scaled_lr
from archlab.train.plan import select_candidates

EPOCHS = 10
DEFAULTS = TrainConfig()


@dataclass(frozen=True)
class Recipe:
    """One grid point: batch size (lr by the linear rule), warm-up epochs, crops, seeds."""

    batch_size: int
    warmup_epochs: int
    crop: bool
    seed0_only: bool = False

    @property
    def resolved_lr(self) -> float:
        """The lr this recipe trains with: the linear scaling rule's for its batch size."""
        return linear_scaled_lr(self.batch_size)

    @property
    def label(self) -> str:
        """A file-name-safe key."""
        return f"b{self.batch_size}_lr{self.resolved_lr:g}_w{self.warmup_epochs}_c{int(self.crop)}"


def grid(part: str) -> list[Recipe]:
    """Batch size x crops at one warm-up epoch, then warm-up 0 and 2 at batch 32 (digits only).

    Small on purpose: two CPU cores shared with other work, about a minute per digits run and
    three per 32x32 run. Warm-up rows train seed 0 only.
    """
    if part == "generated":
        return [Recipe(32, 1, True), Recipe(128, 1, True), Recipe(32, 1, False),
                Recipe(64, 1, True)]  # fmt: skip
    return [Recipe(16, 1, True), Recipe(16, 1, False), Recipe(128, 1, True),
            Recipe(32, 1, False), Recipe(32, 1, True), Recipe(64, 1, False),
            Recipe(32, 0, False, True), Recipe(32, 2, False, True)]  # fmt: skip


def generated(folder: Path) -> Path:
    """A deterministic 32x32 set: each digit scaled x2 to 16x16 at a random place, on noise."""
    from sklearn.datasets import load_digits

    rng = np.random.default_rng(0)
    digits = load_digits()
    order = rng.permutation(len(digits.target))[:1400]
    glyphs = np.kron(digits.images[order] / 16.0, np.ones((2, 2)))  # (N, 16, 16) in [0, 1]
    n = len(order)
    canvas = rng.normal(0.25, 0.1, (n, 32, 32, 3))
    tint = rng.uniform(0.5, 1.0, (n, 1, 1, 3))
    for i in range(n):
        r, c = rng.integers(0, 17, 2)
        canvas[i, r : r + 16, c : c + 16] += glyphs[i][..., None] * tint[i]
    x = np.clip(canvas * 255, 0, 255).astype(np.uint8)
    y = digits.target[order].astype(np.int64)
    path = folder / "digits32.npz"
    np.savez(path, x_train=x[:1000], y_train=y[:1000], x_test=x[1000:], y_test=y[1000:],
             flip=np.array(False))  # fmt: skip
    return path


def train_one(spec: NetSpec, data: DatasetSplits, recipe: Recipe, seed: int) -> dict:  # type: ignore[type-arg]
    """One run's per-epoch val errors (%) and seconds."""
    config = TrainConfig(
        dataset="digits", epochs=EPOCHS, batch_size=recipe.batch_size, lr=recipe.resolved_lr,
        warmup_epochs=recipe.warmup_epochs, augment="crop" if recipe.crop else "none",
    )  # fmt: skip
    errors: list[float] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        train_run(
            spec, data, config, seed=seed, device=torch.device("cpu"), run_dir=Path(tmp),
            on_epoch=lambda r: errors.append(100 * r["val_error"]),
        )  # fmt: skip
    return {"val_errors": errors, "seconds": time.perf_counter() - start}


PARTS = {
    # part: (model widths and cardinalities, seeds)
    "digits": (0.25, (1, 8), (0, 1)),
    "generated": (0.125, (1, 4), (0,)),
}


def load_part(part: str, folder: Path) -> DatasetSplits:
    """The part's data set."""
    return load_dataset("digits" if part == "digits" else f"npz:{generated(folder)}")


def run_part(part: str, cache: Path, folder: Path) -> None:
    """Train every (recipe, model, seed) of a part not in the cache yet."""
    data = load_part(part, folder)
    width, cardinalities, seeds = PARTS[part]
    specs = select_candidates(cardinalities=cardinalities, width_multiplier=width)
    for recipe in grid(part):
        for spec in specs:
            spec = with_overrides(spec, num_classes=data.num_classes, input_size=data.image_size)
            for seed in seeds[:1] if recipe.seed0_only else seeds:
                path = cache / f"{part}_{recipe.label}_{spec.name}_s{seed}.json"
                if path.exists():
                    continue
                result = train_one(spec, data, recipe, seed)
                path.write_text(json.dumps(result))
                errs = " ".join(f"{e:.0f}" for e in result["val_errors"])
                print(f"{part} {recipe.label} {spec.name} seed {seed}: {errs}", flush=True)


def table(part: str, cache: Path) -> list[str]:
    """The part's rows: one per recipe, each run's numbers in the order C, then seed."""
    lines = [
        "| batch | lr | warm-up | crops | final val error % (each run) | mean | near chance | "
        "first epoch < 50% (each run) | s per run |",
        "|---:|---:|---:|---|---|---:|---:|---|---:|",
    ]
    chance = 100 * chance_error(10)  # both parts have the ten digit classes
    for recipe in grid(part):
        runs = [json.loads(p.read_text()) for p in sorted(cache.glob(f"{part}_{recipe.label}_*"))]
        if not runs:
            continue
        finals = [r["val_errors"][-1] for r in runs]
        near = sum(f >= chance - 100 * NEAR_CHANCE_MARGIN for f in finals)
        first = [next((str(i + 1) for i, e in enumerate(r["val_errors"]) if e < 50), "never")
                 for r in runs]  # fmt: skip
        lines.append(
            f"| {recipe.batch_size} | {recipe.resolved_lr:g} | {recipe.warmup_epochs} | "
            f"{'on' if recipe.crop else 'off'} | {' '.join(f'{f:.1f}' for f in finals)} | "
            f"{statistics.mean(finals):.1f} | {near}/{len(runs)} | {' '.join(first)} | "
            f"{statistics.mean(r['seconds'] for r in runs):.0f} |"
        )
    return lines


def write(cache: Path) -> str:
    """The section of reports/benchmarks.md, from the cached runs."""
    lines = [
        "## Recipe: final validation error by batch size, lr rule, warm-up and crops",
        "",
        f"Command: `{command()}`  ",
        f"{machine_line()}, 1 torch thread per run",
        "",
        f"{EPOCHS} epochs, cosine after the warm-up, SGD momentum 0.9, weight decay 5e-4; lr "
        f"{BASE_LR} x batch / {REFERENCE_BATCH} (the linear scaling rule, Goyal et al. 2017, from "
        "the paper's CIFAR recipe, Sec. 5.3). Near chance: final val error within "
        f"{100 * NEAR_CHANCE_MARGIN:g} points of chance (90%), as `archlab results` flags it. "
        "Seconds are wall time on two cores shared with other work (load 2 to 8): for "
        "orientation only. Every run is cached (`--cache`); these trained as two processes side "
        "by side (`--part digits`, `--part generated`), then this command wrote the section.",
        "",
        f"TrainConfig's defaults now: batch {DEFAULTS.batch_size}, lr {DEFAULTS.lr:g} (the rule), "
        f"{DEFAULTS.warmup_epochs} warm-up epoch(s), augment {DEFAULTS.augment} (crops only on "
        "digits, which never flip).",
    ]
    for part, title in (
        ("digits", "digits 8x8 (1,294 train images), ResNeXt-29 C = 1 and 8 at width 0.25, "
                   "seeds 0 and 1"),
        ("generated", "generated 32x32 (digits x2 at random places on noise; 900 train, 100 "
                      "val images), ResNeXt-29 C = 1 and 4 at width 0.125, seed 0"),
    ):  # fmt: skip
        lines += ["", f"### {title}", "", *table(part, cache)]
    body = "\n".join(lines)
    write_section("bench_recipe", body)
    return body


def main() -> None:
    """Train the grid's missing runs for the part(s), then write the section (``all``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("digits", "generated", "all"), default="all")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "archlab-recipe"
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        for part in PARTS if args.part == "all" else (args.part,):
            run_part(part, args.cache, Path(folder))
    if args.part == "all":
        print(write(args.cache))


if __name__ == "__main__":
    main()

"""Validation split size: how much of a seed's spread is counting noise over the validation images.

    .venv/bin/python benchmarks/bench_val_size.py [--fractions 0.1,0.3,0.5 --seeds 10 --epochs 6]

Trains the demo's arms (``archlab demo``: C = 1, 2, 4 at equal MACs, ResNeXt-29 at 1/8 width on
digits, 6 epochs, the fixed split) for seeds 0..n-1 at each validation fraction (``data.
val_fraction``: the share of the training pool held out). A seed's validation error is a count
over n_val images, so even a model with a fixed true error p would spread by the binomial
variance p(1 - p) / n_val; the rest of the seed variance is training noise (initialisation,
data order, augmentation). A larger split shrinks the first as 1 / n_val and leaves the second,
at the price of fewer training images. Per fraction and arm: the mean error, the seed sd, the
binomial variance at the arm's mean and the rest (points^2); per pair: the difference, the sd of
the per-seed difference paired and unpaired, the paired test's verdict at n seeds (floored at
one image, Bonferroni over the pairs, docs/statistics.md) and the seeds per arm it would need to
name a winner and to show equivalence at the measured paired sd. The fraction 0.1 runs are the
demo's own, reused from a copy of its store; the store this benchmark trains into is kept at
``--keep`` so that ``bench_study.py --store`` reuses its runs.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

import numpy as np
from _sections import add_store_option, command, machine_line, relative, write_section

from archlab.stats.pairwise import all_pairs, compare_arms
from archlab.stats.power import seeds_to_equivalence, seeds_to_win
from archlab.stats.study import seed_errors, tested_labels
from archlab.store import Store
from archlab.store.study import load_study
from archlab.train.defaults import DEMO_STORE as DEMO_STORE_PATH
from archlab.workflows.demo import DEMO_DEPTH, demo_plan
from archlab.workflows.study import run_study

ROOT = Path(__file__).resolve().parent.parent
DEMO_STORE = ROOT / DEMO_STORE_PATH
KEEP = ROOT / "archlab-runs" / "bench_val_size.db"


def _train(
    fraction: float, seeds: int, epochs: int, store: Path
) -> tuple[dict[str, list[float]], int, int, int]:
    """Per arm the validation errors (%) of seeds 0..n-1; val and train sizes; runs trained."""
    from archlab.train.tasks import dataset_for

    name = f"val-size-{fraction:g}"
    plan = demo_plan(
        overrides={
            "budget.epochs": epochs, "study.min_seeds": seeds, "study.max_seeds": seeds,
            "study.name": name, "data.val_fraction": fraction, "execution.device": "cpu",
            "output.store": str(store),
        }
    )  # fmt: skip
    trained = run_study(plan).trained_now
    with Store(store) as db:
        record = load_study(db, name)
        assert record is not None
        errors = seed_errors(db, record.definition)
        labels = tested_labels(record.definition)
    data = dataset_for(plan.training.config)
    return {a: errors.val[a] for a in labels}, len(data.y_val), len(data.y_train), trained


def _arm_rows(fraction: float, val: dict[str, list[float]], n_val: int) -> list[str]:
    """Per arm: mean, seed sd, the binomial variance at its mean and the rest, in points^2."""
    rows = []
    for arm, errs in val.items():
        mean, var = statistics.mean(errs), statistics.variance(errs)
        binom = mean * (100.0 - mean) / n_val  # p(1 - p) / n_val in points^2
        rows.append(
            f"| {fraction:g} | {arm} | {mean:.2f} | {var**0.5:.2f} | {var:.2f} | {binom:.2f} | "
            f"{var - binom:+.2f} | {binom / var:.0%} |"
        )
    return rows


def _pair_rows(
    fraction: float, val: dict[str, list[float]], n_val: int, alpha: float, rope: float
) -> tuple[list[str], list[float]]:
    """Per pair: difference, paired/unpaired sd, verdict, seeds to win / to equivalence."""
    m = len(all_pairs(list(val)))
    level = alpha / m
    tests = {(r.a, r.b): r for r in compare_arms(val, paired=True, resolution=100.0 / n_val)}
    rows, sds = [], []
    for a, b in all_pairs(list(val)):
        x, y = np.array(val[a]), np.array(val[b])
        diff = float(np.mean(x - y))
        paired = max(float(np.std(x - y, ddof=1)), 100.0 / n_val)  # floored as the test is
        unpaired = float(np.hypot(np.std(x, ddof=1), np.std(y, ddof=1)))
        win = seeds_to_win(diff, paired, rope=rope, level=level)
        tie = seeds_to_equivalence(paired, rope=rope, level=level)
        sds.append(paired)
        rows.append(
            f"| {fraction:g} | {a} vs {b} | {diff:+.2f} | {paired:.2f} | {unpaired:.2f} | "
            f"{tests[(a, b)].verdict} | {win if win is not None else '—'} | "
            f"{tie if tie is not None else '—'} |"
        )
    return rows, sds


def main() -> None:
    """Train every fraction, split the seed variance, write the section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fractions", default="0.1,0.3,0.5")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=6)
    add_store_option(parser, DEMO_STORE)
    parser.add_argument(
        "--keep", type=Path, default=KEEP,
        help="Where the store trained into is kept (reused when it exists), for bench_study.",
    )  # fmt: skip
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    fractions = [float(f) for f in args.fractions.split(",")]
    start = time.perf_counter()
    if not args.keep.is_file() and args.store is not None:
        args.keep.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(args.store, args.keep)
    plan = demo_plan()
    alpha, rope = plan.question.alpha, plan.question.rope
    arm_rows: list[str] = []
    pair_rows: list[str] = []
    summary: list[str] = []
    trained = 0
    for fraction in fractions:
        val, n_val, n_train, now = _train(fraction, args.seeds, args.epochs, args.keep)
        trained += now
        arm_rows += _arm_rows(fraction, val, n_val)
        rows, sds = _pair_rows(fraction, val, n_val, alpha, rope)
        pair_rows += rows
        seed_sd = statistics.mean(statistics.stdev(v) for v in val.values())
        summary.append(
            f"{fraction:g}: {n_val} validation / {n_train} training images (1 image = "
            f"{100 / n_val:.2f} points), mean seed sd {seed_sd:.2f}, mean paired sd of the "
            f"difference {statistics.mean(sds):.2f}"
        )
    body = "\n".join(
        [
            "## Validation split size: counting noise against training noise",
            "",
            f"Command: `{command()}`  ",
            machine_line(),
            "",
            f"The demo's arms (C = 1, 2, 4 at equal MACs, ResNeXt-{DEMO_DEPTH} at 1/8 width on "
            f"digits, {args.epochs} epochs, fixed split), seeds 0..{args.seeds - 1} of every arm "
            "at each validation fraction (the share of the training pool held out; the "
            "training images shrink with it). Binomial: p(1 - p) / n_val at the arm's mean "
            "error, the variance a seed's error would have from counting alone; rest: seed "
            "variance minus it (training noise; negative when the estimate undershoots). "
            f"Pairs: the paired sd of the difference (floored at one image), the paired test's "
            f"verdict at {args.seeds} seeds (Bonferroni over 3 pairs), and the seeds per arm to "
            f"name a winner (80% power at max(|A − B|, rope)) and to show equivalence within "
            f"±{rope:g} at that sd, one test at alpha/3 (docs/statistics.md). Runs trained "
            f"now: {trained} of {3 * args.seeds * len(fractions)}"
            + ("." if args.store is None else f" (the rest reused from {relative(args.keep)})."),
            "",
            "| fraction | arm | mean error | seed sd | seed var | binomial | rest "
            "| binomial share |",
            "|---:|---|---:|---:|---:|---:|---:|---:|",
            *arm_rows,
            "",
            "| fraction | pair | A − B | paired sd | unpaired sd | verdict | seeds to win "
            "| seeds to equivalence |",
            "|---:|---|---:|---:|---:|---|---:|---:|",
            *pair_rows,
            "",
            "Per fraction: " + "; ".join(summary) + ". Wall time of this benchmark: "
            f"{time.perf_counter() - start:.0f} s.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("bench_val_size", body)


if __name__ == "__main__":
    main()

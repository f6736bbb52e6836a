"""Seeds paired across arms: what a per-seed validation split does to the paired difference.

    .venv/bin/python benchmarks/bench_pairing.py [--seeds 10 --epochs 6] [--store DB]

Trains the demo's arms (``archlab demo``: C = 1, 2, 4 at equal MACs, ResNeXt-29 at 1/8 width
on digits) for seeds 0..n-1 twice: with the validation split fixed (``--split fixed``, every
seed scored on the same images) and drawn per seed (``--split per-seed``, seed s of every arm on
the same images, seeds on different ones). The defaults are the demo's 10 seeds of 6 epochs
(60 runs); the fixed-split runs are the demo's own, so by default they are reused from a copy of
the demo's store (``archlab-runs/demo.db``, never changed) and only the missing ones trained.
Seed s of every arm shares its data order and augmentation draws either way. For each split
and pair: the sd of the per-seed difference when seeds are paired and when they are taken as
independent (sqrt(sd_a^2 + sd_b^2)), the measured correlation between arms, the paired test's
seeds per arm to name a winner, and the paired and unpaired tests' verdicts. Seeds needed
scale with the variance of the difference, so (paired sd / unpaired sd)^2 is the share of
seeds pairing needs (docs/statistics.md).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from _sections import add_store_option, command, machine_line, relative, write_section

from archlab.stats.pairwise import all_pairs, compare_arms
from archlab.stats.study import seed_errors, tested_labels
from archlab.store import Store
from archlab.store.study import load_study
from archlab.train.config import SPLITS
from archlab.train.defaults import DEMO_STORE as DEMO_STORE_PATH
from archlab.workflows.demo import DEMO_DEPTH, demo_plan
from archlab.workflows.study import run_study

DEMO_STORE = Path(__file__).resolve().parent.parent / DEMO_STORE_PATH


def _train(
    split: str, seeds: int, epochs: int, store: Path
) -> tuple[dict[str, list[float]], int, int]:
    """Per arm, the validation errors (%) of seeds 0..n-1, the validation size, runs trained."""
    from archlab.train.tasks import dataset_for

    plan = demo_plan(
        overrides={
            "budget.epochs": epochs, "study.min_seeds": seeds, "study.max_seeds": seeds,
            "study.name": f"pairing-{split}", "data.split": split, "execution.device": "cpu",
            "output.store": str(store),
        }
    )  # fmt: skip
    trained = run_study(plan).trained_now
    with Store(store) as db:
        record = load_study(db, f"pairing-{split}")
        assert record is not None
        errors = seed_errors(db, record.definition)
        labels = tested_labels(record.definition)
    val = {a: errors.val[a] for a in labels}
    return val, len(dataset_for(plan.training.config).y_val), trained


def _rows(split: str, val: dict[str, list[float]], val_size: int) -> tuple[list[str], float]:
    """The table's rows for one split, and its mean paired sd of the difference."""
    rows, paired_sds = [], []
    res = 100.0 / val_size
    tests = {(r.a, r.b): r for r in compare_arms(val, paired=True, resolution=res)}
    unpaired_tests = {(r.a, r.b): r for r in compare_arms(val, paired=False, resolution=res)}
    for a, b in all_pairs(list(val)):
        x, y = np.array(val[a]), np.array(val[b])
        paired = float(np.std(x - y, ddof=1))
        unpaired = float(np.hypot(np.std(x, ddof=1), np.std(y, ddof=1)))
        corr = float(np.corrcoef(x, y)[0, 1]) if np.std(x) and np.std(y) else float("nan")
        row = tests[(a, b)]
        need = row.seeds_to_win if row.seeds_to_win is not None else "—"
        paired_sds.append(paired)
        rows.append(
            f"| {split} | {a} vs {b} | {float(np.mean(x - y)):+.2f} | {paired:.2f} | "
            f"{unpaired:.2f} | {corr:+.2f} | {(paired / unpaired) ** 2 if unpaired else 1:.2f} | "
            f"{row.verdict} | {unpaired_tests[(a, b)].verdict} | {need} |"
        )
    return rows, statistics.mean(paired_sds)


def main() -> None:
    """Train both splits, compare the paired spread, write the section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=6)
    add_store_option(parser, DEMO_STORE)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    rows: list[str] = []
    mean_sd: dict[str, float] = {}
    trained = 0
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store.db"
        if args.store is not None:
            shutil.copyfile(args.store, store)
        for split in SPLITS:
            val, val_size, now = _train(split, args.seeds, args.epochs, store)
            trained += now
            split_rows, mean_sd[split] = _rows(split, val, val_size)
            rows += split_rows
    best = min(mean_sd, key=lambda s: mean_sd[s])
    body = "\n".join(
        [
            "## Seeds paired across arms: fixed vs per-seed validation split",
            "",
            f"Command: `{command()}`  ",
            machine_line(),
            "",
            f"The demo's arms (C = 1, 2, 4 at equal MACs, ResNeXt-{DEMO_DEPTH} at 1/8 width on "
            f"digits, {args.epochs} epochs), seeds 0..{args.seeds - 1} of every arm, trained "
            f"once per split. Seed s of every arm shares data order and augmentation draws; "
            f"`per-seed` also shares the validation split drawn from s. sd: of the per-seed "
            f"difference A - B in points, paired or with seeds taken as independent; "
            f"corr: between the arms' per-seed errors; seed share: (paired sd / unpaired "
            f"sd)^2, the share of seeds a paired test needs; verdict and seeds to win: the "
            f"paired test at {args.seeds} seeds; unpaired verdict: the same test with seeds "
            f"taken as independent (Hsu's df, the same n - 1). Runs trained now: {trained} of "
            f"{2 * 3 * args.seeds}"
            + ("." if args.store is None else f" (the rest reused from {relative(args.store)})."),
            "",
            "| split | pair | A − B | paired sd | unpaired sd | corr | seed share | verdict "
            "| unpaired verdict | seeds to win |",
            "|---|---|---:|---:|---:|---:|---:|---|---|---:|",
            *rows,
            "",
            "Mean paired sd of the difference: "
            + ", ".join(f"{s} {mean_sd[s]:.2f}" for s in SPLITS)
            + f" points; the smaller is `{best}`. Wall time of this benchmark: "
            f"{time.perf_counter() - start:.0f} s.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("bench_pairing", body)


if __name__ == "__main__":
    main()

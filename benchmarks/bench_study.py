"""Compute to a verdict: the sequential rule against the fixed design, on the same stored runs.

    .venv/bin/python benchmarks/bench_study.py [--seeds 3 --max-seeds 10 --epochs 6]

Trains a fixed design once with the demo's study (``archlab demo``: C = 1, 2, 4 at equal MACs,
ResNeXt-29 at 1/8 width on digits, its stable recipe) but every arm at ``--max-seeds`` seeds: a
study whose first look is its last, so its verdict is the fixed design's (the floored paired
test, Bonferroni over the pairs, full alpha). Then replays the sequential rule, paired as the
study is, over the same stored runs, seeds in order, from ``--seeds`` up: the seeds it would
have trained are the compute it would have used. Reports both side by side: the share of the
fixed design's compute (runs and training seconds) and whether every pair's verdict agrees.
Goal: the same verdicts with <= 50%. The demo trains these very runs (same recipe, seeds from
0), so by default the runs already in the demo's store (a copy of ``archlab-runs/demo.db``) are
reused and only the missing seeds are trained. The section ends with one line,
``compute fraction: 0.NN; verdicts agree: yes|no``: the share of training compute, each run
weighed by its arm's MACs (every run sees the same images for the same epochs). Measured
training seconds are shown beside it, but runs reused from the store were timed on another
occasion, under another load, so seconds compare the two designs only roughly.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from _sections import command, machine_line, write_section

from archlab.stats.pairwise import PairRow
from archlab.stats.power import win_power
from archlab.stats.sequential import SequentialState, sequential_state
from archlab.stats.study import resolution, seed_errors, tested_labels
from archlab.store import Store
from archlab.store.study import load_study
from archlab.train.defaults import DEMO_STORE as DEMO_STORE_PATH
from archlab.workflows.demo import DEMO_DEPTH, demo_plan
from archlab.workflows.study import run_study

GOAL = 0.5
DEMO_STORE = Path(__file__).resolve().parent.parent / DEMO_STORE_PATH


def main() -> None:
    """Train the fixed design, replay the sequential rule, write the section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-seeds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--width-multiplier", type=float, default=0.125)
    parser.add_argument(
        "--store",
        type=Path,
        default=DEMO_STORE if DEMO_STORE.is_file() else None,
        help="Reuse the runs of this store (copied, never changed): runs of the same recipe "
        "and seed are not trained again. Default: the demo's store when it exists (the demo "
        "trains these very runs), else none.",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        store_path = Path(tmp) / "store.db"
        if args.store is not None:
            shutil.copyfile(args.store, store_path)
        plan = demo_plan(  # the demo's study, every arm at max seeds from the start
            overrides={
                "budget.epochs": args.epochs, "study.min_seeds": args.max_seeds,
                "study.max_seeds": args.max_seeds, "study.name": "fixed",
                "study.width_multiplier": args.width_multiplier, "execution.device": "cpu",
                "output.store": str(store_path),
            }
        )  # fmt: skip
        fixed = run_study(plan)
        with Store(store_path, create=True) as store:
            record = load_study(store, "fixed")
            assert record is not None
            errors = seed_errors(store, record.definition)
            frame = store.results_frame()
            wall = frame.groupby("name")["wall_s"].mean()
            macs = frame.groupby("name")["macs"].first()
    labels = tested_labels(fixed.outcome.definition)
    seq = sequential_state(
        {label: errors.val[label] for label in labels},
        n0=args.seeds,
        n_max=args.max_seeds,
        alpha=plan.question.alpha,
        rope=plan.question.rope,
        # As the study itself: its pairing (paired by default), floored at one image.
        paired=bool(record.definition.get("paired", True)),
        resolution=resolution(record.definition),
    )
    names = {label: fixed.arms.arm(label).spec.name for label in labels}
    runs_share = sum(seq.used.values()) / (len(labels) * args.max_seeds)
    wall_share = _share(seq.used, {a: float(wall[names[a]]) for a in labels}, args.max_seeds)
    macs_share = _share(seq.used, {a: float(macs[names[a]]) for a in labels}, args.max_seeds)
    recipe = {"dataset": plan.training.config.dataset, "epochs": args.epochs}
    rows = []
    for f, s in zip(fixed.outcome.state.rows, seq.rows, strict=True):
        rows.append(
            f"| {f.a} vs {f.b} | {f.verdict} ({f.diff:+.2f}) | {s.verdict} ({s.diff:+.2f}, "
            f"{s.n_a}+{s.n_b} seeds) | {'yes' if f.verdict == s.verdict else 'no'} |"
        )
    why = _why(fixed.outcome.state.rows, seq, errors.val, labels)
    if macs_share > GOAL:
        why += _bound(fixed.outcome.state.rows, n0=args.seeds, n_max=args.max_seeds,
                      arms=len(labels), alpha=plan.question.alpha)  # fmt: skip
    agree = all(
        f.verdict == s.verdict for f, s in zip(fixed.outcome.state.rows, seq.rows, strict=True)
    )
    body = "\n".join(
        [
            "## Compute to a verdict: sequential rule vs fixed design",
            "",
            f"Command: `{command()}`  ",
            machine_line(),
            "",
            f"The demo's study (C = 1, 2, 4 at equal MACs, ResNeXt-{DEMO_DEPTH} at "
            f"{args.width_multiplier:g} width on digits, {args.epochs} epochs, recipe "
            f"{recipe}); fixed design: {args.max_seeds} seeds per arm; sequential: "
            f"{args.seeds} seeds, then one per look up to {args.max_seeds}. Runs trained "
            f"now: {fixed.trained_now} of {len(labels) * args.max_seeds}"
            + ("." if args.store is None else f" (the rest reused from {_rel(args.store)})."),
            "",
            "| pair | fixed design | sequential rule | agree |",
            "|---|---|---|---|",
            *rows,
            "",
            f"Sequential compute: {runs_share:.0%} of the fixed design's runs, {macs_share:.0%} "
            f"of its training MACs (the fraction below), {wall_share:.0%} of its measured "
            "training seconds (reused runs were timed on another occasion and load: rough); "
            f"verdicts {'agree' if agree else 'differ'}. Goal: the same verdicts with <= "
            f"{GOAL:.0%}: {'met' if agree and macs_share <= GOAL else 'not met'}."
            f"{why} Wall time of this benchmark: {time.perf_counter() - start:.0f} s.",
            "",
            f"compute fraction: {macs_share:.2f}; verdicts agree: {'yes' if agree else 'no'}",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("bench_study", body)


def _share(used: Mapping[str, int], cost: Mapping[str, float], n_max: int) -> float:
    """The sequential rule's share of the fixed design's cost, each run weighed by its arm's."""
    return sum(used[a] * cost[a] for a in cost) / sum(n_max * cost[a] for a in cost)


def _why(
    fixed_rows: Sequence[PairRow],
    seq: SequentialState,
    val: Mapping[str, Sequence[float]],
    labels: Sequence[str],
) -> str:
    """One sentence on why the rule saved what it saved (nothing when a pair stopped early)."""
    if any(n < n_max for n, n_max in ((r.n_a + r.n_b, 2 * len(val[r.a])) for r in seq.rows)):
        return ""
    sd = statistics.mean(statistics.stdev(val[a]) for a in labels)
    need = [r.seeds_to_win for r in fixed_rows if r.seeds_to_win is not None]
    power = f"; 80% power would take {min(need)}-{max(need)} seeds per arm" if need else ""
    return (
        f" No pair could be decided before the last seed (largest |A - B| "
        f"{max(abs(r.diff) for r in fixed_rows):.2f} points against a mean seed sd of "
        f"{sd:.2f}{power}), so the sequential rule trained every seed: it saves compute only "
        "on pairs it decides early, a clear difference or a clear equivalence."
    )


def _bound(fixed_rows: Sequence[PairRow], *, n0: int, n_max: int, arms: int, alpha: float) -> str:
    """Why the goal is out of reach: the power to decide the fixed design's winners in time.

    At GOAL of the runs, with the other arms at their first ``n0`` seeds, the two arms of a
    decided pair can hold at most n seeds each; even one test there spending all of the pair's
    alpha / m would find the fixed design's difference (at its per-seed sd) only with the
    noncentral t's power, and a sequential rule must spend less by then.
    """
    n = int((GOAL * arms * n_max - (arms - 2) * n0) // 2)
    m = arms * (arms - 1) // 2
    parts = [
        f"{r.a} vs {r.b} ({r.diff:+.2f} points, per-seed sd of the difference {r.sd:.2f}): "
        f"{win_power(abs(r.diff), r.sd, n, alpha / m):.0%}"
        for r in fixed_rows
        if r.verdict.endswith("better") and n >= 2
    ]
    if not parts:
        return ""
    return (
        f" Within {GOAL:.0%} of the runs, a decided pair's two arms hold at most {n} seeds each "
        f"(the others {n0}); one test at {n} seeds spending all of alpha/{m} would decide "
        + "; ".join(parts)
        + " of the time (noncentral t), and a sequential rule must spend less by then."
    )


def _rel(path: Path) -> str:
    """The path from the repository root when it lies inside it."""
    try:
        return str(path.resolve().relative_to(DEMO_STORE.parent.parent))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    main()

"""Compute to a verdict: the sequential rule against the fixed design, on the same stored runs.

    .venv/bin/python benchmarks/bench_study.py [--seeds 3 --max-seeds 10 --epochs 6]
        [--val-fraction 0.1[,0.3,0.5]] [--split per-seed|fixed]

Trains a fixed design once with the demo's study (``archlab demo``: C = 1, 2, 4 at equal MACs,
ResNeXt-29 at 1/8 width on digits, its stable recipe) but every arm at ``--max-seeds`` seeds: a
study whose first look is its last, so its verdict is the fixed design's (the floored paired
test, Bonferroni over the pairs, full alpha). Then replays the sequential rule, paired as the
study is, over the same stored runs, seeds in order, from ``--seeds`` up: the seeds it would
have trained are the compute it would have used. Reports both side by side: the share of the
fixed design's compute (runs and training seconds) and whether every pair's verdict agrees.
Goal: the same verdicts with <= 50%. It does so at each validation fraction of
``--val-fraction`` (``data.val_fraction``; default 0.1, the study's; 0.3 and 0.5 on request:
a larger split counts each seed's error over more images and trains on fewer,
docs/statistics.md), each fraction's sequential verdicts against its own fixed design's, on
``--split`` (default: the study's, per seed). The demo trains the study's runs (same recipe,
seeds from 0) and ``bench_val_size.py`` the fixed split's at all three fractions, so by default
the runs already in its kept store (``archlab-runs/bench_val_size.db``), else in the demo's
(``archlab-runs/demo.db``), are reused from a copy and only missing seeds are trained.
The section ends with one line for the study's default fraction,
``compute fraction: 0.NN; verdicts agree: yes|no``: the share of training compute, each run
weighed by its arm's MACs (every run of one fraction sees the same images for the same epochs).
Measured training seconds are shown beside it, but runs reused from the store were timed on
another occasion, under another load, so seconds compare the two designs only roughly.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from _sections import command, machine_line, relative, write_section

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
VAL_SIZE_STORE = DEMO_STORE.parent / "bench_val_size.db"  # bench_val_size.py's kept store
# The study's own fraction only: other fractions retrain 30 runs each (bench_val_size's store
# holds them for the fixed split: --split fixed --val-fraction 0.1,0.3,0.5 reuses it).
FRACTIONS = str(demo_plan().training.config.val_fraction)


def main() -> None:
    """Per validation fraction: train the fixed design, replay the rule; write the section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-seeds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--width-multiplier", type=float, default=0.125)
    parser.add_argument(
        "--val-fraction",
        default=FRACTIONS,
        help="Validation fractions (data.val_fraction), comma-separated: one study per "
        "fraction, side by side; the last line is the study's default fraction's.",
    )
    parser.add_argument(
        "--store",
        type=Path,
        help="Reuse the runs of this store (copied, never changed): runs of the same recipe "
        "and seed are not trained again. Default: the demo's store for the study's split; "
        "for --split fixed bench_val_size.py's kept store, else the demo's; when it exists.",
    )
    parser.add_argument(
        "--split",
        choices=("per-seed", "fixed"),
        default=demo_plan().training.config.split,
        help="Validation split (data.split); default: the study's (docs/statistics.md).",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.store is None:  # the store that holds this split's runs
        kept = (DEMO_STORE,) if args.split == "per-seed" else (VAL_SIZE_STORE, DEMO_STORE)
        args.store = next((p for p in kept if p.is_file()), None)
    default = demo_plan().training.config.val_fraction
    fractions = [float(f) for f in args.val_fraction.split(",")]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        store_path = Path(tmp) / "store.db"
        if args.store is not None:
            shutil.copyfile(args.store, store_path)
        results = [_one(f, args, store_path) for f in fractions]
    base = results[0]
    rows = [row for r in results for row in r.rows]
    own = results[fractions.index(default)] if default in fractions else None
    sentences = [f"- {r.sentence(base)}" for r in results]
    body = "\n".join(
        [
            "## Compute to a verdict: sequential rule vs fixed design",
            "",
            f"Command: `{command()}`  ",
            machine_line(),
            "",
            f"The demo's study (C = 1, 2, 4 at equal MACs, ResNeXt-{DEMO_DEPTH} at "
            f"{args.width_multiplier:g} width on digits, {args.epochs} epochs, the "
            f"{args.split} split) "
            f"at validation fraction {', '.join(f'{f:g}' for f in fractions)} (the share of "
            "the training pool held out: the validation images grow and the training images "
            f"shrink with it); fixed design: {args.max_seeds} seeds per arm; sequential: "
            f"{args.seeds} seeds, then one per look up to {args.max_seeds}, on the same runs. "
            "Each fraction's sequential verdicts are compared with its own fixed design's. "
            f"Runs trained now: {sum(r.trained for r in results)} of "
            f"{sum(r.total for r in results)}"
            + ("." if args.store is None else f" (the rest reused from {relative(args.store)})."),
            "",
            "| val fraction | pair | fixed design | sequential rule | agree |",
            "|---:|---|---|---|---|",
            *rows,
            "",
            *sentences,
            "",
            f"Wall time of this benchmark: {time.perf_counter() - start:.0f} s. The line below "
            f"is the study's default setting (val fraction {default:g}).",
            "",
            *([_line(own)] if own is not None else []),
        ]
    )
    print(body)
    if not args.no_write:
        write_section("bench_study", body)


@dataclass(frozen=True)
class Setting:
    """One validation fraction's fixed design and sequential replay."""

    fraction: float
    rows: list[str]
    runs_share: float
    macs_share: float
    wall_share: float
    agree: bool
    why: str
    trained: int
    total: int
    n_val: int
    n_train: int
    decided: int  # pairs the fixed design decides
    cost: float  # the sequential rule's images x MACs (its training compute, up to a constant)
    fixed_cost: float

    def sentence(self, base: Setting) -> str:
        """What the rule used at this fraction, and against the first fraction's fixed design."""
        met = self.agree and self.macs_share <= GOAL
        against = (
            ""
            if base is self
            else f" Against the fixed design at {base.fraction:g} (images x MACs): "
            f"{self.cost / base.fixed_cost:.0%} (its own fixed design "
            f"{self.fixed_cost / base.fixed_cost:.0%})."
        )
        return (
            f"Val fraction {self.fraction:g} ({self.n_val} validation, {self.n_train} training "
            f"images): sequential compute {self.runs_share:.0%} of the fixed design's runs, "
            f"{self.macs_share:.0%} of its training MACs, {self.wall_share:.0%} of its measured "
            "training seconds (reused runs were timed on another occasion and load: rough); "
            f"verdicts {'agree' if self.agree else 'differ'}; goal (the same verdicts with <= "
            f"{GOAL:.0%}) {'met' if met else 'not met'}"
            + (
                ", but trivially: the fixed design decides no pair, so agreeing takes only "
                "stopping every pair as futile"
                if met and not self.decided
                else ""
            )
            + f".{against}{self.why}"
        )


def _one(fraction: float, args: argparse.Namespace, store_path: Path) -> Setting:
    """Train (or reuse) the fixed design at one validation fraction and replay the rule."""
    from archlab.train.tasks import dataset_for

    name = f"fixed-{args.split}-{fraction:g}"
    plan = demo_plan(  # the demo's study, every arm at max seeds from the start
        overrides={
            "budget.epochs": args.epochs, "study.min_seeds": args.max_seeds,
            "study.max_seeds": args.max_seeds, "study.name": name,
            "study.width_multiplier": args.width_multiplier, "execution.device": "cpu",
            "data.val_fraction": fraction, "data.split": args.split,
            "output.store": str(store_path),
        }
    )  # fmt: skip
    fixed = run_study(plan)
    with Store(store_path, create=True) as store:
        record = load_study(store, name)
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
    arm_macs = {a: float(macs[names[a]]) for a in labels}
    macs_share = _share(seq.used, arm_macs, args.max_seeds)
    fixed_rows = fixed.outcome.state.rows
    rows = [
        f"| {fraction:g} | {f.a} vs {f.b} | {f.verdict} ({f.diff:+.2f}) | {s.verdict} "
        f"({s.diff:+.2f}, {s.n_a}+{s.n_b} seeds) | {'yes' if f.verdict == s.verdict else 'no'} |"
        for f, s in zip(fixed_rows, seq.rows, strict=True)
    ]
    why = _why(fixed_rows, seq, errors.val, labels)
    if macs_share > GOAL:
        why += _bound(fixed_rows, n0=args.seeds, n_max=args.max_seeds,
                      arms=len(labels), alpha=plan.question.alpha)  # fmt: skip
    data = dataset_for(plan.training.config)
    n_train = len(data.y_train)
    return Setting(
        fraction=fraction,
        rows=rows,
        runs_share=sum(seq.used.values()) / (len(labels) * args.max_seeds),
        macs_share=macs_share,
        wall_share=_share(seq.used, {a: float(wall[names[a]]) for a in labels}, args.max_seeds),
        agree=all(f.verdict == s.verdict for f, s in zip(fixed_rows, seq.rows, strict=True)),
        why=why,
        trained=fixed.trained_now,
        total=len(labels) * args.max_seeds,
        n_val=len(data.y_val),
        n_train=n_train,
        decided=sum(r.verdict != "undecided" for r in fixed_rows),
        cost=n_train * sum(seq.used[a] * arm_macs[a] for a in labels),
        fixed_cost=n_train * sum(args.max_seeds * arm_macs[a] for a in labels),
    )


def _line(own: Setting) -> str:
    """The section's last line, for the study's default setting."""
    return f"compute fraction: {own.macs_share:.2f}; verdicts agree: {'yes' if own.agree else 'no'}"


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


if __name__ == "__main__":
    main()

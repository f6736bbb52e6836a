"""Compute to a verdict: the sequential rule against the fixed design, on the same stored runs.

    .venv/bin/python benchmarks/bench_study.py [--questions depth-width-cardinality,cardinality]
        [--seeds 3 --max-seeds 10 --epochs 6] [--val-fraction 0.1[,0.3,0.5]]
        [--split per-seed|fixed]

Per question (a study preset, asked on digits at the demo's recipe: ResNeXt-29 at 1/8 width on
the CIFAR template, 6 epochs) trains the fixed design once: every tested arm at ``--max-seeds``
seeds, a study whose first look is its last, so its verdict is the fixed design's (the floored
paired test, Bonferroni over the pairs, full alpha). Then replays the sequential rule, paired as
the study is, over the same stored runs, seeds in order, from ``--seeds`` up: the seeds it would
have trained are the compute it would have used. Goal (issue 19): on arms that include a real
difference and a near-tie, the same verdicts with <= 50% of the fixed design's compute.

The questions, in the order of ``--questions`` (default both):

- ``depth-width-cardinality``: the paper's Table 4 question at 2x complexity (deeper, wider,
  C = 32; C = 2 cannot be matched at 1/8 width and is left out; the 1x baseline is a reference
  arm, shown and not tested, so it is left out of both designs' compute). On 6-epoch digits
  runs the deeper arm trains far worse (a real difference the fixed design decides) and wider
  and C = 32 nearly tie: the scenario of the goal, so the section's last line is its.
- ``cardinality``: the demo's question (``archlab demo``: C = 1, 2, 4 at 1x), whose differences
  the fixed design decides none of.

Each question is replayed at every validation fraction of ``--val-fraction``
(``data.val_fraction``; default 0.1, the study's; 0.3 and 0.5 on request, docs/statistics.md),
on ``--split`` (default the study's, per seed), and under each spending function of
``archlab.stats.sequential.SPENDING`` beside the study's O'Brien-Fleming. For each pair the rule
decided, a line gives its |t| at every look before it was decided against the rule's threshold
there: why it was not decided sooner.

Runs are reused from a copy of ``--store`` (default: ``--keep`` when it exists, else the demo's
store, or for ``--split fixed`` bench_val_size.py's kept store); missing seeds are trained and
the copy is kept at ``--keep`` (``archlab-runs/bench_study.db``) for the next run. The last line
is ``compute fraction: 0.NN; verdicts agree: yes|no`` for the first question at the study's
fraction: the share of training compute, each run weighed by its arm's MACs (every run of one
fraction sees the same images for the same epochs). Measured seconds are shown beside it, but
reused runs were timed on another occasion and load, so they compare the designs only roughly.
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _sections import ROOT, command, machine_line, relative, write_section
from scipy import special

from archlab.stats.difference import Arm, difference
from archlab.stats.pairwise import PairRow
from archlab.stats.sequential import SPENDING, SequentialState, nominal_levels, sequential_state
from archlab.stats.study import resolution, seed_errors, tested_labels
from archlab.store import Store
from archlab.store.study import load_study
from archlab.train.defaults import DEMO_STORE as DEMO_STORE_PATH
from archlab.workflows.demo import DEMO_DEPTH, demo_plan
from archlab.workflows.study import run_study

GOAL = 0.5
STUDY_SPENDING = "obrien-fleming"  # the study's (docs/statistics.md)
DEMO_STORE = ROOT / DEMO_STORE_PATH
KEEP = DEMO_STORE.parent / "bench_study.db"  # this benchmark's runs, kept for the next run
VAL_SIZE_STORE = DEMO_STORE.parent / "bench_val_size.db"  # bench_val_size.py's kept store
# The study's own fraction only: other fractions retrain 30 runs each (bench_val_size's store
# holds them for the fixed split: --split fixed --val-fraction 0.1,0.3,0.5 reuses it).
FRACTIONS = str(demo_plan().training.config.val_fraction)
# Each question's plan on top of the demo's (the demo's recipe, data and width).
QUESTIONS: dict[str, dict[str, Any]] = {
    # Table 4 at its default 2x, C = 32 (the preset's C = 2 has no d within 5% at 1/8 width).
    "depth-width-cardinality": {
        "study.preset": "depth-width-cardinality", "study.cardinalities": [32],
    },
    "cardinality": {},  # the demo's own: C = 1 against C = 2, 4 at 1x
}  # fmt: skip
WHAT = {
    "depth-width-cardinality": "the paper's Table 4 question at 2x (deeper, wider, C = 32)",
    "cardinality": "the demo's question (C = 1, 2, 4 at 1x)",
}


def main() -> None:
    """Per question and validation fraction: train the fixed design, replay the rule; write."""
    args = _parse()
    default = demo_plan().training.config.val_fraction
    fractions = [float(f) for f in args.val_fraction.split(",")]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        store_path = Path(tmp) / "store.db"
        if args.store is not None:
            shutil.copyfile(args.store, store_path)
        results = [_one(q, f, args, store_path) for q in args.questions for f in fractions]
        if args.keep is not None:
            args.keep.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(store_path, args.keep)
    first = args.questions[0]
    own = next((r for r in results if r.question == first and r.fraction == default), None)
    body = _body(args, fractions, results, time.perf_counter() - start, own)
    print(body)
    if not args.no_write:
        write_section("bench_study", body)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--questions",
        default=",".join(QUESTIONS),
        help=f"Study presets to ask, comma-separated, from: {', '.join(QUESTIONS)}; the last "
        "line is the first's.",
    )
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
        "and seed are not trained again. Default: --keep when it exists, else the demo's "
        "store (for --split fixed bench_val_size.py's kept store first), when it exists.",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        default=KEEP,
        help="Where the store trained into is kept for the next run (default: %(default)s).",
    )
    parser.add_argument(
        "--split",
        choices=("per-seed", "fixed"),
        default=demo_plan().training.config.split,
        help="Validation split (data.split); default: the study's (docs/statistics.md).",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    args.questions = [q.strip() for q in args.questions.split(",") if q.strip()]
    unknown = [q for q in args.questions if q not in QUESTIONS]
    if unknown or not args.questions:
        choices = ", ".join(QUESTIONS)
        parser.error(f"--questions: unknown {unknown or 'none'}; choose from {choices}")
    if args.store is None:  # the store that holds this split's runs
        kept = (KEEP, DEMO_STORE) if args.split == "per-seed" else (KEEP, VAL_SIZE_STORE)
        args.store = next((p for p in (*kept, DEMO_STORE) if p.is_file()), None)
    return args


@dataclass(frozen=True)
class Setting:
    """One question's fixed design and sequential replay at one validation fraction."""

    question: str
    fraction: float
    rows: list[str]
    spending_rows: list[str]
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

    def sentence(self) -> str:
        """What the rule used for this question at this fraction."""
        met = self.agree and self.macs_share <= GOAL
        return (
            f"{_title(self.question)}, val fraction {self.fraction:g} ({self.n_val} validation, "
            f"{self.n_train} training images; the fixed design decides {self.decided} "
            f"pair{'s' if self.decided != 1 else ''}): sequential compute "
            f"{self.runs_share:.0%} of the fixed design's runs, {self.macs_share:.0%} of its "
            f"training MACs, {self.wall_share:.0%} of its measured training seconds (rough); "
            f"verdicts {'agree' if self.agree else 'differ'}; goal (the same verdicts with <= "
            f"{GOAL:.0%}) {'met' if met else 'not met'}"
            + (
                ", but trivially: the fixed design decides no pair, so agreeing takes only "
                "stopping every pair as futile"
                if met and not self.decided
                else ""
            )
            + f".{self.why}"
        )


def _title(question: str) -> str:
    return question[0].upper() + question[1:]


def _plan_overrides(question: str, fraction: float, args: argparse.Namespace, store: Path) -> dict:
    name = f"fixed-{question}-{args.split}-{fraction:g}"
    return {
        "budget.epochs": args.epochs, "study.min_seeds": args.max_seeds,
        "study.max_seeds": args.max_seeds, "study.name": name,
        "study.width_multiplier": args.width_multiplier, "execution.device": "cpu",
        "data.val_fraction": fraction, "data.split": args.split, "output.store": str(store),
        **QUESTIONS[question],
    }  # fmt: skip


def _one(question: str, fraction: float, args: argparse.Namespace, store_path: Path) -> Setting:
    """Train (or reuse) one question's fixed design at one validation fraction; replay the rule."""
    from archlab.train.tasks import dataset_for

    overrides = _plan_overrides(question, fraction, args, store_path)
    plan = demo_plan(overrides=overrides)  # every arm at max seeds from the start
    fixed = run_study(plan)
    with Store(store_path, create=True) as store:
        record = load_study(store, overrides["study.name"])
        assert record is not None
        errors = seed_errors(store, record.definition)
        frame = store.results_frame()
        wall = frame.groupby("name")["wall_s"].mean()
        macs = frame.groupby("name")["macs"].first()
    labels = tested_labels(fixed.outcome.definition)
    val = {label: errors.val[label] for label in labels}
    replay = _Replay(
        val, n0=args.seeds, n_max=args.max_seeds, alpha=plan.question.alpha,
        rope=plan.question.rope,
        # As the study itself: its pairing (paired by default), floored at one image.
        paired=bool(record.definition.get("paired", True)),
        resolution=resolution(record.definition),
    )  # fmt: skip
    seq = replay.state(STUDY_SPENDING)
    names = {label: fixed.arms.arm(label).spec.name for label in labels}
    arm_macs = {a: float(macs[names[a]]) for a in labels}
    fixed_rows = fixed.outcome.state.rows
    rows = [
        f"| {question} | {fraction:g} | {f.a} vs {f.b} | {f.verdict} ({f.diff:+.2f}) | "
        f"{s.verdict} ({s.diff:+.2f}, {s.n_a}+{s.n_b} seeds) | "
        f"{'yes' if f.verdict == s.verdict else 'no'} |"
        for f, s in zip(fixed_rows, seq.rows, strict=True)
    ]
    spending_rows = [
        _spending_row(question, fraction, name, replay.state(name), fixed_rows, arm_macs, args)
        for name in SPENDING
    ]
    why = _why(fixed_rows, seq, val, labels) + replay.thresholds(seq)
    data = dataset_for(plan.training.config)
    return Setting(
        question=question,
        fraction=fraction,
        rows=rows,
        spending_rows=spending_rows,
        runs_share=sum(seq.used.values()) / (len(labels) * args.max_seeds),
        macs_share=_share(seq.used, arm_macs, args.max_seeds),
        wall_share=_share(seq.used, {a: float(wall[names[a]]) for a in labels}, args.max_seeds),
        agree=_agree(fixed_rows, seq.rows),
        why=why,
        trained=fixed.trained_now,
        total=len(fixed.arms.arms) * args.max_seeds,
        n_val=len(data.y_val),
        n_train=len(data.y_train),
        decided=sum(r.verdict != "undecided" for r in fixed_rows),
    )


@dataclass(frozen=True)
class _Replay:
    """The sequential rule over one fixed design's per-seed errors, under any spending."""

    val: Mapping[str, Sequence[float]]
    n0: int
    n_max: int
    alpha: float
    rope: float
    paired: bool
    resolution: float

    def state(self, spending: str) -> SequentialState:
        return sequential_state(
            self.val, n0=self.n0, n_max=self.n_max, alpha=self.alpha, rope=self.rope,
            paired=self.paired, resolution=self.resolution, spending=spending,
        )  # fmt: skip

    def thresholds(self, seq: SequentialState) -> str:
        """For each pair the rule decided: its |t| at each earlier look against the threshold."""
        m = len(seq.rows)
        levels = nominal_levels(self.n0, self.n_max, self.alpha / m, STUDY_SPENDING)
        parts = []
        for row in seq.rows:
            if row.futile or row.verdict == "undecided" or row.decided_at is None:
                continue
            looks = []
            for n in range(self.n0, row.decided_at + 1):
                a, b = (Arm(np.arange(n), np.asarray(self.val[x][:n])) for x in (row.a, row.b))
                d = difference(a, b, paired=self.paired, resolution=self.resolution)
                level = levels[n - self.n0]
                crit = float(special.stdtrit(d.df, 1 - level / 2)) if level > 0 else math.inf
                looks.append(f"{n}: {abs(d.diff) / d.se:.1f} vs {crit:.1f}")
            parts.append(f"{row.a} vs {row.b} (decided at {row.decided_at}) " + ", ".join(looks))
        if not parts:
            return ""
        return (
            " Why not sooner: |t| against the rule's threshold at each look (seeds per arm: "
            "|t| vs threshold; O'Brien-Fleming over alpha/"
            f"{m}, df = seeds - 1): " + "; ".join(parts) + "."
        )


def _spending_row(
    question: str,
    fraction: float,
    spending: str,
    seq: SequentialState,
    fixed_rows: Sequence[PairRow],
    arm_macs: Mapping[str, float],
    args: argparse.Namespace,
) -> str:
    decided = ", ".join(
        f"{r.a} vs {r.b} at {r.decided_at}" for r in seq.rows if r.verdict != "undecided"
    )
    study = " (the study's)" if spending == STUDY_SPENDING else ""
    return (
        f"| {question} | {fraction:g} | {spending}{study} | "
        f"{_share(seq.used, arm_macs, args.max_seeds):.2f} | "
        f"{'yes' if _agree(fixed_rows, seq.rows) else 'no'} | {decided or 'none'} |"
    )


def _agree(fixed_rows: Sequence[PairRow], seq_rows: Sequence[PairRow]) -> bool:
    return all(f.verdict == s.verdict for f, s in zip(fixed_rows, seq_rows, strict=True))


def _body(
    args: argparse.Namespace,
    fractions: Sequence[float],
    results: Sequence[Setting],
    wall: float,
    own: Setting | None,
) -> str:
    questions = "; ".join(f"{q}: {WHAT[q]}" for q in args.questions)
    return "\n".join(
        [
            "## Compute to a verdict: sequential rule vs fixed design",
            "",
            f"Command: `{command()}`  ",
            machine_line(),
            "",
            f"Questions asked on digits at the demo's recipe (ResNeXt-{DEMO_DEPTH} at "
            f"{args.width_multiplier:g} width, {args.epochs} epochs, the {args.split} split): "
            f"{questions}. Validation fraction {', '.join(f'{f:g}' for f in fractions)}; fixed "
            f"design: {args.max_seeds} seeds per tested arm; sequential: {args.seeds} seeds, "
            f"then one per look up to {args.max_seeds}, on the same runs (a reference arm is "
            "shown by a study, not tested, and left out of both designs' compute). "
            f"Runs trained now: {sum(r.trained for r in results)} of "
            f"{sum(r.total for r in results)}"
            + ("." if args.store is None else f" (the rest reused from {relative(args.store)})."),
            "",
            "| question | val fraction | pair | fixed design | sequential rule | agree |",
            "|---|---:|---|---|---|---|",
            *[row for r in results for row in r.rows],
            "",
            *[f"- {r.sentence()}" for r in results],
            "",
            "The same runs under each spending function of the sequential rule (compute: the "
            "share of the fixed design's training MACs):",
            "",
            "| question | val fraction | spending | compute | verdicts agree | decided at |",
            "|---|---:|---|---:|---|---|",
            *[row for r in results for row in r.spending_rows],
            "",
            f"Wall time of this benchmark: {wall:.0f} s. The line below is "
            + (
                f"{own.question}'s (its fixed design decides {own.decided} of its pairs) at "
                f"the study's default setting (val fraction {own.fraction:g})."
                if own is not None
                else "missing: the first question was not run at the study's default fraction."
            ),
            "",
            *([_line(own)] if own is not None else []),
        ]
    )


def _line(own: Setting) -> str:
    """The section's last line, for the first question at the study's default setting."""
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
    """One sentence when the rule trained every seed (nothing when a pair stopped early)."""
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


if __name__ == "__main__":
    main()

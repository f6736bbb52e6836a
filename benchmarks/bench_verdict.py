"""The verdict's simulation table: wrong-"better" rate, power and seeds, sequential vs fixed.

    .venv/bin/python benchmarks/bench_verdict.py [--studies 1000]

Runs every scenario of :mod:`archlab.stats.simulate` (the errors short training runs produce:
Gaussian, heavy-tailed, diverged seeds, unequal seed spreads, counts over a 180-image validation
set, seeds paired across arms) through the sequential rule (3 seeds, then one per look up to 10)
and the fixed 10-seed design, on ``--studies`` A/A studies and as many where the first arm is
better by 1.5 seed sd (from three arms on, the others identical: a partial null). Writes the
table into its section of reports/benchmarks.md; tests/stats/test_simulate.py asserts the
same bounds at smaller counts.

Two more tables choose the rule's settings (docs/statistics.md): **rule variants** (how alpha is
spent over the looks, and the futility threshold) by power and seeds at a few true differences,
and **paired vs unpaired** tests at correlations 0, 0.5, -0.3 and -0.6 between the arms' seeds.
"""

from __future__ import annotations

import argparse
import time

from _sections import command, machine_line, write_section

from archlab.stats.sequential import FUTILITY
from archlab.stats.simulate import EFFECT, SCENARIOS, SimResult, correlated, simulate

ALPHA = 0.05
GRID = [(name, 3, 3) for name in SCENARIOS] + [
    ("gaussian", 2, 3),
    ("gaussian", 2, 2),
    ("gaussian", 5, 3),
    ("counted on 180 images", 2, 2),
    ("seed sd 1:10", 2, 3),
]


def row(r: SimResult) -> str:
    """One markdown row of a scenario's result."""
    bound = ALPHA + r.mc_se
    ok = max(r.wrong_null, r.wrong_alt, r.wrong_fixed) <= bound
    return (
        f"| {r.scenario} | {r.arms} | {r.seeds} | {r.wrong_null:.1%} | {r.wrong_alt:.1%} | "
        f"{r.wrong_fixed:.1%} | {bound:.1%} {'ok' if ok else 'EXCEEDED'} | "
        f"{r.power:.0%} / {r.power_fixed:.0%} | {r.seeds_share:.0%} |"
    )


# (spending, futility): the study's rule first, then futility judged at higher thresholds, then
# alpha spent earlier (Hwang-Shih-DeCani g = -2, Pocock-type).
VARIANTS = [
    ("obrien-fleming", FUTILITY),
    ("obrien-fleming", 0.2),
    ("obrien-fleming", 0.3),
    ("hsd(-2)", FUTILITY),
    ("pocock", FUTILITY),
]
# (arms, effect in seed sd): 2 arms 2 sd apart is about the demo's C = 1 vs C = 2 (4.4 points at
# a seed sd near 2.4); 3 arms with one better (a partial null), moderately and clearly.
SETTINGS = [(2, 2.0), (3, 1.5), (3, 3.0)]
CORRELATIONS = [0.0, 0.5, -0.3, -0.6]
SWEEP = [1.0, 2.0, 3.0, 4.0, 6.0]  # effects (seed sd) at which the study's rule is swept


def sweep_rows(studies: int) -> list[str]:
    """The study's rule at growing differences: how clear a difference halves the seeds."""
    rows = []
    for effect in SWEEP:
        cells = []
        for arms in (2, 3):
            r = simulate("gaussian", studies=studies, arms=arms, effect=effect, seed=300 + arms)
            cells.append(f"{r.power:.0%} / {r.power_fixed:.0%} | {r.seeds_share:.0%}")
        rows.append(f"| {effect:g} | " + " | ".join(cells) + " |")
    return rows


def variant_rows(studies: int) -> list[str]:
    """Power and seeds of each rule variant in each setting, Gaussian seeds."""
    rows = []
    for arms, effect in SETTINGS:
        for i, (spending, futility) in enumerate(VARIANTS):
            r = simulate(
                "gaussian", studies=studies, arms=arms, effect=effect, futility=futility,
                spending=spending, seed=100 + arms,
            )  # fmt: skip
            ok = max(r.wrong_null, r.wrong_alt) <= ALPHA + r.mc_se
            rows.append(
                f"| {arms} | {effect:g} | {spending}{' (study)' if i == 0 else ''} | "
                f"{futility:.0%} | {r.wrong_null:.1%} {'ok' if ok else 'EXCEEDED'} | "
                f"{r.power:.0%} / {r.power_fixed:.0%} | {r.seeds_share:.0%} |"
            )
    return rows


def pairing_rows(studies: int) -> list[str]:
    """Paired vs unpaired test on Gaussian seeds correlated across 2 arms."""
    rows = []
    for rho in CORRELATIONS:
        for paired in (True, False):
            r = simulate(correlated(rho, paired=paired), studies=studies, arms=2, seed=200)
            bound = ALPHA + r.mc_se
            ok = max(r.wrong_null, r.wrong_fixed) <= bound
            rows.append(
                f"| {rho:+g} | {'paired' if paired else 'unpaired'} | {r.wrong_null:.1%} | "
                f"{r.wrong_fixed:.1%} | {bound:.1%} {'ok' if ok else 'EXCEEDED'} | "
                f"{r.power:.0%} / {r.power_fixed:.0%} | {r.seeds_share:.0%} |"
            )
    return rows


def main() -> None:
    """Simulate the grid, print and write the section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    rows = [
        row(simulate(name, studies=args.studies, arms=arms, seeds=seeds, seed=i))
        for i, (name, arms, seeds) in enumerate(GRID)
    ]
    body = "\n".join(
        [
            '## Verdict: wrong "better" rate, power and seeds by simulation',
            "",
            f"Command: `{command()}`  ",
            machine_line(),
            "",
            f"{args.studies} A/A studies and {args.studies} studies with the first arm better by "
            f"{EFFECT:g} seed sd per row; alpha {ALPHA:g}, rope 0.5 points; sequential: the "
            f"first seeds, then one per look up to 10, futility below {FUTILITY:.0%} "
            'conditional power; fixed: 10 seeds per arm. Wrong "better": share of studies '
            "with any pair called the wrong way (family-wise). Bound: alpha + 2 Monte-Carlo "
            "SEs. Power: truly different pairs called the right way. Seeds: the rule's mean "
            "seeds over the fixed design's, in studies with a difference.",
            "",
            "| scenario | arms | first seeds | wrong, A/A | wrong, with a difference | wrong, "
            "fixed A/A | bound | power: sequential / fixed | seeds vs fixed |",
            "|---|---:|---:|---:|---:|---:|---|---|---:|",
            *rows,
            "",
            "### Rule variants: seeds against power",
            "",
            f"Gaussian seeds, {args.studies} studies per row and truth, the first arm better by "
            "the effect (seed sd); 3 first seeds, then one per look up to 10. Wrong: A/A "
            'studies with any "better" (the bound as above). Futility is non-binding, so '
            "a higher threshold only removes rejections; spending alpha earlier keeps the "
            "level by the same calibration.",
            "",
            "| arms | effect | spending | futility | wrong, A/A | power: sequential / fixed "
            "| seeds vs fixed |",
            "|---:|---:|---|---:|---|---|---:|",
            *variant_rows(args.studies),
            "",
            "### How clear a difference must be to halve the seeds",
            "",
            f"The study's rule, Gaussian seeds, {args.studies} studies per row and truth, the "
            "first arm better by the effect (seed sd; with 3 arms the other two identical).",
            "",
            "| effect | 2 arms: power, sequential / fixed | 2 arms: seeds vs fixed | 3 arms: "
            "power | 3 arms: seeds vs fixed |",
            "|---:|---|---:|---|---:|",
            *sweep_rows(args.studies),
            "",
            "### Paired vs unpaired test at a correlation between arms",
            "",
            f"2 arms, Gaussian seeds correlated by the given amount across arms, {args.studies} "
            f"studies per row and truth, the first arm better by {EFFECT:g} seed sd; both tests "
            "on Hsu's n - 1 degrees of freedom (equal df). Wrong: A/A studies with any "
            '"better", sequential and fixed.',
            "",
            "| correlation | test | wrong, A/A | wrong, fixed A/A | bound | power: sequential "
            "/ fixed | seeds vs fixed |",
            "|---:|---|---:|---:|---|---|---:|",
            *pairing_rows(args.studies),
            "",
            f"Wall time of this benchmark: {time.perf_counter() - start:.0f} s.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("bench_verdict", body)


if __name__ == "__main__":
    main()

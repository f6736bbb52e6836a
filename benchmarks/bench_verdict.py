"""The verdict's simulation table: wrong-"better" rate, power and seeds, sequential vs fixed.

    .venv/bin/python benchmarks/bench_verdict.py [--studies 1000]

Runs every scenario of :mod:`archlab.stats.simulate` (the errors short training runs produce:
Gaussian, heavy-tailed, diverged seeds, unequal seed spreads, counts over a 180-image validation
set, seeds paired across arms) through the sequential rule (3 seeds, then one per look up to 10)
and the fixed 10-seed design, on ``--studies`` A/A studies and as many where the first arm is
better by 1.5 seed sd (from three arms on, the others identical: a partial null). Writes the
table into its section of reports/benchmarks.md; tests/stats/test_simulate.py asserts the
same bounds at smaller counts.
"""

from __future__ import annotations

import argparse
import time

from _sections import command, machine_line, write_section

from archlab.stats.sequential import FUTILITY
from archlab.stats.simulate import EFFECT, SCENARIOS, SimResult, simulate

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
            f"Wall time of this benchmark: {time.perf_counter() - start:.0f} s.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("bench_verdict", body)


if __name__ == "__main__":
    main()

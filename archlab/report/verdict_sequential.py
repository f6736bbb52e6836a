"""Seeds until decided: the sequential rule of a study, replayed from per-seed errors alone.

The rule: every arm gets ``n0`` seeds; then, look after look, every arm of a still-undecided
pair gets one more seed, until every pair is decided or the arms hold ``n_max`` seeds. That makes
K = n_max - n0 + 1 planned looks.

Looking again after each round inflates false positives, so alpha is *spent* across the looks:
look k gets the share w_k = f(t_k) - f(t_{k-1}) of alpha, with t_k = n_k / n_max the information
fraction and f(t) = ln(1 + (e - 1)·t) the Lan-DeMets Pocock-type spending function (Lan & DeMets,
Biometrika 1983); f(1) = 1, so the shares sum to 1. A pair is tested at look k at level
w_k·alpha/m (m pairs, Bonferroni over the pairs as in :mod:`archlab.report.verdict`).

The guarantee, by the union bound (no assumption on how the looks correlate): a wrong "better"
verdict for some pair requires the test to reject wrongly at some look for some pair, which has
probability at most sum_k sum_pairs w_k·alpha/m = alpha. So the family-wise rate of wrong "better"
verdicts is at most alpha whatever the stopping, for Welch tests at their nominal level. The union
bound ignores the strong correlation between looks, so the true rate is lower (conservative);
``tests/test_sequential.py`` confirms both by simulation.

A pair, once decided, keeps the verdict of the look that decided it. The state of a study is a
pure function of its per-seed errors taken in seed order, so a resumed study, the report and the
benchmark's replay all reach the same verdict from the store alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from archlab.errors import ArchlabError
from archlab.report.verdict import (
    PairRow,
    _check_pairs,
    _clean,
    all_pairs,
    check_settings,
    pair_row,
)


def spending_shares(n0: int, n_max: int) -> tuple[float, ...]:
    """Each look's share of alpha (Lan-DeMets Pocock-type spending over seeds n0..n_max)."""
    check_seeds(n0, n_max)

    def f(t: float) -> float:
        return math.log(1 + (math.e - 1) * t)

    spent = [f(n / n_max) for n in range(n0, n_max + 1)]
    return tuple(b - a for a, b in zip([0.0, *spent[:-1]], spent, strict=True))


def check_seeds(n0: int, n_max: int) -> None:
    """n0 >= 1 seeds first, at most n_max >= n0 in all."""
    for name, value in (("seeds", n0), ("max_seeds", n_max)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ArchlabError(f"{name} must be a positive integer, got {value!r}")
    if n_max < n0:
        raise ArchlabError(f"max_seeds ({n_max}) must be at least seeds ({n0})")


@dataclass(frozen=True)
class SequentialState:
    """Where a sequential study stands: rows per pair, seeds each arm needs, looks taken."""

    rows: tuple[PairRow, ...]  # one per pair: the deciding look's row, or the last look's
    decided_at: dict[tuple[str, str], int]  # pair -> seeds per arm at the deciding look
    need: dict[str, int]  # seeds each arm must hold for the next look (== held when done)
    looks: int  # looks taken
    done: bool  # every pair decided, or n_max reached
    used: dict[str, int] = field(default_factory=dict)  # seeds per arm the verdict rests on

    @property
    def undecided(self) -> list[tuple[str, str]]:
        """Pairs still undecided."""
        return [(r.a, r.b) for r in self.rows if r.verdict == "undecided"]


def sequential_state(
    errors: Mapping[str, Sequence[float]],
    *,
    n0: int,
    n_max: int,
    alpha: float = 0.05,
    rope: float = 0.5,
    pairs: Sequence[tuple[str, str]] | None = None,
    power: bool = True,
) -> SequentialState:
    """Replay the rule over per-seed errors (in seed order); extra seeds beyond need are unused."""
    check_settings(alpha, rope)
    shares = spending_shares(n0, n_max)
    data = _clean(errors)
    chosen = all_pairs(list(data)) if pairs is None else list(pairs)
    _check_pairs(chosen, data)
    m = len(chosen)
    n = {arm: n0 for arm in {x for p in chosen for x in p}}
    rows: dict[tuple[str, str], PairRow] = {}
    decided: dict[tuple[str, str], int] = {}
    looks = 0
    for k, share in enumerate(shares):
        open_pairs = [p for p in chosen if p not in decided]
        if any(len(data[arm]) < n[arm] for p in open_pairs for arm in p):
            break  # the seeds of this look are not trained yet
        looks += 1
        last = k == len(shares) - 1
        for a, b in open_pairs:
            row = pair_row(
                a, b, data[a][: n[a]], data[b][: n[b]], alpha=alpha, rope=rope, m=m,
                share=share, power=power and last,
            )  # fmt: skip
            rows[(a, b)] = row
            if row.verdict != "undecided":
                decided[(a, b)] = n[a]
        still = [p for p in chosen if p not in decided]
        if not still or last:
            return _state(chosen, rows, decided, n, looks, True)
        for arm in {x for p in still for x in p}:
            n[arm] += 1
    return _state(chosen, rows, decided, n, looks, False)


def _state(
    chosen: Sequence[tuple[str, str]],
    rows: Mapping[tuple[str, str], PairRow],
    decided: dict[tuple[str, str], int],
    n: dict[str, int],
    looks: int,
    done: bool,
) -> SequentialState:
    ordered = tuple(rows[p] for p in chosen if p in rows)
    used = {arm: n[arm] for arm in n}
    if not done:  # the arms that grew for the pending look rest on one seed fewer
        open_arms = {x for p in chosen if p not in decided for x in p}
        used = {arm: v - (arm in open_arms and looks > 0) for arm, v in n.items()}
    return SequentialState(ordered, dict(decided), dict(n), looks, done, used)

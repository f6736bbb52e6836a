"""Seeds until decided: the sequential rule of a study, replayed from per-seed errors alone.

The rule: every arm gets ``n0`` seeds; then, look after look, every arm of a still-undecided
pair gets one more seed, until every pair is decided or the arms hold ``n_max`` seeds. That makes
K = n_max - n0 + 1 planned looks, and an undecided pair's two arms hold n_k = n0 + k seeds each
at look k (both grow every round while the pair is open), so its information fraction is
t_k = n_k / n_max.

Alpha is split over the m pairs (Bonferroni, as in :mod:`archlab.stats.pairwise`): each pair
may spend ``alpha / m``. Within a pair it is spent across the looks by the O'Brien-Fleming-type
Lan-DeMets function f(t) = 2 - 2·Phi(z_{1 - a/2} / sqrt(t)) with a = alpha/m (Lan & DeMets,
Biometrika 1983): almost nothing early, nearly all of it at the last look, so a study that runs
to ``n_max`` loses little power against the fixed ``n_max``-seed design, and a large difference
still stops early. Unlike a union bound over looks (which wastes the strong correlation between
a pair's successive tests), the nominal level of each look is *calibrated* so that the chance of
first rejecting at look k, under identical arms, is f(t_k) - f(t_{k-1}): by simulating
``CALIBRATION_PATHS`` A/A pairs of Gaussian seeds (a fixed-seed generator, so the levels are
deterministic), computing the same Welch p-values the verdict computes at every look, and taking
each look's level as the quantile of the still-unrejected paths' p-values that spends its share.
The targets are lowered by two Monte-Carlo standard errors, so the calibration errs on the safe
side.

The guarantee: for one pair of arms with equal Gaussian seed noise (Welch's t is then free of
the noise's scale, so the simulation is the exact null up to Monte-Carlo error), the probability
of a "better" verdict at any look, under identical arms, is at most f(1) = alpha/m; a pair whose
true difference points the other way rejects in the wrong direction less often still. A union
bound over the m pairs (no assumption on how pairs correlate) then keeps the family-wise rate of
wrong "better" verdicts at or below alpha, whenever the study stops. With unequal seed noise the
levels inherit Welch's approximation. ``tests/stats/test_sequential.py`` checks both the
false-positive rate (A/A studies) and the power against the fixed design by simulation.

A pair, once decided, keeps the verdict of the look that decided it. The state of a study is a
pure function of its per-seed errors taken in seed order, so a resumed study, the report and the
benchmark's replay all reach the same verdict from the store alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import special

from archlab.errors import ArchlabError
from archlab.stats.pairwise import (
    PairRow,
    _check_pairs,
    _clean,
    all_pairs,
    check_settings,
    pair_row,
)

CALIBRATION_PATHS = 200_000  # A/A pairs per calibration: MC SE of a 0.05 level is ~1% of it
CALIBRATION_SEED = 2017
MIN_SEEDS_PER_ARM = 2  # a Welch interval needs a spread, which one seed per arm has not


def spent(t: float, level: float) -> float:
    """Alpha spent by information fraction t: O'Brien-Fleming-type Lan-DeMets, f(1) = level."""
    z = float(special.ndtri(1 - level / 2))
    return float(2 * special.ndtr(-z / math.sqrt(t)))


@lru_cache(maxsize=64)
def nominal_levels(n0: int, n_max: int, level: float) -> tuple[float, ...]:
    """Each look's nominal two-sided Welch level, calibrated so one pair spends ``level`` in all.

    Look k (n0 + k seeds per arm) rejects when p <= levels[k]; under identical arms with equal
    Gaussian seed noise, the first rejection falls at look k with probability
    spent(t_k) - spent(t_{k-1}) (a little less: the targets are lowered by two Monte-Carlo SEs,
    and no level exceeds ``level``, so a single look is the fixed design's test).
    """
    check_seeds(n0, n_max)
    rng = np.random.default_rng(CALIBRATION_SEED)
    paths = CALIBRATION_PATHS
    sums = np.zeros((2, paths))
    squares = np.zeros((2, paths))
    alive = np.ones(paths, dtype=bool)
    rejected = 0
    levels: list[float] = []
    for n in range(1, n_max + 1):
        x = rng.standard_normal((2, paths))  # one more seed of both arms, every path
        sums += x
        squares += x * x
        if n < n0:
            continue
        if n < 2:  # one seed per arm: no spread, no test
            levels.append(0.0)
            continue
        p = _welch_p(sums / n, (squares - sums**2 / n) / (n - 1), n)
        target = spent(n / n_max, level) * paths
        need = math.floor(target - 2 * math.sqrt(target)) - rejected
        if need <= 0:
            levels.append(0.0)
            continue
        cut = float(np.partition(p[alive], need - 1)[need - 1])  # the need-th smallest
        # Never looser than the fixed design's level: Welch's p is conservative for small equal
        # samples, but it is the approximation to rely on when the seed noise differs by arm.
        cut = min(cut, level)
        levels.append(cut)
        hit = alive & (p <= cut)
        rejected += int(hit.sum())
        alive &= ~hit
    return tuple(levels)


def _welch_p(mean: np.ndarray, var: np.ndarray, n: int) -> np.ndarray:
    """Two-sided Welch p-values of arm 0 vs arm 1, n seeds each (rows: arms; columns: paths)."""
    va, vb = var[0] / n, var[1] / n
    se2 = va + vb
    df = se2**2 / ((va**2 + vb**2) / (n - 1))
    return np.asarray(2 * special.stdtr(df, -np.abs(mean[0] - mean[1]) / np.sqrt(se2)))


def check_seeds(n0: int, n_max: int) -> None:
    """n0 >= 1 seeds first, at most n_max >= max(n0, 2) in all."""
    for name, value in (("seeds", n0), ("max_seeds", n_max)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ArchlabError(f"{name} must be a positive integer, got {value!r}")
    if n_max < n0:
        raise ArchlabError(f"max_seeds ({n_max}) must be at least seeds ({n0})")
    if n_max < MIN_SEEDS_PER_ARM:
        # One seed has no spread: its interval is (-inf, inf) and no look could ever decide.
        raise ArchlabError(
            f"max_seeds must be at least {MIN_SEEDS_PER_ARM}, got {n_max}: a verdict needs "
            "at least two seeds per arm"
        )


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
    data = _clean(errors)
    chosen = all_pairs(list(data)) if pairs is None else list(pairs)
    _check_pairs(chosen, data)
    m = len(chosen)
    # pair_row tests at share·alpha/m: the share that makes it the calibrated nominal level.
    shares = [lv / (alpha / m) for lv in nominal_levels(n0, n_max, alpha / m)]
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

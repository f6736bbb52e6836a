"""Seeds until decided: the sequential rule of a study, replayed from per-seed errors alone.

The rule: every arm gets ``n0`` seeds; then, look after look, every arm of a still-open pair gets
one more seed, until every pair is decided or stopped as futile, or the arms hold ``n_max`` seeds.
That makes K = n_max - n0 + 1 planned looks, and an open pair's two arms hold n_k = n0 + k seeds
each at look k (both grow every round while the pair is open), so its information fraction is
t_k = n_k / n_max.

Alpha is split over the m pairs (Bonferroni, as in :mod:`archlab.stats.pairwise`): each pair
may spend ``alpha / m``. Within a pair it is spent across the looks by the O'Brien-Fleming-type
Lan-DeMets function f(t) = 2 - 2·Phi(z_{1 - a/2} / sqrt(t)) with a = alpha/m (Lan & DeMets,
Biometrika 1983): almost nothing early, nearly all of it at the last look. ``SPENDING`` also
holds the Pocock-type function a·ln(1 + (e - 1)·t) (Lan & DeMets 1983) and, between the two,
Hwang, Shih and DeCani's a·(1 - e^{-g·t}) / (1 - e^{-g}) with g = -2 (Stat. Med. 1990): spending
more early decides large differences sooner and costs power at moderate ones; the study keeps
O'Brien-Fleming (the simulated trade-off is in docs/statistics.md). Each look's nominal
level is *calibrated* so that the chance of first rejecting at look k, under identical arms, is
at most f(t_k) - f(t_{k-1}): by simulating ``CALIBRATION_PATHS`` A/A pairs of Gaussian seeds
(fixed seed, so the levels are deterministic) and taking each look's level as the quantile of the
still-unrejected paths' p-values that spends its share, lowered by two Monte-Carlo SEs.

The calibration runs over several ratios of the arms' seed sd (``SD_RATIOS``, down to one arm
without noise, which is also the law of a paired test) and takes, look by look, the level that is
safe for all of them: calibrating on equal spreads alone handed the unpaired test's slack at equal
spreads back as looser levels, which unequal spreads then overspent (docs/statistics.md). The
variance floor of :mod:`archlab.stats.difference` only shrinks the statistic, so the levels stay
safe for floored, discrete errors. A union bound over the m pairs keeps the family-wise rate of a
wrong "better" at or below alpha at every look, whenever the study stops.
``tests/stats/test_sequential.py`` and ``tests/stats/test_simulate.py`` check the
false-positive rate and the power against the fixed design by simulation.

**Futility** (non-binding, so it cannot raise the error rate: it only ever removes rejections):
after a look that is not the last, a pair whose conditional power (:mod:`archlab.stats.power`)
to settle either way by ``n_max`` is below ``FUTILITY`` stops drawing seeds and reads
``undecided``, with the seeds it would need.

A pair, once decided or stopped, keeps the row of that look. The state of a study is a pure
function of its per-seed errors taken in seed order, so a resumed study, the report and the
benchmark's replay all reach the same verdict from the store alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
from scipy import special

from archlab.errors import ArchlabError
from archlab.stats.difference import Arm, Errors, clean
from archlab.stats.pairwise import PairRow, pair_row, prepare, with_seeds_needed
from archlab.stats.power import conditional_power

CALIBRATION_PATHS = 100_000  # A/A pairs per sd ratio: MC SE of a 0.05 level is ~1.4% of it
CALIBRATION_SEED = 2017
SD_RATIOS = (1.0, 0.5, 0.25, 0.1, 0.0)  # arm b's seed sd over arm a's; 0: paired / one-sample
FUTILITY = 0.10  # conditional power below which an open pair stops drawing seeds
MIN_SEEDS_PER_ARM = 2  # a difference's interval needs a spread, which one seed per arm has not


def spent(t: float, level: float) -> float:
    """Alpha spent by information fraction t: O'Brien-Fleming-type Lan-DeMets, f(1) = level."""
    z = float(special.ndtri(1 - level / 2))
    return float(2 * special.ndtr(-z / math.sqrt(t)))


def spent_pocock(t: float, level: float) -> float:
    """Alpha spent by information fraction t: Pocock-type Lan-DeMets, f(1) = level."""
    return level * math.log(1 + (math.e - 1) * t)


def spent_hsd(gamma: float) -> Callable[[float, float], float]:
    """Hwang-Shih-DeCani spending with shape gamma (< 0 spends late, 1 is Pocock-like)."""

    def f(t: float, level: float) -> float:
        return level * (1 - math.exp(-gamma * t)) / (1 - math.exp(-gamma))

    return f


SPENDING: dict[str, Callable[[float, float], float]] = {
    "obrien-fleming": spent,
    "hsd(-2)": spent_hsd(-2.0),
    "pocock": spent_pocock,
}


def check_spending(spending: str) -> Callable[[float, float], float]:
    """The spending function of that name; refuses others, naming the allowed ones."""
    if not isinstance(spending, str) or spending not in SPENDING:
        raise ArchlabError(f"spending must be one of {', '.join(SPENDING)}, got {spending!r}")
    return SPENDING[spending]


def nominal_levels(
    n0: int, n_max: int, level: float, spending: str = "obrien-fleming"
) -> tuple[float, ...]:
    """Each look's nominal two-sided level, calibrated so one pair spends at most ``level``.

    Look k (n0 + k seeds per arm) rejects when p <= levels[k]; for every sd ratio in
    ``SD_RATIOS`` the first rejection under identical arms falls at or before look k with
    probability at most spent(t_k) (less two Monte-Carlo SEs), and no level exceeds ``level``,
    so a single look is the fixed design's test. ``spending``: a name in ``SPENDING``.
    """
    check_seeds(n0, n_max)
    check_spending(spending)
    return _levels(n0, n_max, level, spending)


@lru_cache(maxsize=64)
def _levels(n0: int, n_max: int, level: float, spending: str) -> tuple[float, ...]:
    """:func:`nominal_levels` once its arguments are checked (cached: deterministic)."""
    spend = SPENDING[spending]
    if n0 == n_max:  # one look: the fixed design's test, whose level Hsu's df keeps exactly
        return (level if n0 >= 2 else 0.0,)
    rng = np.random.default_rng(CALIBRATION_SEED)
    scale = np.repeat(np.asarray(SD_RATIOS), CALIBRATION_PATHS)
    groups = np.repeat(np.arange(len(SD_RATIOS)), CALIBRATION_PATHS)
    sums = np.zeros((2, len(scale)))
    squares = np.zeros((2, len(scale)))
    alive = np.ones(len(scale), dtype=bool)
    rejected = np.zeros(len(SD_RATIOS), dtype=int)
    levels: list[float] = []
    for n in range(1, n_max + 1):
        x = rng.standard_normal((2, len(scale)))  # one more seed of both arms, every path
        x[1] *= scale
        sums += x
        squares += x * x
        if n < n0:
            continue
        if n < 2:  # one seed per arm: no spread, no test
            levels.append(0.0)
            continue
        t = _hsu_t(sums / n, (squares - sums**2 / n) / (n - 1), n)
        target = spend(n / n_max, level) * CALIBRATION_PATHS
        need = math.floor(target - 2 * math.sqrt(target)) - rejected
        if np.any(need <= 0):
            levels.append(0.0)
            continue
        # One df per look (Hsu's n - 1), so a smaller p is a larger |t|: work on |t| and turn
        # only the chosen cut into a p-value.
        bound = float(special.stdtrit(n - 1, 1 - level / 2))  # never looser than ``level``
        for g, k in enumerate(need):
            mine = t[alive & (groups == g)]
            if k <= len(mine):
                bound = max(bound, float(-np.partition(-mine, k - 1)[k - 1]))  # k-th largest
        levels.append(float(2 * special.stdtr(n - 1, -bound)))
        hit = alive & (t >= bound)
        rejected += np.bincount(groups[hit], minlength=len(SD_RATIOS))
        alive &= ~hit
    return tuple(levels)


def _hsu_t(mean: np.ndarray, var: np.ndarray, n: int) -> np.ndarray:
    """|t| of arm 0 vs arm 1, n seeds each, unpooled (rows: arms; columns: paths)."""
    se = np.sqrt(np.maximum(var[0] + var[1], 1e-300) / n)
    return np.asarray(np.abs(mean[0] - mean[1]) / se)


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

    rows: tuple[PairRow, ...]  # one per pair: the deciding (or stopping) look's row, or the last
    decided_at: dict[tuple[str, str], int]  # pair -> seeds per arm at the deciding look
    need: dict[str, int]  # seeds each arm must hold for the next look (== held when done)
    looks: int  # looks taken
    done: bool  # every pair decided or futile, or n_max reached
    used: dict[str, int] = field(default_factory=dict)  # seeds per arm the verdict rests on
    futile: tuple[tuple[str, str], ...] = ()  # pairs stopped undecided by the futility rule

    @property
    def undecided(self) -> list[tuple[str, str]]:
        """Pairs still undecided (futile ones included)."""
        return [(r.a, r.b) for r in self.rows if r.verdict == "undecided"]


def sequential_state(
    errors: Errors,
    *,
    n0: int,
    n_max: int,
    alpha: float = 0.05,
    rope: float = 0.5,
    paired: bool = False,
    resolution: float | None = None,
    pairs: Sequence[tuple[str, str]] | None = None,
    power: bool = True,
    futility: float | None = None,
    spending: str = "obrien-fleming",
) -> SequentialState:
    """Replay the rule over per-seed errors (in seed order); extra seeds beyond need are unused.

    Arms may be empty (a study before its first seeds): no look is taken then. ``futility``:
    the conditional power below which an open pair stops (``FUTILITY`` when None; 0 never stops).
    ``spending``: how each pair's alpha is spread over the looks (a name in ``SPENDING``).
    """
    below = FUTILITY if futility is None else futility
    check_seeds(n0, n_max)
    check_spending(spending)
    data, chosen, res = prepare(
        errors, alpha=alpha, rope=rope, paired=paired, resolution=resolution, pairs=pairs,
        allow_empty=True,
    )  # fmt: skip
    m = len(chosen)
    levels = nominal_levels(n0, n_max, alpha / m, spending)
    final = levels[-1]
    n = {arm: n0 for arm in {x for p in chosen for x in p}}
    rows: dict[tuple[str, str], PairRow] = {}
    closed: dict[tuple[str, str], int] = {}  # decided or futile -> seeds at that look
    futile: list[tuple[str, str]] = []
    looks, done = 0, False
    for k, level in enumerate(levels):
        open_pairs = [p for p in chosen if p not in closed]
        if any(len(data[arm].values) < n[arm] for p in open_pairs for arm in p):
            break  # the seeds of this look are not trained yet
        looks += 1
        last = k == len(levels) - 1
        for a, b in open_pairs:
            row = pair_row(
                a, b, data[a].first(n[a]), data[b].first(n[b]), alpha=alpha, rope=rope, m=m,
                resolution=res, paired=paired, share=level / (alpha / m),
            )  # fmt: skip
            if row.verdict != "undecided":
                closed[(a, b)] = n[a]
            elif not last and _futile(row, n_max=n_max, rope=rope, level=final, below=below):
                closed[(a, b)] = n[a]
                futile.append((a, b))
                row = replace(row, futile=True)
            rows[(a, b)] = replace(row, decided_at=closed.get((a, b)))
        still = [p for p in chosen if p not in closed]
        if not still or last:
            done = True
            break
        for arm in {x for p in still for x in p}:
            n[arm] += 1
    if power:
        rows = {p: with_seeds_needed(r, alpha=alpha, rope=rope, m=m) for p, r in rows.items()}
    return _state(chosen, rows, closed, futile, n, looks, done, data)


def _futile(row: PairRow, *, n_max: int, rope: float, level: float, below: float) -> bool:
    """The pair's conditional power to settle by n_max is below ``below``."""
    if math.isnan(row.sd):
        return False
    cp = conditional_power(row.diff, row.sd, n=row.n_a, n_max=n_max, rope=rope, level=level)
    return cp < below


def _state(
    chosen: Sequence[tuple[str, str]],
    rows: dict[tuple[str, str], PairRow],
    closed: dict[tuple[str, str], int],
    futile: list[tuple[str, str]],
    n: dict[str, int],
    looks: int,
    done: bool,
    data: dict[str, Arm],
) -> SequentialState:
    ordered = tuple(rows[p] for p in chosen if p in rows)
    used = dict(n)
    if not done:  # the arms that grew for the pending look rest on one seed fewer
        open_arms = {x for p in chosen if p not in closed for x in p}
        used = {arm: v - (arm in open_arms and looks > 0) for arm, v in n.items()}
    decided = {p: s for p, s in closed.items() if p not in futile}
    del data
    return SequentialState(ordered, decided, dict(n), looks, done, used, tuple(futile))


def sequential_verdict(
    errors: Errors,
    *,
    seeds: int,
    max_seeds: int,
    alpha: float = 0.05,
    rope: float = 0.5,
    paired: bool = False,
    resolution: float | None = None,
) -> list[PairRow]:
    """Replay the sequential rule over per-seed errors in seed order: one row per pair."""
    clean(errors)  # the public function refuses empty arms; the study's replay allows them
    state = sequential_state(
        errors, n0=seeds, n_max=max_seeds, alpha=alpha, rope=rope, paired=paired,
        resolution=resolution,
    )  # fmt: skip
    return list(state.rows)

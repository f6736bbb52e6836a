"""The verdict of a study: which arm has the lower error, with how much evidence, from the seeds.

Choices, stated once:

- **Unpaired Welch t-test** per pair of arms. Seeds of different arms are independent trainings
  (different architectures, so different initial weights); seed *i* shares only the data order
  across arms, a weak link, and arms may hold different numbers of seeds under the sequential
  rule. Welch's test does not assume equal variances.
- **Bonferroni** over the pairs (statsmodels ``multipletests(method="bonferroni")``), not Holm:
  Bonferroni has simultaneous confidence intervals that match the adjusted test exactly (the
  interval at level 1 - alpha/m excludes 0 if and only if p·m < alpha), so "better" never
  appears beside an interval that crosses 0. It controls the family-wise error rate at alpha.
- **Verdicts** ("better" = lower error): ``equivalent`` when the adjusted interval lies inside
  (-rope, +rope) points (ROPE; inside it the difference is negligible even when significant);
  else ``A better`` / ``B better`` when the interval excludes 0; else ``undecided``.
- **Sequential looks** (:mod:`archlab.stats.sequential`) test each look at a
  calibrated nominal level w·alpha/m (w the look's share); its ``p_adj`` is p·m/w, so the same
  "p_adj < alpha" rule and interval consistency hold at every look.
- **Seeds for 80% power** (undecided pairs): statsmodels ``TTestIndPower`` at the standardised
  effect max(|diff|, rope) / pooled sd and level alpha/m; a difference below the rope is not
  worth resolving, so the rope bounds the effect from below.
- **Probability of being best**: bootstrap over each arm's seeds (means of resamples, lowest
  wins), from a fixed-seed numpy generator so the report is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

import numpy as np
from scipy import special

from archlab.errors import ArchlabError

VERDICTS: tuple[str, ...] = ("A better", "B better", "equivalent", "undecided")
POWER = 0.8
MAX_POWER_SEEDS = 10_000  # beyond this "more seeds" is not an answer
BOOTSTRAP_SAMPLES = 4000


@dataclass(frozen=True)
class PairRow:
    """One compared pair: mean difference a - b in points, its adjusted interval and verdict."""

    a: str
    b: str
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    diff: float
    ci_low: float
    ci_high: float
    p: float
    p_adj: float
    verdict: str
    seeds_for_power: int | None  # per arm, for an undecided pair

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN becomes None)."""
        return {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in asdict(self).items()
        }


def check_settings(alpha: float, rope: float) -> None:
    """alpha in (0, 0.5], rope a finite number >= 0."""
    if not (isinstance(alpha, int | float) and 0 < alpha <= 0.5):
        raise ArchlabError(f"alpha must lie in (0, 0.5], got {alpha!r}")
    if not (isinstance(rope, int | float) and math.isfinite(rope) and rope >= 0):
        raise ArchlabError(f"rope must be a finite number >= 0, got {rope!r}")


def all_pairs(arms: Sequence[str]) -> list[tuple[str, str]]:
    """Every pair of arms in their given order."""
    return list(combinations(arms, 2))


def _clean(errors: Mapping[str, Sequence[float]]) -> dict[str, np.ndarray]:
    if not errors:
        raise ArchlabError("errors must hold at least two arms, got none")
    out: dict[str, np.ndarray] = {}
    for arm, values in errors.items():
        x = np.asarray(list(values), dtype=float)
        if x.ndim != 1 or not np.all(np.isfinite(x)):
            raise ArchlabError(f"errors[{arm!r}] must be finite numbers, got {list(values)!r}")
        out[arm] = x
    return out


def welch(xa: np.ndarray, xb: np.ndarray) -> tuple[float, float, float]:
    """(diff a - b, its standard error, Welch degrees of freedom); se 0 or NaN when undefined."""
    na, nb = len(xa), len(xb)
    diff = float(xa.mean() - xb.mean())
    if na < 2 or nb < 2:
        return diff, math.nan, math.nan
    va, vb = float(xa.var(ddof=1)) / na, float(xb.var(ddof=1)) / nb
    se2 = va + vb
    if se2 == 0:
        return diff, 0.0, math.inf
    df = se2**2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    return diff, math.sqrt(se2), float(df)


def pair_row(
    a: str, b: str, xa: np.ndarray, xb: np.ndarray, *, alpha: float, rope: float, m: int,
    share: float = 1.0, power: bool = True,
) -> PairRow:  # fmt: skip
    """Compare two arms at level share·alpha/m (m pairs; share of alpha spent at this look)."""
    diff, se, df = welch(xa, xb)
    level = share * alpha / m
    if math.isnan(se):  # fewer than two seeds in an arm: nothing can be said
        p, lo, hi = math.nan, -math.inf, math.inf
    elif se == 0:  # every seed identical in both arms: the difference is exact
        p = 1.0 if diff == 0 else 0.0
        lo = hi = diff
    else:
        # scipy.special's t ufuncs: scipy.stats.t's values without its per-call overhead,
        # which dominates the sequential simulations.
        p = float(2 * special.stdtr(df, -abs(diff) / se))
        half = float(special.stdtrit(df, 1 - level / 2)) * se
        lo, hi = diff - half, diff + half
    # A look that may not reject (share 0) leaves p_adj at 1.
    p_adj = math.nan if math.isnan(p) else min(1.0, p * m / share) if share > 0 else 1.0
    if -rope < lo and hi < rope:
        verdict = "equivalent"
    elif hi < 0:
        verdict = "A better"  # a's error is lower
    elif lo > 0:
        verdict = "B better"
    else:
        verdict = "undecided"
    needed = (
        _seeds_for_power(xa, xb, diff, rope, alpha / m)
        if power and verdict == "undecided"
        else None
    )
    return PairRow(
        a, b, len(xa), len(xb), float(xa.mean()), float(xb.mean()), diff, lo, hi, p, p_adj,
        verdict, needed,
    )  # fmt: skip


def _seeds_for_power(
    xa: np.ndarray, xb: np.ndarray, diff: float, rope: float, level: float
) -> int | None:
    """Seeds per arm for 80% power at max(|diff|, rope) points; None when no spread is known."""
    if len(xa) < 2 or len(xb) < 2:
        return None
    sd = math.sqrt((xa.var(ddof=1) + xb.var(ddof=1)) / 2)
    effect = max(abs(diff), rope)
    if sd == 0 or effect == 0:
        return None
    from statsmodels.stats.power import TTestIndPower  # statsmodels loads slowly: only when used

    try:
        n = TTestIndPower().solve_power(effect_size=effect / sd, alpha=level, power=POWER)
    except (ValueError, RuntimeError):  # statsmodels' root finder gave up
        return None
    n = float(np.asarray(n).item())
    if not math.isfinite(n):
        return None
    return min(MAX_POWER_SEEDS, max(2, math.ceil(n)))


def compare_arms(
    errors: Mapping[str, Sequence[float]],
    *,
    alpha: float = 0.05,
    rope: float = 0.5,
    pairs: Sequence[tuple[str, str]] | None = None,
) -> list[PairRow]:
    """One row per pair (all pairs by default): Welch's t, Bonferroni-adjusted p and interval."""
    check_settings(alpha, rope)
    data = _clean(errors)
    chosen = all_pairs(list(data)) if pairs is None else list(pairs)
    _check_pairs(chosen, data)
    m = len(chosen)
    rows = [pair_row(a, b, data[a], data[b], alpha=alpha, rope=rope, m=m) for a, b in chosen]
    # The adjusted p-values are statsmodels' Bonferroni; pair_row's p·m is the same number.
    from statsmodels.stats.multitest import multipletests

    raw = np.array([r.p for r in rows])
    ok = ~np.isnan(raw)
    if ok.any():
        adj = multipletests(raw[ok], alpha=alpha, method="bonferroni")[1]
        assert np.allclose(adj, [r.p_adj for r, k in zip(rows, ok, strict=True) if k])
    return rows


def _check_pairs(pairs: Sequence[tuple[str, str]], data: Mapping[str, np.ndarray]) -> None:
    if not pairs:
        raise ArchlabError("pairs must not be empty: a verdict needs at least two arms")
    for a, b in pairs:
        for arm in (a, b):
            if arm not in data:
                raise ArchlabError(f"pair ({a!r}, {b!r}) names arm {arm!r}, which has no errors")
        if a == b:
            raise ArchlabError(f"pair ({a!r}, {b!r}) compares an arm with itself")


def prob_best(
    errors: Mapping[str, Sequence[float]], *, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0
) -> dict[str, float]:
    """Per arm, the bootstrap probability that its mean error is the lowest (ties split)."""
    data = _clean(errors)
    arms = [a for a, x in data.items() if len(x)]
    if not arms:
        return {a: math.nan for a in data}
    rng = np.random.default_rng(seed)
    means = np.empty((samples, len(arms)))
    for j, arm in enumerate(arms):
        x = data[arm]
        idx = rng.integers(0, len(x), size=(samples, len(x)))
        means[:, j] = x[idx].mean(axis=1)
    low = means.min(axis=1, keepdims=True)
    winners = means == low
    share = (winners / winners.sum(axis=1, keepdims=True)).mean(axis=0)
    out = {a: 0.0 for a in data}
    out.update({a: float(s) for a, s in zip(arms, share, strict=True)})
    return out


def best_arm(rows: Sequence[PairRow]) -> str | None:
    """The arm declared better in every compared pair it is part of (and in at least one)."""
    arms = {r.a for r in rows} | {r.b for r in rows}
    for arm in sorted(arms):
        mine = [r for r in rows if arm in (r.a, r.b)]
        if mine and all(
            (r.a == arm and r.verdict == "A better") or (r.b == arm and r.verdict == "B better")
            for r in mine
        ):
            return arm
    return None

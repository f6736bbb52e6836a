"""The verdict of a study: which arm has the lower error, with how much evidence, from the seeds.

Choices, stated once (docs/statistics.md gives the reasons and the simulations behind them):

- **The test** (:mod:`archlab.stats.difference`): the difference of mean errors with each arm's
  seed variance floored at the validation set's resolution, Hsu's conservative degrees of
  freedom, and paired seed differences when asked and the seeds align.
- **Bonferroni** over the pairs, not Holm: Bonferroni has simultaneous confidence intervals that
  match the adjusted test exactly (the interval at level 1 - alpha/m excludes 0 if and only if
  p·m < alpha), so "better" never appears beside an interval that crosses 0. It controls the
  family-wise error rate at alpha.
- **Verdicts** ("better" = lower error): ``equivalent`` when the adjusted interval lies inside
  (-rope, +rope) points (ROPE; inside it the difference is negligible even when significant);
  else ``A better`` / ``B better`` when the interval excludes 0; else ``undecided``.
- **Sequential looks** (:mod:`archlab.stats.sequential`) test each look at a calibrated nominal
  level w·alpha/m (w the look's share); its ``p_adj`` is p·m/w, so the same "p_adj < alpha" rule
  and interval consistency hold at every look.
- **Seeds needed** for an undecided pair (:mod:`archlab.stats.power`), both ways to settle it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from itertools import combinations
from typing import Any

from scipy import special

from archlab.errors import ArchlabError
from archlab.stats.difference import (
    Arm,
    Errors,
    check_alignable,
    check_settings,
    clean,
    difference,
    resolve_resolution,
)
from archlab.stats.power import seeds_to_equivalence, seeds_to_win

VERDICTS: tuple[str, ...] = ("A better", "B better", "equivalent", "undecided")

__all__ = ["VERDICTS", "PairRow", "all_pairs", "best_arm", "check_settings", "compare_arms"]


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
    paired: bool = False  # tested on paired seed differences
    sd: float = math.nan  # per-seed sd of the difference (floored at the resolution)
    decided_at: int | None = None  # seeds per arm at the look that decided or stopped the pair
    futile: bool = False  # stopped undecided: it could no longer be decided by max_seeds
    seeds_to_win: int | None = None  # per arm, for an undecided pair: to name a winner
    seeds_to_equivalence: int | None = None  # per arm, for an undecided pair: to show a tie

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN and an unbounded interval's infinities become None)."""
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in asdict(self).items()
        }


def all_pairs(arms: Sequence[str]) -> list[tuple[str, str]]:
    """Every pair of arms in their given order."""
    return list(combinations(arms, 2))


def pair_row(
    a: str, b: str, xa: Arm, xb: Arm, *, alpha: float, rope: float, m: int, resolution: float,
    paired: bool = False, share: float = 1.0,
) -> PairRow:  # fmt: skip
    """Compare two arms at level share·alpha/m (m pairs; share of alpha spent at this look)."""
    d = difference(xa, xb, paired=paired, resolution=resolution)
    level = share * alpha / m
    if math.isnan(d.se):  # fewer than two seeds in an arm: nothing can be said
        p, lo, hi = math.nan, -math.inf, math.inf
    else:
        # scipy.special's t ufuncs: scipy.stats.t's values without its per-call overhead,
        # which dominates the sequential simulations.
        p = float(2 * special.stdtr(d.df, -abs(d.diff) / d.se))
        half = float(special.stdtrit(d.df, 1 - level / 2)) * d.se if level > 0 else math.inf
        lo, hi = d.diff - half, d.diff + half
    # A look that may not reject (share 0) leaves p_adj at 1.
    p_adj = math.nan if math.isnan(p) else min(1.0, p * m / share) if share > 0 else 1.0
    return PairRow(
        a, b, len(xa.values), len(xb.values), float(xa.values.mean()), float(xb.values.mean()),
        d.diff, lo, hi, p, p_adj, _verdict(lo, hi, rope), d.paired, d.sd,
    )  # fmt: skip


def _verdict(lo: float, hi: float, rope: float) -> str:
    if -rope < lo and hi < rope:
        return "equivalent"
    if hi < 0:
        return "A better"  # a's error is lower
    if lo > 0:
        return "B better"
    return "undecided"


def with_seeds_needed(row: PairRow, *, alpha: float, rope: float, m: int) -> PairRow:
    """The row with both seeds-needed counts filled in when it is undecided."""
    if row.verdict != "undecided" or math.isnan(row.sd):
        return row
    level = alpha / m
    return replace(
        row,
        seeds_to_win=seeds_to_win(row.diff, row.sd, rope=rope, level=level, paired=row.paired),
        seeds_to_equivalence=seeds_to_equivalence(row.sd, rope=rope, level=level),
    )


def prepare(
    errors: Errors,
    *,
    alpha: float,
    rope: float,
    paired: bool,
    resolution: float | None,
    pairs: Sequence[tuple[str, str]] | None,
    allow_empty: bool = False,
) -> tuple[dict[str, Arm], list[tuple[str, str]], float]:
    """Checked arms, the pairs to compare and the resolution: shared by both verdict functions."""
    check_settings(alpha, rope)
    if not isinstance(paired, bool):
        raise ArchlabError(f"paired must be True or False, got {paired!r}")
    data = clean(errors, allow_empty=allow_empty)
    chosen = all_pairs(list(data)) if pairs is None else list(pairs)
    check_pairs(chosen, data)
    if paired:
        for a, b in chosen:
            if allow_empty and not (len(data[a].seeds) and len(data[b].seeds)):
                continue  # nothing trained yet: nothing to align
            check_alignable(a, b, data[a], data[b])
    return data, chosen, resolve_resolution(data, resolution)


def compare_arms(
    errors: Errors,
    *,
    alpha: float = 0.05,
    rope: float = 0.5,
    paired: bool = False,
    resolution: float | None = None,
    pairs: Sequence[tuple[str, str]] | None = None,
) -> list[PairRow]:
    """One row per pair (all pairs by default): the floored test, Bonferroni p and interval."""
    data, chosen, res = prepare(
        errors, alpha=alpha, rope=rope, paired=paired, resolution=resolution, pairs=pairs
    )
    m = len(chosen)
    return [
        with_seeds_needed(
            pair_row(a, b, data[a], data[b], alpha=alpha, rope=rope, m=m, resolution=res,
                     paired=paired),
            alpha=alpha, rope=rope, m=m,
        )
        for a, b in chosen
    ]  # fmt: skip


def check_pairs(pairs: Sequence[tuple[str, str]], data: Mapping[str, Arm]) -> None:
    """Pairs name two different arms that have errors; at least one pair."""
    if not pairs:
        raise ArchlabError("pairs must not be empty: a verdict needs at least two arms")
    for a, b in pairs:
        for arm in (a, b):
            if arm not in data:
                raise ArchlabError(f"pair ({a!r}, {b!r}) names arm {arm!r}, which has no errors")
        if a == b:
            raise ArchlabError(f"pair ({a!r}, {b!r}) compares an arm with itself")


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

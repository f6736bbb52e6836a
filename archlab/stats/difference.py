"""Per-seed errors in, one difference statistic out: the test every verdict rests on.

Chosen by simulation (``archlab.stats.simulate``, the table in reports/benchmarks.md; the reasons
in docs/statistics.md):

- **A variance floor at the validation set's resolution.** A seed's error is a count over the
  validation images, so one image (``resolution`` = 100 / images, in points) is the smallest
  difference it can show. Each arm's seed variance (or, paired, the variance of the per-seed
  differences) is taken as at least ``resolution**2``: zero spread is never certainty. When the
  resolution is not given it is read off the errors themselves: the smallest positive gap between
  any two of them, which for counts is a whole number of images. The paired test floors each
  arm's own variance inside the variance of the difference as well, var(a) + var(b) - 2 cov
  with each var at least ``resolution**2``: an arm whose seeds all sat at 0% makes var(a - b)
  the other arm's variance alone, and the paired test was then more liberal than the unpaired
  one (6.5% wrong "better" at 10 seeds on counts of uneven spread, docs/statistics.md).
- **Conservative degrees of freedom**: min(n_a, n_b) - 1 (Hsu 1938), not Welch-Satterthwaite.
  Its level holds for every ratio of the arms' seed spreads (Mickey and Brown, Ann. Math. Stat.
  1966), so architectures that differ in seed noise cannot inflate a false "better".
- **Paired differences** when asked and both arms hold the same seeds: seed s of every arm shares
  its data order and augmentation draws, so a - b per seed removes what the seed shares. A pair
  whose seeds differ (one missing in one arm) falls back to the unpaired test.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from archlab.errors import ArchlabError

# Errors may come in seed order (a list) or keyed by seed (a dict seed -> error).
Errors = Mapping[str, Sequence[float] | Mapping[int, float]]
FALLBACK_RESOLUTION = 0.1  # points: a 1,000-image validation set, when nothing else tells


@dataclass(frozen=True)
class Arm:
    """One arm's seeds (ascending) and their errors in points."""

    seeds: np.ndarray
    values: np.ndarray

    def first(self, n: int) -> Arm:
        """The arm's first n seeds."""
        return Arm(self.seeds[:n], self.values[:n])


@dataclass(frozen=True)
class Difference:
    """a - b in points, its standard error and degrees of freedom, and whether it was paired."""

    diff: float
    se: float  # NaN when an arm holds fewer than two seeds
    df: float
    paired: bool
    sd: float  # the per-seed sd of the difference (floored): what seeds needed rest on


def check_settings(alpha: float, rope: float) -> None:
    """alpha in (0, 0.5], rope a finite number >= 0."""
    if isinstance(alpha, bool) or not (isinstance(alpha, int | float) and 0 < alpha <= 0.5):
        raise ArchlabError(f"alpha must lie in (0, 0.5], got {alpha!r}")
    if isinstance(rope, bool) or not (
        isinstance(rope, int | float) and math.isfinite(rope) and rope >= 0
    ):
        raise ArchlabError(f"rope must be a finite number >= 0, got {rope!r}")


def clean(errors: Errors, *, allow_empty: bool = False) -> dict[str, Arm]:
    """Each arm's errors as an :class:`Arm`; refuses no arms, empty arms and non-finite values.

    ``allow_empty``: a study's replay before its first seeds are trained (nothing to test yet).
    """
    if not isinstance(errors, Mapping) or not errors:
        raise ArchlabError("errors must map at least two arm names to per-seed errors, got none")
    out: dict[str, Arm] = {}
    for arm, given in errors.items():
        if isinstance(given, Mapping):
            seeds = list(given)
            if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
                raise ArchlabError(f"errors[{arm!r}] seeds must be integers >= 0, got {seeds!r}")
            seeds.sort()
            values = [given[s] for s in seeds]
        else:
            values = list(given)
            seeds = list(range(len(values)))
        try:
            x = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            raise ArchlabError(f"errors[{arm!r}] must be numbers, got {values!r}") from None
        if x.ndim != 1 or not (len(x) or allow_empty):
            raise ArchlabError(f"errors[{arm!r}] must hold at least one seed's error, got none")
        if not np.all(np.isfinite(x)):
            raise ArchlabError(f"errors[{arm!r}] must be finite numbers, got {values!r}")
        out[arm] = Arm(np.asarray(seeds, dtype=int), x.reshape(-1))
    return out


def resolve_resolution(data: Mapping[str, Arm], resolution: float | None) -> float:
    """The given resolution (points per image), or the smallest positive gap in the errors."""
    if resolution is not None:
        if isinstance(resolution, bool) or not (
            isinstance(resolution, int | float) and math.isfinite(resolution) and resolution > 0
        ):
            raise ArchlabError(f"resolution must be positive points per image, got {resolution!r}")
        return float(resolution)
    values = np.unique(np.concatenate([a.values for a in data.values()]))
    gaps = np.diff(values)
    gaps = gaps[gaps > 1e-9]
    return float(gaps.min()) if len(gaps) else FALLBACK_RESOLUTION


def check_alignable(a: str, b: str, xa: Arm, xb: Arm) -> None:
    """Paired seeds need seeds in common: a pair with none cannot be aligned."""
    if len(np.intersect1d(xa.seeds, xb.seeds)) == 0:
        raise ArchlabError(
            f"paired=True cannot align arms {a!r} (seeds {xa.seeds.tolist()}) and {b!r} "
            f"(seeds {xb.seeds.tolist()}): they share no seed; use paired=False"
        )


def aligned(xa: Arm, xb: Arm) -> bool:
    """Both arms hold exactly the same seeds (pairing is not broken)."""
    return len(xa.seeds) == len(xb.seeds) and bool(np.all(xa.seeds == xb.seeds))


def difference(xa: Arm, xb: Arm, *, paired: bool, resolution: float) -> Difference:
    """a - b with its floored standard error: paired when asked and aligned, else Hsu's unpaired."""
    na, nb = len(xa.values), len(xb.values)
    diff = float(xa.values.mean() - xb.values.mean())
    floor = resolution**2
    if paired and aligned(xa, xb):
        if na < 2:
            return Difference(diff, math.nan, math.nan, True, math.nan)
        # Each arm's own seed variance is floored too: an arm whose seeds all agree (every
        # seed at 0%) may still have spread it did not show, which var(a - b) cannot see.
        short = sum(max(0.0, floor - float(x.var(ddof=1))) for x in (xa.values, xb.values))
        var = max(float(np.var(xa.values - xb.values, ddof=1)) + short, floor)
        return Difference(diff, math.sqrt(var / na), na - 1, True, math.sqrt(var))
    if na < 2 or nb < 2:
        return Difference(diff, math.nan, math.nan, False, math.nan)
    va = max(float(xa.values.var(ddof=1)), floor)
    vb = max(float(xb.values.var(ddof=1)), floor)
    se = math.sqrt(va / na + vb / nb)
    return Difference(diff, se, min(na, nb) - 1, False, math.sqrt(va + vb))

"""How many seeds an undecided pair needs, both ways, and whether it can still be decided.

- **Seeds to name a winner**: the fewest seeds per arm at which the fixed design's test (level
  alpha/m, Hsu's n - 1 degrees of freedom) finds a true difference of max(|diff|, rope) points
  with probability ``POWER``, at the observed per-seed spread of the difference; exact for
  Gaussian seed noise through the noncentral t. A difference below the rope is not worth
  resolving, so the rope bounds the effect from below.
- **Seeds to show equivalence**: the fewest seeds per arm at which, with no true difference, the
  interval lands inside (-rope, +rope) with probability ``POWER`` (the spread's own sampling
  error integrated over its chi-square law).
- The noncentral t's distribution function is taken as 0 where scipy returns NaN: that happens
  only far in a tail, below 1e-15 (docs/statistics.md, "Seeds needed, both ways").
- **Conditional (predictive) power** (the futility rule of :mod:`archlab.stats.sequential`): the
  chance that a pair growing to ``max_seeds`` settles either way, its current difference taken
  with its uncertainty.

docs/statistics.md shows by simulation that training the suggested seeds settles at least 70% of
such pairs at the observed spread.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import special

POWER = 0.8
MAX_SEEDS_NEEDED = 10_000  # beyond this "more seeds" is not an answer: None
_CHI_GRID = 48  # quantiles of the spread's chi-square law


def _smallest(ok: Callable[[int], bool], start: int = 2) -> int | None:
    """The smallest n >= start with ok(n) (ok monotone), None beyond MAX_SEEDS_NEEDED."""
    hi = start
    while not ok(hi):
        if hi >= MAX_SEEDS_NEEDED:
            return None
        hi = min(2 * hi, MAX_SEEDS_NEEDED)
    lo = max(start, hi // 2)
    if ok(lo):
        return lo
    while hi - lo > 1:  # ok(hi) and not ok(lo)
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def win_power(effect: float, sd: float, n: int, level: float) -> float:
    """Probability that n seeds per arm reject at ``level`` for a true difference ``effect``."""
    df = n - 1
    c = float(special.stdtrit(df, 1 - level / 2))
    nc = effect * math.sqrt(n) / sd
    return float(1 - _nct_cdf(df, nc, c) + _nct_cdf(df, nc, -c))


def _nct_cdf(df: int, nc: float, x: float) -> float:
    """The noncentral t's distribution function, 0 where scipy's ``nctdtr`` returns NaN.

    ``nctdtr`` returns NaN far in a tail (e.g. df 9, nc 10, x -2), where the probability is below
    1e-15 (checked against numerical integration of its definition over the chi-square law); a
    NaN power read as "not enough" sent the seeds-needed search past its answer (4x too many).
    """
    value = float(special.nctdtr(df, nc, x))
    return 0.0 if math.isnan(value) else value


def equivalence_power(sd: float, n: int, rope: float, level: float) -> float:
    """Probability that n seeds per arm show |interval| < rope when there is no difference."""
    df = n - 1
    c = float(special.stdtrit(df, 1 - level / 2))
    q = (np.arange(_CHI_GRID) + 0.5) / _CHI_GRID
    s_hat = sd * np.sqrt(special.chdtri(df, 1 - q) / df)  # the spread's quantiles
    room = rope - c * s_hat / math.sqrt(n)
    se = sd / math.sqrt(n)
    inside = np.where(room > 0, 2 * special.ndtr(room / se) - 1, 0.0)
    return float(inside.mean())


def seeds_to_win(
    diff: float, sd: float, *, rope: float, level: float, paired: bool = False
) -> int | None:
    """Seeds per arm to name a winner if the difference is max(|diff|, rope) points."""
    del paired  # the same t law: sd is already the per-seed sd of the paired or unpaired diff
    effect = max(abs(diff), rope)
    if not (effect > 0 and sd > 0 and math.isfinite(sd)):
        return None
    return _smallest(lambda n: win_power(effect, sd, n, level) >= POWER)


def seeds_to_equivalence(sd: float, *, rope: float, level: float) -> int | None:
    """Seeds per arm to show the pair equivalent within the rope if there is no difference."""
    if not (rope > 0 and sd > 0 and math.isfinite(sd)):
        return None
    return _smallest(lambda n: equivalence_power(sd, n, rope, level) >= POWER)


def conditional_power(
    diff: float, sd: float, *, n: int, n_max: int, rope: float, level: float
) -> float:
    """Chance to settle (winner or equivalent) at n_max seeds if ``diff`` is the truth."""
    if n >= n_max or not (sd > 0 and math.isfinite(sd)):
        return 0.0
    # The final mean difference given the first n seeds, averaged over what the true difference
    # may be (predictive power, Spiegelhalter et al., Controlled Clinical Trials 1986): the
    # n_max - n new seeds add their own noise, and the current difference its own uncertainty,
    # so a noisy early look is not taken at face value.
    rest = n_max - n
    spread = sd * math.sqrt(rest / n_max**2 + rest**2 / (n_max**2 * n))
    half = float(special.stdtrit(n_max - 1, 1 - level / 2)) * sd / math.sqrt(n_max)
    win = special.ndtr((diff - half) / spread) + special.ndtr((-half - diff) / spread)
    room = rope - half
    tie = (
        special.ndtr((room - diff) / spread) - special.ndtr((-room - diff) / spread)
        if room > 0
        else 0.0
    )
    return float(win + tie)

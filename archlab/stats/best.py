"""P(best): the probability that an arm's true mean error is the lowest, calibrated or none.

Each arm's mean error is given its posterior under a flat prior on the mean and the scale,
x̄ + s/sqrt(n)·T with T Student's t on n - 1 degrees of freedom (Gelman et al., *Bayesian Data
Analysis*, section 3.2), its seed sd s floored at the validation set's resolution as in
:mod:`archlab.stats.difference`. P(best) is the share of joint draws in which the arm's mean is
the lowest (ties split), from a fixed-seed generator so the report is deterministic. A plain
bootstrap over 3 seeds is overconfident (it never draws a mean outside the seeds' range); the
t posterior's heavy tails at small n are what keep it calibrated: docs/statistics.md gives the
simulations. With fewer than two seeds in any arm there is no spread to go on: every arm reads
NaN ("none").
"""

from __future__ import annotations

import math

import numpy as np

from archlab.stats.difference import Errors, clean, resolve_resolution

DRAWS = 8_000
SEED = 0


def prob_best(errors: Errors, *, resolution: float | None = None) -> dict[str, float]:
    """Per arm, the posterior probability that its mean error is the lowest (NaN: none)."""
    data = clean(errors)
    if any(len(arm.values) < 2 for arm in data.values()):
        return {name: math.nan for name in data}
    floor = resolve_resolution(data, resolution) ** 2
    rng = np.random.default_rng(SEED)
    means = np.empty((DRAWS, len(data)))
    for j, arm in enumerate(data.values()):
        n = len(arm.values)
        se = math.sqrt(max(float(arm.values.var(ddof=1)), floor) / n)
        means[:, j] = arm.values.mean() + se * rng.standard_t(n - 1, size=DRAWS)
    winners = means == means.min(axis=1, keepdims=True)
    share = (winners / winners.sum(axis=1, keepdims=True)).mean(axis=0)
    return {name: float(s) for name, s in zip(data, share, strict=True)}

"""Empirical distribution functions of errors (Radosavovic et al., "On Network Design Spaces for
Visual Recognition", 2019; pycls), their complexity-normalised weights and the KS statistic.

EDF(e) is the (weighted) fraction of models with error below e (strictly, as Radosavovic et al.
define it: a model with error exactly e is not yet counted). The complexity-normalised
variant bins models by log MACs on bins shared by every compared space and weights each model
1/(its space's models in the bin)/(bins that space fills), so a space is not judged by where its
samples crowd. Pure numpy: no store, no plotting.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

NORMALISATION_BINS = 5  # log-spaced MACs bins of the complexity-normalised EDF


def _weights(n: int, weights: Sequence[float] | np.ndarray | None) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n) if n else np.zeros(0)
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,):
        raise ValueError(f"weights must have one entry per error ({n}), got shape {w.shape}")
    return w


def edf(
    errors: Sequence[float] | np.ndarray,
    at: Sequence[float] | np.ndarray,
    weights: Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    """EDF(e) = (weighted) fraction of models with error < e, for each e in ``at``."""
    err = np.asarray(errors, dtype=float)
    w = _weights(err.size, weights)
    grid = np.asarray(at, dtype=float)
    return np.array([w[err < e].sum() for e in grid])


def edf_curve(
    errors: Sequence[float] | np.ndarray, weights: Sequence[float] | np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted errors and the weight up to and including each: the value a steps-post curve
    takes from that error on. EDF(e) at an error is the value before its step (error < e)."""
    err = np.asarray(errors, dtype=float)
    w = _weights(err.size, weights)
    order = np.argsort(err, kind="mergesort")
    return err[order], np.cumsum(w[order])


def shared_complexity_weights(
    *macs: Sequence[float] | np.ndarray, bins: int = NORMALISATION_BINS
) -> tuple[np.ndarray, ...]:
    """Complexity-normalised EDF weights of several spaces on one set of log-spaced MACs bins.

    Each model weighs 1/(its space's models in its bin)/(bins its space fills), so each space's
    weights sum to 1 and no space wins by where its samples crowd (pycls). The bins span all
    spaces' MACs together; bin i holds [edge_i, edge_i+1), the last bin is closed.
    """
    logs = [np.log(np.asarray(m, dtype=float)) for m in macs]
    both = np.concatenate(logs) if logs else np.zeros(0)
    if both.size == 0:
        return tuple(np.array([]) for _ in logs)
    lo, hi = both.min(), both.max()
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)

    def weights(logm: np.ndarray) -> np.ndarray:
        index = np.clip(np.searchsorted(edges, logm, "right") - 1, 0, bins - 1)
        counts = np.bincount(index, minlength=bins)
        return 1.0 / counts[index] / np.count_nonzero(counts)

    return tuple(weights(m) for m in logs)


def complexity_weights(
    complexity: Sequence[float] | np.ndarray, bins: int = NORMALISATION_BINS
) -> np.ndarray:
    """pycls's normalisation of one space: 1/(models in the bin)/(non-empty bins); sums to 1."""
    c = np.asarray(complexity, dtype=float)
    if np.any(c <= 0) or np.any(np.isnan(c)):
        raise ValueError("complexity values must be positive numbers")
    return shared_complexity_weights(c, bins=bins)[0]


def ks_statistic(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    weights_a: Sequence[float] | np.ndarray | None = None,
    weights_b: Sequence[float] | np.ndarray | None = None,
) -> float:
    """Kolmogorov–Smirnov statistic sup_e |EDF_a(e) − EDF_b(e)|, optionally of weighted EDFs."""
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    points = np.union1d(xa, xb)
    if not points.size:
        return math.nan
    fa, fb = edf(xa, points, weights_a), edf(xb, points, weights_b)
    return float(np.max(np.abs(fa - fb)))

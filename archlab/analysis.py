"""Analysis of stored runs: seed aggregation, budgets, Pareto fronts, EDFs and rank agreement.

Pure pandas / numpy / scipy on :meth:`archlab.store.Store.results_frame` rows; no plotting here
(STYLE 13). The rules, stated once:

- A *setting* is the runs of one candidate that share ``(rung, budget_epochs, config_key)``; its
  seeds are aggregated as mean ± sample std (ddof=1) of the last epoch's error over *finished*
  runs only. Diverged, failed and interrupted runs are counted, never averaged in.
- A *budget* orders settings by ``rung``, then ``budget_epochs`` (a time-limited run, which
  stores no epoch budget, sorts below any epoch count).
- A candidate is reported at its largest budget that has a finished run (its largest budget
  when none has); ties between configs at one budget go to the one with most finished runs,
  then to the smaller ``config_key``.
- EDF (Radosavovic et al. 2019, pycls): EDF(e) = fraction of models with error < e; the
  complexity-normalised EDF weights each model 1/(models in its complexity bin)/(bins).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from archlab.store import STATUSES

# Columns that describe a candidate, carried from results_frame into every aggregate.
CANDIDATE_COLUMNS: tuple[str, ...] = (
    "candidate_id",
    "name",
    "template",
    "depth",
    "cardinality",
    "bottleneck_width",
    "group_width",
    "width_multiplier",
    "macs",
    "params",
    "acts",
)
SETTING_KEYS: tuple[str, ...] = ("candidate_id", "rung", "budget_epochs", "config_key")
EDF_MIN_CANDIDATES = 10  # the threshold for drawing an EDF of one design space
RANK_MIN_CANDIDATES = 3  # fewer common candidates make τ and ρ meaningless


def mean_std(values: Sequence[float] | np.ndarray | pd.Series) -> tuple[float, float, int]:
    """(mean, sample std with ddof=1, n) of the non-NaN values; std is NaN below two values."""
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    n = int(arr.size)
    if n == 0:
        return math.nan, math.nan, 0
    std = float(np.std(arr, ddof=1)) if n > 1 else math.nan
    return float(np.mean(arr)), std, n


def budget_sort_key(rung: int, budget_epochs: Any) -> tuple[int, int]:
    """Order of budgets: rung first, then epochs; no epoch budget (time-limited) sorts lowest."""
    epochs = -1 if budget_epochs is None or pd.isna(budget_epochs) else int(budget_epochs)
    return int(rung), epochs


def budget_label(rung: int, budget_epochs: Any, *, show_rung: bool = True) -> str:
    """'4 epochs (rung 1)'; 'no epoch budget' for time-limited runs and older stores."""
    if budget_epochs is None or pd.isna(budget_epochs):
        text = "no epoch budget"
    else:
        n = int(budget_epochs)
        text = f"{n} epoch" + ("" if n == 1 else "s")
    return f"{text} (rung {int(rung)})" if show_rung else text


def status_counts(results: pd.DataFrame) -> dict[int, str]:
    """Per candidate id, its runs' statuses as '2 finished, 1 diverged' (in STATUSES order)."""
    out: dict[int, str] = {}
    for cid, group in results.groupby("candidate_id", sort=True):
        counts = group["status"].value_counts()
        parts = [f"{int(counts[s])} {s}" for s in STATUSES if s in counts.index]
        out[int(cid)] = ", ".join(parts)
    return out


def settings_frame(results: pd.DataFrame) -> pd.DataFrame:
    """One row per setting: candidate columns, budget, run counts and the seed aggregates."""
    columns = [
        *CANDIDATE_COLUMNS,
        "rung",
        "budget_epochs",
        "config_key",
        "n_runs",
        "n_finished",
        "val_mean",
        "val_std",
        "val_n",
        "test_mean",
        "test_std",
        "test_n",
        "images_per_s",
        "dataset",
    ]
    rows = []
    keyed = results.assign(_budget=results["budget_epochs"].astype("Float64").fillna(-1.0))
    for _, group in keyed.groupby(["candidate_id", "rung", "_budget", "config_key"], sort=True):
        first = group.iloc[0]
        done = group[group["status"] == "finished"]
        val = mean_std(done["val_error"])
        test = mean_std(done["test_error"])
        speed = done["images_per_s"].dropna()
        row = {c: first[c] for c in CANDIDATE_COLUMNS}
        row.update(
            rung=int(first["rung"]),
            budget_epochs=first["budget_epochs"],
            config_key=first["config_key"],
            n_runs=len(group),
            n_finished=len(done),
            val_mean=val[0],
            val_std=val[1],
            val_n=val[2],
            test_mean=test[0],
            test_std=test[1],
            test_n=test[2],
            images_per_s=float(speed.median()) if len(speed) else math.nan,
            dataset=first["dataset"] if "dataset" in group.columns else None,
        )
        rows.append(row)
    frame = pd.DataFrame(rows, columns=columns)
    frame["budget_epochs"] = frame["budget_epochs"].astype("Int64")
    return frame


def pick_settings(settings: pd.DataFrame, by: Sequence[str] = ("candidate_id",)) -> pd.DataFrame:
    """Per group ``by``, the largest budget with a finished run (see the module docstring)."""
    if settings.empty:
        return settings.copy()
    ranked = settings.assign(
        _has=settings["val_n"] > 0,
        _budget=settings["budget_epochs"].astype("Float64").fillna(-1.0),
    )
    ranked = ranked.sort_values(
        [*by, "_has", "rung", "_budget", "n_finished", "config_key"],
        ascending=[True] * len(by) + [False, False, False, False, True],
        kind="mergesort",
    )
    chosen = ranked.groupby(list(by), sort=True).head(1)
    return chosen.drop(columns=["_has", "_budget"]).reset_index(drop=True)


def candidate_results(results: pd.DataFrame) -> pd.DataFrame:
    """One row per candidate at its reported budget, with its run status counts; by name."""
    chosen = pick_settings(settings_frame(results))
    counts = status_counts(results)
    chosen["runs"] = [counts[int(c)] for c in chosen["candidate_id"]]
    return chosen.sort_values(["name", "candidate_id"], kind="mergesort").reset_index(drop=True)


@dataclass(frozen=True)
class Curve:
    """One candidate's errors per epoch, mean over its finished seeds (fractions)."""

    name: str
    epochs: np.ndarray
    train_error: np.ndarray
    val_error: np.ndarray


def mean_curves(results: pd.DataFrame, epochs: pd.DataFrame, chosen: pd.DataFrame) -> list[Curve]:
    """Per chosen setting, train and val error per epoch averaged over its finished runs."""
    keys = list(SETTING_KEYS)
    done = results[results["status"] == "finished"].merge(chosen[keys], on=keys, how="inner")
    candidate = dict(zip(done["run_id"], done["candidate_id"], strict=True))
    ep = epochs[epochs["run_id"].isin(candidate)]
    ep = ep.assign(_cid=ep["run_id"].map(candidate))  # one name may label two specs
    curves = []
    for (name, _), g in ep.groupby(["name", "_cid"], sort=True):
        mean = g.groupby("epoch")[["train_error", "val_error"]].mean()
        curves.append(Curve(str(name), mean.index.to_numpy(), mean["train_error"].to_numpy(),
                            mean["val_error"].to_numpy()))  # fmt: skip
    return curves


# --------------------------------------------------------------------------- Pareto front


def pareto_mask(
    cost: Sequence[float] | np.ndarray, error: Sequence[float] | np.ndarray
) -> np.ndarray:
    """True where no other point is as cheap and as good, and better in one (minimise both)."""
    x, y = np.asarray(cost, dtype=float), np.asarray(error, dtype=float)
    mask = np.ones(x.size, dtype=bool)
    for i in range(x.size):
        dominated = (x <= x[i]) & (y <= y[i]) & ((x < x[i]) | (y < y[i]))
        mask[i] = not dominated.any()
    return mask


# --------------------------------------------------------------------------- EDFs


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
    """Sorted errors and the cumulative weight up to and including each: a steps-post curve."""
    err = np.asarray(errors, dtype=float)
    w = _weights(err.size, weights)
    order = np.argsort(err, kind="mergesort")
    return err[order], np.cumsum(w[order])


def complexity_weights(complexity: Sequence[float] | np.ndarray, bins: int = 5) -> np.ndarray:
    """pycls's normalisation: 1/(models in the log-complexity bin)/(non-empty bins); sums to 1."""
    c = np.asarray(complexity, dtype=float)
    if c.size == 0:
        return np.zeros(0)
    if np.any(c <= 0) or np.any(np.isnan(c)):
        raise ValueError("complexity values must be positive numbers")
    logc = np.log10(c)
    edges = np.linspace(logc.min(), logc.max(), bins + 1)
    # digitize against the inner edges: bin i holds [edge_i, edge_i+1), the last bin is closed.
    index = np.digitize(logc, edges[1:-1], right=False)
    counts = np.bincount(index, minlength=bins)
    occupied = int(np.count_nonzero(counts))
    return 1.0 / counts[index] / occupied


def ks_statistic(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    weights_a: Sequence[float] | np.ndarray | None = None,
    weights_b: Sequence[float] | np.ndarray | None = None,
) -> float:
    """Kolmogorov–Smirnov statistic sup_e |EDF_a(e) − EDF_b(e)|, optionally of weighted EDFs."""
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    wa, wb = _weights(xa.size, weights_a), _weights(xb.size, weights_b)
    points = np.union1d(xa, xb)
    fa = np.array([wa[xa <= p].sum() for p in points])
    fb = np.array([wb[xb <= p].sum() for p in points])
    return float(np.max(np.abs(fa - fb))) if points.size else math.nan


@dataclass(frozen=True)
class EdfGroup:
    """Finished candidates of one design space at one budget: errors and complexities."""

    label: str
    names: tuple[str, ...]
    errors: np.ndarray  # mean val error per candidate, fraction
    macs: np.ndarray


def edf_groups(settings: pd.DataFrame, minimum: int = EDF_MIN_CANDIDATES) -> list[EdfGroup]:
    """Design spaces (template × dataset) per budget with ``minimum`` finished candidates."""
    by = ["candidate_id", "rung", "budget_epochs"]
    chosen = pick_settings(settings, by)
    chosen = chosen[(chosen["val_n"] > 0) & chosen["macs"].notna()]
    show_rung = bool((settings["rung"] != 0).any()) if len(settings) else False
    groups = []
    keyed = chosen.assign(
        _t=chosen["template"].fillna("?").astype(str),
        _d=chosen["dataset"].fillna("?").astype(str),
        _b=[
            budget_sort_key(r, b)
            for r, b in zip(chosen["rung"], chosen["budget_epochs"], strict=True)
        ],
    )
    for (template, dataset, _), g in keyed.groupby(["_t", "_d", "_b"], sort=True):
        if len(g) < minimum:
            continue
        g = g.sort_values(["val_mean", "name"], kind="mergesort")
        budget = budget_label(g["rung"].iloc[0], g["budget_epochs"].iloc[0], show_rung=show_rung)
        groups.append(
            EdfGroup(
                label=f"{template} on {dataset}, {budget}",
                names=tuple(g["name"]),
                errors=g["val_mean"].to_numpy(dtype=float),
                macs=g["macs"].to_numpy(dtype=float),
            )
        )
    return groups


# --------------------------------------------------------------------------- rank agreement


def rank_agreement(settings: pd.DataFrame, minimum: int = RANK_MIN_CANDIDATES) -> pd.DataFrame:
    """Kendall τ and Spearman ρ of val-error rankings for every pair of budgets (short, long)."""
    columns = ["short", "long", "n", "kendall_tau", "spearman_rho", "names", "short_errors",
               "long_errors"]  # fmt: skip
    if settings.empty:
        return pd.DataFrame(columns=columns)
    per_budget = pick_settings(settings, ["candidate_id", "rung", "budget_epochs"])
    per_budget = per_budget[per_budget["val_n"] > 0]
    show_rung = bool((settings["rung"] != 0).any())
    levels: dict[tuple[int, int], pd.Series] = {}
    labels: dict[tuple[int, int], str] = {}
    for (rung, budget), g in per_budget.groupby(
        [per_budget["rung"], per_budget["budget_epochs"].astype("Float64").fillna(-1.0)]
    ):
        key = budget_sort_key(rung, None if budget < 0 else budget)
        levels[key] = g.set_index("candidate_id")["val_mean"]
        labels[key] = budget_label(rung, None if budget < 0 else budget, show_rung=show_rung)
    names = dict(zip(settings["candidate_id"], settings["name"], strict=True))
    rows = []
    for short, long in combinations(sorted(levels), 2):
        both = pd.concat([levels[short], levels[long]], axis=1, join="inner")
        if len(both) < minimum:
            continue
        both.index = [f"{names[c]}#{c}" for c in both.index]  # by name, ids break name ties
        both = both.sort_index()
        x, y = both.iloc[:, 0].to_numpy(), both.iloc[:, 1].to_numpy()
        tau = float(stats.kendalltau(x, y).statistic)
        rho = float(stats.spearmanr(x, y).statistic)
        ids = tuple(i.rpartition("#")[0] for i in both.index)
        rows.append([labels[short], labels[long], len(both), tau, rho, ids, tuple(x), tuple(y)])
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- Fig. 7 families


@dataclass(frozen=True)
class Families:
    """Fig. 7's two ways up from one baseline: more cardinality (d fixed) or more width (C=1)."""

    label: str
    baseline: str
    cardinality: pd.DataFrame  # C grows, d == the baseline's d; sorted by params
    width: pd.DataFrame  # C == 1, d grows; sorted by params


def families(candidates: pd.DataFrame, minimum: int = 2) -> list[Families]:
    """Per (template, depth, width multiplier), the two families when each has ``minimum`` members.

    The baseline is the C=1 candidate with the smallest d. "More cardinality" is every
    candidate whose d equals the baseline's (1x64d, 2x64d, 3x64d, 4x64d in Fig. 7); "more
    width" is every C=1 candidate (1x64d, 1x92d, 1x128d, 1x160d). Both start at the baseline.
    """
    done = candidates[(candidates["val_n"] > 0) & candidates["params"].notna()]
    done = done.dropna(subset=["template", "depth", "cardinality", "bottleneck_width"])
    found = []
    keys = ["template", "depth", "width_multiplier"]
    for (template, depth, mult), g in done.groupby(keys, sort=True, dropna=False):
        ones = g[g["cardinality"] == 1]
        if ones.empty:
            continue
        base = ones.sort_values(["bottleneck_width", "name"], kind="mergesort").iloc[0]
        card = g[g["bottleneck_width"] == base["bottleneck_width"]]
        if len(card) < minimum or len(ones) < minimum:
            continue
        found.append(
            Families(
                label=f"{template}, depth {int(depth)}, width ×{float(mult):g}",
                baseline=str(base["name"]),
                cardinality=card.sort_values(["params", "name"], kind="mergesort"),
                width=ones.sort_values(["params", "name"], kind="mergesort"),
            )
        )
    return found

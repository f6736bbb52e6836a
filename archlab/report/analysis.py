"""Analysis of stored runs: seed aggregation, budgets, comparison groups, Pareto fronts and EDF
groups. Rank agreement between budgets is in :mod:`archlab.report.rankings`, Fig. 7's families in
:mod:`archlab.report.families`; both build on the settings made here.

Pure pandas / numpy / scipy on :meth:`archlab.store.Store.results_frame` rows; no plotting here
(analysis stays apart from plotting). The rules, stated once:

- A *setting* is the runs of one candidate that share ``(dataset, rung, budget_epochs,
  config_key)``; its seeds are aggregated as mean ± sample std (ddof=1) of the last epoch's
  error over *finished* runs only. Diverged, failed and interrupted runs are counted, never
  averaged in. A missing dataset or epoch budget (a time-limited run, an older store) is a
  value of its own, never a reason to drop a run.
- A *comparison group* is ``(dataset, rung, budget_epochs, config_key)``: candidates are only
  ever compared with others trained alike, so after successive halving a 1-epoch loser never
  shares a Pareto front with an 8-epoch survivor.
- A *budget* orders settings by ``rung``, then ``budget_epochs`` (a time-limited run, which
  stores no epoch budget, sorts below any epoch count).
- Where one setting per candidate is wanted (training curves), it is the largest budget that
  has a finished run (the largest budget when none has); ties between configs at one budget
  go to the one with most finished runs, then to the smaller ``config_key``.
- EDF (Radosavovic et al. 2019, pycls): EDF(e) = fraction of models with error < e; the
  complexity-normalised EDF weights each model 1/(models in its complexity bin)/(bins), with
  bins shared by the spaces compared.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from archlab.space import SUMMARY_FIELDS
from archlab.store import STATUSES

# Columns that describe a candidate, carried from results_frame into every aggregate.
CANDIDATE_COLUMNS: tuple[str, ...] = (
    "candidate_id",
    *SUMMARY_FIELDS,
    "macs",
    "params",
    "acts",
)
# Optional columns the report adds from each run's config and each candidate's stored spec.
EXTRA_COLUMNS: tuple[str, ...] = ("dataset", "num_classes", "input_size", "family_key")
GROUP_KEYS: tuple[str, ...] = ("dataset", "rung", "budget_epochs", "config_key")
SETTING_KEYS: tuple[str, ...] = ("candidate_id", *GROUP_KEYS)
EDF_MIN_CANDIDATES = 10  # the threshold for drawing an EDF of one design space
COMPARE_MIN_CANDIDATES = 2  # a comparison group with one candidate compares nothing


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


def shows_rung(frame: pd.DataFrame) -> bool:
    """Whether budget labels name the rung: only when some run is past rung 0."""
    return bool((frame["rung"] != 0).any()) if len(frame) else False


def shows_config(frame: pd.DataFrame) -> bool:
    """Whether labels name the config key: only when the store has several."""
    return bool(frame["config_key"].nunique() > 1) if len(frame) else False


def group_label(row: Any, *, show_rung: bool, show_config: bool) -> str:
    """A comparison group as 'digits, 4 epochs (rung 1)', plus ', config KEY' when needed."""
    dataset = "dataset not stored" if _missing(row["dataset"]) else str(row["dataset"])
    text = f"{dataset}, {budget_label(row['rung'], row['budget_epochs'], show_rung=show_rung)}"
    return text + (f", config {row['config_key']}" if show_config else "")


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def with_extra_columns(results: pd.DataFrame) -> pd.DataFrame:
    """``results`` with every EXTRA_COLUMNS column, None where the caller did not add it."""
    missing = {c: None for c in EXTRA_COLUMNS if c not in results.columns}
    return results.assign(**missing) if missing else results


def _keys(frame: pd.DataFrame, columns: Sequence[str]) -> list[pd.Series]:
    """``columns`` as grouping keys with no missing values, so groupby never drops a row."""
    keys = []
    for c in columns:
        col = frame[c]
        if c == "budget_epochs":
            col = col.astype("Float64").fillna(-1.0).astype(float)
        elif pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            col = col.astype(float).fillna(-1.0) if col.isna().any() else col
        else:  # text, or None throughout (a column the caller did not have)
            col = col.map(lambda v: "" if _missing(v) else str(v))
        keys.append(col.rename(f"_{c}"))
    return keys


def status_text(statuses: pd.Series) -> str:
    """Runs' statuses as '2 finished, 1 diverged' (in STATUSES order)."""
    counts = statuses.value_counts()
    return ", ".join(f"{int(counts[s])} {s}" for s in STATUSES if s in counts.index)


def settings_frame(results: pd.DataFrame) -> pd.DataFrame:
    """One row per setting: candidate columns, dataset and budget, runs and seed aggregates."""
    columns = [
        *CANDIDATE_COLUMNS,
        *EXTRA_COLUMNS,
        "rung",
        "budget_epochs",
        "config_key",
        "n_runs",
        "n_finished",
        "runs",
        "finished_run_ids",
        "val_mean",
        "val_std",
        "val_n",
        "test_mean",
        "test_std",
        "test_n",
        "images_per_s",
    ]
    results = with_extra_columns(results)
    rows = []
    for _, group in results.groupby(_keys(results, SETTING_KEYS), sort=True):
        first = group.iloc[0]
        done = group[group["status"] == "finished"]
        val = mean_std(done["val_error"])
        test = mean_std(done["test_error"])
        speed = done["images_per_s"].dropna()
        row = {c: first[c] for c in (*CANDIDATE_COLUMNS, *EXTRA_COLUMNS)}
        row.update(
            rung=int(first["rung"]),
            budget_epochs=first["budget_epochs"],
            config_key=first["config_key"],
            n_runs=len(group),
            n_finished=len(done),
            runs=status_text(group["status"]),
            finished_run_ids=tuple(int(i) for i in done["run_id"]),
            val_mean=val[0],
            val_std=val[1],
            val_n=val[2],
            test_mean=test[0],
            test_std=test[1],
            test_n=test[2],
            images_per_s=float(speed.median()) if len(speed) else math.nan,
        )
        rows.append(row)
    frame = pd.DataFrame(rows, columns=columns)
    frame["budget_epochs"] = frame["budget_epochs"].astype("Int64")
    return frame


def pick_settings(settings: pd.DataFrame, by: Sequence[str] = ("candidate_id",)) -> pd.DataFrame:
    """Per group ``by``, the largest budget with a finished run (see the module docstring)."""
    if settings.empty:
        return settings.copy()
    keys = _keys(settings, by)
    ranked = settings.assign(
        **{k.name: k for k in keys},
        _has=settings["val_n"] > 0,
        _rank=settings["budget_epochs"].astype("Float64").fillna(-1.0).astype(float),
    )
    names = [str(k.name) for k in keys]
    ranked = ranked.sort_values(
        [*names, "_has", "rung", "_rank", "n_finished", "config_key"],
        ascending=[True] * len(names) + [False, False, False, False, True],
        kind="mergesort",
    )
    chosen = ranked.groupby(names, sort=True).head(1)
    return chosen.drop(columns=[*names, "_has", "_rank"]).reset_index(drop=True)


def candidate_results(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (candidate, comparison group), by name, then dataset, budget and config."""
    table = settings_frame(results)
    order = [
        (str(n), int(c), "" if _missing(d) else str(d), *budget_sort_key(r, b), str(k))
        for n, c, d, r, b, k in zip(
            table["name"], table["candidate_id"], table["dataset"], table["rung"],
            table["budget_epochs"], table["config_key"], strict=True,
        )
    ]  # fmt: skip
    index = sorted(range(len(order)), key=order.__getitem__)
    return table.iloc[index].reset_index(drop=True)


@dataclass(frozen=True)
class ComparisonGroup:
    """Candidates trained alike (one dataset, rung, epoch budget and config), all finished."""

    label: str
    candidates: pd.DataFrame  # settings rows with a finished run and stored complexity, by name


def comparison_groups(
    settings: pd.DataFrame, minimum: int = COMPARE_MIN_CANDIDATES
) -> list[ComparisonGroup]:
    """Comparison groups with ``minimum`` finished candidates of known MACs and params."""
    if settings.empty:
        return []
    show_rung, show_config = shows_rung(settings), shows_config(settings)
    done = settings[
        (settings["val_n"] > 0) & (settings["macs"].fillna(0) > 0)
        & (settings["params"].fillna(0) > 0)
    ]  # fmt: skip
    found = []
    for _, g in done.groupby(_keys(done, GROUP_KEYS), sort=True):
        if len(g) >= minimum:
            label = group_label(g.iloc[0], show_rung=show_rung, show_config=show_config)
            g = g.sort_values(["name", "candidate_id"], kind="mergesort").reset_index(drop=True)
            found.append(ComparisonGroup(label, g))
    return found


@dataclass(frozen=True)
class Curve:
    """One candidate's errors per epoch, mean over its finished seeds (fractions)."""

    name: str
    epochs: np.ndarray
    train_error: np.ndarray
    val_error: np.ndarray


def mean_curves(epochs: pd.DataFrame, chosen: pd.DataFrame) -> list[Curve]:
    """Per chosen setting, train and val error per epoch averaged over its finished runs."""
    candidate = {
        run: int(cid)
        for runs, cid in zip(chosen["finished_run_ids"], chosen["candidate_id"], strict=True)
        for run in runs
    }
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


# --------------------------------------------------------------------------- EDF groups


@dataclass(frozen=True)
class EdfGroup:
    """Finished candidates of one design space in one comparison group."""

    label: str  # 'cifar on digits, 2 epochs (rung 0)'
    comparison: str  # the comparison group's label, 'digits, 2 epochs (rung 0)'
    names: tuple[str, ...]
    errors: np.ndarray  # mean val error per candidate, fraction
    macs: np.ndarray


def edf_groups(settings: pd.DataFrame, minimum: int = EDF_MIN_CANDIDATES) -> list[EdfGroup]:
    """Design spaces (templates) per comparison group with ``minimum`` finished candidates."""
    if settings.empty:
        return []
    show_rung, show_config = shows_rung(settings), shows_config(settings)
    # A settings row is already one (candidate, dataset, rung, budget, config): a candidate
    # trained on two datasets, or at two budgets, counts once in each group it belongs to.
    done = settings[(settings["val_n"] > 0) & (settings["macs"].fillna(0) > 0)]
    done = done.assign(template=done["template"].fillna("?"))
    groups = []
    for _, g in done.groupby(_keys(done, [*GROUP_KEYS, "template"]), sort=True):
        if len(g) < minimum:
            continue
        g = g.sort_values(["val_mean", "name"], kind="mergesort")
        comparison = group_label(g.iloc[0], show_rung=show_rung, show_config=show_config)
        groups.append(
            EdfGroup(
                label=f"{g['template'].iloc[0]} on {comparison}",
                comparison=comparison,
                names=tuple(g["name"]),
                errors=g["val_mean"].to_numpy(dtype=float),
                macs=g["macs"].to_numpy(dtype=float),
            )
        )
    return groups

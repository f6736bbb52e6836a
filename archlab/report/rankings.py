"""Rank agreement between budgets: do short runs rank candidates as longer runs do?

Kendall τ and Spearman ρ (scipy) of the candidates' mean validation errors at a shorter and a
longer budget of one dataset, over the candidates both budgets finished. Settings and groups come
from :mod:`archlab.report.analysis`.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from archlab.report.analysis import (
    GROUP_KEYS,
    _keys,
    _missing,
    budget_label,
    budget_sort_key,
    shows_config,
    shows_rung,
)

RANK_MIN_CANDIDATES = 3  # fewer common candidates make τ and ρ meaningless


def rank_agreement(settings: pd.DataFrame, minimum: int = RANK_MIN_CANDIDATES) -> pd.DataFrame:
    """Kendall τ and Spearman ρ of val-error rankings per pair of budgets on one dataset.

    Each level is one comparison group; a pair is a shorter and a longer budget of the same
    dataset (configs may differ: a grid trained twice at two epoch counts). Constant errors at
    either budget rank nothing: τ and ρ are NaN and ``constant`` says why.
    """
    columns = ["dataset", "short", "long", "n", "kendall_tau", "spearman_rho", "constant",
               "names", "short_errors", "long_errors"]  # fmt: skip
    if settings.empty:
        return pd.DataFrame(columns=columns)
    show_rung, show_config = shows_rung(settings), shows_config(settings)
    done = settings[settings["val_n"] > 0]
    levels = []
    for _, g in done.groupby(_keys(done, GROUP_KEYS), sort=True):
        first = g.iloc[0]
        label = budget_label(first["rung"], first["budget_epochs"], show_rung=show_rung)
        label += f", config {first['config_key']}" if show_config else ""
        dataset = "not stored" if _missing(first["dataset"]) else str(first["dataset"])
        budget = budget_sort_key(first["rung"], first["budget_epochs"])
        levels.append((dataset, budget, label, g.set_index("candidate_id")["val_mean"]))
    names = dict(zip(settings["candidate_id"], settings["name"], strict=True))
    rows = []
    for (dataset, budget, short, xs), (other, budget_b, long, ys) in combinations(levels, 2):
        if dataset != other or budget >= budget_b:  # never across datasets or at one budget
            continue
        both = pd.concat([xs, ys], axis=1, join="inner")
        if len(both) < minimum:
            continue
        both.index = [f"{names[c]}#{c}" for c in both.index]  # by name, ids break name ties
        both = both.sort_index()
        x, y = both.iloc[:, 0].to_numpy(), both.iloc[:, 1].to_numpy()
        constant = bool(np.ptp(x) == 0 or np.ptp(y) == 0)  # scipy would warn and give NaN
        tau = math.nan if constant else float(stats.kendalltau(x, y).statistic)
        rho = math.nan if constant else float(stats.spearmanr(x, y).statistic)
        ids = tuple(i.rpartition("#")[0] for i in both.index)
        rows.append([dataset, short, long, len(both), tau, rho, constant, ids, tuple(x),
                     tuple(y)])  # fmt: skip
    return pd.DataFrame(rows, columns=columns)

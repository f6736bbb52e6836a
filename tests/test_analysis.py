"""analysis: seed aggregation, budget choice, Pareto, EDFs, KS, rank agreement, Fig. 7 families."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from archlab import analysis


def test_mean_std_uses_sample_std_and_ignores_nan() -> None:
    mean, std, n = analysis.mean_std([0.30, 0.32, float("nan")])
    assert (round(mean, 10), n) == (0.31, 2)
    assert std == pytest.approx(math.sqrt(((0.01) ** 2 * 2) / 1))  # ddof = 1
    mean, std, n = analysis.mean_std([0.5])
    assert (mean, n) == (0.5, 1) and math.isnan(std)
    assert analysis.mean_std([])[2] == 0


def test_edf_on_a_hand_example() -> None:
    errors = [0.1, 0.2, 0.2, 0.4]
    # EDF(e) = fraction with error strictly below e.
    got = analysis.edf(errors, [0.1, 0.15, 0.2, 0.25, 0.5])
    np.testing.assert_allclose(got, [0.0, 0.25, 0.25, 0.75, 1.0])
    weighted = analysis.edf(errors, [0.15, 0.3, 1.0], weights=[0.5, 0.1, 0.1, 0.3])
    np.testing.assert_allclose(weighted, [0.5, 0.7, 1.0])
    xs, cum = analysis.edf_curve([0.4, 0.1, 0.2, 0.2])
    np.testing.assert_allclose(xs, [0.1, 0.2, 0.2, 0.4])
    np.testing.assert_allclose(cum, [0.25, 0.5, 0.75, 1.0])
    with pytest.raises(ValueError, match="one entry per error"):
        analysis.edf(errors, [0.2], weights=[1.0])


def test_complexity_weights_hand_example_and_sum() -> None:
    # log10 MACs 0, 0, 0, 2 in two bins: three models share bin 0, one is alone in bin 1.
    w = analysis.complexity_weights([1, 1, 1, 100], bins=2)
    np.testing.assert_allclose(w, [1 / 3 / 2, 1 / 3 / 2, 1 / 3 / 2, 1 / 2])
    rng = np.random.default_rng(0)
    for n in (1, 7, 40):
        macs = 10 ** rng.uniform(6, 9, size=n)
        for bins in (1, 3, 5, 10):
            assert analysis.complexity_weights(macs, bins).sum() == pytest.approx(1.0)
    assert analysis.complexity_weights([5e6] * 4).sum() == pytest.approx(1.0)  # all in one bin
    with pytest.raises(ValueError, match="positive"):
        analysis.complexity_weights([0, 1])


def test_pareto_on_a_hand_example() -> None:
    cost = [1, 2, 2, 3, 4, 5]
    error = [0.5, 0.4, 0.45, 0.4, 0.2, 0.3]
    # (2, .45) loses to (2, .40); (3, .40) to (2, .40); (5, .30) to (4, .20).
    assert list(analysis.pareto_mask(cost, error)) == [True, True, False, False, True, False]
    assert list(analysis.pareto_mask([1, 1], [0.3, 0.3])) == [True, True]  # ties both stay


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ks_statistic_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(0.3, 0.05, size=13).round(2)  # rounding makes ties, within and across
    b = rng.normal(0.32, 0.04, size=9).round(2)
    expected = stats.ks_2samp(a, b).statistic
    assert analysis.ks_statistic(a, b) == pytest.approx(expected)
    uniform = analysis.ks_statistic(a, b, np.full(13, 1 / 13), np.full(9, 1 / 9))
    assert uniform == pytest.approx(expected)
    assert analysis.ks_statistic(a, a) == 0.0


def _result(
    cid: int,
    name: str,
    seed: int,
    rung: int,
    budget: int | None,
    val: float,
    status: str = "finished",
    key: str = "k",
    **extra: Any,
) -> dict[str, Any]:
    row = dict(
        run_id=0,
        candidate_id=cid,
        name=name,
        template="cifar",
        depth=29,
        cardinality=1,
        bottleneck_width=16,
        group_width=16,
        width_multiplier=0.25,
        macs=1e6 * cid,
        params=1e5 * cid,
        acts=1e4,
        seed=seed,
        rung=rung,
        budget_epochs=budget,
        config_key=key,
        status=status,
        val_error=val if status == "finished" else float("nan"),
        test_error=val + 0.01,
        images_per_s=100.0,
        dataset="digits",
    )
    row.update(extra)
    return row


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["budget_epochs"] = frame["budget_epochs"].astype("Int64")
    return frame


def test_candidate_results_take_the_largest_budget_with_a_finished_run() -> None:
    frame = _frame(
        [
            _result(1, "a", 0, 0, 2, 0.40),
            _result(1, "a", 1, 0, 2, 0.42),
            _result(1, "a", 0, 1, 4, 0.30),
            _result(1, "a", 1, 1, 4, 0.0, status="diverged"),
            _result(2, "b", 0, 0, 2, 0.35),
            _result(2, "b", 0, 1, 4, 0.0, status="failed"),
            _result(3, "c", 0, 0, 2, 0.0, status="failed"),
            _result(4, "d", 0, 0, 2, 0.50, key="k1"),
            _result(4, "d", 1, 0, 2, 0.52, key="k1"),
            _result(4, "d", 0, 0, 2, 0.10, key="k0"),
        ]
    )
    table = analysis.candidate_results(frame).set_index("name")
    assert (table.loc["a", "rung"], table.loc["a", "val_n"]) == (1, 1)  # diverged seed not averaged
    assert table.loc["a", "val_mean"] == pytest.approx(0.30)
    assert table.loc["a", "runs"] == "3 finished, 1 diverged"
    assert (table.loc["b", "rung"], table.loc["b", "val_mean"]) == (0, 0.35)  # rung 1 failed
    assert table.loc["c", "val_n"] == 0 and table.loc["c", "runs"] == "1 failed"
    # Two configs at one budget: the one with more finished seeds.
    assert table.loc["d", "config_key"] == "k1" and table.loc["d", "val_n"] == 2
    assert analysis.budget_label(1, 4) == "4 epochs (rung 1)"
    assert analysis.budget_label(0, None, show_rung=False) == "no epoch budget"


def test_rank_agreement_matches_scipy() -> None:
    short = [0.40, 0.36, 0.35, 0.37, 0.38]
    long = [0.30, 0.27, 0.25, 0.29, 0.28]
    rows = [_result(i + 1, f"m{i}", 0, 0, 2, s) for i, s in enumerate(short)]
    rows += [_result(i + 1, f"m{i}", 0, 1, 6, v) for i, v in enumerate(long)]
    rows.append(_result(9, "only-short", 0, 0, 2, 0.2))  # not at both budgets: left out
    got = analysis.rank_agreement(analysis.settings_frame(_frame(rows)))
    (row,) = got.itertuples()
    assert (row.short, row.long, row.n) == ("2 epochs (rung 0)", "6 epochs (rung 1)", 5)
    assert row.kendall_tau == pytest.approx(stats.kendalltau(short, long).statistic)
    assert row.spearman_rho == pytest.approx(stats.spearmanr(short, long).statistic)
    few = analysis.settings_frame(_frame(rows[:2] + rows[5:7]))
    assert analysis.rank_agreement(few).empty  # two common candidates are too few


def test_families_follow_fig7_rule() -> None:
    specs = {"1x16d": (1, 16), "2x16d": (2, 16), "4x16d": (4, 16), "1x23d": (1, 23), "8x4d": (8, 4)}
    rows = [
        _result(i, n, 0, 0, 2, 0.3, cardinality=c, bottleneck_width=d)
        for i, (n, (c, d)) in enumerate(specs.items(), 1)
    ]
    table = analysis.candidate_results(_frame(rows))
    (fam,) = analysis.families(table)
    assert fam.baseline == "1x16d"
    assert set(fam.cardinality["name"]) == {"1x16d", "2x16d", "4x16d"}
    assert set(fam.width["name"]) == {"1x16d", "1x23d"}
    only_cardinality = table[table["name"] != "1x23d"]
    assert analysis.families(only_cardinality) == []  # the width family has just the baseline


def test_edf_groups_need_ten_candidates_per_space_and_budget() -> None:
    rows = [_result(i, f"m{i:02d}", 0, 0, 2, 0.3 + i / 100) for i in range(1, 12)]
    rows += [_result(i, f"m{i:02d}", 0, 1, 4, 0.2) for i in range(1, 4)]
    (group,) = analysis.edf_groups(analysis.settings_frame(_frame(rows)))
    assert group.label == "cifar on digits, 2 epochs (rung 0)" and len(group.errors) == 11
    assert list(group.errors) == sorted(group.errors)

"""analysis: seed aggregation, budget choice, Pareto, EDFs, KS, rank agreement, Fig. 7 families."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from archlab.report import analysis, edf, families, rankings


def test_mean_std_uses_sample_std_and_ignores_nan() -> None:
    mean, std, n = analysis.mean_std([0.30, 0.32, float("nan")])
    assert (round(mean, 10), n) == (0.31, 2)
    assert std == pytest.approx(math.sqrt(((0.01) ** 2 * 2) / 1))  # ddof = 1
    mean, std, n = analysis.mean_std([0.5])
    assert (mean, n) == (0.5, 1) and math.isnan(std)
    assert analysis.mean_std([])[2] == 0


def test_edf_on_a_hand_example() -> None:
    errors = [0.1, 0.2, 0.2, 0.4]
    # EDF(e) = fraction with error < e (Radosavovic et al.): a model at exactly e is not counted.
    got = edf.edf(errors, [0.05, 0.1, 0.15, 0.2, 0.25, 0.5])
    np.testing.assert_allclose(got, [0.0, 0.0, 0.25, 0.25, 0.75, 1.0])
    assert edf.edf([0.2], [0.2, 0.2 + 1e-12])[0] == 0.0
    weighted = edf.edf(errors, [0.15, 0.3, 1.0], weights=[0.5, 0.1, 0.1, 0.3])
    np.testing.assert_allclose(weighted, [0.5, 0.7, 1.0])
    xs, cum = edf.edf_curve([0.4, 0.1, 0.2, 0.2])
    np.testing.assert_allclose(xs, [0.1, 0.2, 0.2, 0.4])
    np.testing.assert_allclose(cum, [0.25, 0.5, 0.75, 1.0])
    # Before an error's first step the curve holds the EDF there; after its last step, the EDF
    # just above it: the text and the plot agree.
    first = [i for i in range(len(xs)) if i == 0 or xs[i - 1] != xs[i]]
    last = [i for i in range(len(xs)) if i + 1 == len(xs) or xs[i + 1] != xs[i]]
    before = np.r_[0.0, cum][first]
    np.testing.assert_allclose(before, edf.edf(errors, xs[first]))
    np.testing.assert_allclose(cum[last], edf.edf(errors, xs[last] + 1e-9))
    with pytest.raises(ValueError, match="one entry per error"):
        edf.edf(errors, [0.2], weights=[1.0])


def test_complexity_weights_hand_example_and_sum() -> None:
    # log10 MACs 0, 0, 0, 2 in two bins: three models share bin 0, one is alone in bin 1.
    w = edf.complexity_weights([1, 1, 1, 100], bins=2)
    np.testing.assert_allclose(w, [1 / 3 / 2, 1 / 3 / 2, 1 / 3 / 2, 1 / 2])
    rng = np.random.default_rng(0)
    for n in (1, 7, 40):
        macs = 10 ** rng.uniform(6, 9, size=n)
        for bins in (1, 3, 5, 10):
            assert edf.complexity_weights(macs, bins).sum() == pytest.approx(1.0)
    assert edf.complexity_weights([5e6] * 4).sum() == pytest.approx(1.0)  # all in one bin
    with pytest.raises(ValueError, match="positive"):
        edf.complexity_weights([0, 1])


def test_shared_complexity_weights_bin_all_spaces_on_one_set_of_edges() -> None:
    # On a's own edges (log10 6 to 6.95) three models share the low bin, one is alone in the
    # high one; on the edges shared with b (log10 6 to 8) all four fall in the low bin.
    a, b = np.array([1e6, 1.2e6, 1.5e6, 9e6]), np.array([1e6, 1e8])
    np.testing.assert_allclose(edf.complexity_weights(a, bins=2), [1 / 6] * 3 + [1 / 2])
    wa, wb = edf.shared_complexity_weights(a, b, bins=2)
    np.testing.assert_allclose(wa, [0.25] * 4)  # one bin, four models
    np.testing.assert_allclose(wb, [0.5, 0.5])  # two bins, one model each
    wa, _ = edf.shared_complexity_weights(a, b, bins=4)  # edges 6, 6.5, 7, 7.5, 8
    np.testing.assert_allclose(wa, [1 / 6] * 3 + [1 / 2])
    assert edf.shared_complexity_weights() == ()
    np.testing.assert_allclose(
        edf.shared_complexity_weights(a, bins=3)[0], edf.complexity_weights(a, 3)
    )


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
    assert edf.ks_statistic(a, b) == pytest.approx(expected)
    uniform = edf.ks_statistic(a, b, np.full(13, 1 / 13), np.full(9, 1 / 9))
    assert uniform == pytest.approx(expected)
    assert edf.ks_statistic(a, a) == 0.0


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


def test_pick_settings_take_the_largest_budget_with_a_finished_run() -> None:
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
    table = analysis.pick_settings(analysis.settings_frame(frame)).set_index("name")
    assert (table.loc["a", "rung"], table.loc["a", "val_n"]) == (1, 1)  # diverged seed not averaged
    assert table.loc["a", "val_mean"] == pytest.approx(0.30)
    assert table.loc["a", "runs"] == "1 finished, 1 diverged"  # the setting's runs
    assert (table.loc["b", "rung"], table.loc["b", "val_mean"]) == (0, 0.35)  # rung 1 failed
    assert table.loc["c", "val_n"] == 0 and table.loc["c", "runs"] == "1 failed"
    # Two configs at one budget: the one with more finished seeds.
    assert table.loc["d", "config_key"] == "k1" and table.loc["d", "val_n"] == 2
    assert analysis.budget_label(1, 4) == "4 epochs (rung 1)"
    assert analysis.budget_label(0, None, show_rung=False) == "no epoch budget"


def test_candidate_results_list_every_setting_by_name_then_budget() -> None:
    frame = _frame(
        [
            _result(2, "b", 0, 1, 4, 0.30),
            _result(2, "b", 0, 0, 2, 0.40),
            _result(2, "b", 0, 0, None, 0.45, key="t"),  # time-limited: sorts first
            _result(1, "a", 0, 0, 2, 0.0, status="failed"),
        ]
    )
    table = analysis.candidate_results(frame)
    got = [(n, r, None if pd.isna(b) else int(b)) for n, r, b in
           zip(table["name"], table["rung"], table["budget_epochs"], strict=True)]  # fmt: skip
    assert got == [("a", 0, 2), ("b", 0, None), ("b", 0, 2), ("b", 1, 4)]
    assert list(table["runs"]) == ["1 failed", "1 finished", "1 finished", "1 finished"]


def _halving() -> pd.DataFrame:
    """Successive halving, eta 2: 4 candidates at 1 epoch, the best 2 at 2, the best 1 at 4."""
    rows = [_result(i, f"m{i}", 0, 0, 1, 0.5 - i / 100) for i in range(1, 5)]
    rows += [_result(i, f"m{i}", 0, 1, 2, 0.4 - i / 100) for i in (3, 4)]
    rows.append(_result(4, "m4", 0, 2, 4, 0.2))
    return _frame(rows)


def test_comparison_groups_never_mix_budgets() -> None:
    groups = analysis.comparison_groups(analysis.settings_frame(_halving()))
    assert [g.label for g in groups] == ["digits, 1 epoch (rung 0)", "digits, 2 epochs (rung 1)"]
    assert list(groups[0].candidates["name"]) == ["m1", "m2", "m3", "m4"]
    assert list(groups[1].candidates["name"]) == ["m3", "m4"]  # the 4-epoch group has one: none
    assert set(groups[1].candidates["budget_epochs"]) == {2}
    assert len(analysis.candidate_results(_halving())) == 7  # one row per candidate and group
    # Several config keys: the label names the key; several datasets: one group each.
    two = _frame(
        [_result(i, f"m{i}", 0, 0, 1, 0.3, key=k) for i in (1, 2) for k in ("ka", "kb")]
        + [_result(i, f"m{i}", 0, 0, 1, 0.3, dataset="cifar10") for i in (1, 2)]
    )
    labels = [g.label for g in analysis.comparison_groups(analysis.settings_frame(two))]
    assert labels == ["cifar10, 1 epoch, config k", "digits, 1 epoch, config ka",
                      "digits, 1 epoch, config kb"]  # fmt: skip


def test_rank_agreement_matches_scipy() -> None:
    short = [0.40, 0.36, 0.35, 0.37, 0.38]
    long = [0.30, 0.27, 0.25, 0.29, 0.28]
    rows = [_result(i + 1, f"m{i}", 0, 0, 2, s) for i, s in enumerate(short)]
    rows += [_result(i + 1, f"m{i}", 0, 1, 6, v) for i, v in enumerate(long)]
    rows.append(_result(9, "only-short", 0, 0, 2, 0.2))  # not at both budgets: left out
    got = rankings.rank_agreement(analysis.settings_frame(_frame(rows)))
    (row,) = got.itertuples()
    assert (row.short, row.long, row.n) == ("2 epochs (rung 0)", "6 epochs (rung 1)", 5)
    assert row.kendall_tau == pytest.approx(stats.kendalltau(short, long).statistic)
    assert row.spearman_rho == pytest.approx(stats.spearmanr(short, long).statistic)
    assert not row.constant and row.dataset == "digits"
    few = analysis.settings_frame(_frame(rows[:2] + rows[5:7]))
    assert rankings.rank_agreement(few).empty  # two common candidates are too few


def test_rank_agreement_on_constant_errors_is_undefined_and_silent() -> None:
    rows = [_result(i, f"m{i}", 0, 0, 2, 0.5) for i in range(1, 5)]  # every short error equal
    rows += [_result(i, f"m{i}", 0, 1, 6, 0.3 - i / 100) for i in range(1, 5)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's ConstantInputWarning would raise here
        (row,) = rankings.rank_agreement(analysis.settings_frame(_frame(rows))).itertuples()
    assert row.constant and math.isnan(row.kendall_tau) and math.isnan(row.spearman_rho)


def test_time_limited_runs_are_kept() -> None:
    # budget_epochs NULL: a run limited by time, not epochs. Ten candidates so the EDF draws.
    rows = [_result(i, f"m{i:02d}", 0, 0, None, 0.3 + i / 100) for i in range(1, 11)]
    rows += [_result(i, f"m{i:02d}", 0, 1, 4, 0.2 + i / 200) for i in range(1, 11)]
    settings = analysis.settings_frame(_frame(rows))
    assert len(analysis.pick_settings(settings, ["candidate_id", "budget_epochs"])) == 20
    labels = [g.label for g in analysis.edf_groups(settings)]
    assert labels == [
        "cifar on digits, no epoch budget (rung 0)",
        "cifar on digits, 4 epochs (rung 1)",
    ]
    (row,) = rankings.rank_agreement(settings).itertuples()
    assert (row.short, row.long, row.n) == ("no epoch budget (rung 0)", "4 epochs (rung 1)", 10)
    assert row.kendall_tau == pytest.approx(1.0)


def test_datasets_are_never_mixed() -> None:
    # The same ten candidates on two datasets, under each dataset's own config key.
    rows = [_result(i, f"m{i:02d}", 0, 0, 2, 0.3 + i / 100, key="kd") for i in range(1, 11)]
    rows += [_result(i, f"m{i:02d}", 0, 0, 2, 0.6 - i / 100, key="kc", dataset="cifar10")
             for i in range(1, 11)]  # fmt: skip
    groups = analysis.edf_groups(analysis.settings_frame(_frame(rows)))
    assert [(g.label, len(g.errors)) for g in groups] == [
        ("cifar on cifar10, 2 epochs, config kc", 10),
        ("cifar on digits, 2 epochs, config kd", 10),
    ]
    # One config key for both datasets still makes two settings, never one averaged across.
    same_key = analysis.settings_frame(_frame([{**r, "config_key": "k"} for r in rows]))
    assert len(same_key) == 20 and set(same_key["val_n"]) == {1}
    # A short run on one dataset is never ranked against a long run on another.
    short = [_result(i, f"m{i}", 0, 0, 2, 0.3 + i / 100) for i in range(1, 5)]
    long = [_result(i, f"m{i}", 0, 1, 6, 0.2 + i / 100, dataset="cifar10") for i in range(1, 5)]
    assert rankings.rank_agreement(analysis.settings_frame(_frame(short + long))).empty


def test_families_follow_fig7_rule() -> None:
    specs = {"1x16d": (1, 16), "2x16d": (2, 16), "4x16d": (4, 16), "1x23d": (1, 23), "8x4d": (8, 4)}
    rows = [
        _result(i, n, 0, 0, 2, 0.3, cardinality=c, bottleneck_width=d)
        for i, (n, (c, d)) in enumerate(specs.items(), 1)
    ]
    table = analysis.candidate_results(_frame(rows))
    (fam,) = families.families(table)
    assert fam.baseline == "1x16d"
    assert set(fam.cardinality["name"]) == {"1x16d", "2x16d", "4x16d"}
    assert set(fam.width["name"]) == {"1x16d", "1x23d"}
    only_cardinality = table[table["name"] != "1x23d"]
    assert families.families(only_cardinality) == []  # the width family has just the baseline


def test_families_keep_specs_apart_that_differ_beyond_c_and_d() -> None:
    # The same names as 10-class and 100-class networks: two spec families, never one.
    specs = {"1x16d": (1, 16), "2x16d": (2, 16), "4x16d": (4, 16), "1x23d": (1, 23)}
    rows = [
        _result(10 * k + i, n, 0, 0, 2, 0.3 if k == 1 else 0.6, cardinality=c,
                bottleneck_width=d, num_classes=k * 10)
        for k in (1, 10) for i, (n, (c, d)) in enumerate(specs.items(), 1)
    ]  # fmt: skip
    found = families.families(analysis.candidate_results(_frame(rows)))
    assert [f.label for f in found] == [
        "cifar, depth 29, width ×0.25, 10 classes",
        "cifar, depth 29, width ×0.25, 100 classes",
    ]
    for fam, err in zip(found, (0.3, 0.6), strict=True):
        assert len(fam.cardinality) == 3 and len(fam.width) == 2
        assert set(fam.cardinality["val_mean"]) == {err}


def test_family_key_ignores_only_c_and_d() -> None:
    from archlab.space import make_spec

    def key(c: int, d: int, **kw: Any) -> str:
        return families.family_key(
            make_spec("cifar", 29, c, d, width_multiplier=0.25, **kw).to_dict()
        )

    assert key(1, 16) == key(4, 16) == key(1, 23)
    assert key(1, 16) != key(1, 16, num_classes=100)
    assert key(1, 16) != key(1, 16, input_size=8)


def test_edf_groups_need_ten_candidates_per_space_and_budget() -> None:
    rows = [_result(i, f"m{i:02d}", 0, 0, 2, 0.3 + i / 100) for i in range(1, 12)]
    rows += [_result(i, f"m{i:02d}", 0, 1, 4, 0.2) for i in range(1, 4)]
    (group,) = analysis.edf_groups(analysis.settings_frame(_frame(rows)))
    assert group.label == "cifar on digits, 2 epochs (rung 0)" and len(group.errors) == 11
    assert group.comparison == "digits, 2 epochs (rung 0)"
    assert list(group.errors) == sorted(group.errors)

"""compare_arms on hand-made data whose answers are known, and the bootstrap's best arm."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from archlab.errors import ArchlabError
from archlab.stats.pairwise import best_arm, compare_arms, prob_best


def test_clear_winner_is_better_with_an_interval_below_zero() -> None:
    errors = {"wide": [10.0, 10.4, 9.8, 10.2], "card": [6.0, 6.3, 5.9, 6.1]}
    (row,) = compare_arms(errors, alpha=0.05, rope=0.5)
    assert (row.a, row.b) == ("wide", "card")
    assert row.verdict == "B better"
    assert row.diff == pytest.approx(np.mean(errors["wide"]) - np.mean(errors["card"]))
    assert 0 < row.ci_low < row.diff < row.ci_high
    # One pair: the adjusted p is scipy's Welch p.
    ref = stats.ttest_ind(errors["wide"], errors["card"], equal_var=False)
    assert row.p_adj == pytest.approx(ref.pvalue)
    assert row.seeds_for_power is None
    assert best_arm([row]) == "card"


def test_identical_arms_are_not_declared_different() -> None:
    x = [5.0, 6.0, 4.5, 5.5, 5.2]
    (row,) = compare_arms({"a": x, "b": list(x)}, rope=0.5)
    assert row.diff == 0 and row.p_adj == pytest.approx(1.0)
    assert row.verdict == "undecided"  # spread too wide for +-0.5 with 5 seeds
    assert row.seeds_for_power is not None and row.seeds_for_power > 5
    (tight,) = compare_arms({"a": x, "b": list(x)}, rope=5.0)
    assert tight.verdict == "equivalent"


def test_difference_inside_the_rope_is_equivalent() -> None:
    a = [5.00, 5.02, 4.98, 5.01, 4.99]
    b = [5.10, 5.12, 5.08, 5.11, 5.09]
    (row,) = compare_arms({"a": a, "b": b}, rope=0.5)
    assert row.verdict == "equivalent"
    assert row.ci_low > -0.5 and row.ci_high < 0.5
    (no_rope,) = compare_arms({"a": a, "b": b}, rope=0.0)
    assert no_rope.verdict == "A better" and no_rope.ci_high < 0


def test_adjustment_is_bonferroni_over_pairs_and_interval_matches_test() -> None:
    rng = np.random.default_rng(3)
    errors = {f"arm{i}": list(rng.normal(5 + 0.6 * i, 1.0, 6)) for i in range(4)}
    rows = compare_arms(errors, alpha=0.05, rope=0.1)
    assert len(rows) == 6
    for r in rows:
        ref = stats.ttest_ind(errors[r.a], errors[r.b], equal_var=False).pvalue
        assert r.p_adj == pytest.approx(min(1.0, 6 * ref))
        # "better" if and only if the adjusted interval excludes 0 and p_adj < alpha.
        excludes = r.ci_high < 0 or r.ci_low > 0
        assert (r.verdict in ("A better", "B better")) == (excludes and r.ci_high - r.ci_low > 0)
        assert excludes == (r.p_adj < 0.05)


def test_prob_best_is_deterministic_and_sums_to_one() -> None:
    errors = {"a": [1.0, 1.2, 0.9], "b": [3.0, 2.8, 3.1], "c": [1.1, 1.5, 0.7]}
    p = prob_best(errors)
    assert p == prob_best(errors)
    assert math.isclose(sum(p.values()), 1.0)
    assert p["b"] == 0.0 and p["a"] > p["c"] > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"alpha": 0.0}, "alpha"), ({"alpha": 0.6}, "alpha"), ({"rope": -1.0}, "rope")],
)
def test_bad_settings_are_refused(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ArchlabError, match=match):
        compare_arms({"a": [1.0, 2.0], "b": [1.0, 2.0]}, **kwargs)


def test_single_arm_or_bad_values_refused() -> None:
    with pytest.raises(ArchlabError, match="pairs"):
        compare_arms({"a": [1.0, 2.0]})
    with pytest.raises(ArchlabError, match="finite"):
        compare_arms({"a": [1.0, float("nan")], "b": [1.0, 2.0]})

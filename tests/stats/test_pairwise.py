"""compare_arms on hand-made data whose answers are known, P(best), seeds needed, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import archlab
from archlab.errors import ArchlabError
from archlab.stats.best import prob_best
from archlab.stats.pairwise import best_arm, compare_arms


def hsu_p(a: list[float], b: list[float]) -> float:
    """scipy's Welch t with Hsu's min(n) - 1 degrees of freedom (no floor binds here)."""
    t = stats.ttest_ind(a, b, equal_var=False).statistic
    return float(2 * stats.t.sf(abs(t), min(len(a), len(b)) - 1))


def test_clear_winner_is_better_with_an_interval_below_zero() -> None:
    errors = {"wide": [10.0, 10.4, 9.8, 10.2], "card": [6.0, 6.3, 5.9, 6.1]}
    (row,) = compare_arms(errors, alpha=0.05, rope=0.5)
    assert (row.a, row.b) == ("wide", "card")
    assert row.verdict == "B better"
    assert row.diff == pytest.approx(np.mean(errors["wide"]) - np.mean(errors["card"]))
    assert 0 < row.ci_low < row.diff < row.ci_high
    # One pair: the adjusted p is the Welch statistic on Hsu's conservative df.
    assert row.p_adj == pytest.approx(hsu_p(errors["wide"], errors["card"]))
    assert row.seeds_to_win is None and row.seeds_to_equivalence is None
    assert best_arm([row]) == "card"


def test_zero_spread_is_never_certainty() -> None:
    # One image of digits' 180 apart, every seed identical: the floor keeps it undecided.
    (row,) = archlab.compare_arms({"a": [0.0] * 3, "b": [0.5556] * 3})
    assert row.verdict == "undecided"
    assert row.p_adj > 0.05 and row.ci_low < 0 < row.ci_high
    # The same with the validation size given: resolution 100/180 points per image.
    (given,) = compare_arms({"a": [0.0] * 3, "b": [0.5556] * 3}, resolution=100 / 180)
    assert given.verdict == "undecided"
    # A gap of many images does get decided: the floor is one image, not a veto.
    (far,) = compare_arms({"a": [0.0] * 5, "b": [5.5556] * 5}, resolution=100 / 180)
    assert far.verdict == "A better"


def test_identical_arms_are_not_declared_different() -> None:
    x = [5.0, 6.0, 4.5, 5.5, 5.2]
    (row,) = compare_arms({"a": x, "b": list(x)}, rope=0.5)
    assert row.diff == 0 and row.p_adj == pytest.approx(1.0)
    assert row.verdict == "undecided"  # spread too wide for +-0.5 with 5 seeds
    assert row.seeds_to_win is not None and row.seeds_to_win > 5
    assert row.seeds_to_equivalence is not None and row.seeds_to_equivalence > 5
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
        assert r.p_adj == pytest.approx(min(1.0, 6 * hsu_p(errors[r.a], errors[r.b])))
        # "better" if and only if the adjusted interval excludes 0 and p_adj < alpha.
        excludes = r.ci_high < 0 or r.ci_low > 0
        assert (r.verdict in ("A better", "B better")) == excludes
        assert excludes == (r.p_adj < 0.05)


def test_paired_differences_remove_what_the_seed_shares() -> None:
    seed_effect = [0.0, 3.0, -2.0, 1.5, -1.0]
    a = [10.0 + s for s in seed_effect]
    b = [10.8 + s + e for s, e in zip(seed_effect, [0.1, -0.1, 0.05, 0.0, -0.05], strict=True)]
    # resolution given: the floor (0.01 points) does not bind, so scipy's paired t is the answer.
    (unpaired,) = compare_arms({"a": a, "b": b}, resolution=0.01)
    (paired,) = compare_arms({"a": a, "b": b}, paired=True, resolution=0.01)
    assert unpaired.verdict == "undecided" and not unpaired.paired
    assert paired.verdict == "A better" and paired.paired
    assert paired.diff == pytest.approx(unpaired.diff)
    ref = stats.ttest_rel(a, b)
    assert paired.p_adj == pytest.approx(ref.pvalue)


def test_paired_test_floors_each_arm_as_the_unpaired_test_does() -> None:
    # An arm whose ten seeds all sit at 0% may still have spread it did not show: var(a - b) is
    # then a's variance alone, so each arm's own variance is floored at one image (144 images)
    # inside the paired one, as the unpaired test floors it. Without it the paired test called
    # "B better" (p = 0.019) where the unpaired one is undecided (p = 0.075).
    a = [100 * c / 144 for c in (1, 0, 2, 1, 0, 1, 1, 0, 2, 1)]
    errors = {"a": a, "b": [0.0] * 10}
    (paired,) = compare_arms(errors, paired=True, resolution=100 / 144)
    (unpaired,) = compare_arms(errors, resolution=100 / 144)
    assert paired.paired and paired.verdict == "undecided"
    assert paired.p == pytest.approx(unpaired.p)  # no covariance with a constant arm


def test_paired_pair_with_a_missing_seed_falls_back_to_unpaired() -> None:
    a = {0: 5.0, 1: 6.0, 2: 5.5, 3: 5.2}
    b = {0: 4.0, 1: 5.1, 3: 4.4}  # seed 2 missing: pairing broken
    (row,) = compare_arms({"a": a, "b": b}, paired=True)
    assert not row.paired and (row.n_a, row.n_b) == (4, 3)
    (same,) = compare_arms({"a": list(a.values()), "b": list(b.values())})
    assert row.p_adj == pytest.approx(same.p_adj)


def test_prob_best_is_deterministic_calibrated_and_sums_to_one() -> None:
    errors = {"a": [1.0, 1.2, 0.9], "b": [3.0, 2.8, 3.1], "c": [1.1, 1.5, 0.7]}
    p = archlab.prob_best(errors)
    assert p == prob_best(errors)
    assert math.isclose(sum(p.values()), 1.0)
    assert p["b"] < 0.01 and p["a"] > p["c"] > 0.1
    # Two seeds: no certainty from a Cauchy-tailed posterior; one seed: none at all.
    two = prob_best({"a": [4.0, 6.5], "b": [7.0, 9.2]})
    assert 0.5 < two["a"] < 0.95
    assert prob_best({"a": [1.0, 1.1], "b": [9.0, 9.2]})["a"] < 0.999
    assert all(math.isnan(v) for v in prob_best({"a": [1.0], "b": [2.0, 3.0]}).values())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 0.6}, "alpha"),
        ({"alpha": float("nan")}, "alpha"),
        ({"rope": -1.0}, "rope"),
        ({"rope": float("inf")}, "rope"),
        ({"resolution": 0.0}, "resolution"),
        ({"paired": "yes"}, "paired"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ArchlabError, match=match):
        compare_arms({"a": [1.0, 2.0], "b": [1.0, 2.0]}, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("errors", "match"),
    [
        ({"a": [1.0, 2.0]}, "pairs"),
        ({}, "at least two"),
        ({"a": [], "b": [1.0, 2.0]}, "at least one seed"),
        ({"a": [1.0, float("nan")], "b": [1.0, 2.0]}, "finite"),
        ({"a": [1.0, float("inf")], "b": [1.0, 2.0]}, "finite"),
        ({"a": ["x", 1.0], "b": [1.0, 2.0]}, "numbers"),
        ({"a": {"s0": 1.0}, "b": [1.0, 2.0]}, "integers"),
    ],
)
def test_bad_errors_are_refused_in_one_line(errors: dict[str, object], match: str) -> None:
    with pytest.raises(ArchlabError, match=match) as caught:
        compare_arms(errors)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)


def test_paired_arms_without_a_common_seed_cannot_be_aligned() -> None:
    errors = {"a": {0: 1.0, 1: 2.0}, "b": {5: 1.0, 6: 2.0}}
    with pytest.raises(ArchlabError, match="cannot align"):
        compare_arms(errors, paired=True)
    with pytest.raises(ArchlabError, match="cannot align"):
        archlab.sequential_verdict(errors, seeds=2, max_seeds=4, paired=True)
    assert compare_arms(errors)[0].verdict == "undecided"  # unpaired is fine

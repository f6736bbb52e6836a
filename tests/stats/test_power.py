"""Seeds needed: the noncentral-t power behind them, against a plain search over n."""

from __future__ import annotations

import math

import pytest

import archlab
from archlab.stats.power import POWER, seeds_to_win, win_power


@pytest.mark.parametrize("level", [0.05, 0.005])
def test_win_power_is_a_probability_that_grows_with_the_effect(level: float) -> None:
    # scipy's nctdtr returns NaN far in a tail (below 1e-15), e.g. 3 seeds at level 0.05 from a
    # noncentrality of about 11; the power is then 1, not NaN.
    for n in range(3, 41):  # at 2 seeds (1 df) level 0.005 needs |t| > 127: far beyond nc 60
        powers = [win_power(nc / math.sqrt(n), 1.0, n, level) for nc in range(0, 61, 3)]
        assert all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in powers), (n, powers)
        assert powers == sorted(powers) and powers[-1] > 0.99, (n, powers)


def _linear(effect: float, sd: float, level: float) -> int:
    """The fewest seeds at which win_power reaches POWER, by trying n = 2, 3, ... in turn."""
    n = 2
    while win_power(effect, sd, n, level) < POWER:
        n += 1
    return n


@pytest.mark.parametrize(
    ("diff", "sd", "level"),
    [(3.75, 0.7, 0.05), (6.1, 4.06, 0.005), (0.0, 1.41, 0.005), (1.6, 4.7, 0.0167)],
)
def test_seeds_to_win_is_the_fewest_seeds_with_80_percent_power(
    diff: float, sd: float, level: float
) -> None:
    # The search doubled past its answer when a NaN power read as "not enough": 3.75 points at
    # a paired sd of 0.7 read 7 seeds where 3 have 80% power.
    assert seeds_to_win(diff, sd, rope=3.0 if diff == 0 else 0.5, level=level) == _linear(
        max(abs(diff), 3.0 if diff == 0 else 0.5), sd, level
    )


def test_a_study_stopped_at_two_seeds_is_told_the_right_count() -> None:
    # --seeds 2, stopped on time: a large paired difference undecided at 2 seeds.
    (row,) = archlab.compare_arms({"a": [4.2, 5.6], "b": [8.3, 9.0]}, paired=True)
    assert row.verdict == "undecided"
    assert row.seeds_to_win == 3

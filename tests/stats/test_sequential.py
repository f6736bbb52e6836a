"""The sequential rule, by simulation: no inflated false positives, fewer seeds than fixed N."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pytest

from archlab.errors import ArchlabError
from archlab.stats.pairwise import pair_row
from archlab.stats.sequential import (
    SequentialState,
    nominal_levels,
    sequential_state,
    spent,
)

ALPHA = 0.05


def simulate(
    studies: int, *, means: Sequence[float], n0: int, n_max: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, list[SequentialState]]:
    """Studies with Gaussian seed noise (sd 1): wrong-'better' flags, seeds used, states."""
    rng = np.random.default_rng(seed)
    true = np.asarray(means, dtype=float)
    draws = rng.normal(size=(studies, len(true), n_max)) + true[None, :, None]  # vectorised noise
    names = [f"arm{i}" for i in range(len(true))]
    wrong = np.zeros(studies, dtype=bool)
    seeds = np.zeros(studies, dtype=int)
    states = []
    for s in range(studies):
        state = sequential_state(
            dict(zip(names, draws[s], strict=True)), n0=n0, n_max=n_max, alpha=ALPHA, power=False
        )
        states.append(state)
        seeds[s] = sum(state.used.values())
        for r in state.rows:
            ta, tb = true[names.index(r.a)], true[names.index(r.b)]
            if (r.verdict == "A better" and ta >= tb) or (r.verdict == "B better" and tb >= ta):
                wrong[s] = True
    return wrong, seeds, states


def test_obrien_fleming_spending_saves_alpha_for_the_last_look() -> None:
    assert spent(1.0, ALPHA) == pytest.approx(ALPHA)
    assert spent(0.3, ALPHA) < 0.01 * ALPHA  # almost nothing at the first looks
    levels = nominal_levels(3, 10, ALPHA)
    assert len(levels) == 8
    assert all(b >= a for a, b in itertools.pairwise(levels))  # looser look by look
    # The last look keeps most of alpha: its nominal level is near the fixed design's, far above
    # the alpha/K a union bound over the looks would allow.
    assert 0.6 * ALPHA < levels[-1] <= ALPHA
    assert nominal_levels(4, 4, ALPHA) == (ALPHA,)  # one look: the fixed design's test


@pytest.mark.parametrize("arms", [2, 3])
def test_aa_studies_declare_a_winner_at_most_alpha(arms: int) -> None:
    studies = 2000
    wrong, _, states = simulate(studies, means=[0.0] * arms, n0=3, n_max=10, seed=arms)
    se = np.sqrt(ALPHA * (1 - ALPHA) / studies)
    assert wrong.mean() <= ALPHA + 3 * se
    # Every look really happens: with seed sd 1 and rope 0.5, A/A studies rarely settle early.
    looks = np.array([s.looks for s in states])
    assert (looks == 8).mean() > 0.9


def test_naive_repeated_looks_would_inflate_false_positives() -> None:
    # The same A/A data tested at full alpha after every round: the rule is needed.
    rng = np.random.default_rng(7)
    draws = rng.normal(size=(2000, 2, 10))
    hits = 0
    for a, b in draws:
        for n in range(3, 11):
            row = pair_row("a", "b", a[:n], b[:n], alpha=ALPHA, rope=0.0, m=1, power=False)
            if row.verdict != "undecided":
                hits += 1
                break
    assert hits / 2000 > ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / 2000)


def test_one_sd_difference_decided_nearly_as_often_as_fixed_design_with_fewer_seeds() -> None:
    n_max, studies = 10, 2000
    wrong, seeds, states = simulate(studies, means=[0.0, 1.0], n0=3, n_max=n_max, seed=11)
    fixed = 2 * n_max  # the fixed design trains every arm to n_max
    decided = np.array([s.rows[0].verdict == "A better" for s in states])
    # The fixed design on the same seeds: one Welch test at n_max, level alpha.
    draws = (
        np.random.default_rng(11).normal(size=(studies, 2, n_max))
        + np.array([0.0, 1.0])[None, :, None]
    )
    fixed_decided = np.array(
        [
            pair_row("a", "b", a, b, alpha=ALPHA, rope=0.5, m=1, power=False).verdict == "A better"
            for a, b in draws
        ]
    )
    assert fixed_decided.mean() > 0.4  # the design has power worth keeping
    assert decided.mean() >= 0.8 * fixed_decided.mean()
    assert seeds.mean() < 0.95 * fixed  # fewer seeds on average
    assert wrong.mean() <= ALPHA  # and never the wrong way more often than alpha


def test_state_asks_for_the_next_seed_of_undecided_arms_only() -> None:
    errors = {"a": [1.0, 1.1, 0.9], "b": [5.0, 5.1, 4.9], "c": [1.0, 2.5, 0.2]}
    state = sequential_state(errors, n0=3, n_max=6, alpha=ALPHA, rope=0.5)
    verdicts = {(r.a, r.b): r.verdict for r in state.rows}
    assert verdicts[("a", "b")] == "A better"
    assert not state.done
    undecided = state.undecided
    assert ("a", "b") not in undecided and undecided
    assert state.need == {arm: 4 if any(arm in p for p in undecided) else 3 for arm in errors}
    # With the pending seeds missing, no further look is taken; given them, the replay
    # continues, and the decided pair keeps the verdict of its deciding look.
    more = {arm: [*x, x[0]] for arm, x in errors.items()}
    later = sequential_state(more, n0=3, n_max=6, alpha=ALPHA, rope=0.5)
    assert later.looks == 2
    assert later.decided_at[("a", "b")] == 3
    assert later.rows[0] == state.rows[0]


def test_seeds_below_n0_are_refused() -> None:
    with pytest.raises(ArchlabError, match="max_seeds"):
        nominal_levels(5, 3, ALPHA)

"""The verdict's simulation suite: the errors short training runs produce, and what the rule does.

Each :class:`Scenario` draws per-seed errors (points) for a study's arms; :func:`simulate` runs
the sequential rule (:func:`archlab.stats.sequential.sequential_state`, the replay behind
``archlab.sequential_verdict``) and the fixed ``max_seeds`` design over the same draws, once with
identical arms (A/A: any "better" is wrong) and once with the first arm better by ``EFFECT``
noise units (the others identical among themselves: a partial null from three arms on). The
tests (tests/stats/test_simulate.py) hold every scenario's wrong-"better" rate at most
alpha plus two Monte-Carlo standard errors; benchmarks/bench_verdict.py writes the table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from archlab.stats.pairwise import PairRow
from archlab.stats.sequential import sequential_state

BASE = 10.0  # points: a typical short run's error
CHANCE = 90.0  # points: a diverged 10-class run
EFFECT = 1.5  # the better arm's advantage, in units of the seed noise
VAL_IMAGES = 180  # digits' validation set: one image is 0.5556 points

Draw = Callable[[np.random.Generator, np.ndarray, int], np.ndarray]


@dataclass(frozen=True)
class Scenario:
    """A named law of per-seed errors: draw(rng, shift per arm (studies, arms), n) -> errors."""

    name: str
    draw: Draw
    paired: bool = False


def _gaussian(rng: np.random.Generator, shift: np.ndarray, n: int) -> np.ndarray:
    return BASE + shift[..., None] + rng.standard_normal((*shift.shape, n))


def _student3(rng: np.random.Generator, shift: np.ndarray, n: int) -> np.ndarray:
    return BASE + shift[..., None] + rng.standard_t(3, size=(*shift.shape, n))


def _diverged(rng: np.random.Generator, shift: np.ndarray, n: int) -> np.ndarray:
    x = _gaussian(rng, shift, n)
    return np.where(rng.random(x.shape) < 0.1, CHANCE, x)  # 10% of seeds diverge at chance


def _spread(ratio: float) -> Draw:
    def draw(rng: np.random.Generator, shift: np.ndarray, n: int) -> np.ndarray:
        arms = shift.shape[-1]
        sd = ratio ** (np.arange(arms) / max(1, arms - 1))  # 1 .. ratio across the arms
        noise = rng.standard_normal((*shift.shape, n)) * sd[:, None]
        return BASE + shift[..., None] * sd.min() + noise

    return draw


def _counted(rng: np.random.Generator, shift: np.ndarray, n: int) -> np.ndarray:
    # Wrong images out of 180, mostly none: a mean of 0.36-1.0 images per study puts 37-70% of
    # seeds at exactly 0%; the better arm has EFFECT images fewer on top of a worse base.
    lam = rng.uniform(0.36, 1.0, size=shift.shape[:-1])[..., None] + shift
    counts = rng.poisson(np.broadcast_to(lam[..., None], (*shift.shape, n)))
    return 100.0 * counts / VAL_IMAGES


def _correlated(rho: float) -> Draw:
    def draw(rng: np.random.Generator, shift: np.ndarray, n: int) -> np.ndarray:
        if rho < 0:  # equal correlation rho < 0 between k arms: needs rho > -1 / (k - 1)
            arms = shift.shape[-1]
            cov = (1 - rho) * np.eye(arms) + rho * np.ones((arms, arms))
            own = rng.standard_normal((shift.shape[0], n, arms)) @ np.linalg.cholesky(cov).T
            return BASE + shift[..., None] + np.swapaxes(own, 1, 2)
        shared = rng.standard_normal((shift.shape[0], 1, n))  # seed s's data order, every arm
        own = rng.standard_normal((*shift.shape, n))
        return BASE + shift[..., None] + math.sqrt(rho) * shared + math.sqrt(1 - rho) * own

    return draw


def _uneven_counts(dispersion: float, rho: float) -> Draw:
    def draw(rng: np.random.Generator, shift: np.ndarray, n: int) -> np.ndarray:
        # Wrong images out of 144 (digits' default split), a mean of 0.3-1.5 per study: arm 0
        # Poisson, the others negative binomial with the same mean and ``dispersion`` times its
        # variance (most seeds at 0%, a few far off), joined by a Gaussian copula: one shared
        # factor per seed, loaded +, -, +, ... when rho < 0, so arms 0 and 1 correlate by rho
        # for any number of arms.
        studies, arms = shift.shape
        sign = np.where(np.arange(arms) % 2 == 1, np.sign(rho) or 1.0, 1.0)[:, None]
        shared = rng.standard_normal((studies, 1, n))
        own = rng.standard_normal((studies, arms, n))
        u = stats.norm.cdf(math.sqrt(abs(rho)) * sign * shared + math.sqrt(1 - abs(rho)) * own)
        mean = rng.uniform(0.3, 1.5, size=(studies, 1, 1)) + shift[..., None]
        counts = np.empty_like(u)
        counts[:, :1] = stats.poisson.ppf(u[:, :1], mean[:, :1])
        size = mean[:, 1:] / (dispersion - 1)  # NB: mean mu, variance dispersion * mu
        counts[:, 1:] = stats.nbinom.ppf(u[:, 1:], size, 1 / dispersion)
        return 100.0 * counts / 144

    return draw


def uneven_counts(dispersion: float, rho: float = 0.0, *, paired: bool = True) -> Scenario:
    """Counted errors: arm 0 Poisson, the others overdispersed at the same mean (dispersion > 1)."""
    return Scenario(
        f"counted on 144 images, variance 1:{dispersion:g}, correlation {rho:g}",
        _uneven_counts(dispersion, rho),
        paired,
    )


def correlated(rho: float, *, paired: bool) -> Scenario:
    """Gaussian arms whose seeds correlate by rho (negative too), tested paired or not."""
    return Scenario(
        f"{'paired' if paired else 'unpaired'}, correlation {rho:g}", _correlated(rho), paired
    )


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("gaussian", _gaussian),
        Scenario("student t, 3 df", _student3),
        Scenario("10% diverged", _diverged),
        Scenario("seed sd 1:2", _spread(2.0)),
        Scenario("seed sd 1:4", _spread(4.0)),
        Scenario("seed sd 1:10", _spread(10.0)),
        Scenario("counted on 180 images", _counted),
        Scenario("paired, correlation 0", _correlated(0.0), paired=True),
        Scenario("paired, correlation 0.5", _correlated(0.5), paired=True),
        Scenario("paired, correlation 0.9", _correlated(0.9), paired=True),
    )
}


@dataclass(frozen=True)
class SimResult:
    """What a scenario gives: wrong-"better" rates, power and seeds, sequential and fixed."""

    scenario: str
    arms: int
    seeds: int
    max_seeds: int
    studies: int
    wrong_null: float  # A/A studies with any "better" (sequential rule)
    wrong_alt: float  # studies with a difference and any wrong "better" (sequential rule)
    wrong_fixed: float  # A/A studies with any "better" (fixed design)
    power: float  # truly different pairs called the right way (sequential rule)
    power_fixed: float  # the same for the fixed max_seeds design
    seeds_share: float  # mean seeds trained, over the fixed design's (alternative studies)

    @property
    def mc_se(self) -> float:
        """Two Monte-Carlo SEs of a rate at 0.05 over these studies: the tests' allowance."""
        return 2 * math.sqrt(0.05 * 0.95 / self.studies)


def simulate(
    scenario: Scenario | str,
    *,
    studies: int,
    arms: int = 2,
    seeds: int = 3,
    max_seeds: int = 10,
    alpha: float = 0.05,
    rope: float = 0.5,
    seed: int = 0,
    effect: float = EFFECT,
    futility: float | None = None,
    spending: str = "obrien-fleming",
) -> SimResult:
    """Run ``studies`` A/A and ``studies`` one-better studies of a scenario through both designs.

    ``effect``: the better arm's advantage in noise units; ``futility`` and ``spending``: the
    sequential rule's (:func:`archlab.stats.sequential.sequential_state`'s defaults when None).
    """
    sc = SCENARIOS[scenario] if isinstance(scenario, str) else scenario
    rng = np.random.default_rng(seed)
    names = [f"arm{i}" for i in range(arms)]
    truth = {"null": np.zeros(arms), "alt": np.r_[0.0, np.full(arms - 1, effect)]}
    tally: dict[str, list[float]] = {}
    for label, means in truth.items():
        draws = sc.draw(rng, np.broadcast_to(means, (studies, arms)).copy(), max_seeds)
        for s in range(studies):
            errors = {name: list(draws[s, j]) for j, name in enumerate(names)}
            for design, n0 in (("seq", seeds), ("fixed", max_seeds)):
                state = sequential_state(
                    errors, n0=n0, n_max=max_seeds, alpha=alpha, rope=rope, paired=sc.paired,
                    power=False, futility=futility, spending=spending,
                )  # fmt: skip
                wrong, right, different = _score(state.rows, dict(zip(names, means, strict=True)))
                tally.setdefault(f"{label}-{design}-wrong", []).append(wrong)
                if different:
                    tally.setdefault(f"{label}-{design}-power", []).append(right / different)
                tally.setdefault(f"{label}-{design}-seeds", []).append(sum(state.used.values()))
    mean = {k: float(np.mean(v)) for k, v in tally.items()}
    return SimResult(
        sc.name, arms, seeds, max_seeds, studies, mean["null-seq-wrong"], mean["alt-seq-wrong"],
        mean["null-fixed-wrong"], mean["alt-seq-power"], mean["alt-fixed-power"],
        mean["alt-seq-seeds"] / mean["alt-fixed-seeds"],
    )  # fmt: skip


def _score(rows: Sequence[PairRow], truth: dict[str, float]) -> tuple[float, int, int]:
    """(any wrong "better", pairs called right, truly different pairs) of one study."""
    wrong, right, different = False, 0, 0
    for r in rows:
        ta, tb = truth[r.a], truth[r.b]
        if (r.verdict == "A better" and ta >= tb) or (r.verdict == "B better" and tb >= ta):
            wrong = True
        if ta != tb:
            different += 1
            right += (r.verdict == "A better") == (ta < tb) and r.verdict.endswith("better")
    return float(wrong), right, different

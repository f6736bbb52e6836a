"""Side-by-side timing: several targets timed together, round-robin, and their ratios.

A machine shared with other work drifts: the same model timed twice minutes apart can differ by
an order of magnitude. Timed alone one after another, a candidate and its baseline see different
loads; timed side by side they see the same. :func:`round_robin` builds every target and warms
each up first, then each round times one training step and one inference forward of every
target, the order rotated by one each round, so whatever slows the machine during a round slows
all alike; the ratio of a candidate's time to the baseline's in the same round cancels it
(docs/counting.md, "Measured speed"). :func:`median_interval` and :func:`ratio_interval` give a
median and its distribution-free interval; :func:`timed_runner` is the runner of a built model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from archlab.errors import ArchlabError

if TYPE_CHECKING:
    from torch import Tensor, nn

LEVEL = 0.95
# Adaptive rounds: a run whose deciding ratios still have intervals wider than the tolerance gets
# MORE_ROUNDS more rounds at a time, up to MAX_ROUNDS_FACTOR x its starting rounds. The
# order-statistic interval of a median narrows about as 1/sqrt(n), so 4x the rounds about halves
# it; noise that needs more is better met by a quieter machine (or more --repeats), and the cap
# bounds a run's cost at 4x the fixed one (docs/counting.md, "Measured speed").
MORE_ROUNDS = 4
MAX_ROUNDS_FACTOR = 4
KINDS = ("step", "forward")  # a training step, an inference forward
Runner = Callable[[str], float]  # seconds of one timed call of a kind, the model built and warm
Samples = tuple[list[float], list[float]]  # seconds per train step, per inference (at the batch)


@dataclass(frozen=True)
class Interval:
    """A median and a distribution-free interval of it; ``level`` is its exact coverage."""

    median: float
    low: float
    high: float
    level: float

    def scaled(self, factor: float) -> Interval:
        """The same interval in other units (seconds per batch -> milliseconds per image)."""
        return Interval(self.median * factor, self.low * factor, self.high * factor, self.level)

    @property
    def half_width(self) -> float:
        """Half the interval's width relative to the median: the noise a match must beat."""
        return (self.high - self.low) / 2 / self.median if self.median > 0 else math.inf


def median_interval(samples: Sequence[float], level: float = LEVEL) -> Interval:
    """The median and the order-statistic interval [x(k), x(n+1-k)] covering it at ``level``.

    The interval's coverage is 1 - 2 P(Binomial(n, 1/2) < k) whatever the distribution (Conover,
    Practical Nonparametric Statistics, Sec. 3.2); the largest k that keeps it at or above
    ``level`` is used. Below n = 6 no k reaches 95%: the interval is [min, max] and ``level``
    says its lower coverage (75% at n = 3).
    """
    xs = sorted(float(s) for s in samples)
    n = len(xs)
    if n == 0:
        raise ArchlabError("no timed samples: repeats must be >= 1")
    mid = n // 2
    median = xs[mid] if n % 2 else (xs[mid - 1] + xs[mid]) / 2

    def coverage(k: int) -> float:
        return 1 - 2 * sum(math.comb(n, i) for i in range(k)) / 2**n

    k = 1
    while k + 1 <= (n + 1) // 2 and coverage(k + 1) >= level:
        k += 1
    return Interval(median, xs[k - 1], xs[n - k], coverage(k))


def ratio_interval(candidate: Sequence[float], baseline: Sequence[float]) -> Interval:
    """The per-round ratios candidate / baseline (one run, rounds aligned): median, interval."""
    if len(candidate) != len(baseline):
        raise ArchlabError(
            f"ratios need samples of the same rounds: {len(candidate)} and {len(baseline)}"
        )
    return median_interval([c / b for c, b in zip(candidate, baseline, strict=True)])


def rotation(n: int, round_: int) -> list[int]:
    """The order of ``n`` targets in a round: 0..n-1 rotated left by the round's number."""
    return [(round_ + i) % n for i in range(n)]


def round_robin(runners: Sequence[Runner], repeats: int, start: int = 0) -> list[Samples]:
    """Samples of each target: ``repeats`` rounds, each timing one step and one forward of
    every target in :func:`rotation` order (the runners are built and warm). ``start`` numbers
    the first round, so rounds added to a run go on rotating where it stopped."""
    out: list[Samples] = [([], []) for _ in runners]
    for r in range(start, start + repeats):
        for i in rotation(len(runners), r):
            out[i][0].append(runners[i]("step"))
            out[i][1].append(runners[i]("forward"))
    return out


def adaptive_rounds(
    runners: Sequence[Runner], repeats: int, more: Callable[[list[Samples]], bool], cap: int
) -> list[Samples]:
    """:func:`round_robin` of ``repeats`` rounds, then ``MORE_ROUNDS`` more at a time (the
    rotation going on) while ``more(samples)`` says the run is not yet narrow enough, never past
    ``cap`` rounds."""
    samples = round_robin(runners, repeats)
    while (n := len(samples[0][0])) < cap and more(samples):
        extra = round_robin(runners, min(MORE_ROUNDS, cap - n), start=n)
        samples = [(a + c, b + d) for (a, b), (c, d) in zip(samples, extra, strict=True)]
    return samples


def timed_runner(
    model: nn.Module,
    inputs: tuple[Tensor, ...],
    warmup: int,
    clock: Callable[[], float] = time.perf_counter,
) -> Runner:
    """A runner of ``model``: seconds of one train step or inference forward, synchronised on
    CUDA around each; ``warmup`` of each run (untimed) first."""
    import torch

    first = next(model.parameters(), None)
    cuda = first is not None and first.is_cuda

    def step() -> None:
        model.zero_grad(set_to_none=True)
        model(*inputs).float().sum().backward()

    def forward() -> None:
        with torch.inference_mode():
            model(*inputs)

    calls = {"step": step, "forward": forward}

    def run(kind: str) -> float:
        model.train(kind == "step")  # outside the timed span
        if cuda:
            torch.cuda.synchronize()
        t0 = clock()
        calls[kind]()
        if cuda:
            torch.cuda.synchronize()  # kernels are asynchronous: wait before reading the clock
        return clock() - t0

    for _ in range(warmup):
        for kind in KINDS:
            run(kind)
    return run


T = TypeVar("T")


def named(name: str, dtype: str, device: object, fn: Callable[[], T]) -> T:
    """``fn()``, a RuntimeError (e.g. a dtype the device has no kernels for) named for the
    target in one line."""
    try:
        return fn()
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ArchlabError(f"{name} cannot be timed in {dtype} on {device}: {first}") from None


def named_runner(name: str, dtype: str, device: object, run: Runner) -> Runner:
    """``run`` with its RuntimeErrors named as :func:`named` does."""
    return lambda kind: named(name, dtype, device, lambda: run(kind))

"""A fake machine for speed matching: seconds = a x MACs x batch x a grouped-conv penalty x load.

``load`` is the fake clock's drift: a function of how many calls the machine has timed so far,
so a test can slow every target down at once (another job starting) and check that a
side-by-side comparison does not move. ``jitter`` is noise that hits one target and not the
others: a factor by the target's name and its own round, which no ratio cancels.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from archlab.complexity import totals
from archlab.measure._rounds import Runner
from archlab.measure.speed_data import SpeedSettings, SpeedTarget
from archlab.space import spec_from_dict

NS_PER_MAC = 1e-9
Prepare = Callable[[SpeedTarget, SpeedSettings], Runner]


class FakeMachine:
    """Deterministic timings, (1 + penalty x log2 C) slower per MAC, times ``load(calls)``.

    Inference takes a third of a training step at the same batch. ``built`` lists each target
    built (one per measurement taken); ``calls`` each timed call as (name, kind).
    """

    def __init__(
        self,
        penalty: float = 0.25,
        load: Callable[[int], float] | None = None,
        jitter: Callable[[str, int], float] | None = None,
    ) -> None:
        self.penalty = penalty
        self.load = load or (lambda n: 1.0)
        self.jitter = jitter or (lambda name, round_: 1.0)
        self.built: list[str] = []
        self.calls: list[tuple[str, str]] = []

    def prepare(self, target: SpeedTarget, settings: SpeedSettings) -> Runner:
        """Build (note it) and return the target's runner."""
        self.built.append(target.name)
        spec = spec_from_dict(target.identity["spec"])
        slow = 1 + self.penalty * math.log2(spec.cardinality)
        step = NS_PER_MAC * totals(spec)[0] * settings.batch * slow
        rounds = [0]  # this target's rounds so far (a step, then a forward, per round)

        def run(kind: str) -> float:
            self.calls.append((target.name, kind))
            load = self.load(len(self.calls)) * self.jitter(target.name, rounds[0])
            rounds[0] += kind == "forward"
            return step * load if kind == "step" else step / 3 * load

        return run


def fake_prepare(calls: list[str], penalty: float = 0.25) -> Prepare:
    """A fake machine's ``prepare`` that notes each target built in ``calls``."""
    machine = FakeMachine(penalty)
    machine.built = calls
    return machine.prepare

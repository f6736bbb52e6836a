"""A fake timer for speed matching: seconds = a x MACs x batch x a grouped-conv penalty."""

from __future__ import annotations

import math
from collections.abc import Callable

from archlab.complexity import totals
from archlab.measure.speed_data import SpeedSettings, SpeedTarget
from archlab.space import spec_from_dict

NS_PER_MAC = 1e-9
Sampler = Callable[[SpeedTarget, SpeedSettings], tuple[list[float], list[float]]]


def fake_sampler(calls: list[str], penalty: float = 0.25) -> Sampler:
    """Deterministic samples, (1 + penalty x log2 C) slower per MAC; each call noted in ``calls``.

    Inference takes a third of a training step at the same batch.
    """

    def sample(target: SpeedTarget, settings: SpeedSettings) -> tuple[list[float], list[float]]:
        calls.append(target.name)
        spec = spec_from_dict(target.identity["spec"])
        slow = 1 + penalty * math.log2(spec.cardinality)
        step = NS_PER_MAC * totals(spec)[0] * settings.batch * slow
        return [step] * settings.repeats, [step / 3] * settings.repeats

    return sample

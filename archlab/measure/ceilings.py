"""The roofline's measured in-core ceilings: the attained MAC rate of each conv kind a ResNeXt
contains, timed as a training step runs it (the computational ceilings below the peak of
Williams et al., "Roofline", CACM 2009; docs/counting.md, "Which number predicts speed?").

One stated shape for every kind: ``channels`` input and output channels (128 by default), a
``map_size`` x ``map_size`` map (16), stride 1, padding k // 2, no bias, at the given batch. A
grouped 3x3 conv of group width g (channels per group) has channels / g groups, for g = 1, 2,
4, ... channels / 2; the dense 3x3 conv is the one group as wide as the channels; the dense 1x1
conv is the bottleneck's reduce / expand. A step is forward, sum, backward with the input
requiring a gradient: the forward, data-gradient and weight-gradient passes, 3 x the forward MACs
(as :mod:`archlab.measure.predict` counts a layer's step); with ``passes=1`` a step is the forward
alone under inference mode (as ``archlab count --roofline`` times a layer). Attained rate = step
MACs / the median step time. :func:`archlab.measure.predict.predict_step_time` and
:func:`archlab.measure.roofline.roofline` look a layer's ceiling up.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from archlab.errors import ArchlabError
from archlab.measure.predict import TRAIN_PASSES, Ceiling, Ceilings

CHANNELS = 128  # a ResNeXt stage's grouped-conv width (resnext50_32x4d's first stage)
MAP_SIZE = 16


@dataclass(frozen=True)
class CeilingShape:
    """One micro-benchmark: a conv kind at one group width, at the stated shape."""

    kind: str  # "dense 1x1", "dense 3x3" or "grouped 3x3"
    group_width: int
    channels: int
    map_size: int
    batch_size: int
    passes: int = TRAIN_PASSES  # 3: forward + backward; 1: the forward alone

    @property
    def kernel(self) -> int:
        """The kernel size k of the kind's kxk."""
        return int(self.kind.rsplit(" ", 1)[1].split("x")[0])

    @property
    def groups(self) -> int:
        """channels / group width."""
        return self.channels // self.group_width

    @property
    def step_macs(self) -> int:
        """MACs of one step: passes x batch x map^2 x channels x group width x k^2."""
        forward = self.batch_size * self.map_size**2 * self.channels * self.group_width
        return self.passes * forward * self.kernel**2

    @property
    def label(self) -> str:
        """e.g. ``grouped 3x3, g = 4``."""
        return f"{self.kind}, g = {self.group_width}"


def ceiling_shapes(
    *,
    channels: int = CHANNELS,
    map_size: int = MAP_SIZE,
    batch_size: int = 8,
    training: bool = True,
) -> tuple[CeilingShape, ...]:
    """Dense 1x1, dense 3x3 and grouped 3x3 at every power-of-two group width below
    ``channels`` (a power of two >= 2); a training step, or the forward alone."""
    for key, value in (("channels", channels), ("map_size", map_size), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ArchlabError(f"{key} must be an integer >= 1, got {value!r}")
    if channels < 2 or channels & (channels - 1):
        raise ArchlabError(f"channels must be a power of two >= 2, got {channels}")
    widths = [2**i for i in range(channels.bit_length() - 1)]  # 1, 2, ..., channels / 2
    kinds = [("dense 1x1", channels), ("dense 3x3", channels)]
    kinds += [("grouped 3x3", g) for g in widths]
    passes = TRAIN_PASSES if training else 1
    return tuple(CeilingShape(k, g, channels, map_size, batch_size, passes) for k, g in kinds)


def conv_step(shape: CeilingShape, device: torch.device, dtype: torch.dtype) -> Callable[[], None]:
    """One forward + backward of the shape's conv, or its forward alone when ``shape.passes`` is
    1 (synchronised on CUDA)."""
    k, c = shape.kernel, shape.channels
    conv = nn.Conv2d(c, c, k, padding=k // 2, groups=shape.groups, bias=False)
    conv = conv.to(device=device, dtype=dtype)
    training = shape.passes != 1
    x = torch.randn(shape.batch_size, c, shape.map_size, shape.map_size, device=device,
                    dtype=dtype, requires_grad=training)  # fmt: skip

    def step() -> None:
        if training:
            conv(x).float().sum().backward()
            conv.weight.grad, x.grad = None, None  # no gradient accumulated between steps
        else:
            with torch.inference_mode():
                conv(x)
        if device.type == "cuda":
            torch.cuda.synchronize()

    return step


def ceilings_from_times(
    shapes: Sequence[CeilingShape], seconds: Mapping[CeilingShape, Sequence[float]]
) -> Ceilings:
    """Each shape's step MACs over its median seconds per step."""
    rows = []
    for s in shapes:
        times = seconds.get(s, ())
        if not times or not min(times) > 0:
            raise ArchlabError(f"{s.label}: needs positive step times, got {list(times)}")
        rows.append(Ceiling(s.kind, s.group_width, s.step_macs / statistics.median(times)))
    return Ceilings(tuple(rows))


def measure_ceilings(
    shapes: Sequence[CeilingShape],
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    *,
    warmup: int = 1,
    repeats: int = 5,
    clock: Callable[[], float] = time.perf_counter,
    make_step: Callable[[CeilingShape, torch.device, torch.dtype], Callable[[], None]] = conv_step,
) -> Ceilings:
    """Time every shape's step ``repeats`` times after ``warmup``, round-robin (round r starts
    at shape r, so a change of load reaches every kind alike), and take the medians."""
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ArchlabError(f"repeats must be an integer >= 1, got {repeats!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ArchlabError(f"warmup must be an integer >= 0, got {warmup!r}")
    steps = {s: make_step(s, device, dtype) for s in shapes}
    times: dict[CeilingShape, list[float]] = {s: [] for s in shapes}
    for r in range(warmup + repeats):
        for i in range(len(shapes)):
            s = shapes[(r + i) % len(shapes)]
            t0 = clock()
            steps[s]()
            if r >= warmup:
                times[s].append(clock() - t0)
    return ceilings_from_times(shapes, times)

"""Measured speed as data: train-step time per image and inference latency, stored and reused.

A measurement (docs/counting.md, "Measured speed") times ``warmup + repeats`` training steps
(forward, loss = out.sum(), backward; no optimizer, as :func:`archlab.measure.speed.measure_speed`)
and as many inference forwards at a stated batch, synchronising on CUDA around each, and reports
the median of the timed ones with a distribution-free 95% interval of the median (order
statistics of the binomial(n, 1/2), :func:`median_interval`). The train step is divided by the
batch: milliseconds per image; latency stays per batch.

:class:`SpeedMeter` keys each measurement by everything that changes it (:meth:`SpeedMeter.key`)
and keeps it in a results store (:mod:`archlab.store.speed`): the same key asked again is read
back (``reused``), never measured again. Its sampler and clock are injectable, so tests run it
on a fake clock.
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archlab.complexity import complexity
from archlab.errors import ArchlabError
from archlab.space import NetSpec

if TYPE_CHECKING:
    import torch
    from torch import Tensor, nn

    from archlab.store import Store

DTYPES = ("float32", "float16", "bfloat16")
DEFAULT_BATCH = 32  # the default recipe's batch (docs/recipe.md)
DEFAULT_REPEATS = 10  # >= 6: the smallest n whose [min, max] covers the median at 95%
DEFAULT_WARMUP = 3
LEVEL = 0.95
Samples = tuple[list[float], list[float]]  # seconds per train step, per inference (at the batch)


@dataclass(frozen=True)
class SpeedSettings:
    """How to time: batch, repeats, warm-up, device, dtype, memory format, threads (None: as is)."""

    batch: int = DEFAULT_BATCH
    repeats: int = DEFAULT_REPEATS
    warmup: int = DEFAULT_WARMUP
    device: str = "auto"
    dtype: str = "float32"
    channels_last: bool = False
    threads: int | None = None

    def __post_init__(self) -> None:
        for name, low in (("batch", 1), ("repeats", 1), ("warmup", 0), ("threads", 1)):
            value = getattr(self, name)
            if name == "threads" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ArchlabError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.dtype not in DTYPES:
            raise ArchlabError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")


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


@dataclass(frozen=True)
class SpeedMeasurement:
    """One stored measurement: step time per image and latency at the batch, with intervals."""

    name: str
    key: dict[str, Any]
    step: Interval  # ms per image
    latency: Interval  # ms per batch
    reused: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: medians, [low, high] intervals, their coverage, the key, whether reused."""
        return {**self.values(), "key": self.key, "reused": self.reused}

    def values(self) -> dict[str, Any]:
        """What was measured, without the key or whether it was reused (as a study stores it)."""
        return {
            "name": self.name,
            "step_ms_per_image": self.step.median,
            "step_ms_ci": [self.step.low, self.step.high],
            "latency_ms": self.latency.median,
            "latency_ms_ci": [self.latency.low, self.latency.high],
            "ci_level": self.step.level,
            "batch": self.key["batch"],
            "device": self.key["device"],
        }

    def quantity(self, which: str) -> Interval:
        """``speed`` (train step per image) or ``latency`` (inference at the batch)."""
        return self.step if which == "speed" else self.latency

    @classmethod
    def from_dict(cls, data: dict[str, Any], key: dict[str, Any]) -> SpeedMeasurement:
        """A stored measurement back, marked reused."""
        level = float(data["ci_level"])
        (s_lo, s_hi), (l_lo, l_hi) = data["step_ms_ci"], data["latency_ms_ci"]
        step = Interval(float(data["step_ms_per_image"]), float(s_lo), float(s_hi), level)
        latency = Interval(float(data["latency_ms"]), float(l_lo), float(l_hi), level)
        return cls(str(data["name"]), key, step, latency, reused=True)


@dataclass(frozen=True)
class SpeedTarget:
    """What is timed: a name, what identifies it in the key, and how to build it and its input."""

    name: str
    identity: dict[str, Any]
    build: Callable[[torch.device, torch.dtype, bool], tuple[nn.Module, tuple[Tensor, ...]]]


def spec_target(spec: NetSpec, input_size: int | None = None, *, batch: int) -> SpeedTarget:
    """A spec on (batch, 3, N, N); refused where BN cannot train (batch 1, 1x1 final map)."""
    cx = complexity(spec, input_size)  # SpecError for a collapsing input, before any timing
    final = next(r for r in cx.layers if r.kind == "avgpool").h_in
    if batch == 1 and final == 1:
        raise ArchlabError("batch 1 with a 1x1 final map: BN cannot train; use batch >= 2")
    size = cx.input_size

    def build(dev: torch.device, dtype: torch.dtype, last: bool) -> tuple[Any, tuple[Any, ...]]:
        import torch

        from archlab.models import build_model

        fmt = torch.channels_last if last else torch.contiguous_format
        model = build_model(spec).to(device=dev, dtype=dtype)
        model = model.to(memory_format=fmt)  # type: ignore[call-overload]
        x = torch.randn(batch, 3, size, size, device=dev, dtype=dtype).to(memory_format=fmt)
        return model, (x,)

    return SpeedTarget(spec.name, {"spec": spec.to_dict(), "input_size": size}, build)


def model_target(
    ref: str,
    kwargs: dict[str, Any] | None,
    shapes: Sequence[Sequence[int]],
    input_dtype: str | None = None,
) -> SpeedTarget:
    """Any model by reference (``module:callable``) on zero inputs of ``shapes`` (batch first)."""
    from archlab.measure.inputs import check_input_shapes
    from archlab.measure.inputs import input_dtype as to_dtype

    checked = check_input_shapes([list(s) for s in shapes])
    wanted = to_dtype(input_dtype)

    def build(dev: torch.device, dtype: torch.dtype, last: bool) -> tuple[Any, tuple[Any, ...]]:
        from archlab.measure.inputs import make_inputs
        from archlab.measure.loader import load_model

        model = load_model(ref, kwargs).to(device=dev, dtype=dtype)
        return model, tuple(make_inputs(checked, wanted, dtype, dev))

    ident = {"model": ref, "kwargs": kwargs or {}, "shapes": [list(s) for s in checked],
             "input_dtype": input_dtype}  # fmt: skip
    return SpeedTarget(ref.rpartition(":")[2] or ref, ident, build)


def time_samples(
    model: nn.Module,
    inputs: tuple[Tensor, ...],
    settings: SpeedSettings,
    clock: Callable[[], float] = time.perf_counter,
) -> Samples:
    """Seconds of each timed train step and inference forward, after ``settings.warmup`` each."""
    import torch

    first = next(model.parameters(), None)
    cuda = first is not None and first.is_cuda

    def timed(fn: Callable[[], Any]) -> list[float]:
        out = []
        for i in range(settings.warmup + settings.repeats):
            if cuda:
                torch.cuda.synchronize()
            t0 = clock()
            fn()
            if cuda:
                torch.cuda.synchronize()  # kernels are asynchronous: wait before reading the clock
            if i >= settings.warmup:
                out.append(clock() - t0)
        return out

    def step() -> None:
        model.zero_grad(set_to_none=True)
        model(*inputs).float().sum().backward()

    def forward() -> None:
        with torch.inference_mode():
            model(*inputs)

    model.train()
    steps = timed(step)
    model.eval()
    return steps, timed(forward)


@cache
def device_name(kind: str) -> str:
    """``cuda:<name>`` or ``cpu:<model name>``: the hardware a measurement ran on."""
    import torch

    if kind.startswith("cuda"):
        return f"cuda:{torch.cuda.get_device_name(torch.device(kind))}"
    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return "cpu:" + line.partition(":")[2].strip()
    return f"cpu:{platform.processor() or platform.machine()}"


class SpeedMeter:
    """Measures targets once per key, reading a store's measurement back when it holds the key.

    ``sampler(target, settings)`` returns the raw samples (default: build and time the target
    with ``clock``); ``measured`` and ``reused`` count what this meter did.
    """

    def __init__(
        self,
        settings: SpeedSettings | None = None,
        *,
        store: Store | None = None,
        sampler: Callable[[SpeedTarget, SpeedSettings], Samples] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        from archlab.device import resolve_device

        self.settings = settings or SpeedSettings()
        self.store = store
        self.device = resolve_device(self.settings.device)  # absent CUDA: refused here
        self._sampler = sampler or self._sample
        self._clock = clock
        self.measured = 0
        self.reused = 0

    def key(self, target: SpeedTarget) -> dict[str, Any]:
        """Everything that changes a measurement of ``target`` under these settings."""
        import torch

        s = self.settings
        threads = s.threads if s.threads is not None else torch.get_num_threads()
        return {**target.identity, "batch": s.batch, "device": device_name(str(self.device)),
                "dtype": s.dtype, "channels_last": s.channels_last, "threads": threads,
                "torch": torch.__version__, "repeats": s.repeats, "warmup": s.warmup}  # fmt: skip

    def spec(self, spec: NetSpec, input_size: int | None = None) -> SpeedMeasurement:
        """The measurement of a spec at ``input_size`` (the spec's own when None)."""
        return self(spec_target(spec, input_size, batch=self.settings.batch))

    def __call__(self, target: SpeedTarget) -> SpeedMeasurement:
        """The stored measurement of this key, else a new one (stored when there is a store)."""
        from archlab.store.speed import find_speed, save_speed

        key = self.key(target)
        stored = find_speed(self.store, key) if self.store is not None else None
        if stored is not None:
            self.reused += 1
            return SpeedMeasurement.from_dict(stored, key)
        steps, forwards = self._sampler(target, self.settings)
        result = SpeedMeasurement(
            target.name, key, median_interval(steps).scaled(1e3 / self.settings.batch),
            median_interval(forwards).scaled(1e3),
        )  # fmt: skip
        self.measured += 1
        if self.store is not None:
            save_speed(self.store, key, result.values())
        return result

    def _sample(self, target: SpeedTarget, settings: SpeedSettings) -> Samples:
        import torch

        before = torch.get_num_threads()
        if settings.threads is not None:
            torch.set_num_threads(settings.threads)
        try:
            model, xs = target.build(self.device, getattr(torch, settings.dtype),
                                     settings.channels_last)  # fmt: skip
            return time_samples(model, xs, settings, self._clock)
        except RuntimeError as exc:  # e.g. a dtype this device has no kernels for
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ArchlabError(
                f"{target.name} cannot be timed in {settings.dtype} on {self.device}: {first}"
            ) from None
        finally:
            torch.set_num_threads(before)

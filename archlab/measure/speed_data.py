"""Measured speed as data: train-step time per image and inference latency, stored and reused.

A measurement (docs/counting.md, "Measured speed") times ``warmup + repeats`` training steps
(forward, loss = out.sum(), backward; no optimizer step)
and as many inference forwards at a stated batch, synchronising on CUDA around each, and reports
the median of the timed ones with a distribution-free 95% interval of the median (order
statistics of the binomial(n, 1/2), :func:`median_interval`). The train step is divided by the
batch: milliseconds per image; latency stays per batch.

:class:`SpeedMeter` keys each measurement by everything that changes it (:meth:`SpeedMeter.key`)
and times targets side by side (:mod:`archlab.measure._rounds`): a baseline and its candidates
built together and timed round-robin in one run, a *session*, so a candidate is compared with
its baseline by the per-round ratio of their times, which load drift cancels out of. Every
session's measurements are kept in a results store (:mod:`archlab.store.speed`); a comparison is
read back (``reused``) only when one session holds the baseline and every candidate it needs.
Its runner and clock are injectable, so tests run it on a fake clock.
"""

from __future__ import annotations

import contextlib
import platform
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archlab.complexity import complexity
from archlab.errors import ArchlabError
from archlab.measure._rounds import (
    LEVEL,
    MAX_ROUNDS_FACTOR,
    Interval,
    Runner,
    Samples,
    adaptive_rounds,
    median_interval,
    named,
    named_runner,
    ratio_interval,
    round_robin,
    timed_runner,
)
from archlab.space import NetSpec

if TYPE_CHECKING:
    import torch
    from torch import Tensor, nn

    from archlab.store import Store

DTYPES = ("float32", "float16", "bfloat16")
DEFAULT_BATCH = 32  # the default recipe's batch (docs/recipe.md)
# Rounds of a side-by-side run: 7 is the fewest whose [min, max] ratio interval covers the median
# at >= 95% with a round to spare (98.4%); a run of the baseline and three candidates at batch 32
# costs (7 + 1 warm-up) x 4 train steps and forwards (docs/counting.md, "Measured speed").
DEFAULT_REPEATS = 7
DEFAULT_WARMUP = 1
__all__ = ["LEVEL", "Interval", "Samples", "median_interval", "ratio_interval"]


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

    @property
    def max_rounds(self) -> int:
        """The most rounds one side-by-side run may grow to (``MAX_ROUNDS_FACTOR`` x repeats)."""
        return MAX_ROUNDS_FACTOR * self.repeats


@dataclass(frozen=True)
class SpeedMeasurement:
    """One measurement: step time per image and latency at the batch, with intervals; the raw
    round samples (seconds per batch) and the run (``session``) they were timed in."""

    name: str
    key: dict[str, Any]
    step: Interval  # ms per image
    latency: Interval  # ms per batch
    reused: bool = False
    samples: Samples | None = None  # (steps, forwards) in round order: ratios align by round
    session: str | None = None

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
            "session": self.session,
        }

    def stored(self) -> dict[str, Any]:
        """What the store keeps: the values and the round samples."""
        steps, forwards = self.samples or ([], [])
        return {**self.values(), "samples": {"step_s": steps, "forward_s": forwards}}

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
        raw = data.get("samples")
        samples = None if raw is None else (list(raw["step_s"]), list(raw["forward_s"]))
        return cls(str(data["name"]), key, step, latency, True, samples, data.get("session"))


@dataclass(frozen=True)
class SpeedTarget:
    """What is timed: a name, what identifies it in the key, and how to build it and its input."""

    name: str
    identity: dict[str, Any]
    build: Callable[[torch.device, torch.dtype, bool], tuple[nn.Module, tuple[Tensor, ...]]]
    guard: Callable[[], AbstractContextManager[None]] = field(default=contextlib.nullcontext)


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
    from archlab.measure._user_code import user_code

    # The model's code (import, construction, forward, backward) runs as the user's (docs/trust.md).
    return SpeedTarget(ref.rpartition(":")[2] or ref, ident, build,
                       lambda: user_code(ref, "timing the model"))  # fmt: skip


def time_samples(
    model: nn.Module,
    inputs: tuple[Tensor, ...],
    settings: SpeedSettings,
    clock: Callable[[], float] = time.perf_counter,
) -> Samples:
    """Seconds of each timed train step and inference forward of one model, after warm-up."""
    return round_robin([timed_runner(model, inputs, settings.warmup, clock)], settings.repeats)[0]


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


@dataclass(frozen=True)
class Comparison:
    """Targets timed side by side in one run (``session``): the baseline and the candidates."""

    session: str
    baseline: SpeedMeasurement
    candidates: tuple[SpeedMeasurement, ...]
    reused: bool  # read back from the store, all from this one session

    @property
    def rounds(self) -> int:
        """How many round-robin rounds the session timed (every target has one sample each)."""
        return 0 if self.baseline.samples is None else len(self.baseline.samples[0])

    def ratio(self, m: SpeedMeasurement, quantity: str) -> Interval:
        """The median per-round ratio of ``m``'s ``quantity`` to the baseline's, its interval."""
        if m.samples is None or self.baseline.samples is None:
            raise ArchlabError(f"{m.name} has no round samples: it was not timed side by side")
        which = 0 if quantity == "speed" else 1
        return ratio_interval(m.samples[which], self.baseline.samples[which])


Enough = Callable[[Comparison], bool]  # whether a comparison's intervals are narrow enough


class SpeedMeter:
    """Times targets side by side, round-robin; reads a comparison back from a store only when
    one session holds every target it needs (docs/counting.md, "Measured speed").

    ``prepare(target, settings)`` builds and warms one target and returns its runner (default:
    build it on the device and time it with ``clock``); ``measured``, ``reused``, ``sessions``
    and ``run_rounds`` (the rounds of each run timed) count what this meter did.
    """

    def __init__(
        self,
        settings: SpeedSettings | None = None,
        *,
        store: Store | None = None,
        prepare: Callable[[SpeedTarget, SpeedSettings], Runner] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        from archlab.device import resolve_device

        self.settings = settings or SpeedSettings()
        self.store = store
        self.device = resolve_device(self.settings.device)  # absent CUDA: refused here
        self._prepare = prepare or self._build
        self._clock = clock
        self.measured = 0
        self.reused = 0
        self.sessions = 0  # round-robin runs timed now
        self.run_rounds: list[int] = []  # the rounds each of them took

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

    def specs(
        self, baseline: NetSpec, candidates: Sequence[NetSpec], enough: Enough | None = None
    ) -> Comparison:
        """The baseline and candidate specs timed side by side (or read back from one run)."""
        b = self.settings.batch
        return self.compare(spec_target(baseline, batch=b),
                            [spec_target(c, batch=b) for c in candidates], enough)  # fmt: skip

    def __call__(self, target: SpeedTarget) -> SpeedMeasurement:
        """One target's latest stored measurement, else a new one timed alone."""
        return self.compare(target, []).baseline

    def compare(
        self,
        baseline: SpeedTarget,
        candidates: Sequence[SpeedTarget],
        enough: Enough | None = None,
    ) -> Comparison:
        """``baseline`` and ``candidates`` timed together round-robin, stored as one session;
        the latest stored session holding all of them is read back instead, as it is. A
        candidate with the baseline's key is the baseline (ratio 1). Timed now, the run starts
        with ``repeats`` rounds and adds more while ``enough`` says its comparison is not narrow
        enough, up to ``settings.max_rounds`` (:func:`adaptive_rounds`)."""
        from archlab.store.speed import canonical_key, find_session, save_session

        keys = [self.key(t) for t in (baseline, *candidates)]
        index: dict[str, int] = {}
        unique: list[tuple[SpeedTarget, dict[str, Any]]] = []
        for t, k in zip((baseline, *candidates), keys, strict=True):
            if index.setdefault(canonical_key(k), len(unique)) == len(unique):
                unique.append((t, k))

        def comparison(session: str, ms: list[SpeedMeasurement], reused: bool) -> Comparison:
            chosen = [ms[index[canonical_key(k)]] for k in keys]
            return Comparison(session, chosen[0], tuple(chosen[1:]), reused=reused)

        found = None if self.store is None else find_session(self.store, [k for _, k in unique])
        if found is not None:
            session, stored = found
            self.reused += len(stored)
            pairs = zip(stored, unique, strict=True)
            return comparison(session, [SpeedMeasurement.from_dict(r, k) for r, (_, k) in pairs],
                              True)  # fmt: skip
        session = uuid.uuid4().hex[:16]

        def of(samples: list[Samples]) -> list[SpeedMeasurement]:
            return [measurement(t.name, k, s, self.settings.batch, session)
                    for (t, k), s in zip(unique, samples, strict=True)]  # fmt: skip

        samples = self._time([t for t, _ in unique], lambda xs: enough is not None
                             and not enough(comparison(session, of(xs), False)))  # fmt: skip
        ms = of(samples)
        self.measured += len(ms)
        self.sessions += 1
        self.run_rounds.append(len(samples[0][0]))
        if self.store is not None:
            save_session(self.store, session, [(m.key, m.stored()) for m in ms])
        return comparison(session, ms, False)

    def _time(
        self, targets: Sequence[SpeedTarget], more: Callable[[list[Samples]], bool]
    ) -> list[Samples]:
        """Build and warm every target, then the round-robin, rounds added while ``more``; a
        target's code runs inside its guard (a model reference: the user-code guard,
        docs/trust.md)."""
        import torch

        s = self.settings
        before = torch.get_num_threads()
        if s.threads is not None:
            torch.set_num_threads(s.threads)
        try:
            with contextlib.ExitStack() as stack:
                runners = []
                for t in targets:
                    stack.enter_context(t.guard())
                    run = named(t.name, s.dtype, self.device, partial(self._prepare, t, s))
                    runners.append(named_runner(t.name, s.dtype, self.device, run))
                return adaptive_rounds(runners, s.repeats, more, s.max_rounds)
        finally:
            torch.set_num_threads(before)

    def _build(self, target: SpeedTarget, settings: SpeedSettings) -> Runner:
        import torch

        model, xs = target.build(self.device, getattr(torch, settings.dtype),
                                 settings.channels_last)  # fmt: skip
        return timed_runner(model, xs, settings.warmup, self._clock)


def measurement(
    name: str, key: dict[str, Any], samples: Samples, batch: int, session: str | None = None
) -> SpeedMeasurement:
    """A measurement of round samples (seconds per batch): ms per image, latency in ms."""
    steps, forwards = samples
    return SpeedMeasurement(name, key, median_interval(steps).scaled(1e3 / batch),
                            median_interval(forwards).scaled(1e3), samples=samples,
                            session=session)  # fmt: skip

"""What a count returns: one row per counter, the report of all counters, and their context.

The counters, their conventions (docs/counting.md, "What each counter counts") and adapters
are one table, :mod:`archlab.measure.registry`; the tools that produce the rows are run by
:mod:`archlab.measure.tools`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from torch import Tensor, nn

from archlab.complexity import Complexity, LayerCount
from archlab.errors import ArchlabError
from archlab.measure.speed import TrainingStep
from archlab.measure.trace import TracedCount


@dataclass(frozen=True)
class CounterResult:
    """One tool's count of one model; ``per_layer`` maps module paths to the tool's own number."""

    counter: str
    macs: int | None  # analytic convention, where the tool's breakdown allows the conversion
    params: int | None
    acts: int | None
    raw: int | None  # the tool's headline number, in its own units
    convention: str = ""  # the registry's entry fills it in (archlab.measure.registry)
    skipped: tuple[str, ...] = ()
    error: str | None = None
    per_layer: dict[str, int] = field(default_factory=dict, repr=False, hash=False)
    conversion: str = ""  # what was added to or removed from ``raw`` to give ``macs``
    difference: float | None = None  # (macs - reference) / reference
    flag: str | None = None  # why macs still differs from the reference, in one line

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, without the per-layer numbers."""
        keys = ("macs", "params", "acts", "raw", "conversion", "difference", "flag",
                "convention", "error")  # fmt: skip
        return {**{k: getattr(self, k) for k in keys}, "skipped": list(self.skipped)}


@dataclass(frozen=True)
class CountReport:
    """All counters' results for one spec or model at one input shape and BN mode."""

    name: str
    input_size: int  # the last input dimension (N of (1, 3, N, N))
    mode: str  # "eval" or "train"
    results: tuple[CounterResult, ...]
    layers: tuple[LayerCount, ...] = field(default=(), repr=False)  # analytic rows (a spec)
    training: TrainingStep | None = None
    input_shape: tuple[int, ...] = ()
    trace: TracedCount | None = field(default=None, repr=False)

    def result(self, counter: str) -> CounterResult:
        """The result of one counter; a counter that was not run is a user error."""
        for r in self.results:
            if r.counter == counter:
                return r
        ran = ", ".join(r.counter for r in self.results)
        raise ArchlabError(f"counter {counter!r} was not run; ran: {ran}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: name, input_size, mode, one object per counter (and training)."""
        out: dict[str, Any] = {"name": self.name, "input_size": self.input_size, "mode": self.mode}
        out["input_shape"] = list(self.input_shape)
        if self.trace is not None:
            out["input_shapes"] = [list(s) for s in self.trace.input_shapes]
            out["input_dtype"] = self.trace.input_dtype
        out.update({r.counter: r.to_dict() for r in self.results})
        if self.training is not None:
            out["training"] = self.training.to_dict()
        return out


class CountContext(NamedTuple):
    """What every adapter gets: the analytic count (a spec), the trace, the model, its input."""

    analytic: Complexity | None
    traced: TracedCount | None
    model: nn.Module | None
    inputs: tuple[Tensor, ...]  # the forward's positional arguments (zeros)
    per_layer: bool
    trace_error: str | None = None  # the trace failed in train mode (BN on one value per channel)

    @property
    def x(self) -> Tensor | None:
        """The first input (the batch dimension is its first)."""
        return self.inputs[0] if self.inputs else None

    @property
    def bias(self) -> int:
        """Bias MACs of convs and linears, which the bias-free tools leave out."""
        assert self.traced is not None
        return self.traced.bias_macs

"""What a count returns: one row per counter, the report of all counters, and their names.

The counters and their conventions (docs/counting.md, "What each counter counts"); the tools
that produce the rows are run by :mod:`archlab.measure.tools` and :mod:`archlab.measure.counters`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from torch import Tensor, nn

from archlab.complexity import Complexity, LayerCount
from archlab.errors import ArchlabError
from archlab.measure.speed import TrainingStep
from archlab.measure.trace import CONVENTION, TracedCount

COUNTERS: tuple[str, ...] = (
    "analytic", "traced", "fvcore", "ptflops_aten", "ptflops_pytorch", "torch"
)  # fmt: skip
MODEL_COUNTERS: tuple[str, ...] = COUNTERS[1:]  # any nn.Module: no analytic count
ALIASES: dict[str, tuple[str, ...]] = {"ptflops": ("ptflops_aten", "ptflops_pytorch")}

CONVENTIONS: dict[str, str] = {
    "analytic": "Multiply-adds of conv and fc layers plus one per fc output for the bias; "
    "BN, ReLU, pooling and residual adds count 0 (the paper's, pycls's, torchvision's).",
    "traced": CONVENTION,
    "fvcore": "FlopCountAnalysis: conv and fc multiply-adds without bias, plus BN as 2x output "
    "elements (5x in train mode) and adaptive average pooling as its input elements; "
    "macs = its conv + linear + matmul operators + the biases (from the trace).",
    "ptflops_aten": "get_model_complexity_info(backend='aten'): multiply-adds of aten convolution "
    "and addmm including biases; always counts in eval mode.",
    "ptflops_pytorch": "get_model_complexity_info(backend='pytorch'): conv and fc multiply-adds "
    "with biases plus BN (2x elements), ReLU and pooling elements, ReLU and pooling counted again "
    "by its patched torch.nn.functional calls; always eval mode; modules per sample; "
    "macs = conv + Linear modules x batch.",
    "torch": "torch.utils.flop_counter.FlopCounterMode: 2 FLOPs per multiply-add of conv and "
    "matmul ops, no bias; macs = raw / 2 + the biases (from the trace).",
}


@dataclass(frozen=True)
class CounterResult:
    """One tool's count of one model; ``per_layer`` maps module paths to the tool's own number."""

    counter: str
    macs: int | None  # analytic convention, where the tool's breakdown allows the conversion
    params: int | None
    acts: int | None
    raw: int | None  # the tool's headline number, in its own units
    convention: str
    skipped: tuple[str, ...] = ()
    error: str | None = None
    per_layer: dict[str, int] = field(default_factory=dict, repr=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, without the per-layer numbers."""
        keys = ("macs", "params", "acts", "raw", "convention", "error")
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
        out.update({r.counter: r.to_dict() for r in self.results})
        if self.training is not None:
            out["training"] = self.training.to_dict()
        return out


class CountContext(NamedTuple):
    """What every adapter gets: the analytic count (a spec), the trace, the model, its input."""

    analytic: Complexity | None
    traced: TracedCount | None
    model: nn.Module | None
    x: Tensor | None
    per_layer: bool
    trace_error: str | None = None  # the trace failed in train mode (BN on one value per channel)

    @property
    def bias(self) -> int:
        """Bias MACs of convs and linears, which the bias-free tools leave out."""
        assert self.traced is not None
        return self.traced.bias_macs


def resolve_counters(names: Sequence[str], known: Sequence[str] = COUNTERS) -> tuple[str, ...]:
    """Expand aliases (``ptflops`` = both backends), drop repeats, reject unknown names."""
    out: list[str] = []
    valid = ", ".join((*known, *ALIASES))
    for name in names:
        for n in ALIASES.get(name, (name,)):
            if n not in known:
                raise ArchlabError(f"unknown counter {name!r}; valid: {valid}")
            if n not in out:
                out.append(n)
    if not out:
        raise ArchlabError(f"no counters given; valid: {valid}")
    return tuple(out)

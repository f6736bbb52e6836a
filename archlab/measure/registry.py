"""The FLOP counters, one entry each: adding a counter is one :class:`Counter` in ``COUNTERS``.

Every tool counts something slightly different (docs/counting.md, "What each counter counts").
An entry names the tool, says what it counts in its own units (``convention``), and gives its
adapter: a function of the :class:`~archlab.measure.results.CountContext` that runs the tool and
returns its row, with the tool's own number as ``raw`` and ``macs`` converted to archlab's
convention (:mod:`archlab.complexity`: 1 MAC = one multiply-add of a conv or linear layer,
biases counted, BN / ReLU / pooling / residual add 0) where the tool's breakdown allows it.
Everything else (``count_all``, ``count_model``, the per-layer reconciliation, the size sweep,
``archlab count`` and its ``--help``) iterates this table. The adapters live in
:mod:`archlab.measure.tools` and are imported when a count runs, so naming the counters loads no
torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from archlab.errors import ArchlabError

if TYPE_CHECKING:
    from archlab.measure.results import CountContext, CounterResult


@dataclass(frozen=True)
class Counter:
    """One FLOP counter: its name, how it is shown, what it counts and how it is run."""

    name: str
    label: str  # how per-layer reasons name it ("FlopCounterMode")
    convention: str  # what ``raw`` counts and how ``macs`` is converted from it
    adapter: Callable[[CountContext], CounterResult]
    alias: str | None = None  # a family name that selects every counter sharing it
    needs_spec: bool = False  # counts an archlab spec only, not any nn.Module
    runs_model: bool = True  # runs the model on a real input (sized before it runs)
    flops_per_mac: int = 1  # ``raw`` units per multiply-add, for the per-layer reasons


def _tool(name: str) -> Callable[[CountContext], CounterResult]:
    """The adapter ``archlab.measure.tools.<name>``, imported on its first call."""

    def adapter(ctx: CountContext) -> CounterResult:
        from archlab.measure import tools

        run: Callable[[CountContext], CounterResult] = getattr(tools, name)
        return run(ctx)

    adapter.__name__ = adapter.__qualname__ = name
    return adapter


# What the trace counts (archlab.measure.trace), in archlab's convention by construction.
TRACED = (
    "One MAC per multiply-add of conv (any groups, dilation, stride; transposed: per input "
    "element), linear, matmul, bmm, einsum and scaled_dot_product_attention; one MAC per output "
    "element for each conv or linear bias; norm layers, ReLU, pooling and adds 0; acts = output "
    "elements of conv, linear and max-pool; other arithmetic listed as skipped."
)
COUNTERS: dict[str, Counter] = {
    c.name: c
    for c in (
        Counter(
            "analytic", "the analytic count",
            "Multiply-adds of conv and fc layers plus one per fc output for the bias; BN, ReLU, "
            "pooling and residual adds count 0 (the paper's, pycls's, torchvision's).",
            _tool("analytic_row"), needs_spec=True, runs_model=False,
        ),
        Counter("traced", "the trace", TRACED, _tool("traced_row"), runs_model=False),
        Counter(
            "fvcore", "fvcore",
            "FlopCountAnalysis: conv and fc multiply-adds without bias, plus BN as 2x output "
            "elements (5x in train mode) and adaptive average pooling as its input elements; "
            "macs = its conv + linear + matmul operators + the traced biases of the layers it "
            "counted.",
            _tool("fvcore_row"),
        ),
        Counter(
            "ptflops_aten", "ptflops (aten backend)",
            "get_model_complexity_info(backend='aten'): multiply-adds of aten convolution and "
            "addmm including biases; always counts in eval mode.",
            _tool("ptflops_aten_row"), alias="ptflops",
        ),
        Counter(
            "ptflops_pytorch", "ptflops (pytorch backend)",
            "get_model_complexity_info(backend='pytorch'): conv and fc multiply-adds with biases "
            "plus BN (2x elements), ReLU and pooling elements, ReLU and pooling counted again by "
            "its patched torch.nn.functional calls; always eval mode; modules per sample; "
            "macs = conv + Linear modules x batch (other modules, e.g. LSTM, at its own count).",
            _tool("ptflops_pytorch_row"), alias="ptflops",
        ),
        Counter(
            "torch", "FlopCounterMode",
            "torch.utils.flop_counter.FlopCounterMode: 2 FLOPs per multiply-add of conv and "
            "matmul ops, no bias; macs = raw / 2 + the traced biases of the layers it counted.",
            _tool("torch_row"), flops_per_mac=2,
        ),
    )
}  # fmt: skip


def counter(name: str) -> Counter:
    """The registered counter called ``name``."""
    found = COUNTERS.get(name)
    if found is None:
        raise ArchlabError(f"unknown counter {name!r}; valid: {', '.join(_valid(tuple(COUNTERS)))}")
    return found


def spec_counters() -> tuple[str, ...]:
    """Every counter, in table order: what a count of an archlab spec runs by default."""
    return tuple(COUNTERS)


def model_counters() -> tuple[str, ...]:
    """The counters that take any ``nn.Module`` (all but those needing a spec)."""
    return tuple(n for n, c in COUNTERS.items() if not c.needs_spec)


def aliases() -> dict[str, tuple[str, ...]]:
    """Family names and the counters each selects (``ptflops``: both backends)."""
    out: dict[str, tuple[str, ...]] = {}
    for c in COUNTERS.values():
        if c.alias is not None:
            out[c.alias] = (*out.get(c.alias, ()), c.name)
    return out


def _valid(known: Sequence[str]) -> list[str]:
    return [*known, *(a for a, names in aliases().items() if set(names) <= set(known))]


def resolve_counters(names: Sequence[str], known: Sequence[str] | None = None) -> tuple[str, ...]:
    """Expand aliases (``ptflops`` = both backends), drop repeats, reject unknown names."""
    known = spec_counters() if known is None else tuple(known)
    out: list[str] = []
    valid = ", ".join(_valid(known))
    families = aliases()
    for name in names:
        for n in families.get(name, (name,)):
            if n not in known:
                raise ArchlabError(f"unknown counter {name!r}; valid: {valid}")
            if n not in out:
                out.append(n)
    if not out:
        raise ArchlabError(f"no counters given; valid: {valid}")
    return tuple(out)

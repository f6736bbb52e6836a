"""Counts of a built model by fvcore, ptflops and torch's FlopCounterMode, reconciled with ours.

Every tool counts something slightly different (PAPER.md, "What each counter counts"). Each adapter
returns the tool's own headline number (``raw``) and, where the tool's breakdown allows, ``macs``
converted to the analytic convention of :mod:`archlab.complexity`: 1 MAC = one multiply-add of a
conv or linear layer, fc bias counted, BN / ReLU / pooling / residual add 0. Ops a tool skipped
are listed, never hidden in a silent 0; a tool that raises is reported in its own row.

All counts use batch size 1 and an input of (1, 3, N, N); the model is built once and each tool
counts a deep copy (ptflops leaves hooks and attributes behind, train-mode BN updates its stats).
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pandas as pd
import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode

from archlab.complexity import Complexity, LayerCount, complexity
from archlab.errors import ArchlabError
from archlab.measure.speed import (
    TrainingStep,
    count_training_step,
    linear_bias_macs,
    training_step_macs,
)
from archlab.models import build_model, resolve_spec
from archlab.space import NetSpec

COUNTERS: tuple[str, ...] = ("analytic", "fvcore", "ptflops_aten", "ptflops_pytorch", "torch")
ALIASES: dict[str, tuple[str, ...]] = {"ptflops": ("ptflops_aten", "ptflops_pytorch")}

CONVENTIONS: dict[str, str] = {
    "analytic": "Multiply-adds of conv and fc layers plus one per fc output for the bias; "
    "BN, ReLU, pooling and residual adds count 0 (the paper's, pycls's, torchvision's).",
    "fvcore": "FlopCountAnalysis: conv and fc multiply-adds without bias, plus BN as 2x output "
    "elements (5x in train mode) and adaptive average pooling as its input elements; "
    "macs = its conv + linear operators + the fc bias.",
    "ptflops_aten": "get_model_complexity_info(backend='aten'): multiply-adds of aten convolution "
    "and addmm including biases; always counts in eval mode.",
    "ptflops_pytorch": "get_model_complexity_info(backend='pytorch'): conv and fc multiply-adds "
    "with biases plus BN (2x elements), ReLU and pooling elements, ReLU and pooling counted again "
    "by its patched torch.nn.functional calls; always eval mode; macs = Conv2d + Linear modules.",
    "torch": "torch.utils.flop_counter.FlopCounterMode: 2 FLOPs per multiply-add of conv and "
    "matmul ops, no bias; macs = raw / 2 + the fc bias.",
}

# fvcore's operator names (its handle keys) that are multiply-adds in the analytic convention.
_FVCORE_MAC_OPS = ("conv", "linear", "addmm", "matmul", "mm", "bmm", "einsum")
# aten ops that allocate or copy but compute nothing: not worth listing as "skipped".
_NO_ARITHMETIC = frozenset(
    ("empty", "empty_like", "zeros", "zeros_like", "ones", "ones_like", "full", "fill_", "detach",
     "clone", "copy_", "_to_copy", "lift_fresh")
)  # fmt: skip


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
    """All counters' results for one spec at one input size and BN mode."""

    name: str
    input_size: int
    mode: str  # "eval" or "train"
    results: tuple[CounterResult, ...]
    layers: tuple[LayerCount, ...] = field(default=(), repr=False)
    training: TrainingStep | None = None

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
        out.update({r.counter: r.to_dict() for r in self.results})
        if self.training is not None:
            out["training"] = self.training.to_dict()
        return out


class _Ctx(NamedTuple):
    """What every adapter gets: the analytic count, the built model, its input."""

    spec: NetSpec
    analytic: Complexity
    model: nn.Module | None
    x: Tensor | None
    per_layer: bool


# --------------------------------------------------------------------------- helpers


def resolve_counters(names: Sequence[str]) -> tuple[str, ...]:
    """Expand aliases (``ptflops`` = both backends), drop repeats, reject unknown names."""
    out: list[str] = []
    for name in names:
        for n in ALIASES.get(name, (name,)):
            if n not in COUNTERS:
                valid = ", ".join((*COUNTERS, *ALIASES))
                raise ArchlabError(f"unknown counter {name!r}; valid: {valid}")
            if n not in out:
                out.append(n)
    if not out:
        raise ArchlabError(f"no counters given; valid: {', '.join((*COUNTERS, *ALIASES))}")
    return tuple(out)


@contextlib.contextmanager
def _quiet() -> Iterator[io.StringIO]:
    """Swallow the tools' prints, warnings and log records; yields what they printed."""
    out, loggers = io.StringIO(), [logging.getLogger(n) for n in ("fvcore", "iopath", "ptflops")]
    levels = [lg.level for lg in loggers]
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(out),
    ):
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.CRITICAL + 1)
        try:
            yield out
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


def _fresh(ctx: _Ctx) -> nn.Module:
    assert ctx.model is not None
    return copy.deepcopy(ctx.model)


def _tally(names: Sequence[str]) -> tuple[str, ...]:
    """['a', 'b', 'a'] -> ('a x2', 'b x1'), sorted: what a tool skipped and how often."""
    return tuple(f"{name} x{n}" for name, n in sorted(Counter(names).items()))


def _computes(packet: str) -> bool:
    """Whether an aten op (``aten.relu_``) does arithmetic: not a view, not an allocation."""
    name = packet.removeprefix("aten.")
    op = getattr(torch.ops.aten, name, None)
    default = getattr(op, "default", None)
    return name not in _NO_ARITHMETIC and not getattr(default, "is_view", False)


class _OpRecorder(TorchDispatchMode):
    """Records every aten op that runs, to list the ones FlopCounterMode has no formula for."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self.ops.append(str(func._overloadpacket))
        return func(*args, **(kwargs or {}))


# --------------------------------------------------------------------------- adapters


def _analytic(ctx: _Ctx) -> CounterResult:
    a = ctx.analytic
    per_layer = {row.path: row.macs for row in a.layers}
    conv = CONVENTIONS["analytic"]
    return CounterResult("analytic", a.macs, a.params, a.acts, a.macs, conv, per_layer=per_layer)


def _fvcore(ctx: _Ctx) -> CounterResult:
    model = _fresh(ctx)
    with _quiet():  # importing fvcore warns (torch.jit.script is deprecated) too
        from fvcore.nn import ActivationCountAnalysis, FlopCountAnalysis, parameter_count

        flops, acts = FlopCountAnalysis(model, ctx.x), ActivationCountAnalysis(model, ctx.x)
        for analysis in (flops, acts):  # its warnings go to stderr; skipped ops are listed below
            analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            analysis.tracer_warnings("none")
        raw, by_op, n_acts = int(flops.total()), flops.by_operator(), int(acts.total())
        skipped = flops.unsupported_ops()
        by_module = {k: int(v) for k, v in flops.by_module().items()}
    macs = sum(int(by_op.get(op, 0)) for op in _FVCORE_MAC_OPS) + linear_bias_macs(model)
    return CounterResult(
        "fvcore", macs, int(parameter_count(model)[""]), n_acts, raw, CONVENTIONS["fvcore"],
        skipped=tuple(f"{op} x{n}" for op, n in sorted(skipped.items())), per_layer=by_module,
    )  # fmt: skip


def _ptflops(model: nn.Module, size: int, backend: str, **kw: Any) -> tuple[int, int, str]:
    """get_model_complexity_info with numbers out; its failure (printed, then None) -> raise."""
    from ptflops import get_model_complexity_info

    with _quiet() as out:
        macs, params = get_model_complexity_info(
            model, (3, size, size), print_per_layer_stat=False, as_strings=False,
            backend=backend, verbose=True, ost=out, **kw,
        )  # fmt: skip
    if macs is None or params is None:
        found = re.findall(r"^<class '[\w.]+'>: .*$", out.getvalue(), re.M)
        raise RuntimeError(found[0] if found else f"ptflops ({backend}) returned no count")
    return int(macs), int(params), out.getvalue()


def _ptflops_aten(ctx: _Ctx) -> CounterResult:
    model = _fresh(ctx)
    raw, params, log = _ptflops(model, ctx.analytic.input_size, "aten")
    zero_ops = re.findall(r"Warning: (\S+) operation is treated as a zero-op", log)
    per_layer = _ptflops_aten_per_layer(_fresh(ctx), ctx.x) if ctx.per_layer else {}
    skipped = _tally([op for op in zero_ops if _computes(op)])
    conv = CONVENTIONS["ptflops_aten"]
    return CounterResult("ptflops_aten", raw, params, None, raw, conv, skipped, None, per_layer)


def _ptflops_aten_per_layer(model: nn.Module, x: Tensor | None) -> dict[str, int]:
    """ptflops's aten counter itself only tracks top-level children; push every module's path."""
    from ptflops.aten_engine import FlopCounterMode as AtenCounter

    counter = AtenCounter(None, output_params={"print_params": {}, "serialize_params": {}})
    paths = dict(model.named_modules())
    for path, module in paths.items():
        if path:
            module.register_forward_pre_hook(counter.enter_module(path))
            module.register_forward_hook(counter.exit_module(path))
    with _quiet(), torch.no_grad(), counter:
        model.eval()(x)
    return {p: int(sum(counter.flop_counts[p].values())) for p in paths if p}


def _ptflops_pytorch(ctx: _Ctx) -> CounterResult:
    from ptflops.pytorch_ops import MODULES_MAPPING

    model = _fresh(ctx)
    path_of = {id(m): p for p, m in model.named_modules()}
    per_layer: dict[str, int] = {}

    def recording(hook: Callable[..., None]) -> Callable[..., None]:
        # ptflops deletes its per-module __flops__ counters before returning; copy them out.
        def record(module: nn.Module, inputs: Any, output: Any) -> None:
            hook(module, inputs, output)
            flops: Any = module.__flops__  # ptflops's per-module counter, an int
            per_layer[path_of[id(module)]] = int(flops)

        return record

    types = {type(m) for m in model.modules()}
    hooks = {t: recording(MODULES_MAPPING[t]) for t in types if t in MODULES_MAPPING}
    raw, params, log = _ptflops(
        model, ctx.analytic.input_size, "pytorch", custom_modules_hooks=hooks
    )
    # Containers are "zero-ops" too, but their children are counted: list leaf modules only.
    leaves = {type(m).__name__ for m in model.modules() if next(m.children(), None) is None}
    zero = re.findall(r"Warning: module (\w+) is treated as a zero-op", log)
    mods = model.named_modules()
    macs = sum(per_layer.get(p, 0) for p, m in mods if isinstance(m, nn.Conv2d | nn.Linear))
    conv = CONVENTIONS["ptflops_pytorch"]
    skipped = _tally([t for t in zero if t in leaves])
    return CounterResult("ptflops_pytorch", macs, params, None, raw, conv, skipped, None, per_layer)


def _torch(ctx: _Ctx) -> CounterResult:
    from torch.utils.flop_counter import FlopCounterMode, flop_registry

    model = _fresh(ctx)
    with _quiet(), torch.no_grad(), FlopCounterMode(display=False) as fc, _OpRecorder() as rec:
        model(ctx.x)
    raw = int(fc.get_total_flops())
    per_layer = _torch_paths(model, fc.get_flop_counts())
    known = {str(k) for k in flop_registry}
    skipped = _tally([op for op in rec.ops if op not in known and _computes(op)])
    macs = raw // 2 + linear_bias_macs(model)
    return CounterResult(
        "torch", macs, None, None, raw, CONVENTIONS["torch"], skipped, None, per_layer
    )


def _torch_paths(model: nn.Module, counts: dict[str, dict[Any, int]]) -> dict[str, int]:
    """FlopCounterMode keys modules as 'ResNeXt.layer1.0.conv2'; ours are 'layer1.0.conv2'."""
    prefix = type(model).__name__
    out = {path: 0 for path, _ in model.named_modules()}
    for key, ops in counts.items():
        if key == "Global":
            continue
        path = "" if key == prefix else key.removeprefix(prefix + ".")
        out[path] = int(sum(ops.values()))
    return out


ADAPTERS: dict[str, Callable[[_Ctx], CounterResult]] = {
    "analytic": _analytic,
    "fvcore": _fvcore,
    "ptflops_aten": _ptflops_aten,
    "ptflops_pytorch": _ptflops_pytorch,
    "torch": _torch,
}


def _guarded(counter: str, ctx: _Ctx) -> CounterResult:
    """Run one adapter; a library that raises becomes a row with the reason, not a crash."""
    try:
        return ADAPTERS[counter](ctx)
    except Exception as exc:  # any tool failure: report it, let the other counters run
        lines = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {lines[0] if lines else repr(exc)}"
        return CounterResult(counter, None, None, None, None, CONVENTIONS[counter], error=reason)


# --------------------------------------------------------------------------- entry points


def count_all(
    spec: NetSpec | str,
    *,
    input_size: int | None = None,
    counters: Sequence[str] = COUNTERS,
    train_mode: bool = False,
    training_step: bool = False,
    per_layer: bool = True,
) -> CountReport:
    """Count ``spec`` with each counter at batch 1; tool failures land in their rows."""
    names = resolve_counters(counters)
    net = resolve_spec(spec)
    analytic = complexity(net, input_size)  # SpecError for a collapsing input, before any tool
    size = analytic.input_size
    model, x = None, None
    if training_step or any(n != "analytic" for n in names):
        model = build_model(net).train(train_mode)
        x = torch.zeros(1, 3, size, size)
    ctx = _Ctx(net, analytic, model, x, per_layer)
    results = tuple(_guarded(n, ctx) for n in names)
    training = None
    if training_step:
        assert model is not None and x is not None
        step = training_step_macs(net, size)
        training = count_training_step(copy.deepcopy(model), x, step)
    mode = "train" if train_mode else "eval"
    return CountReport(net.name, size, mode, results, analytic.layers, training)


# --------------------------------------------------------------------------- reconciliation

_NAMES = {
    "fvcore": "fvcore",
    "ptflops_aten": "ptflops (aten backend)",
    "ptflops_pytorch": "ptflops (pytorch backend)",
    "torch": "FlopCounterMode",
}


def per_layer_table(report: CountReport) -> pd.DataFrame:
    """One row per layer of the analytic walk (conv, BN, pooling, fc), one column per tool.

    Each tool's column holds its own number for that module (None where it gives none); the
    last row, ``(other)``, holds what each tool counted outside these layers (ReLU, residual
    adds, functional calls), so every column sums to the tool's raw total. ``reason`` explains
    each number that differs from the analytic MACs, derived from the numbers themselves.
    """
    tools = [r for r in report.results if r.counter != "analytic"]
    rows: list[dict[str, Any]] = []
    for layer in report.layers:
        values = {r.counter: r.per_layer.get(layer.path) if r.per_layer else None for r in tools}
        why = [
            _explain(c, layer, v) for c, v in values.items() if v is not None and v != layer.macs
        ]
        rows.append({"path": layer.path, "kind": layer.kind, "analytic": layer.macs, **values,
                     "reason": "; ".join(why)})  # fmt: skip
    other: dict[str, int | None] = {}
    for r in tools:
        listed = [row[r.counter] for row in rows]
        known = r.per_layer and r.raw is not None and None not in listed
        other[r.counter] = r.raw - sum(listed) if known else None
    reasons = [_explain_other(r, n, report.layers) for r in tools if (n := other[r.counter])]
    rows.append({"path": "(other)", "kind": "other", "analytic": 0, **other,
                 "reason": "; ".join(reasons)})  # fmt: skip
    columns = ["path", "kind", "analytic", *(r.counter for r in tools), "reason"]
    return pd.DataFrame(rows, columns=columns).astype(object)


def _explain(counter: str, layer: LayerCount, value: int) -> str:
    """Why ``counter`` reports ``value`` for ``layer``: the relation the numbers satisfy."""
    tool, a = _NAMES.get(counter, counter), layer.macs
    out_elems = layer.c_out * layer.h_out * layer.h_out  # batch 1
    in_elems = layer.c_in * layer.h_in * layer.h_in
    bias = layer.c_out if layer.kind == "fc" else 0
    if counter == "torch" and value == 2 * a:
        return "FlopCounterMode counts 2 FLOPs per multiply-add"
    if counter == "torch" and bias and value == 2 * (a - bias):
        return (
            f"FlopCounterMode counts 2 FLOPs per multiply-add and no bias: 2 x ({a:,} - {bias:,})"
        )
    if bias and value == a - bias:
        return f"{tool} counts no bias: out_features ({bias:,}) fewer MACs"
    if layer.kind == "bn" and counter == "fvcore" and value in (2 * out_elems, 5 * out_elems):
        k = value // out_elems
        mode = "eval mode (5x in train mode)" if k == 2 else "train mode (2x in eval mode)"
        return f"fvcore counts BN as {k} x output elements in {mode}; analytic counts 0"
    if layer.kind == "bn" and value == 2 * out_elems:
        return f"{tool} counts BN as 2 x elements (scale and shift); analytic counts 0"
    if layer.kind in ("maxpool", "avgpool") and value == in_elems:
        return f"{tool} counts {layer.kind} as its input elements; analytic counts 0"
    if a and value % a == 0:
        return f"{tool} counts {value // a} x the analytic MACs"
    return f"{tool} counts {value:,}, analytic {a:,}: differ by {value - a:+,}"


def _explain_other(result: CounterResult, value: int, layers: tuple[LayerCount, ...]) -> str:
    """What a tool counted outside the conv / BN / pooling / fc modules."""
    per = result.per_layer
    relu = sum(v for p, v in per.items() if p.rsplit(".", 1)[-1] == "relu")
    pools = sum(per.get(r.path, 0) for r in layers if r.kind in ("maxpool", "avgpool"))
    if result.counter == "ptflops_pytorch" and value == 2 * relu + pools:
        return (f"ptflops (pytorch backend) counts ReLU modules' elements ({relu:,}) and counts "
                f"ReLU and pooling again ({relu + pools:,}) through its patched "
                "torch.nn.functional calls")  # fmt: skip
    return f"{_NAMES.get(result.counter, result.counter)} counts {value:,} outside these layers"

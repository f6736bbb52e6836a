"""Running fvcore, ptflops, torch's FlopCounterMode and archlab's tracer on one model.

Every tool counts something slightly different (PAPER.md, "What each counter counts"). Each adapter
returns the tool's own headline number (``raw``) and, where the tool's breakdown allows, ``macs``
converted to archlab's convention (:mod:`archlab.complexity`, extended to any layer in
:mod:`archlab.measure.trace`): 1 MAC = one multiply-add of a conv or linear layer, biases counted,
BN / ReLU / pooling / residual add 0. Ops a tool skipped are listed, never hidden in a silent 0;
a tool that raises is reported in its own row. The per-layer reconciliation is in
:mod:`archlab.measure.reconcile`.

:func:`count_all` counts a spec (input (1, 3, N, N)); :func:`count_model` any ``nn.Module`` at
any input shape. Each tool counts a deep copy (ptflops leaves hooks and attributes behind,
train-mode BN updates its stats). The tracer runs first, on the ``meta`` device, and its memory
estimate refuses an input the machine cannot hold before any real tensor is allocated.
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

import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode

from archlab.complexity import Complexity, LayerCount, complexity
from archlab.errors import ArchlabError
from archlab.measure.speed import TrainingStep, count_training_step, training_step_macs
from archlab.measure.trace import (
    CONVENTION,
    TracedCount,
    check_input_shape,
    check_memory,
    forward_bytes,
    trace_count,
)
from archlab.measure.trace import _computes as _computes_op
from archlab.models import build_model, resolve_spec
from archlab.space import NetSpec

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

# fvcore's operator names (its handle keys) that are multiply-adds in the analytic convention.
_FVCORE_MAC_OPS = ("conv", "linear", "addmm", "matmul", "mm", "bmm", "einsum")


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


class _Ctx(NamedTuple):
    """What every adapter gets: the analytic count (a spec), the trace, the model, its input."""

    analytic: Complexity | None
    traced: TracedCount | None
    model: nn.Module | None
    x: Tensor | None
    per_layer: bool

    @property
    def bias(self) -> int:
        """Bias MACs of convs and linears, which the bias-free tools leave out."""
        assert self.traced is not None
        return self.traced.bias_macs


# --------------------------------------------------------------------------- helpers


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
    return _computes_op(packet.removeprefix("aten."))


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
    if a is None:
        raise ArchlabError("the analytic count needs an archlab spec, not a model")
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
    macs = sum(int(by_op.get(op, 0)) for op in _FVCORE_MAC_OPS) + ctx.bias
    return CounterResult(
        "fvcore", macs, int(parameter_count(model)[""]), n_acts, raw, CONVENTIONS["fvcore"],
        skipped=tuple(f"{op} x{n}" for op, n in sorted(skipped.items())), per_layer=by_module,
    )  # fmt: skip


def _ptflops(model: nn.Module, x: Tensor, backend: str, **kw: Any) -> tuple[int, int, str]:
    """get_model_complexity_info with numbers out; its failure (printed, then None) -> raise."""
    from ptflops import get_model_complexity_info

    with _quiet() as out:
        macs, params = get_model_complexity_info(
            model, tuple(x.shape[1:]), print_per_layer_stat=False, as_strings=False,
            input_constructor=lambda _: x, backend=backend, verbose=True, ost=out, **kw,
        )  # fmt: skip
    if macs is None or params is None:
        found = re.findall(r"^<class '[\w.]+'>: .*$", out.getvalue(), re.M)
        raise RuntimeError(found[0] if found else f"ptflops ({backend}) returned no count")
    return int(macs), int(params), out.getvalue()


def _ptflops_aten(ctx: _Ctx) -> CounterResult:
    model = _fresh(ctx)
    assert ctx.x is not None
    raw, params, log = _ptflops(model, ctx.x, "aten")
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
    assert ctx.x is not None
    raw, params, log = _ptflops(model, ctx.x, "pytorch", custom_modules_hooks=hooks)
    # Containers are "zero-ops" too, but their children are counted: list leaf modules only.
    leaves = {type(m).__name__ for m in model.modules() if next(m.children(), None) is None}
    zero = re.findall(r"Warning: module (\w+) is treated as a zero-op", log)
    mods = model.named_modules()
    layers = nn.modules.conv._ConvNd | nn.Linear
    # Its module counts are per sample (it divides by the batch): times the batch again.
    macs = sum(per_layer.get(p, 0) for p, m in mods if isinstance(m, layers)) * int(ctx.x.shape[0])
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
    macs = raw // 2 + ctx.bias
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


def _traced(ctx: _Ctx) -> CounterResult:
    t = ctx.traced
    assert t is not None
    return CounterResult("traced", t.macs, t.params, t.acts, t.macs, CONVENTION, t.skipped,
                         per_layer=t.per_layer)  # fmt: skip


ADAPTERS: dict[str, Callable[[_Ctx], CounterResult]] = {
    "analytic": _analytic,
    "traced": _traced,
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
    if not training_step and names == ("analytic",):  # nothing to build
        ctx = _Ctx(analytic, None, None, None, per_layer)
        mode = "train" if train_mode else "eval"
        results = (_guarded("analytic", ctx),)
        return CountReport(net.name, size, mode, results, analytic.layers, None, (1, 3, size, size))
    step = training_step_macs(net, size) if training_step else None
    model = build_model(net)
    return _count(
        net.name, model, (1, 3, size, size), names, analytic=analytic, step=step,
        train_mode=train_mode, training_step=training_step, per_layer=per_layer,
    )  # fmt: skip


def count_model(
    model: nn.Module,
    input_shape: Sequence[int] = (1, 3, 224, 224),
    *,
    counters: Sequence[str] = MODEL_COUNTERS,
    per_layer: bool = True,
    training_step: bool = False,
    train_mode: bool = False,
) -> CountReport:
    """Count any ``nn.Module`` on a zero input of ``input_shape``: the trace beside each tool."""
    names = resolve_counters(counters, MODEL_COUNTERS)
    shape = check_input_shape(input_shape)
    if not isinstance(model, nn.Module):
        raise ArchlabError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return _count(
        type(model).__name__, model, shape, names, analytic=None, step=None,
        train_mode=train_mode, training_step=training_step, per_layer=per_layer,
    )  # fmt: skip


def _count(
    name: str,
    model: nn.Module,
    shape: tuple[int, ...],
    names: tuple[str, ...],
    *,
    analytic: Complexity | None,
    step: TrainingStep | None,
    train_mode: bool,
    training_step: bool,
    per_layer: bool,
) -> CountReport:
    """Trace first (no allocation), refuse what cannot fit, then run the tools on a real input."""
    model = model.train(train_mode)
    traced = trace_count(model, shape)
    real = [n for n in names if n not in ("analytic", "traced")]
    if real or training_step:
        params = sum(p.numel() * p.element_size() for p in model.parameters())
        need = forward_bytes(traced, params, keep_graph=training_step)
        check_memory(need, f"input_shape {list(shape)}")
    x = torch.zeros(shape, dtype=next((p.dtype for p in model.parameters()), torch.float32))
    ctx = _Ctx(analytic, traced, model, x, per_layer)
    results = tuple(_guarded(n, ctx) for n in names)
    training = None
    if training_step:
        if step is None:  # any model: the traced gradients (see TracedCount)
            step = TrainingStep(traced.macs, traced.data_grad_macs, traced.weight_grad_macs,
                                traced.bias_grad_macs)  # fmt: skip
        training = count_training_step(copy.deepcopy(model), x, step, traced.bias_macs)
    layers = analytic.layers if analytic is not None else ()
    mode = "train" if train_mode else "eval"
    return CountReport(name, shape[-1], mode, results, layers, training, shape, traced)

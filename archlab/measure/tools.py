"""The counters' adapters: the analytic count, the trace, fvcore, ptflops (both backends) and
torch's FlopCounterMode, each converted to archlab's convention.

They are registered in :mod:`archlab.measure.registry`. Each function takes the
:class:`~archlab.measure.results.CountContext` of one count and returns the tool's row: its own
number (``raw``), and ``macs`` converted to archlab's convention where the tool's breakdown
allows it. The tools print, warn and log; all of it is swallowed here, and what a tool skipped
is listed from its own report.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import logging
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode

from archlab.errors import ArchlabError
from archlab.measure.results import CountContext, CounterResult
from archlab.measure.trace import computes

# fvcore's operator names (its handle keys) that are multiply-adds in the analytic convention.
_FVCORE_MAC_OPS = ("conv", "linear", "addmm", "matmul", "mm", "bmm", "einsum")


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


def _fresh(ctx: CountContext) -> nn.Module:
    assert ctx.model is not None
    return copy.deepcopy(ctx.model)


def _tally(names: Sequence[str]) -> tuple[str, ...]:
    """['a', 'b', 'a'] -> ('a x2', 'b x1'), sorted: what a tool skipped and how often."""
    return tuple(f"{name} x{n}" for name, n in sorted(Counter(names).items()))


def _computes(packet: str) -> bool:
    """Whether an aten op (``aten.relu_``) does arithmetic: not a view, not an allocation."""
    return computes(packet.removeprefix("aten."))


class _OpRecorder(TorchDispatchMode):
    """Records every aten op that runs, to list the ones FlopCounterMode has no formula for."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self.ops.append(str(func._overloadpacket))
        return func(*args, **(kwargs or {}))


def analytic_row(ctx: CountContext) -> CounterResult:
    """The analytic count (an archlab spec only); per layer by the spec's layer paths."""
    a = ctx.analytic
    if a is None:
        raise ArchlabError("the analytic count needs an archlab spec, not a model")
    per_layer = {row.path: row.macs for row in a.layers}
    return CounterResult("analytic", a.macs, a.params, a.acts, a.macs, per_layer=per_layer)


def traced_row(ctx: CountContext) -> CounterResult:
    """archlab's own trace of any module (:mod:`archlab.measure.trace`)."""
    t = ctx.traced
    assert t is not None
    if ctx.trace_error is not None:
        raise RuntimeError(ctx.trace_error)
    return CounterResult("traced", t.macs, t.params, t.acts, t.macs, skipped=t.skipped,
                         per_layer=t.per_layer)  # fmt: skip


def fvcore_row(ctx: CountContext) -> CounterResult:
    """fvcore's FlopCountAnalysis; macs = its multiply-add operators plus the biases."""
    model = _fresh(ctx)
    with _quiet():  # importing fvcore warns (torch.jit.script is deprecated) too
        from fvcore.nn import ActivationCountAnalysis, FlopCountAnalysis, parameter_count

        flops = FlopCountAnalysis(model, ctx.inputs)
        acts = ActivationCountAnalysis(model, ctx.inputs)
        for analysis in (flops, acts):  # its warnings go to stderr; skipped ops are listed below
            analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            analysis.tracer_warnings("none")
        raw, by_op, n_acts = int(flops.total()), flops.by_operator(), int(acts.total())
        skipped = flops.unsupported_ops()
        by_module = {k: int(v) for k, v in flops.by_module().items()}
    own = sum(int(by_op.get(op, 0)) for op in _FVCORE_MAC_OPS)
    bias = _counted_bias(ctx, by_module)
    return CounterResult(
        "fvcore", own + bias, int(parameter_count(model)[""]), n_acts, raw,
        skipped=tuple(f"{op} x{n}" for op, n in sorted(skipped.items())), per_layer=by_module,
        conversion=f"its conv/linear/matmul operators ({own:,}) + the traced biases of the "
        f"layers it counted ({bias:,})",
    )  # fmt: skip


def _counted_bias(ctx: CountContext, per_layer: dict[str, int]) -> int:
    """Bias MACs of the traced layers a bias-free tool counted (a layer it skipped adds none)."""
    assert ctx.traced is not None
    return sum(r.bias_macs for r in ctx.traced.layers if per_layer.get(r.path, 0) > 0)


def _constructor(model: nn.Module, inputs: tuple[Tensor, ...]) -> Callable[[Any], Any]:
    """ptflops calls ``model(x)``, or ``model(**x)`` for a dict: several inputs by name."""
    if len(inputs) == 1:
        return lambda _: inputs[0]
    names = list(inspect.signature(model.forward).parameters)[: len(inputs)]
    return lambda _: dict(zip(names, inputs, strict=True))


def _ptflops(
    model: nn.Module, xs: tuple[Tensor, ...], backend: str, **kw: Any
) -> tuple[int, int, str]:
    """get_model_complexity_info with numbers out; its failure (printed, then None) -> raise."""
    from ptflops import get_model_complexity_info

    with _quiet() as out:
        macs, params = get_model_complexity_info(
            model, tuple(xs[0].shape[1:]), print_per_layer_stat=False, as_strings=False,
            input_constructor=_constructor(model, xs), backend=backend, verbose=True, ost=out,
            **kw,
        )  # fmt: skip
    if macs is None or params is None:
        found = re.findall(r"^<class '[\w.]+'>: .*$", out.getvalue(), re.M)
        raise RuntimeError(found[0] if found else f"ptflops ({backend}) returned no count")
    return int(macs), int(params), out.getvalue()


def ptflops_aten_row(ctx: CountContext) -> CounterResult:
    """ptflops's aten backend; its number is already multiply-adds with biases."""
    model = _fresh(ctx)
    raw, params, log = _ptflops(model, ctx.inputs, "aten")
    zero_ops = re.findall(r"Warning: (\S+) operation is treated as a zero-op", log)
    per_layer = _ptflops_aten_per_layer(_fresh(ctx), ctx.inputs) if ctx.per_layer else {}
    skipped = _tally([op for op in zero_ops if _computes(op)])
    return CounterResult("ptflops_aten", raw, params, None, raw, skipped=skipped,
                         per_layer=per_layer, conversion="none: its own number")  # fmt: skip


def _ptflops_aten_per_layer(model: nn.Module, xs: tuple[Tensor, ...]) -> dict[str, int]:
    """ptflops's aten counter itself only tracks top-level children; push every module's path."""
    from ptflops.aten_engine import FlopCounterMode as AtenCounter

    counter = AtenCounter(None, output_params={"print_params": {}, "serialize_params": {}})
    paths = dict(model.named_modules())
    for path, module in paths.items():
        if path:
            module.register_forward_pre_hook(counter.enter_module(path))
            module.register_forward_hook(counter.exit_module(path))
    with _quiet(), torch.no_grad(), counter:
        model.eval()(*xs)
    return {p: int(sum(counter.flop_counts[p].values())) for p in paths if p}


def ptflops_pytorch_row(ctx: CountContext) -> CounterResult:
    """ptflops's module hooks; macs = its conv and Linear modules' counts times the batch."""
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
    assert ctx.x is not None and ctx.traced is not None
    raw, params, log = _ptflops(model, ctx.inputs, "pytorch", custom_modules_hooks=hooks)
    # Containers are "zero-ops" too, but their children are counted: list leaf modules only.
    leaves = {type(m).__name__ for m in model.modules() if next(m.children(), None) is None}
    zero = re.findall(r"Warning: module (\w+) is treated as a zero-op", log)
    mods = dict(model.named_modules())
    layers = nn.modules.conv._ConvNd | nn.Linear
    # Its module counts are per sample (it divides by the batch): times the batch again. Several
    # inputs go in by keyword, where its batch counter sees no input and divides by 1.
    batch = int(ctx.x.shape[0]) if len(ctx.inputs) == 1 else 1
    macs = sum(per_layer.get(p, 0) for p, m in mods.items() if isinstance(m, layers)) * batch
    # Other modules the trace finds MACs in (LSTM, MultiheadAttention) keep its own formula.
    others = [r for r in ctx.traced.layers if r.macs and r.path in mods and per_layer.get(r.path)
              and not isinstance(mods[r.path], layers)]  # fmt: skip
    kept = sum(per_layer[r.path] for r in others) * batch
    conversion = "its Conv and Linear modules x batch"
    if others:
        kinds = ", ".join(sorted({r.kind for r in others}))
        conversion += f" + {kinds} at its own formula x batch ({kept:,})"
    skipped = _tally([t for t in zero if t in leaves])
    return CounterResult("ptflops_pytorch", macs + kept, params, None, raw, skipped=skipped,
                         per_layer=per_layer, conversion=conversion)  # fmt: skip


def torch_row(ctx: CountContext) -> CounterResult:
    """torch's FlopCounterMode; macs = its FLOPs / 2 plus the biases."""
    from torch.utils.flop_counter import FlopCounterMode, flop_registry

    model = _fresh(ctx)
    with _quiet(), torch.no_grad(), FlopCounterMode(display=False) as fc, _OpRecorder() as rec:
        model(*ctx.inputs)
    raw = int(fc.get_total_flops())
    per_layer = _torch_paths(model, fc.get_flop_counts())
    known = {str(k) for k in flop_registry}
    skipped = _tally([op for op in rec.ops if op not in known and _computes(op)])
    bias = _counted_bias(ctx, per_layer)
    return CounterResult(
        "torch",
        raw // 2 + bias,
        None,
        None,
        raw,
        skipped=skipped,
        per_layer=per_layer,
        conversion=f"its FLOPs / 2 ({raw // 2:,}) + the traced biases of the layers it counted "
        f"({bias:,})",
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

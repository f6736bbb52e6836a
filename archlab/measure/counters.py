"""Running every registered counter on one model: fvcore, ptflops, torch's FlopCounterMode and
archlab's tracer beside the analytic count.

The counters are one table, :mod:`archlab.measure.registry` (name, convention, adapter); this
module runs the entries it is asked for. Each adapter returns the tool's own headline number
(``raw``) and, where the tool's breakdown allows, ``macs`` converted to archlab's convention
(:mod:`archlab.complexity`, extended to any layer in :mod:`archlab.measure.trace`). Ops a tool
skipped are listed, never hidden in a silent 0; a tool that raises is reported in its own row.
The per-layer reconciliation is in :mod:`archlab.measure.reconcile`.

:func:`count_all` counts a spec (input (1, 3, N, N)); :func:`count_model` any ``nn.Module`` at
any input shape. Each tool counts a deep copy (ptflops leaves hooks and attributes behind,
train-mode BN updates its stats). The tracer runs first, on the ``meta`` device, and its memory
estimate refuses an input the machine cannot hold before any real tensor is allocated.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence

import torch
from torch import nn

from archlab.complexity import Complexity, complexity
from archlab.errors import ArchlabError
from archlab.measure import registry
from archlab.measure.inputs import Shapes, check_input_shapes, make_inputs
from archlab.measure.inputs import input_dtype as parse_dtype
from archlab.measure.registry import resolve_counters
from archlab.measure.results import CountContext, CounterResult, CountReport
from archlab.measure.speed import TrainingStep, count_training_step, training_step_macs
from archlab.measure.trace import check_memory, forward_bytes, trace_count
from archlab.models import build_model, resolve_spec
from archlab.space import NetSpec

__all__ = ["CountReport", "CounterResult", "count_all", "count_model"]


def _guarded(name: str, ctx: CountContext) -> CounterResult:
    """Run one registered counter; a library that raises becomes a row with the reason."""
    entry = registry.counter(name)
    try:
        result = entry.adapter(ctx)
    except Exception as exc:  # any tool failure: report it, let the other counters run
        lines = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {lines[0] if lines else repr(exc)}"
        return CounterResult(name, None, None, None, None, entry.convention, error=reason)
    return dataclasses.replace(result, counter=name, convention=entry.convention)


def _judged(results: tuple[CounterResult, ...]) -> tuple[CounterResult, ...]:
    """Each tool's relative difference from the reference (analytic, else traced) and a flag
    saying why its converted count still differs, where it does."""
    by_name = {r.counter: r for r in results}
    ref = by_name.get("analytic") or by_name.get("traced")
    if ref is None or not ref.macs:
        return results
    out = []
    for r in results:
        if r.macs is None:
            out.append(r)
            continue
        diff = (r.macs - ref.macs) / ref.macs
        out.append(dataclasses.replace(r, difference=round(diff, 6), flag=_flag(r, diff, ref)))
    return tuple(out)


def _flag(r: CounterResult, diff: float, ref: CounterResult) -> str | None:
    """One line: why ``r``'s converted count differs from the reference (None where it does not)."""
    if r.macs == ref.macs:
        return None
    why = [f"{diff:+.2%} from the {ref.counter} count"]
    if "own formula" in r.conversion:
        why.append(r.conversion.split(" + ", 1)[1] + " is not converted")
    if r.skipped:
        why.append(f"ops it skips: {', '.join(r.skipped)}")
    if len(why) == 1:
        why.append("no stated convention explains it")
    return "; ".join(why)


# --------------------------------------------------------------------------- entry points


def count_all(
    spec: NetSpec | str,
    *,
    input_size: int | None = None,
    counters: Sequence[str] | None = None,
    train_mode: bool = False,
    training_step: bool = False,
    per_layer: bool = True,
) -> CountReport:
    """Count ``spec`` with each counter (default: all registered) at batch 1; tool failures land
    in their rows."""
    names = resolve_counters(registry.spec_counters() if counters is None else counters)
    net = resolve_spec(spec)
    analytic = complexity(net, input_size)  # SpecError for a collapsing input, before any tool
    size = analytic.input_size
    if not training_step and not any(_builds(n) for n in names):  # nothing to build
        ctx = CountContext(analytic, None, None, (), per_layer)
        mode = "train" if train_mode else "eval"
        results = _judged(tuple(_guarded(n, ctx) for n in names))
        return CountReport(net.name, size, mode, results, analytic.layers, None, (1, 3, size, size))
    step = training_step_macs(net, size) if training_step else None
    model = build_model(net)
    return _count(
        net.name, model, ((1, 3, size, size),), names, analytic=analytic, step=step,
        train_mode=train_mode, training_step=training_step, per_layer=per_layer,
    )  # fmt: skip


def count_model(
    model: nn.Module,
    input_shape: Sequence[int] | Sequence[Sequence[int]] = (1, 3, 224, 224),
    *,
    input_dtype: str | torch.dtype | None = None,
    counters: Sequence[str] | None = None,
    per_layer: bool = True,
    training_step: bool = False,
    train_mode: bool = False,
) -> CountReport:
    """Count any ``nn.Module`` on zero inputs of ``input_shape`` (one shape, or one per positional
    input) at ``input_dtype`` (default: the model's float dtype): the trace beside each tool."""
    known = registry.model_counters()
    names = resolve_counters(known if counters is None else counters, known)
    shape = check_input_shapes(input_shape)
    dtype = parse_dtype(input_dtype)
    if not isinstance(model, nn.Module):
        raise ArchlabError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    was_training = model.training
    try:
        return _count(
            type(model).__name__, model, shape, names, analytic=None, step=None,
            train_mode=train_mode, training_step=training_step, per_layer=per_layer, dtype=dtype,
        )  # fmt: skip
    finally:
        model.train(was_training)  # the caller's model keeps its mode


def _count(
    name: str,
    model: nn.Module,
    shape: Shapes,
    names: tuple[str, ...],
    *,
    dtype: torch.dtype | None = None,
    analytic: Complexity | None,
    step: TrainingStep | None,
    train_mode: bool,
    training_step: bool,
    per_layer: bool,
) -> CountReport:
    """Trace first (no allocation), refuse what cannot fit, then run the tools on a real input."""
    model = model.train(train_mode)
    trace_error = None
    try:
        traced = trace_count(model, shape, input_dtype=dtype)
    except ArchlabError as exc:
        if not train_mode:
            raise
        # Train-mode BN can fail where eval mode runs; the eval trace still sizes the input.
        eval_model = copy.deepcopy(model).eval()
        trace_error, traced = str(exc), trace_count(eval_model, shape, input_dtype=dtype)
    real = [n for n in names if registry.counter(n).runs_model]
    if real or training_step:
        params = sum(p.numel() * p.element_size() for p in model.parameters())
        need = forward_bytes(traced, params, keep_graph=training_step)
        check_memory(need, f"input_shape {' '.join(str(list(s)) for s in shape)}")
    first = next(model.parameters(), None)
    like = torch.float32 if first is None else first.dtype
    xs = make_inputs(shape, dtype, like, "cpu" if first is None else first.device)
    ctx = CountContext(analytic, traced, model, xs, per_layer, trace_error)
    results = _judged(tuple(_guarded(n, ctx) for n in names))
    training = None
    if training_step:
        if step is None:  # any model: the traced gradients (see TracedCount)
            step = TrainingStep(traced.macs, traced.data_grad_macs, traced.weight_grad_macs,
                                traced.bias_grad_macs)  # fmt: skip
        training = count_training_step(copy.deepcopy(model), xs, step, traced.bias_macs)
    layers = analytic.layers if analytic is not None else ()
    mode = "train" if train_mode else "eval"
    return CountReport(name, shape[0][-1], mode, results, layers, training, shape[0], traced)


def _builds(name: str) -> bool:
    """Whether a counter needs the model: the analytic count alone works from the spec."""
    return not registry.counter(name).needs_spec

"""Layer by layer: each tool's own number beside the reference count, and why they differ.

The reference is the analytic count for an archlab spec and the traced count for any other
model. Each reason is derived from the numbers themselves (a relation they satisfy, such as
"2 x the MACs" or "the MACs without the bias"), never asserted from the tool's name alone.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import pandas as pd

from archlab.complexity import LayerCount
from archlab.measure.registry import COUNTERS
from archlab.measure.results import CounterResult, CountReport
from archlab.measure.trace import TracedLayer


def _label(counter: str) -> str:
    """How the reasons name a counter: its registry label (archlab.measure.registry)."""
    entry = COUNTERS.get(counter)
    return entry.label if entry is not None else counter


def _flops_per_mac(counter: str) -> int:
    entry = COUNTERS.get(counter)
    return entry.flops_per_mac if entry is not None else 1


class _Ref(NamedTuple):
    """One reference row: what the reasons need to know about a layer."""

    path: str
    kind: str  # shown: analytic kind (conv, bn, ...) or the module's class name
    category: str  # conv | fc | bn | norm | maxpool | avgpool | relu | other
    macs: int
    bias: int  # bias MACs included in macs
    in_elems: int
    out_elems: int


def _from_analytic(layer: LayerCount) -> _Ref:
    bias = layer.c_out if layer.kind == "fc" else 0
    out_elems = layer.c_out * layer.h_out * layer.h_out  # batch 1
    in_elems = layer.c_in * layer.h_in * layer.h_in
    return _Ref(layer.path, layer.kind, layer.kind, layer.macs, bias, in_elems, out_elems)


_CATEGORIES = (("Conv", "conv"), ("Linear", "fc"), ("BatchNorm", "bn"), ("Norm", "norm"),
               ("MaxPool", "maxpool"), ("AvgPool", "avgpool"), ("ReLU", "relu"))  # fmt: skip


def _from_trace(layer: TracedLayer) -> _Ref:
    category = next((c for key, c in _CATEGORIES if key in layer.kind), "other")
    return _Ref(layer.path, layer.kind, category, layer.macs, layer.bias_macs, layer.in_elems,
                layer.out_elems)  # fmt: skip


def per_layer_table(report: CountReport) -> pd.DataFrame:
    """One row per layer of the reference (analytic walk, or traced modules), one column per tool.

    Each tool's column holds its own number for that module (None where it gives none; for a
    module with listed children, what remains after them); the last row, ``(other)``, holds what
    each tool counted outside these layers (ReLU, residual adds, functional calls of the top-level
    forward), so every column sums to the tool's raw total. ``reason`` explains each number that
    differs from the reference MACs.
    """
    if report.layers:
        ref_name, refs = "analytic", [_from_analytic(r) for r in report.layers]
    else:
        assert report.trace is not None, "a report of a model carries its trace"
        ref_name, refs = "traced", [_from_trace(r) for r in report.trace.layers if r.path]
    tools = [r for r in report.results if r.counter != ref_name]
    paths = [ref.path for ref in refs]
    rows: list[dict[str, Any]] = []
    for ref in refs:
        values = {r.counter: _own(r.per_layer, ref.path, paths) for r in tools}
        why = [
            _explain(c, ref, v, ref_name)
            for c, v in values.items()
            if v is not None and v != ref.macs
        ]
        rows.append({"path": ref.path, "kind": ref.kind, ref_name: ref.macs, **values,
                     "reason": "; ".join(why)})  # fmt: skip
    other: dict[str, int | None] = {}
    for r in tools:
        listed = [row[r.counter] for row in rows]
        known = r.per_layer and r.raw is not None and None not in listed
        other[r.counter] = r.raw - sum(listed) if known else None
    reasons = [_explain_other(r, n, refs) for r in tools if (n := other[r.counter])]
    total = report.trace.macs if ref_name == "traced" and report.trace else None
    own = total - sum(ref.macs for ref in refs) if total is not None else 0
    if own:  # ops run directly in the top-level forward, outside any submodule
        reasons.insert(0, f"the trace counts {own:,} in functional calls of the top-level forward")
    rows.append({"path": "(other)", "kind": "other", ref_name: own, **other,
                 "reason": "; ".join(reasons)})  # fmt: skip
    columns = ["path", "kind", ref_name, *(r.counter for r in tools), "reason"]
    return pd.DataFrame(rows, columns=columns, dtype=object)  # ints stay ints beside None


def _own(per_layer: dict[str, int], path: str, listed: list[str]) -> int | None:
    """A tool's number for ``path`` less its listed descendants (tools add children to parents)."""
    if not per_layer or path not in per_layer:
        return None
    inner = [p for p in listed if p.startswith(path + ".")]
    return per_layer[path] - sum(per_layer.get(p) or 0 for p in inner)


def _explain(counter: str, ref: _Ref, value: int, ref_name: str) -> str:
    """Why ``counter`` reports ``value`` for a layer: the relation the numbers satisfy."""
    tool, a, bias, kind = _label(counter), ref.macs, ref.bias, ref.category
    out_elems, in_elems, k = ref.out_elems, ref.in_elems, _flops_per_mac(counter)
    if k > 1 and value == k * a:
        return f"{tool} counts {k} FLOPs per multiply-add"
    if k > 1 and bias and value == k * (a - bias):
        return f"{tool} counts {k} FLOPs per multiply-add and no bias: {k} x ({a:,} - {bias:,})"
    if bias and value == a - bias:
        what = f"out_features ({bias:,})" if kind == "fc" else f"one per output element ({bias:,})"
        return f"{tool} counts no bias: {what} fewer MACs"
    if kind == "bn" and counter == "fvcore" and value in (2 * out_elems, 5 * out_elems):
        k = value // out_elems
        mode = "eval mode (5x in train mode)" if k == 2 else "train mode (2x in eval mode)"
        return f"fvcore counts BN as {k} x output elements in {mode}; {ref_name} counts 0"
    if kind == "bn" and value == 2 * out_elems:
        return f"{tool} counts BN as 2 x elements (scale and shift); {ref_name} counts 0"
    if kind in ("maxpool", "avgpool") and value == in_elems:
        return f"{tool} counts {kind} as its input elements; {ref_name} counts 0"
    if not a and out_elems and value % out_elems == 0:
        return f"{tool} counts {ref.kind} as {value // out_elems} x its output elements; " + (
            f"{ref_name} counts 0"
        )
    if a and value == 0:
        return f"{tool} counts nothing for {ref.kind} (an op it has no formula for: see skipped)"
    if a and value % a == 0:
        return f"{tool} counts {value // a} x the {ref_name} MACs"
    if value < a:
        return (
            f"{tool} counts {value:,}, {ref_name} {a:,}: {a - value:,} fewer; {tool} has no "
            f"formula for some op of {ref.kind} (see its skipped ops)"
        )
    return f"{tool} counts {value:,}, {ref_name} {a:,}: differ by {value - a:+,}"


def _explain_other(result: CounterResult, value: int, refs: list[_Ref]) -> str:
    """What a tool counted outside the listed layers."""
    per = result.per_layer
    relu = sum(v for p, v in per.items() if p.rsplit(".", 1)[-1] == "relu")
    pools = sum(per.get(r.path, 0) for r in refs if r.category in ("maxpool", "avgpool"))
    if result.counter == "ptflops_pytorch" and value == 2 * relu + pools:
        return (f"ptflops (pytorch backend) counts ReLU modules' elements ({relu:,}) and counts "
                f"ReLU and pooling again ({relu + pools:,}) through its patched "
                "torch.nn.functional calls")  # fmt: skip
    if result.counter == "ptflops_pytorch" and value == relu + pools:
        return (f"ptflops (pytorch backend) counts ReLU and pooling again ({value:,}) through "
                "its patched torch.nn.functional calls")  # fmt: skip
    name = _label(result.counter)
    return f"{name} counts {value:,} outside these layers"

"""What ``archlab count`` prints, and its sweep over input sizes.

:class:`CountOutput` holds one input's counters side by side (:mod:`archlab.measure.counters`),
optionally the per-layer reconciliation, a training step and measured speed; :func:`size_sweep`
gives one row per input size (MACs, params, acts, each counter's converted MACs), where a spec's
analytic count needs no model at all. The command's options are checked and combined in
:func:`archlab.workflows.count.run_count`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from archlab.complexity import complexity
from archlab.errors import ArchlabError
from archlab.measure._user_code import user_code
from archlab.measure.count_speed import CountSpeed
from archlab.measure.counters import CountReport, count_all, count_model
from archlab.measure.inputs import check_input_shapes
from archlab.measure.loader import load_model
from archlab.measure.registry import model_counters, resolve_counters, spec_counters
from archlab.measure.roofline import Roofline
from archlab.models import resolve_spec
from archlab.space import NetSpec


@dataclass(frozen=True)
class SizeRow:
    """One input size of a sweep: the reference totals and each counter's converted MACs."""

    input_shape: tuple[int, ...]
    macs: int
    params: int
    acts: int
    counters: dict[str, int | None] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, one key per counter."""
        return {"input_shape": list(self.input_shape), "macs": self.macs, "params": self.params,
                "acts": self.acts, **self.counters}  # fmt: skip


@dataclass(frozen=True)
class CountOutput:
    """Everything one ``archlab count`` prints."""

    report: CountReport | None = None
    per_layer: pd.DataFrame | None = field(default=None, repr=False, hash=False)
    sweep: tuple[SizeRow, ...] = ()
    speed: CountSpeed | None = None
    roofline: Roofline | None = None
    figure: tuple[Path, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: the report (or the sweep), per-layer rows and speed where present."""
        out: dict[str, Any] = self.report.to_dict() if self.report is not None else {}
        if self.sweep:
            out["sizes"] = [row.to_dict() for row in self.sweep]
        if self.per_layer is not None:
            out["per_layer"] = self.per_layer.to_dict(orient="records")
        if self.speed is not None:
            out["speed"] = self.speed.to_dict()
        if self.roofline is not None:
            out.update(self.roofline.to_dict() | {"name": out.get("name", self.roofline.name)})
            out["figure"] = [str(p) for p in self.figure]
        return out


def spatial_shape(shape: Sequence[int], size: int) -> tuple[int, ...]:
    """``shape`` with every dimension after batch and channels set to ``size``."""
    if len(shape) < 3:
        raise ArchlabError(f"input_shape needs batch, channels and a spatial size, got {shape!r}")
    return (*shape[:2], *([size] * (len(shape) - 2)))


def size_sweep(
    target: NetSpec | str | None,
    sizes: Sequence[int],
    *,
    model: str | None = None,
    counters: Sequence[str] | None = None,
    input_shape: Sequence[int] | Sequence[Sequence[int]] = (1, 3, 224, 224),
    model_kwargs: str | Mapping[str, Any] | None = None,
) -> tuple[SizeRow, ...]:
    """Complexity against resolution of a spec or preset ``target``, or of a ``model`` reference.

    A model reference (``module:callable``, see :func:`load_model`) is counted by the trace at
    each size, with ``input_shape``'s spatial dimensions replaced; a spec by the analytic count,
    without building a model unless ``counters`` names a tool.
    """
    if not sizes:
        raise ArchlabError("input_sizes must name at least one size")
    if any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes):
        raise ArchlabError(f"input_sizes must be positive integers, got {list(sizes)}")
    rows = []
    module = load_model(model, model_kwargs) if model is not None else None
    known = model_counters() if module is not None else spec_counters()
    names = resolve_counters(counters or (known if module is not None else ("analytic",)), known)
    for size in sizes:
        if module is not None:
            first = check_input_shapes(input_shape)[0]  # the sweep resizes one input
            shape = spatial_shape(first, size)
            with user_code(str(model), "its forward"):
                report = count_model(module, shape, counters=names, per_layer=False)
            assert report.trace is not None
            t = report.trace
            totals = (t.macs, t.params, t.acts)
            macs = {r.counter: r.macs for r in report.results}
        else:
            shape = (1, 3, size, size)
            cx = complexity(_spec(target), size)  # SpecError for a collapsing size
            totals, macs = (cx.macs, cx.params, cx.acts), {"analytic": cx.macs}
            if names != ("analytic",):
                report = count_all(_spec(target), input_size=size, counters=names, per_layer=False)
                macs = {r.counter: r.macs for r in report.results}
        rows.append(SizeRow(shape, *totals, macs))
    return tuple(rows)


def _spec(target: NetSpec | str | None) -> NetSpec:
    if target is None:
        raise ArchlabError("give a spec, a preset name or a model reference")
    return resolve_spec(target)


def count_reference(
    model: str,
    input_shape: Sequence[int] | Sequence[Sequence[int]],
    *,
    model_kwargs: str | Mapping[str, Any] | None = None,
    counters: Sequence[str] | None = None,
    per_layer: bool = False,
    training: bool = False,
    train_mode: bool = False,
    input_dtype: str | None = None,
) -> CountReport:
    """Load and count a model reference, its code run as the user's (exits and prints contained)."""
    module = load_model(model, model_kwargs)
    with user_code(model, "its forward"):
        return count_model(module, input_shape, counters=counters, per_layer=per_layer,
                           training_step=training, train_mode=train_mode,
                           input_dtype=input_dtype)  # fmt: skip

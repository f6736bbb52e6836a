"""Timing any model or spec for ``count --roofline``; the MACs ``count --measure`` rates by.

A spec is built and run on (batch, 3, N, N); a model reference (``module:callable``) is loaded
and run on zero inputs of its shapes and dtype, its code inside
:func:`~archlab.measure._user_code.user_code` as for counting (docs/trust.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from archlab.complexity import complexity
from archlab.device import resolve_device
from archlab.measure._user_code import user_code
from archlab.measure.inputs import Shapes, check_input_shapes, input_dtype, make_inputs
from archlab.measure.loader import load_model
from archlab.measure.roofline import Roofline, check_positive, roofline
from archlab.measure.trace import check_memory, forward_bytes, trace_count
from archlab.models import build_model
from archlab.space import NetSpec


@dataclass(frozen=True)
class ModelRef:
    """A model reference and its callable's keyword arguments."""

    ref: str
    kwargs: str | Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Timer:
    """Where and how long to time the roofline: device, repeats, and a spec's batch."""

    device: str = "auto"
    repeats: int = 10
    batch_size: int = 8

    def run(
        self,
        target: NetSpec | ModelRef,
        shapes: Sequence[int] | Sequence[Sequence[int]],
        dtype: str | None,
        input_size: int | None,
    ) -> Roofline:
        """The roofline of a spec or model."""
        check_positive(repeats=self.repeats, batch_size=self.batch_size)
        dev = resolve_device(self.device)
        model: nn.Module
        if isinstance(target, NetSpec):
            size = complexity(target, input_size).input_size
            model, name, ref = build_model(target), target.name, None
            shape: Shapes = ((self.batch_size, 3, size, size),)
        else:
            model, ref = load_model(target.ref, target.kwargs), target.ref
            name, shape = type(model).__name__, check_input_shapes(shapes)
        with user_code(ref, "its forward") if ref else _nothing():
            return self._time(model.to(dev), name, shape, input_dtype(dtype))

    def _time(
        self, model: nn.Module, name: str, shapes: Shapes, dtype: torch.dtype | None
    ) -> Roofline:
        traced = trace_count(model, shapes, input_dtype=dtype)  # meta first: sizes the input
        check_memory(forward_bytes(traced, _param_bytes(model)),
                     f"input_shape {' '.join(str(list(s)) for s in shapes)}")  # fmt: skip
        first = next(model.parameters(), None)
        like = first.dtype if first is not None else torch.float32
        device = first.device if first is not None else torch.device("cpu")
        xs = make_inputs(shapes, dtype, like, device)
        model.eval()
        return roofline(model, xs, traced, name=name, repeats=self.repeats)


def model_macs(
    ref: ModelRef, shapes: Sequence[int] | Sequence[Sequence[int]], dtype: str | None
) -> tuple[int, int]:
    """A model's traced forward MACs and training-step MACs (forward, data, weight and bias
    gradients) on ``shapes``; refused where a training step would not fit in memory."""
    model = load_model(ref.ref, ref.kwargs)
    checked = check_input_shapes(shapes)
    with user_code(ref.ref, "its forward"):
        traced = trace_count(model, checked, input_dtype=input_dtype(dtype))
    check_memory(forward_bytes(traced, _param_bytes(model), keep_graph=True),
                 f"input_shape {' '.join(str(list(s)) for s in checked)}")  # fmt: skip
    step = traced.macs + traced.data_grad_macs + traced.weight_grad_macs + traced.bias_grad_macs
    return traced.macs, step


def _param_bytes(model: nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None

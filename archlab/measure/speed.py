"""The cost of training and running a spec: training-step MACs and measured latency.

Two questions the forward count does not answer:

- What does one training step cost? Analytically, every conv and fc layer runs its multiply-adds
  three times (forward, data gradient, weight gradient). torch's FlopCounterMode can measure it,
  but in torch 2.13 its ``convolution_backward`` formula counts a grouped conv's weight gradient
  ``groups`` times too high (ResNeXt-29 8x64d reads ~6.5x its forward instead of ~3x);
  :func:`conv_backward_flop_corrected` is the fixed formula, registered through FlopCounterMode's
  ``custom_mapping``.
- How fast does it run? :mod:`archlab.measure.speed_data` measures it, with intervals.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor, nn

from archlab.complexity import complexity
from archlab.space import NetSpec

TRAINING_NOTE = (
    "Analytic (or traced) step = forward + data gradient + weight gradient (each = the forward "
    "MACs of every conv and fc without bias; no data gradient where the input is the image) + "
    "bias gradient (one MAC per output of each bias). FlopCounterMode's convolution_backward "
    "formula sums the weight gradient over all input channels instead of in_channels / groups, so "
    "a grouped conv's weight gradient reads `groups` times too high (raw); corrected counts 2 "
    "FLOPs x weight elements x batch x output pixels. Its MACs = FLOPs / 2 + bias forward and "
    "gradient."
)


@dataclass(frozen=True)
class TrainingStep:
    """MACs of one training step (forward + backward), analytic and as FlopCounterMode sees it.

    Analytic: the data gradient and the weight gradient of a conv or fc layer each cost its
    forward multiply-adds without bias. The first conv gets no data gradient (the image needs
    none, and autograd skips it). The fc bias costs one MAC per output forward and one for its
    gradient (a sum of the output gradient), as in the forward convention.
    """

    forward_macs: int
    data_grad_macs: int
    weight_grad_macs: int
    bias_grad_macs: int
    torch_forward_flops: int | None = None  # conv + addmm in the same pass
    torch_raw_flops: int | None = None  # FlopCounterMode as it ships, forward + backward
    torch_corrected_flops: int | None = None  # grouped-conv weight gradient counted once
    torch_corrected_macs: int | None = None  # corrected / 2 + fc bias forward and gradient
    error: str | None = None

    @property
    def step_macs(self) -> int:
        """Forward + data gradient + weight gradient + bias gradient."""
        return self.forward_macs + self.data_grad_macs + self.weight_grad_macs + self.bias_grad_macs

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields with the step total and the (forward + backward) / forward ratios."""
        fwd = self.torch_forward_flops

        def ratio(flops: int | None) -> float | None:
            return round(flops / fwd, 4) if flops is not None and fwd else None

        return {
            "forward_macs": self.forward_macs,
            "data_grad_macs": self.data_grad_macs,
            "weight_grad_macs": self.weight_grad_macs,
            "bias_grad_macs": self.bias_grad_macs,
            "step_macs": self.step_macs,
            "torch_forward_flops": fwd,
            "torch_raw_flops": self.torch_raw_flops,
            "torch_raw_ratio": ratio(self.torch_raw_flops),
            "torch_corrected_flops": self.torch_corrected_flops,
            "torch_corrected_ratio": ratio(self.torch_corrected_flops),
            "torch_corrected_macs": self.torch_corrected_macs,
            "error": self.error,
            "note": TRAINING_NOTE,
        }


def linear_bias_macs(model: nn.Module) -> int:
    """Bias adds of the linear layers at batch 1: the MACs that bias-free counters leave out."""
    return sum(
        m.out_features for m in model.modules() if isinstance(m, nn.Linear) and m.bias is not None
    )


def training_step_macs(spec: NetSpec, input_size: int | None = None) -> TrainingStep:
    """Analytic MACs of forward + backward at batch 1 (see :class:`TrainingStep`)."""
    layers = complexity(spec, input_size).layers
    bias = sum(r.c_out for r in layers if r.kind == "fc")
    weight = sum(r.macs for r in layers if r.kind in ("conv", "fc")) - bias
    stem = next(r for r in layers if r.kind == "conv")  # its input is the image: no data gradient
    return TrainingStep(sum(r.macs for r in layers), weight - stem.macs, weight, bias)


def conv_backward_flop_corrected(
    grad_out_shape: Sequence[int],
    x_shape: Sequence[int],
    w_shape: Sequence[int],
    bias: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    transposed: bool,
    output_padding: Any,
    groups: int,
    output_mask: Sequence[bool],
    out_shape: Any = None,
    **kwargs: Any,
) -> int:
    """FlopCounterMode's convolution_backward, with the weight gradient counted once per weight.

    Each of the prod(w_shape) weights sums N·H'·W' products (2 FLOPs each); torch 2.13 reduces
    over all input channels instead of in_channels / groups. Equal to torch's for groups = 1.
    """
    from torch.utils.flop_counter import conv_backward_flop

    torch_formula: Callable[..., int] = conv_backward_flop  # shape-wrapped: takes out_val=
    args = (grad_out_shape, x_shape, w_shape, bias, stride, padding, dilation, transposed,
            output_padding, groups)  # fmt: skip
    if transposed or not output_mask[1]:
        return int(torch_formula(*args, output_mask, out_val=out_shape))
    data = int(torch_formula(*args, [output_mask[0], False, False], out_val=out_shape))
    n, pixels = int(grad_out_shape[0]), math.prod(int(s) for s in grad_out_shape[2:])
    return data + 2 * math.prod(int(s) for s in w_shape) * n * pixels


def count_training_step(
    model: nn.Module,
    x: Tensor | tuple[Tensor, ...],
    step: TrainingStep,
    bias_macs: int | None = None,
) -> TrainingStep:
    """Add FlopCounterMode's raw and corrected counts of forward + backward (loss = out.sum()).

    ``bias_macs`` (forward bias MACs of the convs and linears, which FlopCounterMode leaves out;
    default: the linear biases at this batch) is added twice: forward and bias gradient.
    """
    xs = x if isinstance(x, tuple) else (x,)
    if bias_macs is None:
        bias_macs = linear_bias_macs(model) * int(xs[0].shape[0])
    from torch.utils.flop_counter import FlopCounterMode

    aten = torch.ops.aten
    fixed = {aten.convolution_backward: conv_backward_flop_corrected}
    try:
        # Nested modes both see every op: the raw and the corrected count from one pass.
        with (
            FlopCounterMode(display=False) as raw,
            FlopCounterMode(display=False, custom_mapping=fixed) as corrected,
        ):
            model(*xs).float().sum().backward()
    except Exception as exc:  # reported like a counter row, never a crash
        return replace(step, error=f"{type(exc).__name__}: {exc}")
    ops = raw.get_flop_counts().get("Global", {})
    forward = sum(v for op, v in ops.items() if op in (aten.convolution, aten.addmm))
    fixed_total = int(corrected.get_total_flops())
    return replace(
        step,
        torch_forward_flops=int(forward),
        torch_raw_flops=int(raw.get_total_flops()),
        torch_corrected_flops=fixed_total,
        torch_corrected_macs=fixed_total // 2 + 2 * bias_macs,
    )  # fmt: skip

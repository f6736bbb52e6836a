"""Exact analytic complexity of a spec: MACs, parameters and activations, per layer and in total.

The convention, stated once (the paper's Sec. 3.1, pycls's and torchvision's):

- 1 MAC = one multiply-add of a conv or linear layer; the fc bias adds one MAC per output.
- Parameters: conv weights (no conv bias: every conv is followed by BN), the 2 affine
  parameters per BN channel, and the fc weight and bias. BN running statistics are buffers.
- BN, ReLU, max/average pooling and the residual addition count 0 MACs.
- Activations (Dollár et al., "Fast and Accurate Model Scaling", 2021, as in pycls): the output
  elements of every conv, max-pool and fc layer.

The layer walk below is built on :func:`archlab.space.iter_blocks`, the same iterator the torch
builder consumes, and its module paths follow torchvision's ResNet (``layer1.0.conv2``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from archlab.errors import SpecError
from archlab.space import BlockSpec, NetSpec, final_width, iter_blocks

IN_CHANNELS = 3  # RGB; grayscale data is repeated to three channels by the data loaders


class LayerCount(NamedTuple):
    """One layer's geometry and its counts under the convention above."""

    path: str  # torchvision module path
    kind: str  # conv | bn | maxpool | avgpool | fc
    c_in: int
    c_out: int
    kernel: int
    stride: int
    groups: int
    h_in: int
    h_out: int
    macs: int
    params: int
    acts: int


@dataclass(frozen=True)
class Complexity:
    """Totals of a spec at one input size, with the per-layer rows they are the sum of."""

    name: str
    input_size: int
    macs: int
    params: int
    acts: int
    layers: tuple[LayerCount, ...]

    @property
    def gmacs(self) -> float:
        """MACs in units of 10^9 (the paper's "GFLOPs")."""
        return self.macs / 1e9


# --------------------------------------------------------------------------- one formula each


def conv_out_size(h: int, kernel: int, stride: int, padding: int) -> int:
    """Spatial output size of a conv or pooling window (floor division, as in PyTorch)."""
    return (h + 2 * padding - kernel) // stride + 1


def conv_macs(c_in: int, c_out: int, kernel: int, groups: int, h_out: int) -> int:
    """Multiply-adds of a (grouped) square conv: k·k·(c_in/groups)·c_out per output pixel."""
    return kernel * kernel * (c_in // groups) * c_out * h_out * h_out


def conv_params(c_in: int, c_out: int, kernel: int, groups: int) -> int:
    """Weights of a bias-free (grouped) conv."""
    return kernel * kernel * (c_in // groups) * c_out


def bn_params(channels: int) -> int:
    """BN's affine scale and shift; the running statistics are buffers, not parameters."""
    return 2 * channels


def fc_macs(c_in: int, c_out: int) -> int:
    """Multiply-adds of a linear layer, counting the bias add as one MAC per output."""
    return c_in * c_out + c_out


def fc_params(c_in: int, c_out: int) -> int:
    """Weight and bias of a linear layer."""
    return c_in * c_out + c_out


def block_params(w_in: int, w_out: int, group_width: int, cardinality: int) -> int:
    """Conv parameters of one bottleneck block without BN or shortcut: the paper's Eq. 4.

    C·(w_in·d + 3·3·d·d + d·w_out) with d = group_width / C (Sec. 3.3, Table 2).
    """
    return (
        conv_params(w_in, group_width, 1, 1)
        + conv_params(group_width, group_width, 3, cardinality)
        + conv_params(group_width, w_out, 1, 1)
    )


# --------------------------------------------------------------------------- the layer walk


def _conv(
    path: str, c_in: int, c_out: int, kernel: int, stride: int, groups: int, h: int
) -> tuple[LayerCount, LayerCount, int]:
    """A conv and the BN after it; returns both rows and the output size."""
    if stride > 1 and h < 2:
        raise SpecError(
            f"input too small: {path} would downsample a {h}x{h} map; use a larger input size"
        )
    h_out = conv_out_size(h, kernel, stride, kernel // 2)
    conv = LayerCount(
        path,
        "conv",
        c_in,
        c_out,
        kernel,
        stride,
        groups,
        h,
        h_out,
        conv_macs(c_in, c_out, kernel, groups, h_out),
        conv_params(c_in, c_out, kernel, groups),
        c_out * h_out * h_out,
    )
    return conv, _bn(path, c_out, h_out), h_out


def _bn(conv_path: str, channels: int, h: int) -> LayerCount:
    # torchvision names: conv1 -> bn1, layer1.0.conv2 -> layer1.0.bn2, downsample.0 -> .1
    if conv_path.endswith("downsample.0"):
        path = conv_path[:-1] + "1"
    else:
        head, _, leaf = conv_path.rpartition("conv")
        path = head + "bn" + leaf
    return LayerCount(
        path, "bn", channels, channels, 1, 1, channels, h, h, 0, bn_params(channels), 0
    )


def block_layers(block: BlockSpec, h: int) -> tuple[list[LayerCount], int]:
    """Rows of one bottleneck block (form c; forms a and b have the same counts, Sec. 3.3)."""
    prefix = f"layer{block.stage + 1}.{block.index}."
    rows: list[LayerCount] = []
    c1, b1, h1 = _conv(prefix + "conv1", block.w_in, block.w_b, 1, 1, 1, h)
    # Stride on the 3x3 conv, as Sec. 4 and Table 1's FLOPs require.
    c2, b2, h2 = _conv(prefix + "conv2", block.w_b, block.w_b, 3, block.stride, block.groups, h1)
    c3, b3, _ = _conv(prefix + "conv3", block.w_b, block.w_out, 1, 1, 1, h2)
    rows += [c1, b1, c2, b2, c3, b3]
    if block.has_projection:
        ds, dsb, _ = _conv(prefix + "downsample.0", block.w_in, block.w_out, 1, block.stride, 1, h)
        rows += [ds, dsb]
    return rows, h2


def _check_input_size(h: object) -> int:
    if isinstance(h, bool) or not isinstance(h, int) or h < 1:
        raise SpecError(f"input_size must be a positive integer, got {h!r}")
    return h


def stem_layers(spec: NetSpec, h: int) -> tuple[list[LayerCount], int]:
    """Rows of the stem: Table 1's 7x7/2 conv + 3x3/2 max pool, or Sec. 5.3's 3x3 conv."""
    if spec.template != "imagenet":
        conv, bn, h = _conv("conv1", IN_CHANNELS, spec.stem_width, 3, 1, 1, h)
        return [conv, bn], h
    conv, bn, h = _conv("conv1", IN_CHANNELS, spec.stem_width, 7, 2, 1, h)
    if h < 2:
        raise SpecError("input too small: the stem max pool would downsample a 1x1 map")
    h_pool = conv_out_size(h, 3, 2, 1)
    c = spec.stem_width
    pool = LayerCount("maxpool", "maxpool", c, c, 3, 2, 1, h, h_pool, 0, 0, c * h_pool * h_pool)
    return [conv, bn, pool], h_pool


def head_layers(spec: NetSpec, h: int) -> list[LayerCount]:
    """Rows of global average pooling and the fc classifier."""
    c, n = final_width(spec), spec.num_classes
    return [
        LayerCount("avgpool", "avgpool", c, c, h, 1, 1, h, 1, 0, 0, 0),
        LayerCount("fc", "fc", c, n, 1, 1, 1, 1, 1, fc_macs(c, n), fc_params(c, n), n),
    ]


def iter_layers(spec: NetSpec, input_size: int | None = None) -> Iterator[LayerCount]:
    """Every counted layer of the spec in forward order, at ``input_size`` (default: the spec's)."""
    h = _check_input_size(spec.input_size if input_size is None else input_size)
    rows, h = stem_layers(spec, h)
    yield from rows
    for block in iter_blocks(spec):
        rows, h = block_layers(block, h)
        yield from rows
    yield from head_layers(spec, h)


def complexity(spec: NetSpec, input_size: int | None = None) -> Complexity:
    """Exact MACs, params and activations of ``spec``, with the per-layer rows."""
    layers = tuple(iter_layers(spec, input_size))
    return Complexity(
        name=spec.name,
        input_size=spec.input_size if input_size is None else input_size,
        macs=sum(row.macs for row in layers),
        params=sum(row.params for row in layers),
        acts=sum(row.acts for row in layers),
        layers=layers,
    )


def totals(spec: NetSpec, input_size: int | None = None) -> tuple[int, int, int]:
    """(MACs, params, acts) without keeping the rows: the fast path for big enumerations.

    Same rows as :func:`iter_layers`; blocks repeated inside a stage (same shapes, same input
    size) are summed once per call, which makes a 101-layer spec cost about as much as a 50.
    """
    h = _check_input_size(spec.input_size if input_size is None else input_size)
    rows, h = stem_layers(spec, h)
    sums = [_sum(rows)]
    seen: dict[tuple[int, int, int, int, int, int], tuple[tuple[int, int, int], int]] = {}
    for block in iter_blocks(spec):
        key = (block.w_in, block.w_out, block.w_b, block.groups, block.stride, h)
        if key not in seen:
            block_rows, h_out = block_layers(block, h)
            seen[key] = (_sum(block_rows), h_out)
        block_sum, h = seen[key]
        sums.append(block_sum)
    sums.append(_sum(head_layers(spec, h)))
    return sum(m for m, _, _ in sums), sum(p for _, p, _ in sums), sum(a for _, _, a in sums)


def _sum(rows: list[LayerCount]) -> tuple[int, int, int]:
    return sum(r.macs for r in rows), sum(r.params for r in rows), sum(r.acts for r in rows)


def template_block_params(spec: NetSpec) -> int:
    """Eq. 4 for a first-stage block fed by its own width: the conv2 template block of Table 2."""
    stage = spec.stages[0]
    return block_params(stage.w_out, stage.w_out, stage.group_width, stage.cardinality)

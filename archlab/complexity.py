"""Exact analytic complexity of a spec: MACs, parameters and activations, per layer and in total.

The convention, stated once (the paper's Sec. 3.1, pycls's and torchvision's):

- 1 MAC = one multiply-add of a conv or linear layer; the fc bias adds one MAC per output.
- Parameters: conv weights (no conv bias: every conv is followed by BN), the 2 affine
  parameters per BN channel, and the fc weight and bias. BN running statistics are buffers.
- BN, ReLU, max/average pooling and the residual addition count 0 MACs.
- Activations (Dollár et al., "Fast and Accurate Model Scaling", 2021, as in pycls): the output
  elements of every conv, max-pool and fc layer.

The layer walk below counts the layer recipe of :mod:`archlab.layers` (built on
:func:`archlab.blocks.iter_blocks`), the same recipe the torch builder consumes, and its module
paths follow torchvision's ResNet (``layer1.0.conv2``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from archlab.blocks import BlockSpec, iter_block_runs, iter_blocks
from archlab.errors import SpecError
from archlab.layers import Layer, block_prefix, block_recipe, head_recipe, stem_recipe
from archlab.space import NetSpec


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

# Blocks are remembered across calls by shape and input size (a block's stage and index only name
# its layers, see BlockSpec.shape): an enumeration meets the same blocks again at another depth,
# in another solver step or in a per-layer table. Two bounded LRU caches of pure functions of
# their arguments; the sums cache holds every block of a 64 x 64 grid of C and d at one depth
# (8 shapes a spec), about 0.4 KiB a block by bench_complexity.py (docs/counting.md#how-fast).
BLOCK_CACHE_SIZE = 1 << 15
ROWS_CACHE_SIZE = 1 << 10
BlockShape = tuple[int, int, int, int, int]  # (w_in, w_out, w_b, groups, stride)


def layer_count(layer: Layer, path: str, h: int) -> LayerCount:
    """The row of one recipe layer at input size ``h``, by the formula of its kind."""
    kind, _, c_in, c_out, k, stride, groups = layer
    h_out, macs, params, acts = layer_numbers(layer, h, path.removesuffix(layer.name))
    if kind == "bn":
        return LayerCount(path, kind, c_in, c_out, 1, 1, c_out, h, h, macs, params, acts)
    if kind == "fc":
        return LayerCount(path, kind, c_in, c_out, 1, 1, 1, 1, 1, macs, params, acts)
    if kind == "avgpool":  # global: the window is the whole map
        return LayerCount(path, kind, c_in, c_out, h, 1, 1, h, 1, macs, params, acts)
    return LayerCount(path, kind, c_in, c_out, k, stride, groups, h, h_out, macs, params, acts)


def layer_numbers(layer: Layer, h: int, prefix: str = "") -> tuple[int, int, int, int]:
    """(h_out, MACs, params, acts) of one recipe layer at input size ``h``, by its formula."""
    kind, _, c_in, c_out, k, stride, groups = layer
    if kind == "bn":
        return h, 0, bn_params(c_out), 0
    if kind == "fc":
        return 1, fc_macs(c_in, c_out), fc_params(c_in, c_out), c_out
    if kind == "avgpool":
        return 1, 0, 0, 0
    if stride > 1 and h < 2:
        raise SpecError(
            f"input too small: {prefix}{layer.name} would downsample a {h}x{h} map; "
            "use a larger input size"
        )
    h_out = conv_out_size(h, k, stride, layer.padding)
    acts = c_out * h_out * h_out  # conv and max-pool outputs both count (Dollár et al.)
    if kind == "maxpool":
        return h_out, 0, 0, acts
    return (
        h_out,
        conv_macs(c_in, c_out, k, groups, h_out),
        conv_params(c_in, c_out, k, groups),
        acts,
    )


def _sums(layers: tuple[Layer, ...], h: int, prefix: str = "") -> tuple[tuple[int, int, int], int]:
    """Summed (MACs, params, acts) of layers applied one after another, and the output size."""
    macs = params = acts = 0
    for layer in layers:
        h, m, p, a = layer_numbers(layer, h, prefix)
        macs, params, acts = macs + m, params + p, acts + a
    return (macs, params, acts), h


def _walk(layers: tuple[Layer, ...], prefix: str, h: int) -> tuple[list[LayerCount], int]:
    """Rows of layers applied one after another, and the size of what comes out."""
    rows = []
    for layer in layers:
        row = layer_count(layer, prefix + layer.name, h)
        rows.append(row)
        h = row.h_out
    return rows, h


def _block_rows_at(block: BlockSpec, h: int, prefix: str) -> tuple[tuple[LayerCount, ...], int]:
    """Rows of one block, named under ``prefix``, and the size of what comes out."""
    recipe = block_recipe(block)
    rows, h_out = _walk(recipe.branch, prefix, h)
    rows += _walk(recipe.shortcut, prefix, h)[0]  # the shortcut also reads the input
    return tuple(rows), h_out


@functools.lru_cache(maxsize=ROWS_CACHE_SIZE)
def _block_rows(shape: BlockShape, h: int) -> tuple[tuple[LayerCount, ...], int]:
    """Rows of a block of this shape at input size ``h``, paths relative to the block."""
    return _block_rows_at(BlockSpec(0, 0, *shape), h, "")


@functools.lru_cache(maxsize=BLOCK_CACHE_SIZE)
def _block_sums(shape: BlockShape, h: int) -> tuple[int, int, int, int]:
    """(MACs, params, acts, output size) of a block of this shape at input size ``h``, no rows."""
    recipe = block_recipe(BlockSpec(0, 0, *shape))
    (macs, params, acts), h_out = _sums(recipe.branch, h)
    (m, p, a), _ = _sums(recipe.shortcut, h)  # the shortcut also reads the input
    return macs + m, params + p, acts + a, h_out


def clear_block_cache() -> None:
    """Forget the blocks counted so far: frees their memory; needed only if the recipe changes
    while the process runs (a test that patches :mod:`archlab.layers`)."""
    _block_rows.cache_clear()
    _block_sums.cache_clear()


def block_layers(block: BlockSpec, h: int) -> tuple[list[LayerCount], int]:
    """Rows of one bottleneck block in form (c), from :func:`archlab.layers.block_recipe`.

    Form (b) has the same MACs, params and activations. Form (a) has the same MACs and params
    but more activations: each of its C paths has its own 1x1 to w_out, so its conv3 outputs
    C·w_out channels where form (c)'s outputs w_out (Sec. 3.3, Fig. 3a).
    """
    prefix = block_prefix(block)
    try:
        rows, h_out = _block_rows(block.shape, h)
    except SpecError:
        _block_rows_at(block, h, prefix)  # raises again, naming the layer by its whole path
        raise
    return [LayerCount(prefix + row.path, *row[1:]) for row in rows], h_out


def _check_input_size(h: object) -> int:
    if isinstance(h, bool) or not isinstance(h, int) or h < 1:
        raise SpecError(f"input_size must be a positive integer, got {h!r}")
    return h


def stem_layers(spec: NetSpec, h: int) -> tuple[list[LayerCount], int]:
    """Rows of the stem: Table 1's 7x7/2 conv + 3x3/2 max pool, or Sec. 5.3's 3x3 conv."""
    return _walk(stem_recipe(spec), "", h)


def head_layers(spec: NetSpec, h: int) -> list[LayerCount]:
    """Rows of global average pooling and the fc classifier."""
    return _walk(head_recipe(spec), "", h)[0]


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

    The sums of :func:`iter_layers`'s rows, from the same recipe and formulas, with no layer
    names formatted. A block's numbers are a pure function of its shape and input size, so a run
    of one shape (:func:`archlab.blocks.iter_block_runs`) that keeps the map size is counted
    once and multiplied, and a block met again (another depth, another solver step) is looked up
    (bounded, :data:`BLOCK_CACHE_SIZE`): a 152-layer spec costs what a 50 does.
    """
    h = _check_input_size(spec.input_size if input_size is None else input_size)
    (macs, params, acts), h = _sums(stem_recipe(spec), h)
    for run, n in iter_block_runs(spec):
        done = 0
        while done < n:
            h_in = h
            try:
                m, p, a, h = _block_sums(run.shape, h)
            except SpecError:
                block_layers(run._replace(index=run.index + done), h)  # raises, naming the layer
                raise
            k = n - done if h == h_in else 1  # the same input again: the rest count the same
            macs, params, acts = macs + k * m, params + k * p, acts + k * a
            done += k
    (m, p, a), _ = _sums(head_recipe(spec), h)
    return macs + m, params + p, acts + a


def template_block_params(spec: NetSpec) -> int:
    """Eq. 4 for a first-stage block fed by its own width: the conv2 template block of Table 2."""
    stage = spec.stages[0]
    return block_params(stage.w_out, stage.w_out, stage.group_width, stage.cardinality)

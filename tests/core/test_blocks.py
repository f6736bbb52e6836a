"""The block iterator: runs of one shape, their expansion, and what a block's position changes."""

from __future__ import annotations

import pytest

from archlab.blocks import BlockSpec, iter_block_runs, iter_blocks
from archlab.complexity import block_layers
from archlab.space import make_spec


@pytest.mark.parametrize(
    ("template", "depth", "blocks"),
    [("imagenet", 50, (3, 4, 6, 3)), ("imagenet", 152, (3, 8, 36, 3)), ("cifar", 11, (1, 1, 1))],
)
def test_runs_expand_to_every_block_in_order(
    template: str, depth: int, blocks: tuple[int, ...]
) -> None:
    spec = make_spec(template, depth, 4, 8, width_multiplier=0.5)
    runs = list(iter_block_runs(spec))
    assert sum(n for _, n in runs) == sum(blocks)
    # One run for a one-block stage, two otherwise: the first block, then the rest of one shape.
    assert len(runs) == sum(1 if b == 1 else 2 for b in blocks)
    expanded = [
        BlockSpec(run.stage, run.index + i, *run.shape) for run, n in runs for i in range(n)
    ]
    assert list(iter_blocks(spec)) == expanded
    assert [(b.stage, b.index) for b in expanded] == [
        (s, i) for s, n in enumerate(blocks) for i in range(n)
    ]
    for run, n in runs:
        if run.index == 1:  # a repeated run keeps width and map size: no projection
            assert not run.has_projection and run.stride == 1 and run.w_in == run.w_out
            assert n == blocks[run.stage] - 1


def test_the_shape_is_every_field_but_the_position() -> None:
    """The count remembers blocks by shape, so the position may only name their layers."""
    assert BlockSpec._fields[:2] == ("stage", "index")
    blocks = list(iter_blocks(make_spec("imagenet", 50, 32, 4)))
    for block in blocks:
        assert block.shape == tuple(block)[2:]
        assert BlockSpec(block.stage, block.index, *block.shape) == block
    # Two blocks of one shape at two positions: the same rows, named by their own paths.
    a, b = blocks[1], blocks[2]
    assert a.shape == b.shape and (a.stage, a.index) != (b.stage, b.index)
    rows_a, h_a = block_layers(a, 56)
    rows_b, h_b = block_layers(b, 56)
    assert h_a == h_b == 56
    assert [r.path for r in rows_a][:2] == ["layer1.1.conv1", "layer1.1.bn1"]
    assert [r.path for r in rows_b][:2] == ["layer1.2.conv1", "layer1.2.bn1"]
    assert [r[1:] for r in rows_a] == [r[1:] for r in rows_b]

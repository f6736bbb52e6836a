"""The block iterator: every bottleneck block of a spec, as both the builder and the counter see
it (one walk, so :mod:`archlab.models` and :mod:`archlab.complexity` cannot drift apart).

No torch here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from archlab.space import NetSpec


class BlockSpec(NamedTuple):
    """One bottleneck block as both the builder and the counter see it.

    A named tuple, not a frozen dataclass: it is derived from a validated spec, never given by a
    user, and is cheaper to make, which a count of many specs feels
    (docs/counting.md). Its ``index`` field hides the tuple method of that name.
    """

    stage: int  # 0-based; torchvision's layer{stage + 1}
    index: int  # type: ignore[assignment]  # block index inside the stage (hides tuple.index)
    w_in: int
    w_out: int
    w_b: int  # group width C·d of the 3x3 conv
    groups: int  # cardinality C
    stride: int  # on the 3x3 conv (Sec. 4: the paper's FLOPs need it there)

    @property
    def has_projection(self) -> bool:
        """Projection shortcut (type B) where the shape changes, identity otherwise."""
        return self.stride != 1 or self.w_in != self.w_out

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        """Every field but the position (stage, index), which only names the block's layers:
        two blocks of one shape at one input size have the same layers and the same counts."""
        return self[2:]


def iter_block_runs(spec: NetSpec) -> Iterator[tuple[BlockSpec, int]]:
    """Yield (block, n) in forward order: ``block`` and the n - 1 after it differ in index only.

    The single source of truth for layout. Each stage is a first block (it may downsample and
    change width) and, behind it, ``depth - 1`` blocks of one shape (Sec. 3.1, rule 1: blocks of
    one spatial size share hyperparameters). A count walks a run once; :func:`iter_blocks`
    expands it.
    """
    w_in = spec.stem_width
    for s, stage in enumerate(spec.stages):
        w_out, w_b, groups = stage.w_out, stage.group_width, stage.cardinality
        yield BlockSpec(s, 0, w_in, w_out, w_b, groups, stage.stride), 1
        if stage.depth > 1:
            yield BlockSpec(s, 1, w_out, w_out, w_b, groups, 1), stage.depth - 1
        w_in = w_out


def iter_blocks(spec: NetSpec) -> Iterator[BlockSpec]:
    """Yield every block in forward order: the runs of :func:`iter_block_runs`, expanded."""
    for block, n in iter_block_runs(spec):
        yield block
        stage, index, w_in, w_out, w_b, groups, stride = block
        for i in range(index + 1, index + n):
            yield BlockSpec(stage, i, w_in, w_out, w_b, groups, stride)


def final_width(spec: NetSpec) -> int:
    """Channels that reach global pooling and the fc."""
    return spec.stages[-1].w_out

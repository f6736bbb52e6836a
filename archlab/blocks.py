"""The block iterator: every bottleneck block of a spec, as both the builder and the counter see
it (one walk, so :mod:`archlab.models` and :mod:`archlab.complexity` cannot drift apart).

No torch here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from archlab.space import NetSpec


@dataclass(frozen=True)
class BlockSpec:
    """One bottleneck block as both the builder and the counter see it."""

    stage: int  # 0-based; torchvision's layer{stage + 1}
    index: int  # block index inside the stage
    w_in: int
    w_out: int
    w_b: int  # group width C·d of the 3x3 conv
    groups: int  # cardinality C
    stride: int  # on the 3x3 conv (Sec. 4: the paper's FLOPs need it there)

    @property
    def has_projection(self) -> bool:
        """Projection shortcut (type B) where the shape changes, identity otherwise."""
        return self.stride != 1 or self.w_in != self.w_out


def iter_blocks(spec: NetSpec) -> Iterator[BlockSpec]:
    """Yield every block in forward order; the single source of truth for layout."""
    w_in = spec.stem_width
    for s, stage in enumerate(spec.stages):
        for b in range(stage.depth):
            yield BlockSpec(
                stage=s,
                index=b,
                w_in=w_in,
                w_out=stage.w_out,
                w_b=stage.group_width,
                groups=stage.cardinality,
                stride=stage.stride if b == 0 else 1,
            )
            w_in = stage.w_out


def final_width(spec: NetSpec) -> int:
    """Channels that reach global pooling and the fc."""
    return spec.stages[-1].w_out

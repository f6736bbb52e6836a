"""A model's inputs: one or several shapes and a dtype (docs/counting.md, "Counting your own
model").

``count --model`` builds zero inputs: a floating dtype (the default: the model's own parameter
dtype) for images and sequences, an integer dtype such as ``long`` for token ids (zeros are valid
ids for any ``nn.Embedding``). Several shapes are several positional arguments of ``forward``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from archlab.errors import ArchlabError

Shapes = tuple[tuple[int, ...], ...]


def _shape(shape: Any) -> tuple[int, ...] | None:
    ok = isinstance(shape, Sequence) and not isinstance(shape, str) and len(shape) > 0
    if ok and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape):
        return tuple(shape)
    return None


def check_input_shapes(shapes: Any) -> Shapes:
    """One shape (a list of positive integers) or several, as a tuple of shapes."""
    one = _shape(shapes)
    if one is not None:
        return (one,)
    many = [_shape(s) for s in shapes] if isinstance(shapes, Sequence) and shapes else [None]
    if None in many or isinstance(shapes, str):
        raise ArchlabError(
            "input_shape must be a non-empty list of positive integers (or a list of such "
            f"lists, one per input), got {shapes!r}"
        )
    return tuple(s for s in many if s is not None)


def input_dtype(name: str | torch.dtype | None) -> torch.dtype | None:
    """A torch dtype from its name (``float16``, ``long``, ``torch.int64``); None stays None."""
    if name is None or isinstance(name, torch.dtype):
        return name
    found = getattr(torch, str(name).removeprefix("torch."), None)
    if not isinstance(found, torch.dtype):
        raise ArchlabError(
            f"input_dtype {name!r} is not a torch dtype; e.g. float32, float16, bfloat16, long, "
            "int32"
        )
    return found


def make_inputs(
    shapes: Shapes, dtype: torch.dtype | None, like: torch.dtype, device: torch.device | str
) -> tuple[Tensor, ...]:
    """Zero tensors of ``shapes``, at ``dtype`` (default ``like``, the model's float dtype)."""
    return tuple(torch.zeros(s, dtype=dtype or like, device=device) for s in shapes)


def elements(shapes: Shapes) -> int:
    """All inputs' elements together."""
    total = 0
    for shape in shapes:
        n = 1
        for s in shape:
            n *= s
        total += n
    return total

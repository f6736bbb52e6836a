"""Named specs: the paper's models as data (presets are data; names are derived from specs).

:func:`get_spec` takes a preset's name or any name archlab prints (:mod:`archlab.names`).

Study presets (the paper's questions: ``cardinality``, ``depth-width-cardinality``) are data too,
in :mod:`archlab.search.presets`: their arm rules name the solvers of search/, which this
torch-free core module must not import.
"""

from __future__ import annotations

from types import MappingProxyType

from archlab.names import spec_from_name
from archlab.space import NetSpec, make_spec

# (template, depth, cardinality, bottleneck width): the models of the paper's Tables 1, 3, 4 and
# 7, plus torchvision's resnext101_32x8d, ResNeXt-152 32x4d and the small resnext29_4x4d used
# for CPU runs.
_PRESET_ARGS: tuple[tuple[str, int, int, int], ...] = (
    ("imagenet", 50, 1, 64),
    ("imagenet", 101, 1, 64),
    ("imagenet", 152, 1, 64),
    ("imagenet", 200, 1, 64),
    ("imagenet", 50, 2, 40),
    ("imagenet", 50, 4, 24),
    ("imagenet", 50, 8, 14),
    ("imagenet", 50, 32, 4),
    ("imagenet", 101, 2, 40),
    ("imagenet", 101, 4, 24),
    ("imagenet", 101, 8, 14),
    ("imagenet", 101, 32, 4),
    ("imagenet", 101, 32, 8),
    ("imagenet", 101, 64, 4),
    ("imagenet", 101, 2, 64),
    ("imagenet", 101, 1, 100),
    ("imagenet", 152, 32, 4),
    ("cifar", 29, 8, 64),
    ("cifar", 29, 16, 64),
    ("cifar", 29, 1, 64),
    ("cifar", 29, 4, 4),
)

PRESETS: MappingProxyType[str, NetSpec] = MappingProxyType(
    {spec.name: spec for spec in (make_spec(*args) for args in _PRESET_ARGS)}
)


def get_spec(name: str) -> NetSpec:
    """The preset called ``name``, else the spec the name describes (``resnext29_8x3d_w0.25``).

    A name that is neither says in one line which forms are accepted.
    """
    preset = PRESETS.get(name) if isinstance(name, str) else None
    return preset if preset is not None else spec_from_name(name)

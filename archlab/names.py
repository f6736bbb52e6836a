"""Model names read back into specs (:func:`spec_from_name`); :func:`archlab.space.spec_name`
derives them (a spec prints itself, so space.py holds that half and this module reads space).

A name says everything a template spec is made of, so ``spec_from_name(spec.name)`` rebuilds the
spec up to its data (input size and classes take the template's defaults):

- ``resnetD``: the ImageNet ResNet of depth D, C = 1 at the baseline's d (64 times the width);
- ``resnextD_CxDd``: cardinality C and the first stage's d, the width the network has (Table 1);
- ``_bB1-B2-..``: blocks per stage, where they are not the depth's template blocks;
- ``_wM``: first-stage width 256·M (M = 0.25 is 64 channels); the stem and a ResNet's d follow;
- ``_stemS``: a stem of S channels, where it is not the one M implies;
- ``_customHASH``: a spec off the template (other strides or widths); not rebuilt from its name.

The template is read from the name: blocks given, by their count (4 stages ImageNet, 3 CIFAR);
otherwise ImageNet for a depth of its block table (26, 50, 101, 152, 200), else CIFAR for a depth
9n + 2. A CIFAR network of depth 101 or 200 therefore always prints its blocks.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import NoReturn

from archlab.errors import SpecError
from archlab.space import (
    IMAGENET_BLOCKS,
    NUM_STAGES,
    NetSpec,
    make_spec,
)

FORMS = (
    "resnetD or resnextD_CxDd, optionally followed by _bB1-B2-.., _wM and _stemS "
    "(e.g. resnet50, resnext50_32x4d, resnext29_8x3d_w0.25)"
)
_NAME = re.compile(
    r"(?:resnet(?P<resnet>\d+)|resnext(?P<depth>\d+)_(?P<c>\d+)x(?P<d>\d+)d)"
    r"(?:_b(?P<blocks>\d+(?:-\d+)*))?"
    r"(?:_w(?P<w>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?))?"
    r"(?:_stem(?P<stem>\d+))?"
)
_MAX_DIGITS = 12  # no valid field has more digits; longer runs are refused before int()


def spec_from_name(name: str) -> NetSpec:
    """The spec a name printed by :func:`spec_name` describes, for the template's data."""
    if not isinstance(name, str):
        raise SpecError(f"a model name must be a string, got {name!r}")
    if re.search(r"_custom[0-9a-f]*$", name):
        raise SpecError(
            f"model {name!r} is off the template (_custom), so its name cannot be rebuilt; "
            "give its spec in a JSON spec file instead (the list `archlab space --json` prints)"
        )
    match = _NAME.fullmatch(name)
    if match is None or any(len(g) > _MAX_DIGITS for g in match.groups() if g):
        raise SpecError(f"unknown model {name!r}; valid: {FORMS}")
    depth = int(match["resnet"] or match["depth"])
    blocks = tuple(int(b) for b in match["blocks"].split("-")) if match["blocks"] else None
    template = _template(name, depth, blocks)
    if match["resnet"] and template != "imagenet":
        _refuse(name, f"resnet{depth} is no ImageNet depth; a CIFAR ResNet is resnext{depth}_1xDd")
    try:
        spec = make_spec(
            template,
            depth,
            1 if match["resnet"] else int(match["c"]),
            None if match["resnet"] else int(match["d"]),
            width_multiplier=float(match["w"]) if match["w"] else 1.0,
            blocks=blocks,
        )
        return replace(spec, stem_width=int(match["stem"])) if match["stem"] else spec
    except SpecError as exc:
        _refuse(name, str(exc))


def _template(name: str, depth: int, blocks: tuple[int, ...] | None) -> str:
    """The template a name means: see the module docstring."""
    if blocks is not None:
        template = next((t for t, n in NUM_STAGES.items() if n == len(blocks)), None)
        if template is None:
            _refuse(name, f"blocks give 4 stages (imagenet) or 3 (cifar), not {len(blocks)}")
        if 3 * sum(blocks) + 2 != depth:
            _refuse(name, f"blocks {blocks} make depth {3 * sum(blocks) + 2}, not {depth}")
        return template
    if depth in IMAGENET_BLOCKS:
        return "imagenet"
    if depth >= 11 and (depth - 2) % 9 == 0:
        return "cifar"
    imagenet = ", ".join(map(str, IMAGENET_BLOCKS))
    _refuse(
        name,
        f"depth {depth} is neither an ImageNet depth ({imagenet}) nor a CIFAR one (9n+2); "
        "give the blocks with _bB1-B2-..",
    )


def _refuse(name: str, why: str) -> NoReturn:
    raise SpecError(f"unknown model {name!r} ({why}); valid: {FORMS}")

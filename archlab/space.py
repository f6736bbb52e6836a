"""The ResNeXt design space: frozen specs, the paper's templates and the names specs print.

The block iterator both the builder and the counter walk is :mod:`archlab.blocks`.

Glossary (Xie et al., "Aggregated Residual Transformations for Deep Neural Networks", CVPR 2017):

- ``cardinality`` (C): the number of aggregated transformations (paths) in a block (Sec. 3.3).
- ``bottleneck_width`` (d): the channels of one path, per stage here; "32x4d" names C=32 and
  d=4 in the first stage (Table 1). d is always the width the network has: a width multiplier
  scales the stem and stage widths, never d, so ``resnext29_8x3d_w0.25`` has d = 3.
- ``group_width``: C·d, the width of the 3x3 grouped conv (Table 2's "width of group conv").
- ``w_in`` / ``w_out`` / ``w_b``: a block's input width, output width and bottleneck (group) width.
- ``stage``: the blocks that share one spatial size ("conv2" … "conv5" in Table 1).
- ``block``: one residual bottleneck block; ``depth`` = 3 · (number of blocks) + 2 layers.
- ``template``: ``imagenet`` (Table 1) or ``cifar`` (Sec. 5.3); both obey the two rules of
  Sec. 3.1: blocks of one spatial size share hyperparameters, and widths double whenever the
  spatial map is halved.

No torch here: specs are pure data, so counting and enumerating never build a model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from archlab.bounds import (
    MAX_BLOCKS,
    MAX_DEPTH,
    MAX_DEPTH_WHY,
    MAX_INPUT_SIZE,
    MAX_INPUT_SIZE_WHY,
    MAX_NUM_CLASSES,
    MAX_NUM_CLASSES_WHY,
    MAX_WIDTH,
    MAX_WIDTH_MULTIPLIER,
    MAX_WIDTH_WHY,
)
from archlab.errors import SpecError

Template = Literal["imagenet", "cifar"]
TEMPLATES: tuple[str, ...] = ("imagenet", "cifar")

# Table 1 of the paper, plus ResNet-200 (He et al. 2016) and timm's 26-layer variant.
IMAGENET_BLOCKS: dict[int, tuple[int, ...]] = {
    26: (2, 2, 2, 2),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
    200: (3, 24, 36, 3),
}
# Output widths of the first stage and the stem; later stages double (Sec. 3.1, rule 2).
BASE_STAGE_WIDTH = 256
BASE_STEM_WIDTH = 64
BASELINE_BOTTLENECK_WIDTH = 64  # ResNet's 1x64d (Table 2, C=1)
DEFAULT_INPUT_SIZE: dict[str, int] = {"imagenet": 224, "cifar": 32}
DEFAULT_NUM_CLASSES: dict[str, int] = {"imagenet": 1000, "cifar": 10}
NUM_STAGES: dict[str, int] = {"imagenet": 4, "cifar": 3}
# The fields that summarise a spec in tables, stores and candidate files (first stage's C, d).
SUMMARY_FIELDS: tuple[str, ...] = (
    "name", "template", "depth", "cardinality", "bottleneck_width", "group_width",
    "width_multiplier",
)  # fmt: skip


@dataclass(frozen=True)
class StageSpec:
    """One stage: ``depth`` blocks sharing widths; only the first block may downsample."""

    depth: int
    w_out: int
    stride: int
    cardinality: int
    bottleneck_width: int

    def __post_init__(self) -> None:
        _positive_int(
            "depth", self.depth, MAX_BLOCKS, f"{MAX_BLOCKS} blocks make depth {MAX_DEPTH}"
        )
        _positive_int("w_out", self.w_out, MAX_WIDTH, MAX_WIDTH_WHY)
        _positive_int("cardinality", self.cardinality, MAX_WIDTH, MAX_WIDTH_WHY)
        _positive_int("bottleneck_width", self.bottleneck_width, MAX_WIDTH, MAX_WIDTH_WHY)
        _positive_int("group_width", self.group_width, MAX_WIDTH, MAX_WIDTH_WHY)
        if type(self.stride) is not int or self.stride not in (1, 2):
            raise SpecError(f"stride must be 1 or 2, got {self.stride!r}")

    @property
    def group_width(self) -> int:
        """Width of the 3x3 grouped conv, C·d."""
        return self.cardinality * self.bottleneck_width


@dataclass(frozen=True)
class NetSpec:
    """A whole candidate network: stem, stages, classifier and the input it is meant for."""

    template: str
    stem_width: int
    stages: tuple[StageSpec, ...]
    num_classes: int
    input_size: int

    def __post_init__(self) -> None:
        if self.template not in TEMPLATES:
            raise SpecError(
                f"template must be one of {', '.join(TEMPLATES)}, got {self.template!r}"
            )
        _positive_int("stem_width", self.stem_width, MAX_WIDTH, MAX_WIDTH_WHY)
        _positive_int("num_classes", self.num_classes, MAX_NUM_CLASSES, MAX_NUM_CLASSES_WHY)
        _positive_int("input_size", self.input_size, MAX_INPUT_SIZE, MAX_INPUT_SIZE_WHY)
        if not isinstance(self.stages, tuple) or not self.stages:
            raise SpecError("stages must be a non-empty tuple of StageSpec")
        if not all(isinstance(s, StageSpec) for s in self.stages):
            raise SpecError("stages must hold StageSpec objects only")
        _at_most("depth", self.depth, MAX_DEPTH, MAX_DEPTH_WHY)

    # Derived, never stored: a name comes from the spec, so the two cannot disagree.
    @property
    def blocks(self) -> tuple[int, ...]:
        """Blocks per stage, e.g. (3, 4, 6, 3) for a 50-layer ImageNet network."""
        return tuple(s.depth for s in self.stages)

    @property
    def depth(self) -> int:
        """Weighted layers: 3 per bottleneck block, plus the stem conv and the fc."""
        return 3 * sum(self.blocks) + 2

    @property
    def cardinality(self) -> int:
        """C of the first stage (all stages share it in the paper's templates)."""
        return self.stages[0].cardinality

    @property
    def bottleneck_width(self) -> int:
        """d of the first stage, the number in "32x4d"."""
        return self.stages[0].bottleneck_width

    @property
    def group_width(self) -> int:
        """C·d of the first stage."""
        return self.stages[0].group_width

    @property
    def width_multiplier(self) -> float:
        """First-stage width relative to the paper's 256: the multiplier the spec was made with,
        up to rounding of the widths (0.3 makes 77 channels, read back as 77/256)."""
        return self.stages[0].w_out / BASE_STAGE_WIDTH

    @property
    def name(self) -> str:
        """torchvision-style name: ``resnet50``, ``resnext50_32x4d``, ``resnext29_8x3d_w0.25``."""
        return spec_name(self)  # names.py reads names back; specs only print themselves

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict that :func:`spec_from_dict` turns back into an equal spec."""
        return asdict(self)


def _positive_int(field: str, value: object, limit: int | None = None, why: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"{field} must be a positive integer, got {value!r}")
    if limit is not None:
        _at_most(field, value, limit, why)


def _at_most(field: str, value: int | float, limit: int | float, why: str) -> None:
    """Refuse an absurd value, stating the bound and where it comes from."""
    if value > limit:
        raise SpecError(f"{field} must be at most {limit:,} ({why}), got {value:,}")


def spec_from_dict(data: dict[str, Any]) -> NetSpec:
    """Rebuild a spec from :meth:`NetSpec.to_dict` output (e.g. a ``space --json`` row)."""
    try:
        if not all(isinstance(s, Mapping) for s in data["stages"]):
            raise TypeError("every stage must be an object")
        stages = tuple(StageSpec(**dict(s)) for s in data["stages"])
        fields = {k: data[k] for k in ("template", "stem_width", "num_classes", "input_size")}
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, SpecError):
            raise
        why = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise SpecError(f"not a valid spec dict: {why}") from None
    return NetSpec(stages=stages, **fields)


# --------------------------------------------------------------------------- templates


def template_blocks(template: str, depth: int) -> tuple[int, ...]:
    """Blocks per stage for a depth of a template (Table 1; CIFAR depth = 9n + 2)."""
    if template == "imagenet":
        if depth not in IMAGENET_BLOCKS:
            valid = ", ".join(str(d) for d in IMAGENET_BLOCKS)
            raise SpecError(
                f"depth {depth} is not an ImageNet template depth; valid: {valid} "
                "(or give explicit block counts)"
            )
        return IMAGENET_BLOCKS[depth]
    if template == "cifar":
        if depth < 11 or (depth - 2) % 9:
            raise SpecError(f"CIFAR depth must be 9n+2 with n >= 1 (11, 20, 29, ...), got {depth}")
        n = (depth - 2) // 9
        return (n, n, n)
    raise SpecError(f"template must be one of {', '.join(TEMPLATES)}, got {template!r}")


# The template's usual depth when none is given: ResNeXt-50 (Table 1), ResNeXt-29 (Sec. 5.3).
DEFAULT_DEPTHS = {"imagenet": 50, "cifar": 29}


def default_depth(template: str) -> int:
    """The usual depth of a template (50 for imagenet, 29 for cifar)."""
    if template not in DEFAULT_DEPTHS:
        raise SpecError(f"template must be one of {', '.join(TEMPLATES)}, got {template!r}")
    return DEFAULT_DEPTHS[template]


def scaled(width: int, multiplier: float) -> int:
    """A width times the multiplier, rounded, never below 1 channel."""
    return max(1, round(width * multiplier))


def implied_width(base: int, w0: int) -> int:
    """``base`` channels scaled like a first stage of ``w0`` channels (the paper's is 256).

    The multiplier a spec has is w0 / 256 (:attr:`NetSpec.width_multiplier`); the stem and the
    ResNet baseline's d follow from it, so a name's ``_wM`` fixes both.
    """
    return scaled(base, w0 / BASE_STAGE_WIDTH)


def baseline_bottleneck_width(width_multiplier: float = 1.0) -> int:
    """d of the ResNet baseline (1x64d, Table 2) at a width multiplier: 64 scaled, 16 at 1/4."""
    _check_multiplier(width_multiplier)
    return implied_width(BASELINE_BOTTLENECK_WIDTH, scaled(BASE_STAGE_WIDTH, width_multiplier))


def _check_multiplier(width_multiplier: object) -> None:
    ok = isinstance(width_multiplier, int | float) and not isinstance(width_multiplier, bool)
    if not (ok and 0 < width_multiplier <= MAX_WIDTH_MULTIPLIER):  # type: ignore[operator]
        raise SpecError(
            f"width_multiplier must be in (0, {MAX_WIDTH_MULTIPLIER}], got {width_multiplier!r}"
        )


def make_spec(
    template: str = "imagenet",
    depth: int = 50,
    cardinality: int = 1,
    bottleneck_width: int | None = None,
    *,
    width_multiplier: float = 1.0,
    blocks: Sequence[int] | None = None,
    num_classes: int | None = None,
    input_size: int | None = None,
) -> NetSpec:
    """A spec of the paper's template: widths double and d doubles each time the map halves.

    ``bottleneck_width`` is the first stage's d as the network has it (the number in "8x3d"),
    used as given; None means the ResNet baseline's d at this multiplier (64 scaled).
    ``width_multiplier`` makes the first stage round(256·m) wide and scales the stem with it.
    """
    if template not in TEMPLATES:
        raise SpecError(f"template must be one of {', '.join(TEMPLATES)}, got {template!r}")
    _positive_int("cardinality", cardinality, MAX_WIDTH, MAX_WIDTH_WHY)
    _check_multiplier(width_multiplier)
    w0 = scaled(BASE_STAGE_WIDTH, width_multiplier)
    if bottleneck_width is None:
        bottleneck_width = implied_width(BASELINE_BOTTLENECK_WIDTH, w0)
    _positive_int("bottleneck_width", bottleneck_width, MAX_WIDTH, MAX_WIDTH_WHY)
    if blocks is None:
        _positive_int("depth", depth, MAX_DEPTH, MAX_DEPTH_WHY)
        block_counts = template_blocks(template, depth)
    else:
        block_counts = tuple(blocks)
        if not all(type(b) is int and b >= 1 for b in block_counts):
            raise SpecError(f"blocks must be positive integers per stage, got {block_counts!r}")
        _at_most("depth", 3 * sum(block_counts) + 2, MAX_DEPTH, MAX_DEPTH_WHY)
        if len(block_counts) != NUM_STAGES[template]:
            raise SpecError(
                f"blocks must have {NUM_STAGES[template]} entries for the {template} template, "
                f"got {len(block_counts)}"
            )
    stages = tuple(
        StageSpec(
            depth=n,
            w_out=w0 * 2**i,  # rule 2: width doubles each time the map is halved
            stride=1 if i == 0 else 2,
            cardinality=cardinality,
            bottleneck_width=bottleneck_width * 2**i,
        )
        for i, n in enumerate(block_counts)
    )
    return NetSpec(
        template=template,
        stem_width=implied_width(BASE_STEM_WIDTH, w0),
        stages=stages,
        num_classes=num_classes if num_classes is not None else DEFAULT_NUM_CLASSES[template],
        input_size=input_size if input_size is not None else DEFAULT_INPUT_SIZE[template],
    )


def follows_template(spec: NetSpec) -> bool:
    """Whether the spec obeys the two rules of Sec. 3.1 with its template's strides."""
    first = spec.stages[0]
    for i, stage in enumerate(spec.stages):
        if (
            stage.stride != (1 if i == 0 else 2)
            or stage.cardinality != first.cardinality
            or stage.w_out != first.w_out * 2**i
            or stage.bottleneck_width != first.bottleneck_width * 2**i
        ):
            return False
    return len(spec.stages) == NUM_STAGES[spec.template]


# --------------------------------------------------------------------------- block iterator


def spec_name(spec: NetSpec) -> str:
    """Derive the torchvision-style name; specs off the template get a short content hash.

    ``resnetD`` or ``resnextD_CxDd``, then ``_bB1-B2-..`` where the blocks are not the depth's
    template blocks (always for a CIFAR depth that is an ImageNet one too, 101 or 200), ``_wM``
    (M = first-stage width / 256) and ``_stemS`` where the stem is not the one M implies.
    """
    w0 = spec.stages[0].w_out
    if (
        spec.template == "imagenet"
        and spec.cardinality == 1
        and spec.bottleneck_width == implied_width(BASELINE_BOTTLENECK_WIDTH, w0)
    ):
        name = f"resnet{spec.depth}"
    else:
        name = f"resnext{spec.depth}_{spec.cardinality}x{spec.bottleneck_width}d"
    ambiguous = spec.template == "cifar" and spec.depth in IMAGENET_BLOCKS
    if ambiguous or spec.blocks != _canonical_blocks(spec):
        name += "_b" + "-".join(str(b) for b in spec.blocks)
    if w0 != BASE_STAGE_WIDTH:
        name += f"_w{multiplier_text(w0)}"
    if spec.stem_width != implied_width(BASE_STEM_WIDTH, w0):
        name += f"_stem{spec.stem_width}"
    if not follows_template(spec):
        digest = hashlib.sha1(repr(spec.stages).encode()).hexdigest()[:6]
        name += f"_custom{digest}"
    return name


def multiplier_text(w0: int) -> str:
    """w0 / 256 in the fewest significant digits (4 at least) that scale back to w0."""
    for digits in (4, 6, 8, 10, 12):
        text = f"{w0 / BASE_STAGE_WIDTH:.{digits}g}"
        if scaled(BASE_STAGE_WIDTH, float(text)) == w0:
            return text
    return repr(w0 / BASE_STAGE_WIDTH)


def _canonical_blocks(spec: NetSpec) -> tuple[int, ...] | None:
    if spec.template == "imagenet":
        return IMAGENET_BLOCKS.get(spec.depth)
    n = sum(spec.blocks) // 3
    return (n, n, n)


def with_overrides(
    spec: NetSpec, *, num_classes: int | None = None, input_size: int | None = None
) -> NetSpec:
    """The same network for another number of classes or input size."""
    return NetSpec(
        template=spec.template,
        stem_width=spec.stem_width,
        stages=spec.stages,
        num_classes=spec.num_classes if num_classes is None else num_classes,
        input_size=spec.input_size if input_size is None else input_size,
    )

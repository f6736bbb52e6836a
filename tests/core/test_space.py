"""Specs, templates, names and the block iterator."""

from __future__ import annotations

import random

import pytest

from archlab.blocks import iter_blocks
from archlab.errors import SpecError
from archlab.presets import PRESETS, get_spec
from archlab.space import (
    NetSpec,
    StageSpec,
    follows_template,
    make_spec,
    spec_from_dict,
)


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (("imagenet", 50, 1, 64), "resnet50"),
        (("imagenet", 50, 32, 4), "resnext50_32x4d"),
        (("imagenet", 101, 64, 4), "resnext101_64x4d"),
        (("imagenet", 152, 1, 64), "resnet152"),
        (("cifar", 29, 8, 64), "resnext29_8x64d"),
        (("cifar", 29, 16, 64), "resnext29_16x64d"),
    ],
)
def test_names_follow_torchvision(args: tuple[str, int, int, int], name: str) -> None:
    assert make_spec(*args).name == name


def test_scaled_and_custom_names_are_distinct() -> None:
    tiny = make_spec("cifar", 29, 4, 4, width_multiplier=0.25)
    assert tiny.name == "resnext29_4x4d_w0.25" and tiny.bottleneck_width == 4
    assert make_spec("imagenet", 50, 1, width_multiplier=0.5).name == "resnet50_w0.5"
    # d is the network's own: 64 at half width is twice the half-width ResNet's d, not a ResNet.
    assert make_spec("imagenet", 50, 1, 64, width_multiplier=0.5).name == "resnext50_1x64d_w0.5"
    odd = make_spec("imagenet", 50, 4, 24, blocks=(2, 3, 4, 1))
    assert odd.depth == 32
    assert odd.name == "resnext32_4x24d_b2-3-4-1"
    custom = NetSpec(
        template="cifar",
        stem_width=64,
        stages=(StageSpec(1, 256, 1, 4, 4), StageSpec(1, 300, 2, 4, 8)),
        num_classes=10,
        input_size=32,
    )
    assert "_custom" in custom.name and not follows_template(custom)


def test_imagenet_template_obeys_both_rules() -> None:
    spec = make_spec("imagenet", 101, 32, 8)
    assert spec.blocks == (3, 4, 23, 3)
    assert spec.depth == 101
    assert [s.w_out for s in spec.stages] == [256, 512, 1024, 2048]
    assert [s.group_width for s in spec.stages] == [256, 512, 1024, 2048]
    assert [s.stride for s in spec.stages] == [1, 2, 2, 2]
    assert follows_template(spec)


def test_cifar_template_is_9n_plus_2() -> None:
    spec = make_spec("cifar", 29, 8, 64)
    assert spec.blocks == (3, 3, 3)
    assert [s.w_out for s in spec.stages] == [256, 512, 1024]
    assert [s.group_width for s in spec.stages] == [512, 1024, 2048]
    assert spec.input_size == 32 and spec.num_classes == 10
    assert make_spec("cifar", 38, 2, 4).blocks == (4, 4, 4)
    with pytest.raises(SpecError, match="9n\\+2"):
        make_spec("cifar", 30, 2, 4)


def test_width_multiplier_scales_the_same_template() -> None:
    full, tiny = make_spec("cifar", 29, 8, 64), make_spec("cifar", 29, 8, 16, width_multiplier=0.25)
    assert tiny.stem_width == 16
    assert [s.w_out * 4 for s in tiny.stages] == [s.w_out for s in full.stages]
    assert [s.bottleneck_width * 4 for s in tiny.stages] == [
        s.bottleneck_width for s in full.stages
    ]
    assert follows_template(tiny)
    # The multiplier never touches a d that is given (issue 14): -d 3 at 1/4 width is 8x3d.
    same_d = make_spec("cifar", 29, 8, 3, width_multiplier=0.25)
    assert [s.bottleneck_width for s in same_d.stages] == [3, 6, 12]
    assert same_d.name == "resnext29_8x3d_w0.25"
    assert make_spec("cifar", 29, 8, width_multiplier=0.25).bottleneck_width == 16  # baseline d


def test_block_iterator_layout() -> None:
    blocks = list(iter_blocks(make_spec("imagenet", 50, 32, 4)))
    assert len(blocks) == 16
    first = blocks[0]
    assert (first.w_in, first.w_out, first.w_b, first.groups, first.stride) == (64, 256, 128, 32, 1)
    assert first.has_projection
    assert not blocks[1].has_projection
    downs = [b for b in blocks if b.stride == 2]
    assert [(b.stage, b.index) for b in downs] == [(1, 0), (2, 0), (3, 0)]
    assert all(b.has_projection for b in downs)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"cardinality": 0}, "cardinality"),
        ({"cardinality": -3}, "cardinality"),
        ({"bottleneck_width": 0}, "bottleneck_width"),
        ({"depth": 51}, "depth 51"),
        ({"template": "mnist"}, "template"),
        ({"width_multiplier": 0}, "width_multiplier"),
        ({"blocks": (1, 2)}, "blocks"),
    ],
)
def test_invalid_specs_name_the_field(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"template": "imagenet", "depth": 50, "cardinality": 4}
    args.update(kwargs)
    with pytest.raises(SpecError, match=field):
        make_spec(**args)  # type: ignore[arg-type]


def test_stage_and_net_validation() -> None:
    with pytest.raises(SpecError, match="stride"):
        StageSpec(1, 64, 3, 1, 4)
    with pytest.raises(SpecError, match="stages"):
        NetSpec("cifar", 16, (), 10, 32)
    with pytest.raises(SpecError, match="num_classes"):
        NetSpec("cifar", 16, (StageSpec(1, 64, 1, 1, 4),), 0, 32)


def test_specs_are_hashable_and_round_trip() -> None:
    rng = random.Random(0)
    for _ in range(20):
        spec = make_spec(
            "cifar",
            rng.choice([11, 20, 29]),
            rng.choice([1, 2, 4, 8]),
            rng.randint(1, 16),
            width_multiplier=rng.choice([0.25, 0.5, 1.0]),
        )
        again = spec_from_dict(spec.to_dict())
        assert again == spec and hash(again) == hash(spec)
    assert len({make_spec("cifar", 29, 2, 4), make_spec("cifar", 29, 2, 4)}) == 1
    with pytest.raises(SpecError, match="spec dict"):
        spec_from_dict({"template": "cifar"})


def test_presets_registry() -> None:
    for name in [
        "resnet50",
        "resnet101",
        "resnet152",
        "resnext50_32x4d",
        "resnext101_32x4d",
        "resnext101_32x8d",
        "resnext101_64x4d",
        "resnext101_2x64d",
        "resnext29_8x64d",
        "resnext29_16x64d",
        "resnext50_2x40d",
        "resnext50_4x24d",
        "resnext50_8x14d",
    ]:
        assert get_spec(name).name == name
    assert all(spec.name == name for name, spec in PRESETS.items())
    with pytest.raises(SpecError, match=r"valid: .*resnet50"):
        get_spec("resnet51")


def test_names_at_awkward_multipliers_stay_plain() -> None:
    """Rounding of 64·m and 256·m apart never turns a ResNet into a `_stem` or `1x..d` name."""
    for step in range(5, 300):
        m = step / 100
        resnet = make_spec("imagenet", 50, 1, width_multiplier=m)  # the baseline's d at m
        assert resnet.name.startswith("resnet50") and "_stem" not in resnet.name, m
        assert resnet.width_multiplier == resnet.stages[0].w_out / 256
    assert make_spec("imagenet", 50, 1, width_multiplier=0.21).name == "resnet50_w0.2109"


def test_malformed_spec_dicts_and_stride_types() -> None:
    good = make_spec("cifar", 11, 2, 4).to_dict()
    with pytest.raises(SpecError, match="spec dict"):
        spec_from_dict({**good, "stages": ["ab"]})
    with pytest.raises(SpecError, match="stride"):
        spec_from_dict({**good, "stages": [{**good["stages"][0], "stride": 2.0}]})
    with pytest.raises(SpecError, match="blocks"):
        make_spec("imagenet", cardinality=4, blocks=(0, 1, 1, 1))
    with pytest.raises(SpecError, match="depth"):
        make_spec("imagenet", "50", 4, 4)  # type: ignore[arg-type]

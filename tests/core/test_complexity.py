"""Analytic complexity: closed forms per primitive, golden numbers, properties over random specs."""

from __future__ import annotations

import random

import pytest

from archlab.complexity import (
    block_params,
    complexity,
    conv_macs,
    conv_out_size,
    conv_params,
    fc_macs,
    template_block_params,
    totals,
)
from archlab.errors import SpecError
from archlab.presets import get_spec
from archlab.space import NetSpec, make_spec


def test_primitives_closed_form() -> None:
    assert conv_out_size(224, 7, 2, 3) == 112
    assert conv_out_size(112, 3, 2, 1) == 56
    assert conv_out_size(7, 3, 2, 1) == 4
    assert conv_params(128, 128, 3, 32) == 3 * 3 * 4 * 128
    assert conv_macs(128, 128, 3, 32, 56) == 3 * 3 * 4 * 128 * 56 * 56
    assert fc_macs(2048, 1000) == 2048 * 1000 + 1000
    # Eq. 4 with 256 in and out: the paper's ~70k of Sec. 3.3.
    assert block_params(256, 256, 64, 1) == 256 * 64 + 9 * 64 * 64 + 64 * 256 == 69_632


@pytest.mark.parametrize(
    ("c", "d", "expected"),
    [(1, 64, 69_632), (2, 40, 69_760), (4, 24, 69_888), (8, 14, 71_456), (32, 4, 70_144)],
)
def test_table2_block_params(c: int, d: int, expected: int) -> None:
    assert template_block_params(make_spec("imagenet", 50, c, d)) == expected


@pytest.mark.parametrize(
    ("name", "macs", "params", "acts"),
    [
        ("resnet50", 4_089_185_256, 25_557_032, 11_315_688),
        ("resnext50_32x4d", 4_230_480_872, 25_028_904, 14_602_216),
        ("resnext101_64x4d", None, 83_455_272, None),
        ("resnext101_32x8d", None, 88_791_336, None),
        ("resnext29_8x64d", None, 34_426_698, None),
        ("resnext29_16x64d", None, 68_155_210, None),
    ],
)
def test_golden_networks(name: str, macs: int | None, params: int, acts: int | None) -> None:
    result = complexity(get_spec(name))
    assert result.params == params
    if macs is not None:
        assert result.macs == macs
    if acts is not None:
        assert result.acts == acts


def test_resnet50_activation_breakdown() -> None:
    rows = complexity(get_spec("resnet50")).layers
    assert sum(r.acts for r in rows if r.kind == "conv") == 11_113_984
    assert sum(r.acts for r in rows if r.kind == "maxpool") == 200_704
    assert sum(r.acts for r in rows if r.kind == "fc") == 1_000


def test_layer_paths_follow_torchvision() -> None:
    paths = [r.path for r in complexity(get_spec("resnext50_32x4d")).layers]
    for expected in [
        "conv1",
        "bn1",
        "maxpool",
        "layer1.0.conv2",
        "layer1.0.bn2",
        "layer1.0.downsample.0",
        "layer1.0.downsample.1",
        "layer4.2.bn3",
        "fc",
    ]:
        assert expected in paths
    assert "layer1.1.downsample.0" not in paths


def _random_spec(rng: random.Random) -> NetSpec:
    template = rng.choice(["imagenet", "cifar"])
    n_stages = 4 if template == "imagenet" else 3
    return make_spec(
        template,
        cardinality=rng.choice([1, 2, 3, 4, 8, 16, 32]),
        bottleneck_width=rng.randint(1, 64),
        blocks=tuple(rng.randint(1, 4) for _ in range(n_stages)),
        width_multiplier=rng.choice([0.125, 0.25, 0.5, 1.0, 1.5]),
        num_classes=rng.randint(2, 1000),
    )


def test_properties_over_random_specs() -> None:
    rng = random.Random(1234)
    for _ in range(200):
        spec = _random_spec(rng)
        size = 32 * rng.randint(1, 7)
        result = complexity(spec, size)
        assert result.macs == sum(r.macs for r in result.layers)
        assert result.params == sum(r.params for r in result.layers)
        assert result.acts == sum(r.acts for r in result.layers)
        assert totals(spec, size) == (result.macs, result.params, result.acts)
        bigger = complexity(spec, 2 * size)
        conv = sum(r.macs for r in result.layers if r.kind == "conv")
        conv2 = sum(r.macs for r in bigger.layers if r.kind == "conv")
        assert conv2 == 4 * conv
        assert bigger.params == result.params


def test_input_too_small_is_refused() -> None:
    spec = get_spec("resnext50_32x4d")
    assert complexity(spec, 32).macs > 0
    with pytest.raises(SpecError, match="input too small"):
        complexity(spec, 16)
    with pytest.raises(SpecError, match="input_size"):
        complexity(spec, 0)

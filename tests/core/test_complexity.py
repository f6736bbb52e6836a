"""Analytic complexity: closed forms per primitive, golden numbers, properties over random specs."""

from __future__ import annotations

import random

import pytest

from archlab import layers
from archlab.blocks import iter_blocks
from archlab.complexity import (
    block_params,
    clear_block_cache,
    complexity,
    conv_macs,
    conv_out_size,
    conv_params,
    fc_macs,
    layer_numbers,
    template_block_params,
    totals,
)
from archlab.errors import SpecError
from archlab.layers import Layer, block_recipe, head_recipe, stem_recipe
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


def test_input_too_small_names_the_layer_whatever_the_cache_holds() -> None:
    """The fast path formats no names, yet a refusal names the layer by its whole path."""
    cases = [
        (get_spec("resnext50_32x4d"), 16, "layer4.0.conv2"),
        (get_spec("resnext29_8x64d"), 2, "layer3.0.conv2"),
    ]
    for warm in (False, True):
        clear_block_cache()
        for spec, size, path in cases:
            if warm:  # every block of the spec counted before, at its own sizes
                totals(spec)
                complexity(spec)
            message = f"input too small: {path} would downsample a 1x1 map"
            with pytest.raises(SpecError, match=message):
                totals(spec, size)
            with pytest.raises(SpecError, match=message):
                complexity(spec, size)


def _recipe_sums(spec: NetSpec, size: int) -> tuple[int, int, int]:
    """The reference: every layer of the recipe walked in forward order; no cache, no runs."""
    sums = [0, 0, 0]

    def walk(layers: tuple[Layer, ...], h: int) -> int:
        for layer in layers:
            h, macs, params, acts = layer_numbers(layer, h)
            sums[0], sums[1], sums[2] = sums[0] + macs, sums[1] + params, sums[2] + acts
        return h

    h = walk(stem_recipe(spec), size)
    for block in iter_blocks(spec):
        recipe = block_recipe(block)
        walk(recipe.shortcut, h)  # the shortcut reads the block's input
        h = walk(recipe.branch, h)
    walk(head_recipe(spec), h)
    return sums[0], sums[1], sums[2]


def _broad_sample() -> list[tuple[NetSpec, int]]:
    """Both templates, every ImageNet depth, C and d from Table 2 and beyond, four widths,
    odd and even input sizes, explicit block counts and other class counts."""
    sample = []
    pairs = [(1, 64), (2, 40), (4, 24), (32, 4), (8, 3)]
    for depth in (26, 50, 101, 152, 200):
        for i, ((c, d), m) in enumerate((p, m) for p in pairs for m in (0.125, 0.5, 1.0)):
            spec = make_spec("imagenet", depth, c, d, width_multiplier=m)
            sample.append((spec, (33, 64, 97, 224)[i % 4]))
    for depth in (11, 29, 38):
        for i, ((c, d), m) in enumerate((p, m) for p in pairs for m in (0.125, 0.25, 1.5)):
            spec = make_spec("cifar", depth, c, d, width_multiplier=m, num_classes=10 + i)
            sample.append((spec, (3, 8, 17, 32, 64)[i % 5]))
    for blocks in [(1, 1, 1, 1), (5, 1, 2, 7)]:
        sample.append((make_spec("imagenet", cardinality=3, blocks=blocks, num_classes=7), 71))
    rng = random.Random(99)
    sample += [(_random_spec(rng), 32 * rng.randint(1, 7)) for _ in range(40)]
    return sample


def test_totals_are_the_rows_sums_whatever_the_cache_holds() -> None:
    """totals() (runs, cached block sums) equals complexity()'s rows (cached rows) and a plain
    walk of the recipe, on a cold cache and on one warmed in other orders."""
    sample = _broad_sample()
    clear_block_cache()
    cold = [totals(spec, size) for spec, size in sample]
    assert len(set(cold)) > len(sample) // 2  # a sample of many different networks
    for i in reversed(range(len(sample))):  # rows made on a warm sums cache, backwards
        spec, size = sample[i]
        result = complexity(spec, size)
        rows = result.layers
        by_rows = (
            sum(r.macs for r in rows),
            sum(r.params for r in rows),
            sum(r.acts for r in rows),
        )
        assert cold[i] == by_rows == (result.macs, result.params, result.acts)
        assert cold[i] == _recipe_sums(spec, size)
    for i in random.Random(7).sample(range(len(sample)), len(sample)):  # warm, shuffled
        assert totals(*sample[i]) == cold[i]
    clear_block_cache()
    for i in random.Random(8).sample(range(len(sample)), len(sample)):  # cold, shuffled
        spec, size = sample[i]
        assert complexity(spec, size).macs == cold[i][0]
        assert totals(spec, size) == cold[i]
    assert totals(sample[0][0]) == _recipe_sums(sample[0][0], sample[0][0].input_size)


def test_a_run_whose_blocks_grow_the_map_is_counted_block_by_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run is multiplied only while its map size holds: a 4x4 conv2 (padding 2) grows the map
    by one each block, so every block of a run counts differently and totals walks them all."""
    original = layers.conv_bn

    def four_by_four(name: str, bn: str, c_in: int, c_out: int, kernel: int, *a: int):  # type: ignore[no-untyped-def]
        return original(name, bn, c_in, c_out, 4 if kernel == 3 else kernel, *a)

    spec = make_spec("cifar", 38, 2, 4, width_multiplier=0.125)  # 4 blocks a stage
    monkeypatch.setattr(layers, "conv_bn", four_by_four)
    clear_block_cache()
    try:
        result = complexity(spec, 16)
        sizes = [r.h_out for r in result.layers if r.path.endswith(".conv2")]
        assert sizes[:5] == [18, 19, 20, 21, 11]  # stem 17, layer1.0-3 grow, layer2.0 halves
        assert totals(spec, 16) == (result.macs, result.params, result.acts)
        assert totals(spec, 16) == _recipe_sums(spec, 16)
    finally:
        clear_block_cache()  # no 4x4 counts left behind for the next test

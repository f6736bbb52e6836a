"""The complexity-matching solver and grid enumeration."""

from __future__ import annotations

import itertools

import pytest

from archlab.complexity import totals
from archlab.errors import SolverError, SpecError
from archlab.search.solver import (
    depth_blocks,
    enumerate_space,
    match_cardinality,
    match_depth,
    match_flops,
)
from archlab.space import IMAGENET_BLOCKS, make_spec


@pytest.mark.parametrize(
    ("c", "d", "group_width", "block_params"),
    [
        (1, 64, 64, 69_632),
        (2, 40, 80, 69_760),
        (4, 24, 96, 69_888),
        (8, 14, 112, 71_456),
        (32, 4, 128, 70_144),
    ],
)
def test_table2_exactly(c: int, d: int, group_width: int, block_params: int) -> None:
    match = match_flops(c)
    assert match.spec.bottleneck_width == d
    assert match.spec.group_width == group_width
    assert match.value == block_params
    assert match.to_dict()["baseline_block_params"] == 69_632


def test_table4_two_times_complexity() -> None:
    assert match_flops(64, depth=101, complexity=2).spec.bottleneck_width == 4
    assert match_flops(2, depth=101, complexity=2).spec.bottleneck_width == 64


def test_network_scope_is_closest_in_macs() -> None:
    match = match_flops(8, scope="network")
    target = totals(make_spec("imagenet", 50, 1, 64))[0]
    d = match.spec.bottleneck_width
    err = abs(totals(make_spec("imagenet", 50, 8, d))[0] - target)
    for other in (d - 1, d + 1):
        assert abs(totals(make_spec("imagenet", 50, 8, other))[0] - target) >= err
    assert match.relative_error == pytest.approx(err / target)


def test_tie_goes_to_smaller_d() -> None:
    # block params C(512d + 9d^2) for C=1: choose a target exactly between d=10 and d=11.
    cost = {d: 512 * d + 9 * d * d for d in (10, 11)}
    midpoint = (cost[10] + cost[11]) / 2
    factor = midpoint / 69_632
    assert match_flops(1, complexity=factor).spec.bottleneck_width == 10


def test_inverse_matches_cardinality() -> None:
    assert match_cardinality(4).spec.cardinality == 32
    assert match_cardinality(64).spec.cardinality == 1


def test_cifar_and_width_multiplier() -> None:
    match = match_flops(8, depth=29, template="cifar")
    assert match.baseline.name == "resnext29_1x64d"
    tiny = match_flops(4, depth=29, template="cifar", width_multiplier=0.25)
    assert tiny.spec.stem_width == 16 and tiny.relative_error < 0.05


def test_json_has_required_keys() -> None:
    data = match_flops(32).to_dict()
    for key in [
        "cardinality",
        "bottleneck_width",
        "group_width",
        "block_params",
        "baseline_block_params",
        "relative_error",
        "network",
        "baseline_network",
        "name",
    ]:
        assert key in data
    assert set(data["network"]) == {"macs", "params", "acts"}
    assert data["network"]["macs"] == 4_230_480_872


def test_unreachable_targets_are_refused() -> None:
    with pytest.raises(SolverError, match="cannot reach"):
        match_flops(100_000)
    with pytest.raises(SolverError, match="complexity"):
        match_flops(4, complexity=0)
    with pytest.raises(SolverError, match="scope"):
        match_flops(4, scope="layer")
    with pytest.raises(SpecError, match="cardinality"):
        match_flops(0)


def test_enumerate_space_grid_and_bands() -> None:
    frame = enumerate_space(depths=(50, 101), cardinalities=(1, 2, 4, 8, 32))
    assert len(frame) == 10
    assert list(frame[frame.depth == 50].bottleneck_width) == [64, 40, 24, 14, 4]
    grid = enumerate_space(depths=(50,), cardinalities=(1, 2), bottleneck_widths=(4, 4, 8))
    assert len(grid) == 4  # duplicates dropped
    band = enumerate_space(depths=(50,), cardinalities=(1, 32), macs_band=(4.1e9, None))
    assert list(band.name) == ["resnext50_32x4d"]
    with pytest.raises(SpecError, match="cardinalities"):
        enumerate_space(cardinalities=())


# --------------------------------------------------------------------------- match_depth


@pytest.mark.parametrize(("x", "depth"), [(6, 50), (23, 101), (40, 152), (56, 200)])
def test_imagenet_depth_path_passes_he_et_al_resnets(x: int, depth: int) -> None:
    blocks = depth_blocks("imagenet", x)
    assert blocks == IMAGENET_BLOCKS[depth]  # He et al. 2016: ResNet-50/101/152/200


def test_depth_blocks_grow_one_block_per_step() -> None:
    for template in ("imagenet", "cifar"):
        sums = [sum(depth_blocks(template, x)) for x in range(3, 80)]
        assert all(b - a == 1 for a, b in itertools.pairwise(sums))
    assert depth_blocks("cifar", 9) == (3, 3, 3)  # 9n + 2 = 29


def test_match_depth_baseline_is_itself_and_2x_is_about_resnet101() -> None:
    same = match_depth()  # C=1, d=64 at 1x: ResNet-50 itself
    assert same.spec.blocks == (3, 4, 6, 3) and same.relative_error == 0
    two = match_depth(complexity=2)
    assert two.spec.blocks[2] > 20 and two.relative_error < 0.02  # about ResNet-101's 7.8 GMACs
    # Table 4's baseline is ResNet-101: 2x of it lands near ResNet-200.
    table4 = match_depth(complexity=2, baseline_depth=101)
    assert abs(table4.spec.depth - 200) <= 12
    assert table4.target == 2 * totals(make_spec("imagenet", 101))[0]


def test_match_depth_is_the_closest_depth() -> None:
    m = match_depth(template="cifar", complexity=2, width_multiplier=0.25)
    macs = [
        totals(
            make_spec("cifar", 0, 1, 16, width_multiplier=0.25, blocks=depth_blocks("cifar", x))
        )[0]
        for x in range(3, 40)
    ]
    best = min(abs(v - m.target) for v in macs)
    assert abs(m.value - m.target) == best
    assert m.relative_error < 0.05
    assert match_depth(template="cifar", scope="params", complexity=2).scope == "params"


def test_match_depth_refusals() -> None:
    with pytest.raises(SolverError, match="scope"):
        match_depth(scope="block")
    with pytest.raises(SolverError, match="cannot reach"):
        match_depth(template="cifar", complexity=0.01)
    with pytest.raises(SolverError, match="template"):
        match_depth(template="mnist")


def test_params_scope_matches_network_params() -> None:
    m = match_flops(4, 29, "cifar", 1.0, "params", width_multiplier=0.5)
    assert m.value == totals(m.spec)[1]
    assert m.target == totals(m.baseline)[1]

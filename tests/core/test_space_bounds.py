"""Absurd sizes in a spec are refused at once, each error stating its bound (issue 12, class 4)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from archlab.errors import SpecError
from archlab.search.solver import match_flops
from archlab.space import (
    MAX_DEPTH,
    MAX_INPUT_SIZE,
    MAX_NUM_CLASSES,
    MAX_WIDTH,
    StageSpec,
    make_spec,
    spec_from_dict,
)

Cli = Callable[..., tuple[int, str, str]]


def test_the_bounds_admit_the_deepest_published_network() -> None:
    assert make_spec("cifar", MAX_DEPTH).depth == 1001  # ResNet-1001: 9 * 111 + 2
    assert make_spec("imagenet", 200, 64, 4).depth == 200


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"template": "cifar", "depth": 1_000_001},
         "depth must be at most 1,001 (ResNet-1001 is the deepest in He et al. 2016), "
         "got 1,000,001"),
        ({"template": "imagenet", "depth": 10**12}, "depth must be at most 1,001"),
        ({"blocks": (3, 4, 10**6, 3)}, "depth must be at most 1,001 (ResNet-1001"),
        ({"cardinality": 10**9}, f"cardinality must be at most {MAX_WIDTH:,}"),
        ({"bottleneck_width": 10**9}, f"bottleneck_width must be at most {MAX_WIDTH:,}"),
        ({"cardinality": 4096, "bottleneck_width": 4096}, "group_width must be at most"),
        ({"width_multiplier": 1e6}, "width_multiplier must be in (0, 64], got 1000000.0"),
        ({"input_size": 10**6}, f"input_size must be at most {MAX_INPUT_SIZE:,}"),
        ({"num_classes": 10**9}, f"num_classes must be at most {MAX_NUM_CLASSES:,}"),
    ],
    ids=["cifar-depth", "imagenet-depth", "blocks", "cardinality", "d", "group-width",
         "multiplier", "input-size", "classes"],
)  # fmt: skip
def test_make_spec_refuses_absurd_values(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError) as info:
        make_spec(**kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_stage_and_spec_dicts_are_bounded() -> None:
    with pytest.raises(SpecError, match=r"depth must be at most 333 .*got 1,000,000"):
        StageSpec(depth=10**6, w_out=256, stride=1, cardinality=1, bottleneck_width=64)
    with pytest.raises(SpecError, match=f"w_out must be at most {MAX_WIDTH:,}"):
        StageSpec(depth=1, w_out=10**9, stride=1, cardinality=1, bottleneck_width=64)
    # Every stage under its own bound, the network over the depth bound: 3 * 600 + 2 layers.
    data = make_spec("cifar", 29).to_dict()
    for stage in data["stages"]:
        stage["depth"] = 200
    with pytest.raises(SpecError, match=r"depth must be at most 1,001 .*got 1,802"):
        spec_from_dict(data)
    data = make_spec("cifar", 29).to_dict()
    data["stem_width"] = 10**8
    with pytest.raises(SpecError, match="stem_width must be at most"):
        spec_from_dict(data)


def test_solver_refuses_a_huge_depth_before_searching() -> None:
    with pytest.raises(SpecError, match="depth must be at most 1,001"):
        match_flops(32, depth=10**6 * 9 + 2, template="cifar")


def test_match_flops_cli_refuses_a_huge_depth(cli: Cli) -> None:
    code, out, err = cli("match-flops", "--cardinality", "8", "--template", "cifar",
                         "--depth", "1000001")  # fmt: skip
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "depth must be at most 1,001" in err


def test_space_file_with_a_huge_depth_is_refused(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "space.toml"
    path.write_text(
        'template = "cifar"\ncardinality = 2\nbottleneck_width = 4\nwidth_multiplier = 0.25\n'
        "[depth]\nlow = 11\nhigh = 1000000001\n"
    )
    code, _, err = cli("space", "--sample", "3", "--space", str(path))
    assert code == 2 and "depth must be at most 1,001" in err and "Traceback" not in err


def test_candidates_file_with_a_huge_depth_is_refused(cli: Cli, tmp_path: Path) -> None:
    spec = make_spec("cifar", 11, width_multiplier=0.125).to_dict()
    spec["stages"][0]["depth"] = 10**7
    path = tmp_path / "candidates.json"
    path.write_text(json.dumps([{"spec": spec}]))
    code, _, err = cli("train-candidates", "--candidates", str(path), "--store",
                       str(tmp_path / "s.db"), "--epochs", "1")  # fmt: skip
    assert code == 2 and "depth must be at most 333" in err and "Traceback" not in err
    assert not (tmp_path / "s.db").exists()  # refused before anything was stored

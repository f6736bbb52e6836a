"""Names round-trip (issue 14): every name archlab prints is read back by get_spec and `count`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from archlab.complexity import totals
from archlab.errors import SpecError
from archlab.names import spec_from_name
from archlab.presets import PRESETS, get_spec
from archlab.search.ranges import ParamRange
from archlab.search.sampling import DesignSpace, default_space, sample_space
from archlab.search.solver import match_cardinality, match_depth, match_flops
from archlab.space import NetSpec, make_spec, spec_from_dict, with_overrides
from archlab.train.plan import select_candidates

Cli = Callable[..., tuple[int, str, str]]
MULTIPLIERS = (1.0, 0.5, 0.3, 0.25, 0.21, 0.125, 1.5)


def _round_trips(spec: NetSpec) -> None:
    """The name rebuilds the spec, up to the data it was made for."""
    back = spec_from_name(spec.name)
    assert back.name == spec.name
    assert with_overrides(back, num_classes=spec.num_classes, input_size=spec.input_size) == spec
    assert get_spec(spec.name).name == spec.name


def _matched() -> Iterator[NetSpec]:
    for m in MULTIPLIERS:
        for template, depth in (("cifar", 29), ("cifar", 11), ("imagenet", 50), ("imagenet", 26)):
            for c in (1, 2, 4, 8, 32):
                for scope in ("block", "network"):
                    match = match_flops(
                        c, depth, template, 1.0, scope, width_multiplier=m, max_error=float("inf")
                    )
                    yield match.spec
                    yield match.baseline
            yield match_cardinality(3, depth, template, 1.0, width_multiplier=m).spec
            yield match_depth(template=template, complexity=2.0, width_multiplier=m).spec
        yield match_depth(2, None, "cifar", 3.0, width_multiplier=m).spec  # odd CIFAR blocks


def test_presets_and_matched_specs_round_trip() -> None:
    for spec in PRESETS.values():
        _round_trips(spec)
    for spec in _matched():
        _round_trips(spec)


def test_sampled_specs_round_trip_over_many_seeds() -> None:
    spaces = [
        default_space("cifar", (11, 20, 29), width_multiplier=0.125),
        default_space("imagenet", (26, 50), width_multiplier=0.3),
        DesignSpace(  # blocks, group widths and a continuous multiplier
            template="cifar",
            blocks=(ParamRange(1, 3), ParamRange(1, 3), ParamRange(1, 3)),
            cardinality=ParamRange(1, 16, "pow2"),
            group_width=ParamRange(4, 64),
            width_multiplier=ParamRange(0.05, 2.0, "uniform"),
        ),
        DesignSpace(
            template="imagenet",
            blocks=tuple(ParamRange(1, 4) for _ in range(4)),
            cardinality=ParamRange(1, 32, "log-uniform"),
            bottleneck_width=ParamRange(1, 32, "log-uniform"),
            width_multiplier=ParamRange(0.1, 1.0, "uniform"),
        ),
    ]
    names = set()
    for space in spaces:
        for seed in range(25):
            for spec in sample_space(space, 4, seed).specs:
                _round_trips(spec)
                names.add(spec.name)
    assert any("_b" in n for n in names) and any(re.search(r"_w0\.\d{4}", n) for n in names)


def test_awkward_multipliers_blocks_stems_and_ambiguous_depths() -> None:
    for step in range(1, 800, 3):  # widths 1/256 .. 3.1x, including rounding edges
        m = step / 256 + 0.0017
        for spec in (
            make_spec("imagenet", 50, width_multiplier=m),
            make_spec("cifar", 29, 8, 3, width_multiplier=m),
        ):
            _round_trips(spec)
    odd = make_spec("imagenet", 50, 4, 24, blocks=(2, 3, 4, 1), width_multiplier=0.3)
    cifar = make_spec("cifar", 0, 2, 5, blocks=(1, 2, 2), width_multiplier=0.125)
    for spec in (odd, cifar, replace(odd, stem_width=7), replace(make_spec(), stem_width=32)):
        _round_trips(spec)
    assert replace(make_spec(), stem_width=32).name == "resnet50_stem32"
    # CIFAR depths 101 and 200 are ImageNet depths too: the name carries the blocks.
    deep = make_spec("cifar", 101, 8, 4)
    assert deep.name == "resnext101_8x4d_b11-11-11"
    _round_trips(deep)
    assert get_spec("resnext101_8x4d").template == "imagenet"


def test_the_issue_example_means_what_it_says() -> None:
    spec = get_spec("resnext29_8x3d_w0.25")
    assert (spec.template, spec.cardinality, spec.bottleneck_width) == ("cifar", 8, 3)
    assert (spec.stem_width, spec.stages[0].w_out, spec.input_size) == (16, 64, 32)
    assert spec == make_spec("cifar", 29, 8, 3, width_multiplier=0.25)
    assert get_spec("resnet50_w0.25").bottleneck_width == 16  # the baseline's d, scaled
    assert [s.name for s in select_candidates(models=["resnext29_8x3d_w0.25"])] == [spec.name]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("resnext51_32x4d", r"depth 51 is neither an ImageNet depth .*; valid: resnetD or "),
        ("vgg16", r"^unknown model 'vgg16'; valid: resnetD or resnextD_CxDd"),
        ("resnet29", "no ImageNet depth"),
        ("resnext29_8x3d_b1-1-1-1-1", "4 stages"),
        ("resnext29_8x3d_b1-1-1", "make depth 11, not 29"),
        ("resnext29_0x3d", "cardinality must be a positive integer"),
        ("resnext29_8x3d_w0", "width_multiplier must be in"),
        ("resnext29_8x3d_w99", "width_multiplier must be in"),
        ("resnext29_8x3d_stem0", "stem_width must be a positive integer"),
        ("resnext29_8x3d_custom1a2b3c", "cannot be rebuilt; give its spec in a JSON spec file"),
        ("resnext29_8x" + "9" * 40 + "d", "unknown model"),
    ],
)
def test_unreadable_names_are_refused_in_one_line(name: str, message: str) -> None:
    with pytest.raises(SpecError, match=message) as info:
        get_spec(name)
    assert "\n" not in str(info.value) and len(str(info.value)) < 400


def _names_printed(cli: Cli) -> list[str]:
    """Names the name-printing commands print, in their JSON forms."""
    printed = []
    for args in (
        [
            "space",
            "--template",
            "cifar",
            "--width-multiplier",
            "0.125",
            "--cardinalities",
            "1,2,4,8",
            "--json",
        ],
        ["space", "--width-multiplier", "0.3", "--cardinalities", "1,4", "--json"],
        ["space", "--template", "cifar", "--sample", "6", "--seed", "3", "--json"],
        ["space", "--sample", "4", "--width-multiplier", "0.25", "--depth", "26", "--json"],
    ):
        code, out, err = cli(*args)
        assert code == 0, err
        printed += [row["name"] for row in json.loads(out)]
    for args in (
        ["-C", "2", "--template", "cifar", "--width-multiplier", "0.125"],
        ["-d", "3", "--template", "cifar", "--width-multiplier", "0.25"],
        ["-C", "4", "--solve", "depth", "--template", "cifar", "--complexity", "2"],
    ):
        code, out, err = cli("match-flops", *args, "--json")
        assert code == 0, err
        printed += [json.loads(out)["name"], json.loads(out)["baseline_name"]]
    code, out, err = cli(
        "count", "-C", "8", "-d", "3", "--width-multiplier", "0.25", "--template", "cifar",
        "--counters", "analytic", "--json",
    )  # fmt: skip
    assert code == 0, err
    printed.append(json.loads(out)["name"])
    return printed


def test_every_printed_name_is_accepted_back_by_count(cli: Cli) -> None:
    printed = _names_printed(cli)
    assert "resnext29_8x3d_w0.25" in printed  # count -C 8 -d 3 at 1/4 width counts 8x3d
    for name in dict.fromkeys(printed):
        code, out, err = cli("count", name, "--counters", "analytic", "--json")
        assert code == 0, (name, err)
        counted = json.loads(out)
        spec = get_spec(name)
        assert counted["name"] == name
        assert counted["analytic"]["macs"] == totals(spec)[0]


def test_space_json_specs_match_their_names(cli: Cli) -> None:
    code, out, _ = cli("space", "--template", "cifar", "--width-multiplier", "0.25", "--json")
    assert code == 0
    for row in json.loads(out):
        assert get_spec(row["name"]) == spec_from_dict(row["spec"])


def test_count_refuses_unreadable_names_in_one_line(cli: Cli) -> None:
    code, out, err = cli("count", "resnext29_8x3d_custom1a2b3c")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "JSON spec file" in err
    code, _, err = cli("count", "resnext30_8x3d")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "resnextD_CxDd" in err


def test_train_candidates_models_take_printed_names(cli: Cli) -> None:
    import tomllib

    names = ["resnext29_8x3d_w0.25", "resnet26_w0.125", "resnext14_2x5d_b1-2-1_w0.3008"]
    code, out, err = cli("train-candidates", "--models", ",".join(names), "--print-config")
    assert code == 0, err
    plan = tomllib.loads(out)
    assert [spec_from_dict(c).name for c in plan["candidates"]] == names

"""The library refuses contradictory options itself (issue 18, item 3): the match-flops, space
and count workflows give a Python caller the rule the CLI gives, in keyword names."""

from __future__ import annotations

from typing import Any

import pytest

from archlab.errors import ArchlabError, OptionError
from archlab.search.solver import MATCH_TOLERANCE
from archlab.workflows.match import check_tolerance, run_match
from archlab.workflows.space import Draw, Grid, run_space

TINY_CIFAR: dict[str, Any] = {"template": "cifar", "width_multiplier": 0.125}


def test_option_error_names_keywords_and_renders_flags() -> None:
    exc = OptionError("{} needs {}", "space_file", "sample")
    assert str(exc) == "space_file needs sample" and isinstance(exc, ArchlabError)
    assert exc.render(lambda k: "--" + k.replace("_", "-")) == "--space-file needs --sample"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give exactly one of cardinality (to solve d) or bottleneck_width"),
        ({"cardinality": 4, "bottleneck_width": 4}, "give exactly one of cardinality"),
        ({"cardinality": 4, "solve": "width"}, "solve must be one of depth, got 'width'"),
        ({"cardinality": 4, "tolerance": 5}, "tolerance must be a fraction in (0, 1)"),
        ({"cardinality": 4, "tolerance": 0}, "tolerance must be a fraction in (0, 1)"),
        ({"solve": "depth", "scope": "block"}, "scope must be network or params"),
    ],
)
def test_run_match_refuses_contradictions(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ArchlabError) as info:
        run_match(**kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_run_match_chooses_the_solver_and_the_scope() -> None:
    d = run_match(cardinality=32).match
    assert (d.spec.bottleneck_width, d.scope) == (4, "block")  # Table 2: 32x4d
    c = run_match(bottleneck_width=4).match
    assert c.spec.cardinality == 32
    deeper = run_match(solve="depth", complexity=2).match
    assert deeper.scope == "network" and deeper.spec.depth > 50  # depth moves MACs, not Eq. 4


def test_a_match_beyond_the_tolerance_warns_once_and_is_still_solved() -> None:
    result = run_match(cardinality=8, **TINY_CIFAR)
    assert result.match.relative_error == pytest.approx(0.2059, abs=1e-4)
    assert result.tolerance == MATCH_TOLERANCE == 0.05
    [line] = result.warnings
    assert "resnext29_8x2d_w0.125" in line and "20.59% off" in line and "tolerance 5%" in line
    assert run_match(cardinality=8, tolerance=0.25, **TINY_CIFAR).warnings == ()
    assert run_match(cardinality=32).warnings == ()  # Table 2's match is 0.73% off


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": 1}, "seed needs sample"),
        ({"space_file": "s.toml"}, "space_file needs sample"),
        ({"sample": 3, "complexity": 2.0}, "complexity does not apply to sample"),
        ({"sample": 3, "tolerance": 0.1}, "tolerance does not apply to sample"),
        ({"bottleneck_widths": (4,), "scope": "network"}, "scope does not apply with bottleneck"),
        ({"bottleneck_widths": (4,), "tolerance": 0.1}, "tolerance does not apply with bottl"),
        ({"sample": 3, "space_file": "s.toml", "depths": (29,)}, "depths does not apply with sp"),
        ({"tolerance": 1.5}, "tolerance must be a fraction"),
    ],
)
def test_run_space_refuses_options_of_the_other_mode(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(OptionError, match=message):
        run_space(**kwargs)


def test_the_requests_refuse_on_their_own() -> None:
    with pytest.raises(OptionError, match="complexity does not apply with bottleneck_widths"):
        Grid(bottleneck_widths=(4,), complexity=2.0)
    with pytest.raises(OptionError, match="template does not apply with space_file"):
        Draw(3, space_file="s.toml", template="cifar")  # type: ignore[arg-type]


def test_run_space_warns_per_row_beyond_the_tolerance() -> None:
    result = run_space(cardinalities=(1, 2, 8), **TINY_CIFAR)
    assert list(result.frame["name"])[2] == "resnext29_8x2d_w0.125"
    [line] = result.warnings  # C = 1 and 2 match within 1%
    assert line.startswith("resnext29_8x2d_w0.125 is 20.59% off")
    assert run_space(cardinalities=(1, 2, 8), tolerance=0.3, **TINY_CIFAR).warnings == ()
    drawn = run_space(sample=2, template="cifar", width_multiplier=0.25)
    assert drawn.sampled and drawn.warnings == ()  # a draw matches nothing, so warns of nothing


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give a model name (e.g. resnext50_32x4d), spec options such as cardinality"),
        ({"name": "resnet50", "cardinality": 4}, "give a model name or spec options such as"),
        ({"model": "torch.nn:Linear", "name": "resnet50"}, "model counts any module and name"),
        ({"model": "torch.nn:Linear", "depth": 50}, "and depth is for archlab's own specs"),
        ({"model": "torch.nn:Linear", "measure": True}, "and measure is for archlab's own"),
        ({"name": "resnet50", "input_shape": (1, 3, 8, 8)}, "input_shape needs model"),
        ({"name": "resnet50", "model_kwargs": "{}"}, "model_kwargs needs model"),
        ({"name": "resnet50", "input_sizes": (8,), "per_layer": True}, "per_layer needs a sing"),
        ({"name": "resnet50", "input_sizes": (8,), "input_size": 8}, "input_size needs a single"),
        ({"name": "resnet50", "device": "cpu"}, "device goes with measure"),
        ({"name": "resnet50", "batch_size": 2}, "batch_size goes with measure"),
    ],
)
def test_run_count_refuses_contradictions_before_counting(
    kwargs: dict[str, Any], message: str
) -> None:
    from archlab.workflows.count import run_count

    with pytest.raises(OptionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_count(**kwargs)


def test_run_count_from_spec_options_equals_the_name() -> None:
    from archlab.workflows.count import run_count

    by_options = run_count(cardinality=4, bottleneck_width=1, depth=11, counters=["analytic"],
                           **TINY_CIFAR)  # fmt: skip
    by_name = run_count("resnext11_4x1d_w0.125", counters=["analytic"])
    assert by_options.report is not None and by_name.report is not None
    assert by_options.report.name == by_name.report.name == "resnext11_4x1d_w0.125"
    assert by_options.to_dict() == by_name.to_dict()


def test_check_tolerance_takes_fractions() -> None:
    assert check_tolerance(0.05) == 0.05
    with pytest.raises(OptionError, match=r"e\.g\. 0\.05 for 5%, got True"):
        check_tolerance(True)  # type: ignore[arg-type]

"""The match-flops workflow: the solver chosen from the options, contradictions refused in
keyword names (OptionError), and a match beyond the tolerance solved with a warning."""

from __future__ import annotations

from typing import Any

import pytest

from archlab.errors import ArchlabError, OptionError
from archlab.search.solver import MATCH_TOLERANCE
from archlab.workflows.match import check_tolerance, run_match

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


def test_check_tolerance_takes_fractions() -> None:
    assert check_tolerance(0.05) == 0.05
    with pytest.raises(OptionError, match=r"e\.g\. 0\.05 for 5%, got True"):
        check_tolerance(True)  # type: ignore[arg-type]


def test_match_names_the_scope_or_solves_on_measured_time(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers.speed import fake_prepare

    from archlab.measure.speed_data import SpeedMeter

    assert run_match(cardinality=8, match="params").match.scope == "params"
    with pytest.raises(OptionError, match="scope 'block' does not apply with match macs"):
        run_match(cardinality=8, match="macs", scope="block")
    calls: list[str] = []
    prepare = fake_prepare(calls, penalty=0.1)
    monkeypatch.setattr(SpeedMeter, "_build", lambda self, t, s: prepare(t, s))
    kw: dict[str, Any] = {"template": "cifar", "width_multiplier": 0.5, "match": "latency",
                          "store": tmp_path / "s.db", "batch": 2}  # fmt: skip
    result = run_match(cardinality=8, **kw)
    assert result.speed is not None and result.speed.relative_error <= MATCH_TOLERANCE
    data = result.to_dict()
    assert data["matched_on"] == "latency" and data["match"]["batch"] == 2
    assert result.note is not None and f"{len(calls)} measurement(s) taken" in result.note
    deeper = run_match(solve="depth", cardinality=4, bottleneck_width=4, **kw)
    # Slower per MAC at C = 4: fewer blocks than the MACs match.
    assert deeper.speed is not None and deeper.speed.spec.depth < deeper.match.spec.depth

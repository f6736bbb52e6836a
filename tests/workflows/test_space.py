"""The space workflow: the mode chosen from the options, options of the other mode refused in
keyword names, and one warning per solved row beyond the tolerance."""

from __future__ import annotations

from typing import Any

import pytest

from archlab.errors import OptionError, SolverError
from archlab.workflows.space import Draw, Grid, run_space

TINY_CIFAR: dict[str, Any] = {"template": "cifar", "width_multiplier": 0.125}


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


def test_space_at_equal_speed_solves_each_c_and_reuses_the_store(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers.speed import fake_prepare

    from archlab.measure.speed_data import SpeedMeter

    calls: list[str] = []
    prepare = fake_prepare(calls, penalty=0.1)
    monkeypatch.setattr(
        SpeedMeter, "_build", lambda self, target, settings: prepare(target, settings)
    )
    kw: dict[str, Any] = {"template": "cifar", "width_multiplier": 0.5, "cardinalities": (1, 8),
                          "match": "speed", "store": tmp_path / "s.db",
                          "tolerance": 0.05}  # fmt: skip
    table = run_space(**kw)
    frame = table.frame
    assert list(frame["cardinality"]) == [1, 8]
    assert (frame["relative_error"] <= 0.05).all()
    macs_matched = run_space(template="cifar", width_multiplier=0.5, cardinalities=(8,),
                             scope="network").frame  # fmt: skip
    # Slower per MAC at C = 8: a smaller d than the MACs match.
    assert frame["bottleneck_width"].iloc[1] < macs_matched["bottleneck_width"].iloc[0]
    assert table.note is not None and f"{len(calls)} measurement(s) taken" in table.note
    measured = len(calls)
    again = run_space(**kw)
    assert len(calls) == measured and "0 measurement(s) taken" in (again.note or "")
    assert again.frame.drop(columns="spec").equals(frame.drop(columns="spec"))


def test_space_at_equal_speed_leaves_out_a_cardinality_it_cannot_match(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers.speed import fake_prepare

    from archlab.measure.speed_data import SpeedMeter

    calls: list[str] = []
    prepare = fake_prepare(calls, penalty=20.0)  # C = 64 at d = 1 already runs slower than C = 1
    monkeypatch.setattr(
        SpeedMeter, "_build", lambda self, target, settings: prepare(target, settings)
    )
    kw: dict[str, Any] = {**TINY_CIFAR, "match": "speed", "store": tmp_path / "s.db"}
    table = run_space(cardinalities=(1, 64), **kw)
    assert list(table.frame["cardinality"]) == [1]  # left out, not refused
    (line,) = table.warnings  # one line naming the closest with its ratio and interval
    assert line.startswith("left out C=64 at depth 29: no integer d brings resnext29_64x")
    assert "the closest, d=1 (resnext29_64x1d_w0.125), measures " in line
    assert "x [" in line and "\n" not in line
    # As on MACs, where a C beyond the tolerance is kept and warned of, the grid is not refused...
    macs = run_space(cardinalities=(1, 8), **TINY_CIFAR)
    assert list(macs.frame["cardinality"]) == [1, 8] and len(macs.warnings) == 1
    # ...unless no cardinality is left at all.
    with pytest.raises(SolverError, match=r"^no cardinality lies within 5% of the target: left "
                       r"out C=64 at depth 29: .* the closest, d=1 "):  # fmt: skip
        run_space(cardinalities=(64,), **kw)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sample": 3, "match": "speed"}, "match does not apply to sample"),
        ({"sample": 3, "repeats": 3}, "repeats does not apply to sample"),
        ({"bottleneck_widths": (4,), "match": "speed"}, "match does not apply with bottleneck"),
        ({"device": "cpu"}, "device needs match speed or latency"),
    ],
)
def test_speed_options_outside_a_speed_grid_are_refused(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(OptionError, match=message):
        run_space(**TINY_CIFAR, **kwargs)

"""The space workflow: the mode chosen from the options, options of the other mode refused in
keyword names, and one warning per solved row beyond the tolerance."""

from __future__ import annotations

from typing import Any

import pytest

from archlab.errors import OptionError
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

"""A study's arms re-solved at equal measured time, on a fake timer (tests/helpers/speed.py)."""

from __future__ import annotations

import pytest
from helpers.speed import fake_prepare

from archlab.errors import ArchlabError
from archlab.measure.speed_data import SpeedMeter, SpeedSettings
from archlab.search.arms import preset_arms
from archlab.search.speed_arms import LOOSE, speed_arms
from archlab.space import make_spec

WIDTH = 0.5
BASELINE = make_spec("cifar", 29, 1, None, width_multiplier=WIDTH)


def _meter(penalty: float) -> SpeedMeter:
    settings = SpeedSettings(batch=4, repeats=6, device="cpu")
    return SpeedMeter(settings, prepare=fake_prepare([], penalty))


def _macs_arms(preset: str, cardinalities: tuple[int, ...] | None = None):  # type: ignore[no-untyped-def]
    return preset_arms(preset, template="cifar", width_multiplier=WIDTH, match="macs",
                       tolerance=LOOSE, cardinalities=cardinalities)  # fmt: skip


def test_cardinality_arms_at_equal_speed_are_slimmer_than_at_equal_macs() -> None:
    macs = _macs_arms("cardinality", (1, 4))
    timed = speed_arms(macs, BASELINE, _meter(0.1), quantity="speed", tolerance=0.05, strict=True)
    assert timed.match == "speed" and timed.baseline_speed is not None
    assert timed.target == pytest.approx(timed.baseline_speed["step_ms_per_image"])
    base, c4 = timed.arms
    assert base.spec == BASELINE and base.relative_error == 0.0
    assert c4.spec.bottleneck_width < macs.arm("C=4").spec.bottleneck_width
    assert c4.relative_error <= 0.05 and c4.value == c4.to_dict()["macs"]
    assert c4.to_dict()["speed"]["name"] == c4.spec.name
    assert "speed" not in macs.arm("C=4").to_dict()  # a MACs study's arms keep their shape
    assert "baseline_speed" not in macs.to_dict()


def test_an_arm_no_integer_brings_within_tolerance() -> None:
    slow = _meter(2.0)  # 3x slower per MAC at C = 2, 11x at C = 32: it never keeps up
    with pytest.raises(ArchlabError, match=r"arm 'C=32' cannot be matched: .*the closest, d=1"):
        speed_arms(_macs_arms("cardinality", (32,)), BASELINE, slow, quantity="speed",
                   tolerance=0.05, strict=True)  # fmt: skip
    # The preset's own default list leaves it out with a note instead.
    kept = speed_arms(_macs_arms("cardinality", (2, 32)), BASELINE, slow, quantity="speed",
                      tolerance=0.9, strict=False)  # fmt: skip
    assert "C=32" not in kept.tested and any("left out arm 'C=32'" in n for n in kept.notes)


def test_deeper_arm_and_the_reference_arm() -> None:
    macs = _macs_arms("depth-width-cardinality", (2,))
    timed = speed_arms(macs, BASELINE, _meter(0.1), quantity="latency", tolerance=0.1,
                       strict=True)  # fmt: skip
    deeper, ref = timed.arm("deeper"), timed.arm("1x baseline")
    assert deeper.relative_error <= 0.1 and deeper.spec.cardinality == 1
    # The 1x reference runs at about half the 2x target: measured, signed, not tested.
    assert not ref.matched and ref.relative_error == pytest.approx(-0.5, abs=0.01)
    assert timed.target == pytest.approx(2 * timed.baseline_speed["latency_ms"])  # type: ignore[index]

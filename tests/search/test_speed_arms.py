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


def test_a_file_arm_judged_against_the_tolerance_gets_rounds_added_a_reference_does_not() -> None:
    from helpers.speed import FakeMachine

    from archlab.complexity import totals
    from archlab.search.arms import Arm, ArmSet

    twin = make_spec("cifar", 29, 1, 33, width_multiplier=WIDTH)  # 4.2% more MACs: a custom arm
    wide = make_spec("cifar", 29, 1, 45, width_multiplier=WIDTH)  # 1.6x the MACs: a reference
    noisy = {twin.name, wide.name}
    machine = FakeMachine(0.0, jitter=lambda name, r: (0.8, 1.2)[r % 2] if name in noisy
                          else 1.0)  # fmt: skip
    meter = SpeedMeter(SpeedSettings(batch=4, repeats=6, device="cpu"), prepare=machine.prepare)
    arms = ArmSet("file", "macs", 1.0, float(totals(BASELINE)[0]), (
        Arm("twin", "custom", twin, totals(twin)[0], 0.0),
        Arm("2x", "reference", wide, totals(wide)[0], 1.0, matched=False),
    ))  # fmt: skip
    timed = speed_arms(arms, BASELINE, meter, quantity="speed", tolerance=0.05, strict=True)
    # The custom arm's ratio swings +-20% every round: rounds up to the cap (4 x 6), its match
    # still within the tolerance by its median; the reference is timed at the 6 it starts with.
    assert meter.run_rounds == [24, 6]
    assert timed.arm("twin").relative_error <= 0.05 and timed.arm("2x").relative_error > 0.5

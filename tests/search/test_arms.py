"""Study arms: presets matched within the tolerance, refusals naming the closest value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archlab.complexity import totals
from archlab.errors import ArchlabError
from archlab.search.arms import file_arms, preset_arms
from archlab.space import make_spec


def test_cardinality_preset_is_table3_at_full_width() -> None:
    arms = preset_arms("cardinality", template="imagenet", match="macs")
    assert [a.label for a in arms.arms] == ["C=1", "C=2", "C=4", "C=8", "C=32"]
    assert arms.notes == ()
    base = totals(make_spec("imagenet", 50))[0]
    assert arms.target == base
    for arm in arms.arms:
        assert arm.matched and abs(arm.value - base) / base <= 0.05
        assert arm.value == totals(arm.spec)[0]
    assert arms.tested == [a.label for a in arms.arms]


def test_depth_width_cardinality_preset_roles() -> None:
    arms = preset_arms("depth-width-cardinality", template="cifar", width_multiplier=0.25)
    roles = {a.label: a.role for a in arms.arms}
    assert roles == {
        "deeper": "deeper", "wider": "wider", "C=2": "cardinality", "C=32": "cardinality",
        "1x baseline": "reference",
    }  # fmt: skip
    deeper, wider = arms.arm("deeper").spec, arms.arm("wider").spec
    assert deeper.cardinality == wider.cardinality == 1
    assert deeper.bottleneck_width == 16 and deeper.depth > 29  # baseline d at 1/4 width
    assert wider.depth == 29 and wider.bottleneck_width > 16
    ref = arms.arm("1x baseline")
    assert not ref.matched and "1x baseline" not in arms.tested
    assert ref.relative_error == pytest.approx(-0.5, abs=0.01)  # half of the 2x target
    assert all(abs(a.relative_error) <= 0.05 for a in arms.arms if a.matched)


def test_params_matching() -> None:
    arms = preset_arms("cardinality", template="cifar", match="params", cardinalities=(2, 4))
    assert arms.target == totals(make_spec("cifar", 29))[1]
    assert all(a.value == totals(a.spec)[1] for a in arms.arms)


def test_named_cardinality_out_of_tolerance_is_refused_with_closest() -> None:
    with pytest.raises(ArchlabError, match=r"'C=32'.*closest, resnext29_32x1d_w0.125.*off"):
        preset_arms("cardinality", width_multiplier=0.125, cardinalities=(2, 32))
    # By default the same arm is left out, with a note.
    arms = preset_arms("cardinality", width_multiplier=0.125)
    assert "C=32" not in arms.tested and any("C=32" in n for n in arms.notes)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cardinalities": ()}, "empty"),
        ({"cardinalities": (2, 2)}, "repeat"),
        ({"match": "flops"}, "match"),
        ({"tolerance": 0.0}, "tolerance"),
    ],
)
def test_bad_preset_settings(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ArchlabError, match=match):
        preset_arms("cardinality", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ArchlabError, match="preset"):
        preset_arms("depth")


def test_file_arms(tmp_path: Path) -> None:
    specs = [make_spec("cifar", 29, 1, 64).to_dict(), make_spec("cifar", 29, 2, 40).to_dict()]
    path = tmp_path / "arms.json"
    path.write_text(json.dumps([{"spec": specs[0]}, specs[1]]))
    arms = file_arms(path)
    assert arms.tested == ["resnext29_1x64d", "resnext29_2x40d"]
    far = tmp_path / "far.json"
    far.write_text(json.dumps([specs[0], make_spec("cifar", 29, 8, 64).to_dict()]))
    with pytest.raises(ArchlabError, match=r"resnext29_8x64d.*off the target"):
        file_arms(far)


def test_cardinalities_that_add_no_arm_are_refused_naming_the_presets_own() -> None:
    # C = 1 is the cardinality preset's baseline arm: alone it leaves nothing to compare, and the
    # message must say so (it once ended in an empty list of notes).
    with pytest.raises(ArchlabError) as info:
        preset_arms("cardinality", width_multiplier=0.125, cardinalities=(1,))
    assert str(info.value) == (
        "cardinalities needs a C beyond the preset's own arms (C=1), got [1]; e.g. 1,2,4"
    )

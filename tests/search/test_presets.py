"""Study presets are data: a preset registered in a test resolves arms through preset_arms."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from archlab.errors import ArchlabError
from archlab.search.arms import PRESETS, preset_arms
from archlab.search.presets import (
    STUDY_PRESETS,
    ArmRule,
    StudyPreset,
    register_study_preset,
    study_preset,
)


@pytest.fixture
def registry() -> Iterator[dict[str, StudyPreset]]:
    """The study presets' registry, restored in place after the test whatever it registers."""
    saved = dict(STUDY_PRESETS)
    yield STUDY_PRESETS
    STUDY_PRESETS.clear()
    STUDY_PRESETS.update(saved)


WIDER_ONLY = StudyPreset(
    "wider-or-cardinality",
    "At {c:g}x, does width or cardinality help more?",
    1.5,
    (2, 4),
    (
        ArmRule("wider", "wider", "width"),
        ArmRule("C={c}", "cardinality", "width", None),
        ArmRule("1x baseline", "reference", "reference"),
    ),
    "a test",
)


def test_a_registered_preset_resolves_its_arms(registry) -> None:
    register_study_preset(WIDER_ONLY)
    arms = preset_arms("wider-or-cardinality", template="cifar", width_multiplier=0.25)
    assert [a.label for a in arms.arms] == ["wider", "C=2", "C=4", "1x baseline"]
    assert arms.question == "At 1.5x, does width or cardinality help more?"
    assert arms.complexity == 1.5 and arms.tested == ["wider", "C=2", "C=4"]
    assert arms.arm("wider").spec.cardinality == 1 and arms.arm("C=4").spec.cardinality == 4
    assert all(abs(a.relative_error) <= 0.05 for a in arms.arms if a.matched)
    assert arms.arm("1x baseline").relative_error == pytest.approx(1 / 1.5 - 1, abs=0.01)


def test_the_registry_is_what_studies_check_and_is_restored(registry) -> None:
    assert "wider-or-cardinality" not in registry  # the previous test's entry is gone
    assert PRESETS is registry  # workflows/study.py validates names against this very dict
    with pytest.raises(ArchlabError, match="already registered"):
        register_study_preset(study_preset("cardinality"))


def test_an_unknown_preset_names_the_registered_ones() -> None:
    with pytest.raises(ArchlabError, match="cardinality, depth-width-cardinality"):
        preset_arms("width")


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (lambda: ArmRule("x", "boss", "width"), "arm role must be one of"),
        (lambda: ArmRule("x", "wider", "guess"), "arm solve must be one of"),
        (lambda: ArmRule("C={c}", "cardinality", "width"), "cardinality None"),
        (
            lambda: StudyPreset("p", "q", 1.0, (2,), (ArmRule("w", "wider", "width"),), ""),
            "exactly one",
        ),
    ],
)
def test_malformed_entries_are_refused(rule, message) -> None:
    with pytest.raises(ArchlabError, match=message):
        rule()

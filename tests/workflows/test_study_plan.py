"""The study plan's data defaults: the validation split a study (and the demo) resolves to."""

from __future__ import annotations

from pathlib import Path

from archlab.workflows.demo import demo_plan
from archlab.workflows.study_plan import resolve_study_plan


def test_a_study_keeps_the_measured_validation_fraction_and_a_flag_overrides_it(
    tmp_path: Path,
) -> None:
    # 0.1 was kept by measurement (docs/statistics.md, "Validation split size"): a larger split
    # trades counting noise for training noise on digits. The written plan says which ran.
    study = resolve_study_plan(overrides={"study.preset": "cardinality", "execution.device": "cpu"})
    demo = demo_plan(overrides={"execution.device": "cpu"})
    wider = demo_plan(overrides={"execution.device": "cpu", "data.val_fraction": 0.3})
    for plan, fraction in ((study, 0.1), (demo, 0.1), (wider, 0.3)):
        assert plan.training.config.val_fraction == fraction
        assert f"val_fraction = {fraction}" in plan.to_toml()
        path = tmp_path / "plan.toml"
        path.write_text(plan.to_toml())
        assert resolve_study_plan(path).training.config.val_fraction == fraction


def test_a_study_draws_its_validation_split_per_seed_and_train_candidates_keeps_one(
    tmp_path: Path,
) -> None:
    # docs/statistics.md, "The validation split": a verdict should hold over the choice of
    # validation images, so a study's seeds each draw theirs; a plan file or flag may fix it.
    from archlab.train.plan import resolve_plan

    study = resolve_study_plan(overrides={"study.preset": "cardinality", "execution.device": "cpu"})
    fixed = demo_plan(overrides={"execution.device": "cpu", "data.split": "fixed"})
    runs = resolve_plan(overrides={"select.cardinalities": [1]})
    assert study.training.config.split == demo_plan().training.config.split == "per-seed"
    assert fixed.training.config.split == runs.config.split == "fixed"
    path = tmp_path / "plan.toml"
    path.write_text(fixed.to_toml())
    assert resolve_study_plan(path).training.config.split == "fixed"  # the file wins

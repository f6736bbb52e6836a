"""The study's verdict settings as its header and output state them (archlab/stats/study.py)."""

from __future__ import annotations

from archlab.stats.study import settings


def test_settings_name_the_split_and_say_when_it_is_stratified() -> None:
    plain = settings({"train": {"split": "per-seed"}})
    assert plain["split"] == "per-seed" and "stratified" not in plain["pairing"]
    assert "a per-seed validation split" in plain["pairing"]
    stratified = settings({"train": {"split": "per-seed", "stratify": True}})
    assert stratified["split"] == "per-seed, stratified"
    assert "a per-seed validation split (stratified)" in stratified["pairing"]
    fixed = settings({"train": {"split": "fixed", "stratify": True}, "paired": False})
    assert fixed["split"] == "fixed, stratified" and fixed["pairing"].startswith("unpaired")

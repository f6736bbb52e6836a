"""The report header says what applied on the device and when runs come from several commits."""

from __future__ import annotations

import json
from pathlib import Path

from archlab.report.markdown import write_report
from archlab.report.recipe import recipe_line
from archlab.space import make_spec
from archlab.store import EpochRecord, Store
from archlab.train.config import TrainConfig

AMP_ON = json.dumps(TrainConfig(epochs=2, amp=True, channels_last=True).to_dict())
AMP_OFF = json.dumps(TrainConfig(epochs=2, amp=False).to_dict())


def _store(tmp_path: Path, runs: list[tuple[str, str | None]], config: str = AMP_ON) -> Path:
    """A store with one finished run per (device, git commit), each of its own candidate."""
    path = tmp_path / "runs.db"
    with Store(path, create=True) as store:
        for i, (device, commit) in enumerate(runs):
            spec = make_spec("cifar", 11, 1 + i, None, width_multiplier=0.125, num_classes=10)
            cid = store.add_candidate(name=spec.name, spec=spec, macs=1_000, params=100, acts=10)
            run = store.add_run(candidate_id=cid, seed=0, config_key="k",
                                config=json.loads(config), budget_epochs=2)  # fmt: skip
            store.start_run(run.id, device=device, archlab_version="0", torch_version="0",
                            git_commit=commit)  # fmt: skip
            for epoch in (1, 2):
                store.record_epoch(run.id, EpochRecord(epoch, 1.0, 0.2, 0.2, 0.2))
            store.finish_run(run.id, "finished")
    return path


def _header(path: Path, tmp_path: Path) -> list[str]:
    text = write_report(path, tmp_path / "report", command="test").read_text()
    return text.split("\n## ")[0].splitlines()


def _recipe(lines: list[str]) -> str:
    return next(line for line in lines if line.startswith("- recipe: "))


def test_amp_on_a_cpu_run_is_requested_not_applied(tmp_path: Path) -> None:
    recipe = _recipe(_header(_store(tmp_path, [("cpu", "a" * 40)]), tmp_path))
    assert "amp requested, not applied on cpu" in recipe and "amp yes" not in recipe
    # The loop converts model and batches to channels_last on every device: it did apply.
    assert "channels_last yes" in recipe


def test_amp_on_cuda_applied_and_mixed_devices_list_both(tmp_path: Path) -> None:
    assert "amp yes;" in recipe_line([AMP_ON], ["cuda"])
    assert "amp yes;" in recipe_line([AMP_ON], ["cuda:1"])
    mixed = recipe_line([AMP_ON, AMP_ON], ["cuda", "cpu"])
    assert "amp requested, not applied on cpu or yes;" in mixed
    assert "amp no;" in recipe_line([AMP_OFF], ["cpu"])  # off is off everywhere
    assert "not applied on an unstored device" in recipe_line([AMP_ON], [None])
    assert "amp yes;" in recipe_line([AMP_ON])  # without devices: the values as stored


def test_one_commit_no_warning(tmp_path: Path) -> None:
    lines = _header(_store(tmp_path, [("cpu", "a" * 40), ("cpu", "a" * 40)]), tmp_path)
    assert any(f"at git commit {'a' * 12}" in line for line in lines)
    assert not any("commits" in line for line in lines)


def test_several_commits_are_said_with_their_runs(tmp_path: Path) -> None:
    runs = [("cpu", "a" * 40), ("cpu", "b" * 40), ("cpu", "b" * 40), ("cpu", None)]
    lines = _header(_store(tmp_path, runs), tmp_path)
    warning = next(line for line in lines if "commits" in line)
    assert warning.startswith("- **warning: runs from 3 commits**: ")
    assert f"{'b' * 12} (2 runs), {'a' * 12} (1 run), unknown (1 run);" in warning

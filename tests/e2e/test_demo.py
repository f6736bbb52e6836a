"""`archlab demo`: the README's main job, shrunk to one epoch and two seeds, writes its report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

Cli = Callable[..., tuple[int, str, str]]


def test_demo_runs_match_space_study_and_report(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archlab.train.data import load_dataset
    from archlab.workflows import demo as demo_mod

    # The full command, on 150 digits so the default suite stays fast.
    small, real = load_dataset("digits", limit=150), demo_mod.run_study
    monkeypatch.setattr(
        demo_mod, "run_study", lambda plan, **kw: real(plan, **{**kw, "data": small})
    )
    out, store = tmp_path / "demo", tmp_path / "demo.db"
    args = ["demo", "--out", str(out), "--store", str(store), "--epochs", "1", "--min-seeds",
            "2", "--max-seeds", "2", "--threads", "1", "--quiet"]  # fmt: skip
    code, stdout, err = cli(*args)
    assert code == 0, err
    assert "resnext50_32x4d" in stdout and "70,144" in stdout  # match-flops and space ran
    assert "verdict (validation error)" in stdout  # the study's table
    report = (out / "report.md").read_text()
    regenerate = next(line for line in report.splitlines() if "Regenerate with" in line)
    assert regenerate.startswith(f"Regenerate with: `archlab demo --out {out} ")
    assert f"--store {store}" in regenerate and "--epochs 1 " in regenerate
    # The report opens with the verdict: its first section, before the candidates.
    assert report.split("\n## ", 2)[1].startswith("Verdict")
    assert "seeds 2 to 2" in report
    for pair in ("| C=1 | C=2 |", "| C=1 | C=4 |", "| C=2 | C=4 |"):
        assert pair in report
    again = cli(*args)  # rerun: every run is stored, only the report is redrawn
    assert again[0] == 0, again[2]
    assert (out / "report.md").read_text() == report


def test_demo_is_a_library_call(tmp_path: Path) -> None:
    import archlab
    from archlab.train.data import load_dataset

    steps: list[str] = []
    from archlab.workflows.demo import demo_plan

    plan = demo_plan(overrides={
        "output.store": str(tmp_path / "demo.db"), "budget.epochs": 1, "study.min_seeds": 2,
        "study.max_seeds": 2, "execution.device": "cpu", "execution.threads": 1,
    })  # fmt: skip
    result = archlab.demo(
        plan, out=tmp_path / "demo", command="demo(test)",
        show=lambda step, _: steps.append(step), data=load_dataset("digits", limit=100),
    )  # fmt: skip
    assert result.match.spec.name == "resnext50_32x4d"  # Table 2: d = 4 at C = 32
    assert "resnext50_32x4d" in set(result.family.frame.name)
    assert [a.spec.cardinality for a in result.study.arms.arms] == [1, 2, 4]
    assert result.study.stop in ("decided", "max seeds")
    assert result.study.trained_now == 6 and not result.study.any_failed
    assert [s[:2] for s in steps] == ["1.", "2.", "3.", "4."]
    assert "Regenerate with: `demo(test)`" in result.report.read_text()


def test_bad_demo_settings_exit_2_before_any_step(cli: Cli, tmp_path: Path) -> None:
    code, stdout, err = cli(
        "demo", "--out", str(tmp_path / "o"), "--store", str(tmp_path / "d.db"), "--min-seeds",
        "4", "--max-seeds", "3",
    )  # fmt: skip
    assert code == 2 and "Traceback" not in err
    assert "--max-seeds (3) must be at least --min-seeds (4)" in err  # the options as typed
    assert not (tmp_path / "d.db").exists() and "resnext50" not in stdout


def test_demo_prints_its_plan_and_reads_it_back(cli: Cli, tmp_path: Path) -> None:
    code, printed, err = cli("demo", "--print-config", "--threads", "1", "--epochs", "2")
    assert code == 0, err
    assert 'preset = "cardinality"' in printed and "width_multiplier = 0.125" in printed
    assert 'store = "archlab-runs/demo.db"' in printed and "epochs = 2" in printed
    path = tmp_path / "demo.toml"
    path.write_text(printed)
    code, again, err = cli("demo", "--config", str(path), "--print-config")
    assert code == 0 and again == printed, err


def test_demo_takes_the_old_seed_count_with_a_notice(cli: Cli) -> None:
    code, printed, err = cli("demo", "--print-config", "--seeds", "2")
    assert code == 0 and "min_seeds = 2" in printed
    assert err.count("\n") == 1 and "deprecated" in err and "--min-seeds" in err

"""`archlab study` end to end on digits at a tiny width, and its bad-input paths."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

Cli = Callable[..., tuple[int, str, str]]
# The issue's command, shrunk for the default suite: depth 11 and 200 images.
TINY = [
    "--template", "cifar", "--width-multiplier", "0.125", "--dataset", "digits", "--epochs", "2",
    "--min-seeds", "2", "--max-seeds", "3", "--depth", "11", "--limit", "200", "--threads", "1",
]  # fmt: skip


def _check_study(out: str, tolerance: float = 0.05) -> dict:  # type: ignore[type-arg]
    data = json.loads(out)
    assert set(data) >= {"arms", "pairs", "best"}
    matched = [a for a in data["arms"] if a["matched"]]
    assert len(matched) >= 2
    assert all(abs(a["relative_error"]) <= tolerance for a in matched)
    labels = [a["label"] for a in matched]
    assert {(p["a"], p["b"]) for p in data["pairs"]} == {
        (a, b) for i, a in enumerate(labels) for b in labels[i + 1 :]
    }
    verdicts = {"A better", "B better", "equivalent", "undecided"}
    assert all(p["verdict"] in verdicts for p in data["pairs"])
    assert all(2 <= a["seeds"] <= 3 for a in matched)
    # The rule's compute beside the fixed design's: tested arms only (a reference is shown).
    assert data["compute"] == {
        "runs": sum(a["seeds"] for a in matched),
        "fixed_design_runs": len(matched) * data["max_seeds"],
    }
    return data


def test_cardinality_study_json(cli: Cli, tmp_path: Path) -> None:
    store = str(tmp_path / "s.db")
    code, out, err = cli("study", "--preset", "cardinality", *TINY, "--store", store, "--json")
    assert code == 0, err
    data = _check_study(out)
    assert [a["cardinality"] for a in data["arms"]] == [1, 2, 4]  # 8 and 32: too coarse at 1/8
    assert any("C=32" in n for n in data["notes"])
    # Rerun: the same study continues, nothing is trained twice.
    code, out2, _ = cli("study", "--preset", "cardinality", *TINY, "--store", store, "--json")
    assert code == 0
    assert json.loads(out2)["pairs"] == data["pairs"]
    with sqlite3.connect(store) as db:
        dup = db.execute(
            "SELECT COUNT(*) FROM runs GROUP BY candidate_id, seed, config_key HAVING COUNT(*) > 1"
        ).fetchall()
    assert dup == []


def test_study_table_output(cli: Cli, tmp_path: Path) -> None:
    args = ["study", "--preset", "depth-width-cardinality", *TINY, "--cardinalities", "32"]
    code, out, err = cli(*args, "--store", str(tmp_path / "s.db"))
    assert code == 0, err
    assert "deeper" in out and "wider" in out and "C=32" in out and "(reference)" in out
    assert "verdict" in out
    assert "verdict: paired seed differences" in out  # the pairing used, stated up front
    # Three tested arms (the reference is not one) at up to 3 seeds: a fixed design trains 9.
    assert "of the 9 a fixed 3-seed design trains (" in out


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["cardinality", "depth-width-cardinality"])
def test_issue_command(cli: Cli, tmp_path: Path, preset: str) -> None:
    code, out, err = cli(
        "study", "--preset", preset, "--template", "cifar", "--width-multiplier", "0.125",
        "--dataset", "digits", "--epochs", "2", "--min-seeds", "2", "--max-seeds", "3",
        "--store", str(tmp_path / "s.db"), "--json",
    )  # fmt: skip
    assert code == 0, err
    _check_study(out)


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--preset", "nope"], "preset"),
        (["--preset", "cardinality", "--cardinalities", "2,2"], "repeat"),
        (["--preset", "cardinality", "--cardinalities", "32"], "C=32"),
        (["--preset", "cardinality", "--min-seeds", "4", "--max-seeds", "3"], "--max-seeds"),
        ([], "--preset (cardinality, depth-width-cardinality) or --arms"),
        (["--preset", "cardinality", "--seeds", "0,1"], "--min-seeds"),
        (["--preset", "cardinality", "--match", "flops"], "--match"),
        (["--preset", "cardinality", "--min-seeds", "1", "--max-seeds", "1"], "two seeds"),
        (["--preset", "cardinality", "--alpha", "0.7"], "alpha"),
        (["--preset", "cardinality", "--alpha", "0"], "alpha"),
        (["--preset", "cardinality", "--rope", "-1"], "rope"),
    ],
)
def test_bad_input_one_line_exit_2(cli: Cli, tmp_path: Path, extra: list[str], match: str) -> None:
    store = tmp_path / "s.db"
    args = ["--template", "cifar", "--width-multiplier", "0.125", "--depth", "11"]
    code, _, err = cli("study", *args, *extra, "--store", str(store))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and match in err
    assert not store.exists()


def test_empty_or_duplicate_arms_file(cli: Cli, tmp_path: Path) -> None:
    empty = tmp_path / "arms.json"
    empty.write_text("[]")
    code, _, err = cli("study", "--arms", str(empty), "--store", str(tmp_path / "s.db"))
    assert code == 2 and "non-empty" in err
    code, out, _ = cli("space", "--template", "cifar", "--depth", "11", "--cardinalities", "1",
                       "--width-multiplier", "0.125", "--json")  # fmt: skip
    assert code == 0
    row = json.loads(out)[0]
    dup = tmp_path / "dup.json"
    dup.write_text(json.dumps([row, row]))
    code, _, err = cli("study", "--arms", str(dup), "--store", str(tmp_path / "s.db"))
    assert code == 2 and "twice" in err


def test_match_flops_solve_depth(cli: Cli) -> None:
    code, out, _ = cli("match-flops", "--solve", "depth", "--complexity", "2", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["blocks"][0] == 3 and data["blocks"][2] > 6 and data["relative_error"] < 0.05
    code, _, err = cli("match-flops", "--solve", "width")
    assert code == 2 and "depth" in err


def test_failed_runs_exit_1_with_the_verdict_of_the_finished_runs(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archlab.stats import sequential
    from archlab.workflows import study as study_mod

    real = study_mod._train_seeds

    def lose_seed_2_of_c1(runs, training):  # type: ignore[no-untyped-def]
        # The C = 1 arm's seed 2 (second round) fails, as a crashed run would: not stored.
        kept = {spec: [s for s in seeds if not (spec.cardinality == 1 and s == 2)]
                for spec, seeds in runs.items()}  # fmt: skip
        return real({k: v for k, v in kept.items() if v}, training)

    monkeypatch.setattr(study_mod, "_train_seeds", lose_seed_2_of_c1)
    # The paired test finds this pair futile at the first look; the test needs a second round.
    monkeypatch.setattr(sequential, "FUTILITY", 0.0)
    store = str(tmp_path / "s.db")
    # 3 epochs: at 2, the default recipe leaves both arms at chance with no spread between
    # seeds, and the first look decides before a second round could fail.
    tiny = [*TINY]
    tiny[tiny.index("--epochs") + 1] = "3"
    code, out, err = cli(
        "study", "--preset", "cardinality", "--cardinalities", "2", *tiny, "--store", store,
        "--json",
    )  # fmt: skip
    assert code == 1, err  # as train-candidates: some runs failed
    data = json.loads(out)
    assert data["stop"] == "runs failed"
    assert data["failed"] == ["C=1 seed 2"]
    # The verdict stands on the finished runs: the first look, 2 seeds each.
    assert [(p["a"], p["b"], p["n_a"], p["n_b"]) for p in data["pairs"]] == [("C=1", "C=2", 2, 2)]


def test_print_config_round_trips_through_config(cli: Cli, tmp_path: Path) -> None:
    args = ["study", "--preset", "cardinality", *TINY, "--lr", "0.05", "--workers", "2",
            "--store", str(tmp_path / "s.db")]  # fmt: skip
    code, printed, err = cli(*args, "--print-config")
    assert code == 0, err
    assert "[study]" in printed and "lr = 0.05" in printed and "min_seeds = 2" in printed
    path = tmp_path / "study.toml"
    path.write_text(printed)
    code, again, err = cli("study", "--config", str(path), "--print-config")
    assert code == 0 and again == printed, err
    from archlab.workflows.study_plan import resolve_study_plan

    assert resolve_study_plan(path).to_toml() == printed  # the library reads it the same
    # A flag over the file changes only its own key; an arms source replaces the preset.
    code, changed, _ = cli("study", "--config", str(path), "--print-config", "--alpha", "0.1")
    assert changed == printed.replace("alpha = 0.05", "alpha = 0.1")
    arms = _arms_file(cli, tmp_path)
    code, replaced, err = cli("study", "--config", str(path), "--print-config", "--arms", arms)
    assert code == 0, err
    assert f"arms = {json.dumps(arms)}" in replaced and "preset" not in replaced


def _arms_file(cli: Cli, tmp_path: Path) -> str:
    """Two arms at ResNeXt-29's MACs (C = 1 and 2, width 1/8), written by `space --json`."""
    code, out, err = cli("space", "--template", "cifar", "--depth", "29", "--cardinalities",
                         "1,2", "--width-multiplier", "0.125", "--json")  # fmt: skip
    assert code == 0, err
    path = tmp_path / "arms.json"
    path.write_text(out)
    return str(path)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--arms", "MISSING/arms.json"], "cannot read arms file 'MISSING/arms.json'"),
        (["--arms", "EMPTY"], "'EMPTY' must hold a non-empty JSON list"),
        (["--config", "MISSING/plan.toml"], "cannot read plan file 'MISSING/plan.toml'"),
        (["--config", "PLAN"], "cannot read arms file 'MISSING/arms.json'"),  # named by the plan
    ],
)
def test_print_config_refuses_missing_files_in_one_line(
    cli: Cli, tmp_path: Path, args: list[str], fragment: str
) -> None:
    missing = tmp_path / "missing"  # never created: absent wherever the test runs
    (tmp_path / "empty.json").write_text("[]")
    (tmp_path / "plan.toml").write_text(f'[study]\narms = "{missing / "arms.json"}"\n')
    words = {"MISSING": missing, "EMPTY": tmp_path / "empty.json", "PLAN": tmp_path / "plan.toml"}
    for word, value in words.items():
        args = [a.replace(word, str(value)) for a in args]
        fragment = fragment.replace(word, str(value))
    code, out, err = cli("study", *args, "--print-config")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and fragment in err


def test_the_old_spellings_work_with_a_one_line_notice(cli: Cli) -> None:
    code, printed, err = cli("study", "--preset", "cardinality", "--seeds", "4",
                             "--time-budget", "60", "--print-config")  # fmt: skip
    assert code == 0, err
    assert "min_seeds = 4" in printed and "time_budget = 60.0" in printed  # the study's budget
    notices = err.strip().splitlines()
    assert len(notices) == 2 and all("deprecated" in n for n in notices)
    assert "--min-seeds" in notices[0] + notices[1] and "--study-time-budget" in err


def test_the_default_width_on_the_cpu_trains_in_minutes(cli: Cli) -> None:
    code, printed, _ = cli("study", "--preset", "cardinality", "--device", "cpu", "--print-config")
    assert code == 0 and "width_multiplier = 0.125" in printed


def _metrics(store: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(store) as db:
        return db.execute(
            "SELECT c.name, r.seed, e.epoch, e.train_loss, e.val_error, e.test_error FROM epochs e"
            " JOIN runs r ON r.id = e.run_id JOIN candidates c ON c.id = r.candidate_id"
            " ORDER BY 1, 2, 3"
        ).fetchall()


# A tiny study: width 1/8, depth 11, 120 digits, 1 epoch, 2 seeds per arm (max 2).
SMALL = [
    "study", "--preset", "cardinality", "--cardinalities", "2", "--template", "cifar",
    "--width-multiplier", "0.125", "--depth", "11", "--limit", "120", "--epochs", "1",
    "--min-seeds", "2", "--max-seeds", "2", "--threads", "1", "--device", "cpu", "--json",
]  # fmt: skip


def test_a_study_prints_its_arms_before_the_first_epoch(cli: Cli, tmp_path: Path) -> None:
    code, out, err = cli(*SMALL, "--store", str(tmp_path / "s.db"))
    assert code == 0, err
    lines = err.splitlines()  # off a terminal: plain lines, the plan first
    first_epoch = next(i for i, line in enumerate(lines) if " epoch 1/1" in line)
    plan = "\n".join(lines[:first_epoch])
    for arm in json.loads(out)["arms"]:
        assert f"C={arm['cardinality']} d={arm['bottleneck_width']} depth 11" in plan
        assert f"MACs {arm['macs']:,}" in plan
    # --min-seeds 2 --max-seeds 2: no look adds a seed, so none is promised
    assert "seeds 2 per arm\n" in plan and "one more" not in plan and "1 torch thread(s)" in plan
    assert "recipe: digits, 1 epoch per run, batch 32" in plan and "device cpu" in plan
    assert "\ndata: digits, 10 classes (0, 1, 2, 3, 4, 5, 6, 7, ... (10)) named by label " in plan


def test_a_study_on_a_worker_pool_stores_what_it_stores_locally(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli(*SMALL, "--store", str(tmp_path / "local.db"))
    assert code == 0, err
    code, _, err = cli(*SMALL, "--workers", "2", "--store", str(tmp_path / "pool.db"))
    assert code == 0, err
    local = _metrics(tmp_path / "local.db")
    assert len(local) == 4 and _metrics(tmp_path / "pool.db") == local


@pytest.mark.ray
def test_a_study_on_ray_stores_what_it_stores_locally(
    cli: Cli, tmp_path: Path, ray_local: object
) -> None:
    code, _, err = cli(*SMALL, "--store", str(tmp_path / "local.db"))
    assert code == 0, err
    code, _, err = cli(*SMALL, "--executor", "ray", "--store", str(tmp_path / "ray.db"))
    assert code == 0, err
    local = _metrics(tmp_path / "local.db")
    assert len(local) == 4 and _metrics(tmp_path / "ray.db") == local


def test_split_is_a_plan_key_and_a_bad_one_is_refused(cli: Cli, tmp_path: Path) -> None:
    args = ["study", "--preset", "cardinality", *TINY, "--store", str(tmp_path / "s.db")]
    code, printed, err = cli(*args, "--split", "per-seed", "--print-config")
    assert code == 0, err
    data = printed.split("[data]", 1)[1].split("\n[", 1)[0]
    assert 'split = "per-seed"' in data  # in the plan's data table, and so in every run's
    code, out, err = cli(*args, "--split", "sometimes", "--print-config")
    assert code == 2 and out == ""
    assert err.strip() == "archlab study: error: --split must be fixed or per-seed, got 'sometimes'"
    assert not (tmp_path / "s.db").exists()


def test_cardinality_study_at_equal_speed_then_its_report(cli: Cli, tmp_path: Path) -> None:
    store = str(tmp_path / "s.db")
    args = ("study", "--preset", "cardinality", "--match", "speed", "--cardinalities", "2",
            "--template", "cifar", "--width-multiplier", "0.0625", "--depth", "11",
            "--dataset", "digits", "--limit", "150", "--epochs", "1", "--min-seeds", "2",
            "--max-seeds", "2", "--threads", "1", "--device", "cpu", "--tolerance", "0.9",
            "--store", store, "--json")  # fmt: skip
    code, out, err = cli(*args)
    assert code == 0, err
    data = json.loads(out)
    assert data["match"] == "speed" and data["target"] > 0
    assert [a["label"] for a in data["arms"]] == ["C=1", "C=2"]
    for arm in data["arms"]:
        s = arm["speed"]
        assert s["step_ms_ci"][0] <= s["step_ms_per_image"] <= s["step_ms_ci"][1]
        assert s["ratio_ci"][0] <= s["ratio"] <= s["ratio_ci"][1] and s["session"]
        assert arm["macs"] > 0 and arm["relative_error"] <= 0.9 and arm["seeds"] == 2
    assert {p["verdict"] for p in data["pairs"]} <= {"A better", "B better", "equivalent",
                                                     "undecided"}  # fmt: skip
    # The rerun reads its measurements back: the same study, nothing trained again.
    code, out, err = cli(*args)
    assert code == 0, err
    assert json.loads(out)["arms"] == data["arms"]
    with sqlite3.connect(store) as db:
        (rows,) = db.execute("SELECT count(*) FROM speed_runs").fetchone()
    assert rows >= 2
    code, out, err = cli("report", "--store", store, "--out", str(tmp_path / "r"))
    assert code == 0, err
    text = (tmp_path / "r" / "report.md").read_text()
    assert "matched on measured train-step time per image" in text
    assert "| ms/image | 95% interval |" in text
    assert "![error against MACs and measured time]" in text
    assert list((tmp_path / "r" / "figures").glob("verdict-*-speed.png"))


def test_preset_help_lists_exactly_the_preset_registry(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archlab.cli.study_cmd import PRESET_HELP

    from archlab.search.presets import STUDY_PRESETS

    assert PRESET_HELP.removesuffix(" (or give --arms).").split(" | ") == list(STUDY_PRESETS)
    _, out, _ = cli("study", "--help")
    assert "depth-width-cardinality" in out

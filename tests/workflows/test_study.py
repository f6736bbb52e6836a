"""run_study: stored, resumable after an interruption, and a different study refused."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from archlab.errors import ArchlabError
from archlab.stats import sequential
from archlab.store import Store
from archlab.store.study import load_study
from archlab.train.config import TrainConfig
from archlab.train.plan import ExecutionOptions, Training
from archlab.workflows import study as study_mod
from archlab.workflows.study import run_study
from archlab.workflows.study_plan import StudyPlan, StudyQuestion

QUESTION = StudyQuestion(
    preset="cardinality", template="cifar", width_multiplier=0.125, depth=11,
    cardinalities=(2,), min_seeds=2, max_seeds=3,
)  # fmt: skip


def _plan(store: Path, question: StudyQuestion = QUESTION) -> StudyPlan:
    config = TrainConfig(dataset="digits", epochs=1, limit=150)
    execution = ExecutionOptions(device="cpu", threads=1)
    return StudyPlan(question, Training(config, execution, store=str(store)))


def _runs(store: Path) -> list[tuple[int, int, str]]:
    with sqlite3.connect(store) as db:
        return db.execute("SELECT candidate_id, seed, status FROM runs ORDER BY 1, 2").fetchall()


def test_interrupted_study_resumes_without_retraining(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "s.db"
    real = study_mod._train_seeds
    calls: list[int] = []

    def crash_in_second_round(runs: Any, training: Any) -> int:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the user stops the study between rounds
        return real(runs, training)

    monkeypatch.setattr(study_mod, "_train_seeds", crash_in_second_round)
    # This tiny study must reach a second round: futility would stop its pair after the first.
    monkeypatch.setattr(sequential, "FUTILITY", 0.0)
    with pytest.raises(KeyboardInterrupt):
        run_study(_plan(store))
    first = _runs(store)
    assert len(first) == 4 and all(s == "finished" for *_, s in first)  # 2 arms x seeds 0, 1
    with Store(store) as st:
        record = load_study(st, "study")
    assert record is not None and record.status == "running"
    monkeypatch.setattr(study_mod, "_train_seeds", real)
    result = run_study(_plan(store))
    after = _runs(store)
    assert set(first) <= set(after)
    assert len(after) == len(set((c, s) for c, s, _ in after))  # every seed stored once
    assert result.trained_now == len(after) - len(first)
    # The verdict as if uninterrupted: the same study run straight through in another store.
    fresh = run_study(_plan(tmp_path / "fresh.db"))
    assert [r.verdict for r in fresh.outcome.state.rows] == [
        r.verdict for r in result.outcome.state.rows
    ]
    assert fresh.outcome.errors.val == result.outcome.errors.val
    # Rerun once more: nothing to train.
    assert run_study(_plan(store)).trained_now == 0


def test_a_different_study_under_the_same_name_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    first = run_study(_plan(store))
    before = _runs(store)
    # Noted from the data: the validation set's size (the verdict's resolution floor), and the
    # seeds are paired; the output reports each pair's measured correlation between arms.
    n_val = round(0.1 * 150)  # limit 150, val_fraction 0.1
    assert first.outcome.definition["val_size"] == n_val
    out = first.to_dict()
    assert out["settings"]["paired"] is True
    assert out["settings"]["resolution"] == pytest.approx(100 / n_val)
    assert all("correlation" in p for p in out["pairs"])
    # A study stored before val_size was noted is the same study: its rerun notes it.
    with sqlite3.connect(store) as db:
        (text,) = db.execute("SELECT definition_json FROM studies").fetchone()
        old = {k: v for k, v in json.loads(text).items() if k != "val_size"}
        db.execute("UPDATE studies SET definition_json = ?", (json.dumps(old),))
    assert run_study(_plan(store)).outcome.definition["val_size"] == n_val
    assert _runs(store) == before
    other = _plan(store).replace(alpha=0.1)
    with pytest.raises(ArchlabError, match=r"different study named 'study'.*alpha"):
        run_study(other)
    assert _runs(store) == before
    # Under another name it is its own study, sharing the stored runs of the same recipe.
    result = run_study(other.replace(name="loose"))
    assert result.outcome.definition["alpha"] == 0.1


def test_report_opens_with_the_verdict_rebuilt_from_the_store(tmp_path: Path) -> None:
    from archlab.report.markdown import write_report

    store = tmp_path / "s.db"
    result = run_study(_plan(store))
    path = write_report(store, tmp_path / "rep", command="archlab report")
    text = path.read_text()
    sections = [line for line in text.splitlines() if line.startswith("## ")]
    assert sections[0] == "## Verdict"
    assert "does more cardinality (C) lower the error?" in text
    for row in result.outcome.state.rows:
        assert f"| {row.a} | {row.b} | {row.diff:+.2f} |" in text and row.verdict in text
    assert (tmp_path / "rep" / "figures" / "verdict-study.png").is_file()


def _epochs_in(store: Path) -> int:
    if not store.exists():  # connecting would create an empty file the study then refuses
        return 0
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT COUNT(*) FROM epochs").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def _study_cmd(store: Path) -> list[str]:
    return [
        sys.executable, "-m", "archlab.cli.main", "study", "--preset", "cardinality",
        "--template", "cifar", "--width-multiplier", "0.125", "--depth", "11",
        "--cardinalities", "2", "--min-seeds", "2", "--max-seeds", "3", "--epochs", "4",
        "--limit", "300", "--device", "cpu", "--threads", "1", "--json", "--store", str(store),
    ]  # fmt: skip


def test_kill_9_mid_round_then_rerun_is_as_if_uninterrupted(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    proc = subprocess.Popen(
        _study_cmd(store), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while _epochs_in(store) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the study finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # mid-run: the epoch in progress is all that is lost
    proc.wait()
    done = subprocess.run(_study_cmd(store), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    fresh = subprocess.run(
        _study_cmd(tmp_path / "fresh.db"), capture_output=True, text=True, timeout=300
    )
    assert fresh.returncode == 0, fresh.stderr
    with sqlite3.connect(store) as db:
        runs = db.execute("SELECT candidate_id, seed, status FROM runs").fetchall()
        epochs = db.execute("SELECT run_id, epoch FROM epochs ORDER BY 1, 2").fetchall()
    assert len(runs) == len({(c, s) for c, s, _ in runs})  # every seed stored once
    assert {s for *_, s in runs} == {"finished"}
    assert len(epochs) == len(set(epochs)) == 4 * len(runs)  # no epoch lost or repeated
    killed, straight = json.loads(done.stdout), json.loads(fresh.stdout)
    assert killed["pairs"] == straight["pairs"] and killed["best"] == straight["best"]

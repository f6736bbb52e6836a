"""`archlab watch`: a live view built from the store alone, never writing it."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from archlab.errors import ArchlabError
from archlab.presets import make_spec
from archlab.stats.study import evaluate_study
from archlab.store import EpochRecord, RunRecord, Store
from archlab.store.study import load_study, save_study
from archlab.workflows import watch as watch_module
from archlab.workflows._watch_text import snapshot_lines
from archlab.workflows.watch import build_snapshot, read_snapshot, watch

Cli = Callable[..., tuple[int, str, str]]


def _run(run_id: int, status: str, *, budget: int | None = 4, reason: str | None = None,
         pid: int | None = None, hostname: str | None = None) -> RunRecord:  # fmt: skip
    return RunRecord(
        id=run_id, candidate_id=1, name=f"net{run_id}", seed=run_id % 2, config_key="k",
        config_json=None, rung=0, budget_epochs=budget, status=status, reason=reason,
        epochs_done=0, device="cpu", pid=pid, hostname=hostname, created_at=None,
        started_at=None, updated_at=None, finished_at=None,
    )  # fmt: skip


def _epoch(epoch: int, val: float, wall: float) -> EpochRecord:
    return EpochRecord(epoch, 1.0, 0.5, val, val + 0.01, images_per_s=100.0 * epoch, wall_s=wall)


def test_snapshot_shows_progress_eta_and_finished_runs() -> None:
    runs = [_run(1, "running"), _run(2, "pending"), _run(3, "diverged", reason="nan loss"),
            _run(4, "running", pid=12345, hostname="h")]  # fmt: skip
    epochs = {1: [_epoch(1, 0.6, 10.0), _epoch(2, 0.4, 20.0)], 3: [_epoch(1, 0.9, 5.0)]}
    snap = build_snapshot("s.db", runs, epochs, gone=frozenset({4}))
    first, second = snap.in_progress
    assert (first.run_id, first.epoch, first.epochs, first.val_error) == (1, 2, 4, 0.4)
    assert first.images_per_s == 200.0 and first.best_val_error == 0.4
    assert first.eta_s == pytest.approx(2 * 15.0)  # two epochs left at the mean epoch time
    assert (second.epoch, second.eta_s, second.val_error) == (0, None, None)  # no epoch yet
    assert "process 12345 on h is gone" in (second.note or "")
    assert snap.pending == 1 and [r.run_id for r in snap.finished] == [3]
    lines = snapshot_lines(snap)
    assert lines[0] == "s.db: 2 in progress, 1 pending, 1 finished"
    row = next(line for line in lines if line.strip().startswith("1 "))
    assert row.split()[:8] == ["1", "net1", "1", "0", "2/4", "40.00%", "200", "0:00:30"]
    assert any("diverged" in line and "nan loss" in line for line in lines)
    assert snapshot_lines(snap) == lines  # no clock inside: an unchanged store reads the same
    json.dumps(snap.to_dict())  # JSON-ready


def _study_store(path: Path) -> Path:
    """Two arms, three finished seeds each, far apart: a decided study, written by hand."""
    specs = {"C=1": make_spec("cifar", 11, 1, 8, width_multiplier=0.125),
             "C=2": make_spec("cifar", 11, 2, 5, width_multiplier=0.125)}  # fmt: skip
    arms = [{"label": label, "spec": spec.to_dict(), "matched": True}
            for label, spec in specs.items()]  # fmt: skip
    definition = {"arms": arms, "pairs": [["C=1", "C=2"]], "alpha": 0.05, "rope": 0.5,
                  "seeds": 3, "max_seeds": 3, "config_key": "k", "question": "C?",
                  "match": "macs", "target": 1}  # fmt: skip
    with Store(path, create=True) as db:
        for k, (label, spec) in enumerate(specs.items()):
            cid = db.add_candidate(name=label, spec=spec, macs=1, params=1, acts=1)
            for seed in range(3):
                run = db.add_run(candidate_id=cid, seed=seed, config_key="k", config={},
                                 budget_epochs=1)  # fmt: skip
                err = 0.5 - 0.3 * k + seed / 100
                db.record_epoch(run.id, EpochRecord(1, 1.0, err, err, err, wall_s=1.0))
                db.finish_run(run.id, "finished")
        save_study(db, "s1", definition)
    return path


def test_a_studys_verdict_is_the_study_commands(tmp_path: Path) -> None:
    store = _study_store(tmp_path / "s.db")
    snap = read_snapshot(store)
    (study,) = snap.studies
    with Store(store, read_only=True) as db:
        record = load_study(db, "s1")
        assert record is not None
        expected = evaluate_study(db, record, power=False).to_dict()
    (pair,) = study.pairs
    assert (pair.a, pair.b, pair.verdict) == ("C=1", "C=2", expected["pairs"][0]["verdict"])
    assert pair.diff == pytest.approx(expected["pairs"][0]["diff"])
    assert study.best == expected["best"]["arm"] and [a[1] for a in study.arms] == [3, 3]
    text = "\n".join(snapshot_lines(snap))
    assert "study s1" in text and pair.verdict in text and len(snap.finished) == 6


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(path: Path) -> tuple[int, int]:
    conn = sqlite3.connect(path)
    try:
        runs = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
        epochs = conn.execute("SELECT count(*) FROM epochs").fetchone()[0]
        return int(runs), int(epochs)
    finally:
        conn.close()


def _snapshot_or_none(store: Path):  # type: ignore[no-untyped-def]
    try:
        return read_snapshot(store)
    except Exception:  # the trainer is still creating the file
        return None


EPOCHS = 6
TRAIN = ["train-candidates", "--cardinalities", "1,2", "--depth", "11", "--width-multiplier",
         "0.125", "--limit", "400", "--batch-size", "32", "--epochs", str(EPOCHS), "--threads",
         "1", "--seeds", "0", "--device", "cpu", "--quiet"]  # fmt: skip


def test_watch_once_shows_a_run_in_progress_while_another_process_trains(
    cli: Cli, tmp_path: Path
) -> None:
    store = tmp_path / "runs.db"
    trainer = subprocess.Popen(
        [sys.executable, "-m", "archlab.cli.main", *TRAIN, "--store", str(store)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    seen: list[str] = []
    try:
        while trainer.poll() is None:
            snap = _snapshot_or_none(store)
            if snap is not None and any(r.epoch >= 1 for r in snap.in_progress):
                code, out, err = cli("watch", "--store", str(store), "--once")
                assert code == 0 and err == ""
                section = out.split("in progress:")[1].split("finished:")[0]
                if "/6" in section:
                    seen.append(out)
                    break
            time.sleep(0.05)
    finally:
        _, trainer_err = trainer.communicate(timeout=600)
    assert trainer.returncode == 0, trainer_err
    assert seen, "the trainer finished before watch saw a run in progress"
    row = next(ln for ln in seen[0].splitlines() if f"/{EPOCHS}" in ln and "resnext" in ln)
    assert "%" in row and row.split()[4].endswith(f"/{EPOCHS}")  # epoch of total, val error
    # The trainer was never held up: every run finished with all its epochs.
    with Store(store, read_only=True) as db:
        assert [(r.status, r.epochs_done) for r in db.runs()] == [("finished", EPOCHS)] * 2
    # And watch never writes: the file's bytes and rows are the same after it read them.
    before, rows = _digest(store), _rows(store)
    assert cli("watch", "--store", str(store), "--once")[0] == 0
    assert cli("watch", "--store", str(store), "--json")[0] == 0
    assert (_digest(store), _rows(store)) == (before, rows)


def test_plain_view_prints_a_changed_snapshot_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _study_store(tmp_path / "s.db")
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:
            raise KeyboardInterrupt  # Ctrl-C leaves the view quietly

    monkeypatch.setattr(watch_module.time, "sleep", sleep)
    out = io.StringIO()
    watch(store, interval=0.5, out=out, plain=True)
    text = out.getvalue()
    assert sleeps == [0.5, 0.5, 0.5]
    assert text.count("s.db: 0 in progress") == 1  # the store did not change: printed once
    assert text.startswith("--- ")


def test_the_live_connection_cannot_write_and_reads_beside_a_writer(tmp_path: Path) -> None:
    store = _study_store(tmp_path / "s.db")
    with pytest.raises(ArchlabError, match="read-only"):
        Store(store, live=True)
    with Store(store, read_only=True, live=True) as db:
        assert db.busy_timeout_s == 1.0
        with pytest.raises(ArchlabError, match="read-only"), db.transaction() as conn:
            conn.execute("DELETE FROM epochs")
    # A trainer mid-write (its write lock held): the view reads the committed state at once,
    # and the trainer's commit goes through after it.
    writer = sqlite3.connect(store, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE runs SET status = 'running' WHERE id = 1")
        assert [r.run_id for r in read_snapshot(store).in_progress] == []
        writer.execute("COMMIT")
    finally:
        writer.close()
    assert [r.run_id for r in read_snapshot(store).in_progress] == [1]


def test_terminal_view_redraws_until_ctrl_c(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _study_store(tmp_path / "s.db")
    calls: list[float] = []

    def sleep(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(watch_module.time, "sleep", sleep)
    out = io.StringIO()
    last = watch(store, interval=1.0, out=out, plain=False)
    assert len(calls) == 2 and len(last.finished) == 6
    assert "refresh every 1 s, Ctrl-C to leave" in out.getvalue() and "study s1" in out.getvalue()


def _beside(store: Path) -> list[str]:
    return sorted(p.name for p in store.parent.iterdir())


def test_watch_leaves_no_files_beside_the_store(tmp_path: Path) -> None:
    # A read-only connection to a WAL store creates -wal and -shm and cannot remove them; the
    # view has SQLite remove the ones its own open created (docs/training.md).
    store = _study_store(tmp_path / "s.db")
    before = _digest(store)
    assert _beside(store) == ["s.db"]
    watch(store, once=True, out=io.StringIO())
    read_snapshot(store)
    assert _beside(store) == ["s.db"]
    assert _digest(store) == before


def test_watch_keeps_the_files_a_trainer_has_open(tmp_path: Path) -> None:
    store = _study_store(tmp_path / "s.db")
    trainer = sqlite3.connect(store, isolation_level=None)
    try:
        trainer.execute("SELECT count(*) FROM runs").fetchone()  # opens the -wal and -shm
        assert _beside(store) == ["s.db", "s.db-shm", "s.db-wal"]
        read_snapshot(store)
        assert _beside(store) == ["s.db", "s.db-shm", "s.db-wal"]  # still the trainer's
        trainer.execute("UPDATE runs SET status = 'running' WHERE id = 1")
        assert [r.run_id for r in read_snapshot(store).in_progress] == [1]
    finally:
        trainer.close()
    assert _beside(store) == ["s.db"]  # the trainer's close removed them, as without a view
    assert [r.run_id for r in read_snapshot(store).in_progress] == [1]


def test_a_trainer_closing_first_leaves_its_commits_to_the_views_tidy(tmp_path: Path) -> None:
    # The view opens first (creating the files), a trainer commits and closes while the view
    # reads: the trainer was not last, so its commit sits in the -wal file; the view's tidy is
    # the last close and folds it into the store before removing the files.
    store = _study_store(tmp_path / "s.db")
    with Store(store, read_only=True, live=True) as db:
        assert len(db.runs()) == 6
        trainer = sqlite3.connect(store, isolation_level=None)
        trainer.execute("UPDATE runs SET status = 'running' WHERE id = 2")
        trainer.close()
        assert Path(f"{store}-wal").stat().st_size > 0
    assert _beside(store) == ["s.db"]
    conn = sqlite3.connect(f"file:{store}?immutable=1", uri=True)  # the file alone, no -wal
    try:
        assert conn.execute("SELECT status FROM runs WHERE id = 2").fetchone()[0] == "running"
    finally:
        conn.close()

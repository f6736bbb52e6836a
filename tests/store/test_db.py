"""The results store: schema, idempotent writes, crash safety, stale-run recovery, migration."""

from __future__ import annotations

import math
import socket
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers.stores import make_version0_store

from archlab.errors import ArchlabError
from archlab.space import make_spec
from archlab.store import SCHEMA_VERSION, EpochRecord, RunRecord, Store

CONFIG = {"epochs": 3, "lr": 0.1, "batch_size": 128}


def _spec(cardinality: int = 4, d: int = 4) -> dict[str, Any]:
    return make_spec("cifar", 29, cardinality, d, width_multiplier=0.25).to_dict()


def _epoch(epoch: int, val: float, test: float, **kw: float) -> EpochRecord:
    fields = dict(train_loss=2.0 / epoch, train_error=0.5 / epoch, images_per_s=100.0 * epoch,
                  wall_s=10.0, peak_mem_bytes=1000 * epoch, lr=0.1)  # fmt: skip
    fields.update(kw)
    return EpochRecord(epoch=epoch, val_error=val, test_error=test, **fields)  # type: ignore[arg-type]


def _run(store: Store, *, seed: int = 0, name: str = "resnext29_4x4d_w0.25") -> RunRecord:
    cid = store.add_candidate(name=name, spec=_spec(), macs=1_000, params=200, acts=30)
    return store.add_run(
        candidate_id=cid, seed=seed, config_key="abc123", config=CONFIG, budget_epochs=3
    )


def _start(store: Store, run_id: int) -> None:
    store.start_run(run_id, device="cpu", archlab_version="0.1.0", torch_version="2.4.0",
                    git_commit="deadbeef")  # fmt: skip


def _python(code: str) -> subprocess.CompletedProcess[str]:
    """Run code in a fresh interpreter (a separate process that can die)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=60)  # fmt: skip


def test_new_store_has_schema_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "store.db"
    Store(path, create=True).close()
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"meta", "candidates", "runs", "epochs"} <= tables
    version = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
    assert int(version) == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    with Store(path, create=False) as store:  # reopening an existing store
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert store._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_a_missing_store_is_refused_unless_asked_to_create(tmp_path: Path) -> None:
    import archlab

    assert archlab.Store is Store and "Store" in archlab.__all__
    typo = tmp_path / "typo.db"
    for opener in (lambda: Store(typo), lambda: Store(typo, read_only=True)):
        with pytest.raises(ArchlabError) as info:
            opener()
        assert str(info.value) == f"no results store at {str(typo)!r} (no such file)"
    assert not typo.exists()  # the refusal leaves nothing behind
    with pytest.raises(ArchlabError, match="a folder"):
        Store(tmp_path)
    with pytest.raises(ArchlabError, match="both created and opened read-only"):
        Store(typo, create=True, read_only=True)
    with Store(tmp_path / "new" / "s.db", create=True) as store:  # parent folders made too
        _run(store)
    with Store(tmp_path / "new" / "s.db") as store:  # existing: the default opens it
        assert len(store.runs()) == 1


def test_a_file_where_the_stores_folder_goes_is_one_line(tmp_path: Path) -> None:
    # count --measure --store and match-flops --match speed --store open the store this way;
    # a file in the folder's place once ended in mkdir's FileExistsError traceback.
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder")
    with pytest.raises(ArchlabError) as info:
        Store(blocker / "runs" / "s.db", create=True)
    assert str(info.value).startswith(f"store folder {str(blocker / 'runs')!r} cannot be made: ")
    assert blocker.read_text() == "a file, not a folder"


def test_add_candidate_is_idempotent_and_derives_columns(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", create=True) as store:
        spec = _spec(8, 4)
        a = store.add_candidate(name="x", spec=spec, macs=1, params=2, acts=3)
        reordered = dict(reversed(list(spec.items())))  # key order must not matter
        assert store.add_candidate(name="x", spec=reordered, macs=1, params=2, acts=3) == a
        b = store.add_candidate(name="y", spec=_spec(2, 8), macs=1, params=2, acts=3)
        assert b != a
        row = store._conn.execute("SELECT * FROM candidates WHERE id = ?", (a,)).fetchone()
    assert (row["template"], row["depth"], row["cardinality"]) == ("cifar", 29, 8)
    # d scales with the 0.25 multiplier: 16 -> 4; stem 64 -> 16.
    assert (row["bottleneck_width"], row["group_width"], row["width_multiplier"]) == (4, 32, 0.25)


def test_bad_spec_is_an_archlab_error(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", create=True) as store, pytest.raises(ArchlabError, match="spec"):
        store.add_candidate(name="x", spec={"template": "cifar"}, macs=1, params=1, acts=1)


def test_run_lifecycle(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", create=True) as store:
        run = _run(store)
        assert run.status == "pending" and run.epochs_done == 0 and run.budget_epochs == 3
        assert _run(store).id == run.id  # same candidate, seed, config_key and rung
        assert _run(store, seed=1).id != run.id
        rung1 = store.add_run(candidate_id=run.candidate_id, seed=0, config_key="abc123",
                                        config=CONFIG, budget_epochs=9, rung=1)  # fmt: skip
        assert rung1.id != run.id and rung1.rung == 1
        _start(store, run.id)
        (running,) = store.runs(status="running")
        assert running.pid is not None and running.hostname == socket.gethostname()
        assert running.started_at is not None and running.device == "cpu"
        store.record_epoch(run.id, _epoch(1, 0.5, 0.52))
        store.finish_run(run.id, "finished")
        (done,) = store.runs(status="finished")
        assert done.epochs_done == 1 and done.finished_at is not None and done.reason is None
        store.finish_run(rung1.id, "diverged", "loss is nan at epoch 2")
        assert store.runs(status="diverged")[0].reason == "loss is nan at epoch 2"
        assert [r.status for r in store.runs()] == ["finished", "pending", "diverged"]


def test_bad_status_and_unknown_ids_are_archlab_errors(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", create=True) as store:
        run = _run(store)
        with pytest.raises(ArchlabError, match="'done'"):
            store.finish_run(run.id, "done")
        with pytest.raises(ArchlabError, match="'running'"):
            store.finish_run(run.id, "running")  # not a final status
        with pytest.raises(ArchlabError, match="'bogus'"):
            store.runs(status="bogus")
        with pytest.raises(ArchlabError, match="no run with id 99"):
            store.record_epoch(99, _epoch(1, 0.5, 0.5))
        with pytest.raises(ArchlabError, match="no candidate with id 7"):
            store.add_run(candidate_id=7, seed=0, config_key="k", config={},
                                    budget_epochs=None)  # fmt: skip
        with pytest.raises(ArchlabError, match="epoch must be"):
            store.record_epoch(run.id, EpochRecord(0, 1.0, 0.5, 0.5, 0.5))


def test_start_run_refuses_a_run_another_process_holds(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", create=True) as store:
        run = _run(store)
        _start(store, run.id)
        _start(store, run.id)  # the same process may restart its own run
        store._conn.execute("UPDATE runs SET pid = 1 WHERE id = ?", (run.id,))
        with pytest.raises(ArchlabError, match="already running"):
            _start(store, run.id)


def test_record_epoch_replaces_and_truncate_forgets(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", create=True) as store:
        run = _run(store)
        for e in (1, 2, 3):
            store.record_epoch(run.id, _epoch(e, 0.5, 0.5))
        store.record_epoch(run.id, _epoch(2, 0.25, 0.3))  # epoch 2 re-run after a resume
        epochs = store.epochs(run.id)
        assert [e.epoch for e in epochs] == [1, 2, 3]
        assert epochs[1].val_error == 0.25 and epochs[1].test_error == 0.3
        assert store.runs()[0].epochs_done == 3
        store.truncate_epochs(run.id, after_epoch=1)
        assert [e.epoch for e in store.epochs(run.id)] == [1]
        assert store.runs()[0].epochs_done == 1


def test_nan_and_numpy_metrics(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", create=True) as store:
        run = _run(store)
        store.record_epoch(run.id, _epoch(1, 0.9, 0.9, train_loss=float("nan")))
        # numpy scalars, as a training loop may hand over; sqlite3 cannot bind them as they are.
        numpy = _epoch(2, np.float32(0.5), 0.5, peak_mem_bytes=np.int64(7))  # type: ignore[arg-type]
        store.record_epoch(run.id, numpy)
        first, second = store.epochs(run.id)
    assert math.isnan(first.train_loss) and first.test_top5_error is None  # NaN is NULL in SQLite
    assert second.val_error == 0.5 and second.peak_mem_bytes == 7


def test_results_frame_last_versus_best(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", create=True) as store:
        run = _run(store)
        _start(store, run.id)
        store.record_epoch(run.id, _epoch(1, 0.50, 0.52))
        store.record_epoch(run.id, _epoch(2, 0.30, 0.33, test_top5_error=0.1))  # best val
        # last; a skewed throughput, so the median (200) is not the mean (400)
        store.record_epoch(run.id, _epoch(3, 0.40, 0.41, test_top5_error=0.09, images_per_s=900.0))
        store.finish_run(run.id, "finished")
        _run(store, seed=1)  # pending, no epochs
        other = store.add_candidate(name="aaa", spec=_spec(1, 16), macs=5, params=6, acts=7)
        store.add_run(candidate_id=other, seed=0, config_key="k", config={},
                                budget_epochs=None)  # fmt: skip
        frame = store.results_frame()
        long = store.epochs_frame()
    assert list(frame["name"]) == ["aaa", "resnext29_4x4d_w0.25", "resnext29_4x4d_w0.25"]
    assert list(frame["seed"]) == [0, 0, 1]
    row = frame.iloc[1]
    assert row["status"] == "finished" and row["epochs"] == 3
    assert row["val_error"] == 0.40 and row["best_val_error"] == 0.30 and row["best_epoch"] == 2
    assert row["test_error"] == 0.41 and row["test_error_at_best_val"] == 0.33
    assert row["test_top5_error"] == 0.09 and row["train_loss"] == pytest.approx(2.0 / 3)
    assert row["images_per_s"] == 200.0  # median of 100, 200, 900
    assert row["wall_s"] == 30.0 and row["peak_mem_bytes"] == 3000
    assert (row["macs"], row["params"], row["acts"]) == (1_000, 200, 30)
    assert (row["cardinality"], row["bottleneck_width"], row["depth"]) == (4, 4, 29)
    assert row["device"] == "cpu" and row["config_key"] == "abc123" and row["budget_epochs"] == 3
    empty = frame.iloc[2]
    assert empty["epochs"] == 0 and empty["status"] == "pending"
    for col in ("val_error", "best_val_error", "test_error", "images_per_s", "wall_s"):
        assert math.isnan(empty[col]), col
    assert list(long.columns[:6]) == ["run_id", "name", "seed", "rung", "config_key", "epoch"]
    assert list(long["epoch"]) == [1, 2, 3] and list(long["val_error"]) == [0.5, 0.3, 0.4]


def test_empty_store_frames(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", create=True) as store:
        frame, long = store.results_frame(), store.epochs_frame()
    assert frame.empty and {"name", "val_error", "best_val_error", "macs"} <= set(frame.columns)
    assert long.empty and "val_error" in long.columns


def test_data_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path, create=True) as store:
        run = _run(store)
        store.record_epoch(run.id, _epoch(1, 0.5, 0.5))
    with Store(path, create=False) as store:
        assert store.runs()[0].epochs_done == 1
        assert store.epochs(run.id)[0].val_error == 0.5


def test_recover_stale_runs(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path, create=True) as store:
        ours, dead, remote = _run(store, seed=0), _run(store, seed=1), _run(store, seed=2)
        _start(store, ours.id)
        _start(store, remote.id)
        store._conn.execute("UPDATE runs SET hostname = 'elsewhere' WHERE id = ?", (remote.id,))
    # A worker that starts a run and exits without finishing it leaves a dead pid behind.
    done = _python(f"""
        from archlab.store import Store
        with Store({str(path)!r}, create=False) as s:
            s.start_run({dead.id}, device="cpu", archlab_version="0", torch_version="0",
                        git_commit=None)
            print(next(r.pid for r in s.runs() if r.id == {dead.id}))
    """)
    assert done.returncode == 0, done.stderr
    dead_pid = int(done.stdout)
    with Store(path, create=False) as store:
        (changed,) = store.recover_stale_runs()
        assert changed.id == dead.id and changed.status == "interrupted"
        assert changed.reason == f"process {dead_pid} on {socket.gethostname()} died"
        status = {r.id: r.status for r in store.runs()}
        assert status == {ours.id: "running", dead.id: "interrupted", remote.id: "running"}
        assert store.recover_stale_runs() == []


def test_crash_loses_only_the_write_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path, create=True) as store:
        run = _run(store)
    # Commit two epochs, leave a third half-written in an open transaction, then die hard.
    crashed = _python(f"""
        import os
        from archlab.store import EpochRecord, Store
        s = Store({str(path)!r}, create=False)
        s.start_run({run.id}, device="cpu", archlab_version="0", torch_version="0",
                    git_commit=None)
        for e in (1, 2):
            s.record_epoch({run.id}, EpochRecord(e, 1.0, 0.5, 0.4, 0.4))
        s._conn.execute("BEGIN IMMEDIATE")
        s._conn.execute("INSERT INTO epochs(run_id, epoch, val_error) VALUES ({run.id}, 3, 0.1)")
        os._exit(9)
    """)
    assert crashed.returncode == 9, crashed.stderr
    with Store(path, create=False) as store:
        assert [e.epoch for e in store.epochs(run.id)] == [1, 2]
        assert store.runs()[0].epochs_done == 2
        assert [r.status for r in store.recover_stale_runs()] == ["interrupted"]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "no results store"),
        (lambda p: p.write_text("just some text, long enough to not look like an empty file\n"),
         "not a results store: file is not a database"),
        (lambda p: sqlite3.connect(p).close(), "empty file but not a results store"),
        (lambda p: _foreign_db(p), "SQLite database but not a results store"),
    ],
    ids=["missing", "text-file", "empty-sqlite", "foreign-sqlite"],
)  # fmt: skip
def test_open_existing_refuses_what_is_not_a_store(
    tmp_path: Path, setup: Callable[[Path], object], message: str
) -> None:
    path = tmp_path / "store.db"
    setup(path)
    with pytest.raises(ArchlabError, match=message) as info:
        Store(path, create=False)
    assert "\n" not in str(info.value)


def _foreign_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()


def test_create_refuses_to_take_over_a_foreign_database(tmp_path: Path) -> None:
    _foreign_db(tmp_path / "other.db")
    with pytest.raises(ArchlabError, match="not a results store"):
        Store(tmp_path / "other.db", create=True)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    Store(path, create=True).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(ArchlabError, match=f"schema version {SCHEMA_VERSION + 1}, newer"):
        Store(path, create=False)


def test_old_schema_is_migrated_in_place(tmp_path: Path) -> None:
    path = make_version0_store(tmp_path / "old.db")
    with Store(path, create=False) as store:
        (run,) = store.runs()
        assert (run.name, run.status, run.epochs_done) == ("old", "finished", 2)
        assert run.rung == 0 and run.hostname is None  # added columns take their defaults
        store.record_epoch(run.id, _epoch(3, 0.2, 0.2))
        frame = store.results_frame()
    assert frame.loc[0, "epochs"] == 3 and frame.loc[0, "val_error"] == 0.2
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta").fetchone()[0] == str(SCHEMA_VERSION)
    columns = {r[1] for r in conn.execute("PRAGMA table_info(runs)")}
    assert {"rung", "budget_epochs", "pid", "hostname", "finished_at"} <= columns
    conn.close()


def test_store_does_not_import_torch() -> None:
    done = _python("import sys, archlab.store; print('torch' in sys.modules)")
    assert done.stdout.strip() == "False", done.stderr

"""Faults of the store's file end in one line naming it and what to do (issue 12, classes 1, 5).

Built as the faults were found: a damaged page written into a copy of a real store, a lock held
by a second connection, SQLite's own "database or disk is full" (its page limit set to the
current size, so the next page fails as a full disk does), and a read-only store.
"""

from __future__ import annotations

import errno
import hashlib
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers.stores import make_version0_store

import archlab.store._db
import archlab.store._faults
from archlab.errors import ArchlabError
from archlab.space import make_spec
from archlab.store import EpochRecord, Store
from archlab.store._faults import StoreFaultError, fault_code

Cli = Callable[..., tuple[int, str, str]]
PAGE = 4096  # SQLite's default page size, which the store keeps


def _fill(path: Path, n: int = 8) -> Path:
    """A real store: n candidates, one run each with three epochs."""
    with Store(path, create=True) as store:
        for c in range(1, n + 1):
            spec = make_spec("cifar", 11, c, 1, width_multiplier=0.125)
            cid = store.add_candidate(name=spec.name, spec=spec, macs=c, params=c, acts=c)
            run = store.add_run(
                candidate_id=cid, seed=0, config_key="k", config={}, budget_epochs=3
            )
            for e in range(1, 4):
                store.record_epoch(run.id, EpochRecord(e, 1.0, 0.5, 0.4, 0.45))
            store.finish_run(run.id, "finished")
    return path


@pytest.fixture(scope="module")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _fill(tmp_path_factory.mktemp("real") / "store.db")


def _copy(real: Path, to: Path) -> Path:
    to.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(real, to)
    return to


def _damage(path: Path, table: str = "epochs") -> None:
    """Overwrite one whole page (a table's root, never page 1's header) with garbage."""
    conn = sqlite3.connect(path)
    (page,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    conn.close()
    assert page > 1
    with path.open("r+b") as f:
        f.seek((page - 1) * PAGE)
        f.write(bytes(range(256)) * (PAGE // 256))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


# --------------------------------------------------------------------------- a damaged page


@pytest.mark.parametrize("command", ["results", "report"])
def test_damaged_page_is_one_line_for_readers(
    cli: Cli, real_store: Path, tmp_path: Path, command: str
) -> None:
    store = _copy(real_store, tmp_path / "store.db")
    _damage(store)
    before = _digest(store)
    args = ["--out", str(tmp_path / "report")] if command == "report" else []
    code, out, err = cli(command, "--store", str(store), *args)
    assert code == 2 and out == ""
    line = _one_line(err)
    assert f"results store {str(store)!r} is damaged" in line
    assert f'`sqlite3 {store} ".recover" | sqlite3 recovered.db`' in line
    assert "restore it from a copy" in line
    assert _digest(store) == before and not (tmp_path / "report").exists()


def test_damage_found_by_a_read_not_the_open_check(
    cli: Cli, real_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A store too big to scan at open: the damage surfaces under pandas' read_sql_query, which
    # re-wraps the sqlite3 error; it is still one line.
    monkeypatch.setattr(archlab.store._faults, "QUICK_CHECK_MAX_BYTES", 0)
    store = _copy(real_store, tmp_path / "store.db")
    _damage(store)
    code, _, err = cli("results", "--store", str(store))
    assert code == 2 and "is damaged (database disk image is malformed)" in _one_line(err)


def test_damaged_page_is_one_line_for_train_candidates(
    cli: Cli, real_store: Path, tmp_path: Path
) -> None:
    store = _copy(real_store, tmp_path / "store.db")
    _damage(store, "candidates")
    before = _digest(store)
    code, _, err = cli(
        "train-candidates", "--cardinalities", "1", "--depth", "11", "--width-multiplier",
        "0.125", "--limit", "100", "--epochs", "1", "--store", str(store),
    )  # fmt: skip
    assert code == 2 and f"results store {str(store)!r} is damaged (" in _one_line(err)
    assert _digest(store) == before


def test_not_a_database_is_still_not_a_results_store(tmp_path: Path) -> None:
    path = tmp_path / "text.db"
    path.write_text("some text long enough not to look like an empty file at all\n" * 10)
    with pytest.raises(ArchlabError, match="not a results store") as info:
        Store(path, create=False, read_only=True)
    assert not isinstance(info.value, StoreFaultError)


# --------------------------------------------------------------------------- a held lock


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archlab.store._db, "BUSY_TIMEOUT_S", 0.2)


@pytest.fixture
def locked(real_store: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the store with a second connection holding its write lock."""
    store = _copy(real_store, tmp_path / "store.db")
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    yield store
    holder.execute("ROLLBACK")
    holder.close()


@pytest.mark.usefixtures("short_busy_timeout")
def test_write_to_a_locked_store_is_one_line(locked: Path) -> None:
    spec = make_spec("cifar", 11, 16, 1, width_multiplier=0.125)
    with Store(locked, create=False) as store, pytest.raises(StoreFaultError) as info:
        store.add_candidate(name=spec.name, spec=spec, macs=1, params=1, acts=1)
    assert str(info.value) == (
        f"results store {str(locked)!r} is locked by another process for 0.2 s; "
        "retry when it is done"
    )


@pytest.mark.usefixtures("short_busy_timeout")
def test_train_candidates_on_a_locked_store(cli: Cli, locked: Path) -> None:
    code, _, err = cli(
        "train-candidates", "--cardinalities", "1", "--depth", "11", "--width-multiplier",
        "0.125", "--limit", "100", "--epochs", "1", "--store", str(locked),
    )  # fmt: skip
    assert code == 2 and "is locked by another process" in _one_line(err)


@pytest.mark.usefixtures("short_busy_timeout")
def test_results_reads_a_locked_wal_store(cli: Cli, locked: Path) -> None:
    code, out, err = cli("results", "--store", str(locked), "--json")
    assert code == 0, err  # WAL: a writer's lock never blocks a reader
    assert '"status": "finished"' in out


@pytest.mark.usefixtures("short_busy_timeout")
def test_a_rollback_journal_store_locked_at_open(cli: Cli, tmp_path: Path) -> None:
    # A store not (yet) in WAL mode, as an older archlab left it: the lock blocks reading too.
    store = tmp_path / "old.db"
    conn = sqlite3.connect(store)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        code, _, err = cli("results", "--store", str(store))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 2 and f"{str(store)!r} is locked by another process" in _one_line(err)


# --------------------------------------------------------------------------- a full disk


def test_full_disk_on_a_store_write(real_store: Path, tmp_path: Path) -> None:
    path = _copy(real_store, tmp_path / "store.db")
    with Store(path, create=False) as store:
        (pages,) = store._conn.execute("PRAGMA page_count").fetchone()
        store._conn.execute(f"PRAGMA max_page_count = {pages}")  # no page more: disk full
        with pytest.raises(StoreFaultError) as info:
            for c in range(100, 400):
                spec = make_spec("cifar", 11, c, 1, width_multiplier=0.125)
                store.add_candidate(name=spec.name, spec=spec, macs=1, params=1, acts=1)
        assert str(info.value) == (
            f"no space left to write the results store {str(path)!r} (database or disk is "
            "full); free space and rerun: finished epochs are kept"
        )
        # The failed write was rolled back whole and the store still reads.
        assert len(store.runs(status="finished")) == 8
    with Store(path, create=False) as store:
        assert all(len(store.epochs(r.id)) == 3 for r in store.runs())


def test_enospc_creating_a_store_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "mkdir", full)
    with pytest.raises(StoreFaultError, match="free space and rerun: finished epochs are kept"):
        Store(tmp_path / "new" / "store.db", create=True)


def test_fault_codes_from_text_when_sqlite_gives_none() -> None:
    assert fault_code(sqlite3.DatabaseError("database disk image is malformed")) == 11
    assert fault_code(sqlite3.OperationalError("database or disk is full")) == 13
    assert fault_code(OSError(errno.ENOSPC, "full")) == 13
    assert fault_code(sqlite3.OperationalError("no such table: x")) is None
    assert fault_code(ValueError("x")) is None


# --------------------------------------------------------------------------- read-only


def _read_only_file_system(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make the store unwritable, and ``mode=ro`` fail as it does for a WAL store there.

    Tests run as root, where chmod stops no write, and mounting needs privileges CI may not
    have; so this reproduces SQLite's answer there (SQLITE_CANTOPEN: the ``-shm`` index cannot
    be created) and records the URIs tried. The real thing is in the test after the next.
    """
    tried: list[str] = []
    connect = archlab.store._faults._connect
    monkeypatch.setattr(archlab.store._faults, "can_write", lambda _: False)

    def fake(target: str, timeout_s: float) -> sqlite3.Connection:
        tried.append(target)
        if "mode=ro" in target:
            # Under a regular file no folder can ever exist: SQLITE_CANTOPEN on any machine.
            return connect(str(Path(__file__) / "x.db"), timeout_s)
        return connect(target, timeout_s)

    monkeypatch.setattr(archlab.store._faults, "_connect", fake)
    return tried


def test_results_and_report_read_a_read_only_store(
    cli: Cli, real_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _copy(real_store, tmp_path / "ro" / "store.db")
    before = _digest(store)
    tried = _read_only_file_system(monkeypatch)
    code, out, err = cli("results", "--store", str(store), "--json")
    assert code == 0, err
    assert out.count('"status": "finished"') == 8
    assert tried[-1].endswith("?immutable=1")  # mode=ro failed, immutable read the file
    code, _, err = cli("report", "--store", str(store), "--out", str(tmp_path / "rep"))
    assert code == 0, err
    assert "8" in (tmp_path / "rep" / "report.md").read_text()
    assert _digest(store) == before
    assert sorted(p.name for p in store.parent.iterdir()) == ["store.db"]  # no -wal, no -shm


def test_read_only_store_with_a_crashed_writers_wal(
    real_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A writer killed before its checkpoint leaves committed epochs only in the -wal file;
    # immutable=1 would miss them, so a private copy of both is read.
    store = _copy(real_store, tmp_path / "store.db")
    done = subprocess.run(
        [sys.executable, "-c", (
            "import os\nfrom archlab.store import EpochRecord, Store\n"
            f"s = Store({str(store)!r}, create=False)\n"
            "s.record_epoch(1, EpochRecord(4, 1.0, 0.1, 0.1, 0.1))\nos._exit(9)\n"
        )],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 9, done.stderr
    assert Path(f"{store}-wal").stat().st_size > 0
    _read_only_file_system(monkeypatch)
    with Store(store, create=False, read_only=True) as db:
        assert [e.epoch for e in db.epochs(1)] == [1, 2, 3, 4]


def test_read_only_store_refuses_writes_and_migrates_only_a_copy(
    tmp_path: Path, real_store: Path
) -> None:
    old = make_version0_store(tmp_path / "old.db")
    before = _digest(old)
    with Store(old, create=False, read_only=True) as store:
        assert [(r.name, r.rung, r.epochs_done) for r in store.runs()] == [("old", 0, 2)]
        with pytest.raises(StoreFaultError, match="is read-only"):
            store.finish_run(1, "failed", "x")
    assert _digest(old) == before  # the migration happened in memory only
    path = _copy(real_store, tmp_path / "store.db")
    with Store(path, create=False, read_only=True) as store, pytest.raises(StoreFaultError):
        store.finish_run(1, "failed", "x")
    with Store(path, create=False) as store:
        assert store.run(1).status == "finished"


def _can_mount_read_only() -> bool:
    if shutil.which("unshare") is None or sys.platform != "linux":
        return False
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True, check=False, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount_read_only(), reason="needs user namespaces (unshare -rm)")
def test_results_on_a_real_read_only_file_system(real_store: Path, tmp_path: Path) -> None:
    # A tmpfs mounted in a private mount namespace, remounted read-only: the real fault.
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = (
        f"mount -t tmpfs none {mnt} && cp {real_store} {mnt}/store.db && "
        f"mount -o remount,ro {mnt} && "
        f"{sys.executable} -m archlab.cli.main results --store {mnt}/store.db --json"
    )
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count('"status": "finished"') == 8


def test_reading_leaves_no_files_beside_the_store(
    cli: Cli, real_store: Path, tmp_path: Path
) -> None:
    store = _copy(real_store, tmp_path / "s" / "store.db")
    before = _digest(store)
    code, _, err = cli("results", "--store", str(store))
    assert code == 0, err
    assert sorted(p.name for p in store.parent.iterdir()) == ["store.db"]
    assert _digest(store) == before


def test_a_store_name_longer_than_the_file_system_allows(cli: Cli, tmp_path: Path) -> None:
    store = tmp_path / ("s" * 300 + ".db")
    code, _, err = cli("results", "--store", str(store))
    assert code == 2 and "is 303 bytes, over 255; give a shorter name" in _one_line(err)
    with pytest.raises(StoreFaultError, match="over 255; give a shorter name"):
        Store(store, create=True)

"""The results store: one SQLite file of candidates, runs and epoch metrics that outlives crashes.

WAL journal with ``synchronous=FULL`` and one short transaction per write, so a killed worker
loses at most the write in flight and readers never block writers. Migrations are additive: a
store written by an older archlab gets its missing tables, columns and indexes on open; a store
from a newer archlab is refused rather than guessed at. No torch here.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from archlab.errors import ArchlabError
from archlab.space import NetSpec, spec_from_dict
from archlab.store import frames
from archlab.store._faults import (
    check_integrity,
    connect_read_only,
    guard_faults,
    in_memory_copy,
    is_corruption,
    translated,
)
from archlab.store.schema import (
    EPOCH_METRICS,
    FINAL_STATUSES,
    RUN_SELECT,
    SCHEMA_VERSION,
    STATUSES,
    TABLES,
    EpochRecord,
    RunRecord,
    epoch_record,
    migrate,
    plain,
    run_record,
)

# How long a write waits for another connection's lock before the store reports it locked.
BUSY_TIMEOUT_S = 30.0
# A live view's reads wait at most this long: it skips a refresh rather than hold anyone up.
LIVE_BUSY_TIMEOUT_S = 1.0


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@guard_faults  # a damaged, locked, full or read-only file: one line naming it (store/_faults.py)
class Store:
    """An archlab results store at ``path``, which must exist unless ``create`` is true.

    A mistyped path is refused (``ArchlabError`` naming it) rather than silently becoming a
    new, empty store; ``create=True`` (training, studies) makes the file and its missing
    parent folders. ``read_only`` opens it without ever writing it (``results`` and
    ``report``): a read-only file or file system works, and an older store is migrated in a
    private in-memory copy. ``live`` (with ``read_only``, for ``watch``) reads beside a trainer
    through SQLite's read-only URI mode, which can never write, checkpoint or remove the file,
    with a short busy timeout; the ``-wal`` and ``-shm`` files its open created are removed
    after it closes if no one else has them open (docs/training.md, "Watching a store").
    """

    def __init__(
        self, path: str | Path, *, create: bool = False, read_only: bool = False, live: bool = False
    ) -> None:
        self.path = Path(path)
        self.busy_timeout_s = LIVE_BUSY_TIMEOUT_S if live else BUSY_TIMEOUT_S
        if create and read_only:
            raise ArchlabError("a results store cannot be both created and opened read-only")
        if live and not read_only:
            raise ArchlabError("a live view of a results store must be opened read-only")
        if not create and not self.path.is_file():
            what = "a folder" if self.path.is_dir() else "no such file"
            raise ArchlabError(f"no results store at {str(self.path)!r} ({what})")
        if create:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError) as exc:  # a file in a folder's place
                where, why = str(self.path.parent), exc.strerror
                raise ArchlabError(f"store folder {where!r} cannot be made: {why}") from None
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE in _write), DDL included.
        # The timeout lets parallel workers queue for the write lock instead of failing.
        if read_only:
            self._conn = connect_read_only(self.path, timeout_s=self.busy_timeout_s, uri=live)
        else:
            self._conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout_s, isolation_level=None
            )
        self._conn.row_factory = sqlite3.Row
        try:
            self._open(create, read_only)
        except BaseException:
            self._conn.close()
            raise

    def _open(self, create: bool, read_only: bool = False) -> None:
        try:
            tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as exc:  # "file is not a database"
            if isinstance(exc, sqlite3.OperationalError) or is_corruption(exc):
                raise  # locked, damaged, unopenable: the guard names the fault and the fix
            raise ArchlabError(f"{str(self.path)!r} is not a results store: {exc}") from None
        ours = {"candidates", "runs"}
        if not ours <= tables and (tables or not create):
            what = "a SQLite database" if tables else "an empty file"
            raise ArchlabError(f"{str(self.path)!r} is {what} but not a results store")
        version = 0  # a store from before the meta table
        if "meta" in tables:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'")
            version = int((row.fetchone() or [0])[0])
        if version > SCHEMA_VERSION:
            raise ArchlabError(
                f"{str(self.path)!r} has schema version {version}, newer than this archlab's "
                f"{SCHEMA_VERSION}; upgrade archlab to read it"
            )
        if tables:
            check_integrity(self._conn, self.path)  # a damaged page: refused now, not mid-run
        stale = version < SCHEMA_VERSION or not set(TABLES) <= tables
        if read_only and (stale or not self._has_identity()):
            self._conn = in_memory_copy(self._conn)  # migrate a private copy; the file stays
            self._conn.row_factory = sqlite3.Row
        elif not read_only:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        if stale:
            self._migrate()
        self.store_id = self._identity()
        if read_only:
            self._conn.execute("PRAGMA query_only=ON")  # the in-memory copy refuses writes too

    def _has_identity(self) -> bool:
        if "meta" not in {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master")}:
            return False
        row = self._conn.execute("SELECT 1 FROM meta WHERE key = 'store_id'").fetchone()
        return row is not None

    def _identity(self) -> str:
        """This store's own id, made once: it keeps two stores' run folders apart."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
        if row is not None:
            return str(row[0])
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('store_id', ?)",
                (uuid.uuid4().hex[:8],),
            )
            return str(db.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()[0])

    def _migrate(self) -> None:
        """Bring an older (or new, empty) store to SCHEMA_VERSION: tables, columns, indexes."""
        with self._write() as db:
            migrate(db, self.path)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed whole on exit, rolled back on any exception."""
        # IMMEDIATE takes the write lock up front, so two workers never deadlock upgrading a read.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            # SQLite may already have rolled back (a full disk does): a second error here
            # would hide the first one.
            if self._conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction over the store's connection, for tables kept beside its own
        (study records, :mod:`archlab.store.study`): committed whole, or rolled back."""
        with translated(self.path, timeout_s=self.busy_timeout_s), self._write() as db:
            yield db

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """The rows of one read-only SQL statement over the store's connection."""
        return self._conn.execute(sql, params).fetchall()

    def has_table(self, name: str) -> bool:
        """Whether the store's file holds a table of that name (reads only)."""
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        return self._conn.execute(sql, (name,)).fetchone() is not None

    def close(self) -> None:
        """Close the connection (committed writes are already on disk)."""
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writes

    def add_candidate(
        self, *, name: str, spec: dict[str, Any] | NetSpec, macs: int, params: int, acts: int
    ) -> int:
        """Insert a candidate once per spec (by canonical JSON) and return its id."""
        net = spec if isinstance(spec, NetSpec) else spec_from_dict(spec)
        # Canonical via the frozen spec, so key order or extra keys never make a second row.
        spec_json = json.dumps(net.to_dict(), sort_keys=True, separators=(",", ":"))
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO candidates(name, spec_json, template, depth, cardinality, "
                "bottleneck_width, group_width, width_multiplier, macs, params, acts, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, spec_json, net.template, net.depth, net.cardinality, net.bottleneck_width,
                 net.group_width, net.width_multiplier, int(macs), int(params), int(acts), _now()),
            )  # fmt: skip
            row = db.execute("SELECT id FROM candidates WHERE spec_json = ?", (spec_json,))
            return int(row.fetchone()["id"])

    def add_run(self, *, candidate_id: int, seed: int, config_key: str, config: dict[str, Any],
                budget_epochs: int | None, rung: int = 0) -> RunRecord:  # fmt: skip
        """Write the run of (candidate, seed, config_key, rung) as 'pending' unless it exists.

        A write, idempotent like :meth:`add_candidate`: returns the stored run, new or not.
        """
        with self._write() as db:
            found = db.execute("SELECT 1 FROM candidates WHERE id = ?", (candidate_id,))
            if found.fetchone() is None:
                raise ArchlabError(f"no candidate with id {candidate_id} in {str(self.path)!r}")
            now = _now()
            db.execute(
                "INSERT OR IGNORE INTO runs(candidate_id, seed, config_key, config_json, "
                "budget_epochs, rung, status, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                (candidate_id, seed, config_key, json.dumps(config, sort_keys=True),
                 budget_epochs, rung, now, now),
            )  # fmt: skip
            row = db.execute(
                f"{RUN_SELECT} WHERE candidate_id = ? AND seed = ? AND config_key = ? AND rung = ?",
                (candidate_id, seed, config_key, rung),
            ).fetchone()
        return run_record(row)

    def start_run(self, run_id: int, *, device: str, archlab_version: str, torch_version: str,
                  git_commit: str | None) -> None:  # fmt: skip
        """Mark a run 'running' in this process; refuses one another process is running."""
        host, pid = socket.gethostname(), os.getpid()
        with self._write() as db:
            run = self._get_run(db, run_id)
            # Checked inside the write lock, so two workers cannot both claim one run.
            if run.status == "running" and (run.pid, run.hostname) != (pid, host):
                raise ArchlabError(
                    f"run {run_id} is already running (pid {run.pid} on {run.hostname}); "
                    "if that machine no longer runs it, rerun with execution.reclaim"
                )
            sets = ("status = 'running', reason = NULL, finished_at = NULL, device = ?, "
                    "archlab_version = ?, torch_version = ?, git_commit = ?, hostname = ?, "
                    "pid = ?, started_at = ?")  # fmt: skip
            self._update_run(db, run_id, sets, device, archlab_version, torch_version, git_commit,
                             host, pid, _now())  # fmt: skip

    def set_device(self, run_id: int, device: str) -> None:
        """Where a run really ran, as its worker reports it (``auto`` resolved)."""
        with self._write() as db:
            self._get_run(db, run_id)
            self._update_run(db, run_id, "device = ?", device)

    def record_epoch(self, run_id: int, rec: EpochRecord) -> None:
        """Store one epoch's metrics (replacing a re-run epoch) and advance ``epochs_done``."""
        if isinstance(rec.epoch, bool) or not isinstance(rec.epoch, int) or rec.epoch < 1:
            raise ArchlabError(f"epoch must be an integer >= 1, got {rec.epoch!r}")
        values = [plain(m, getattr(rec, m)) for m in EPOCH_METRICS]
        with self._write() as db:
            self._get_run(db, run_id)
            db.execute(
                f"INSERT OR REPLACE INTO epochs(run_id, epoch, {', '.join(EPOCH_METRICS)}) "
                f"VALUES (?, ?, {', '.join('?' * len(EPOCH_METRICS))})",
                (run_id, rec.epoch, *values),
            )
            self._sync_epochs_done(db, run_id)

    def truncate_epochs(self, run_id: int, after_epoch: int) -> None:
        """Forget epochs after ``after_epoch`` (resuming from an older checkpoint)."""
        with self._write() as db:
            self._get_run(db, run_id)
            db.execute("DELETE FROM epochs WHERE run_id = ? AND epoch > ?", (run_id, after_epoch))
            self._sync_epochs_done(db, run_id)

    def finish_run(self, run_id: int, status: str, reason: str | None = None) -> None:
        """Close a run with a final status and, for anything but 'finished', a reason."""
        if status not in FINAL_STATUSES:
            raise ArchlabError(
                f"final status must be one of {', '.join(FINAL_STATUSES)}, got {status!r}"
            )
        with self._write() as db:
            self._get_run(db, run_id)
            self._update_run(db, run_id, "status = ?, reason = ?, finished_at = ?",
                             status, reason, _now())  # fmt: skip

    def recover_stale_runs(
        self, *, other_hosts: bool = False, alive: Callable[[RunRecord], bool] | None = None
    ) -> list[RunRecord]:
        """Mark 'running' runs whose process died as 'interrupted'; return them.

        ``alive`` decides whether a run's process still trains it (the driver asks the run
        folder's lock); without it, a pid check on this host, which a reused pid fools. Runs
        marked by another host are left alone unless ``other_hosts``: the user's word that those
        machines no longer run them (``alive`` still spares one whose lock is held).
        """
        host = socket.gethostname()
        changed: list[int] = []
        with self._write() as db:
            rows = db.execute(f"{RUN_SELECT} WHERE status = 'running'").fetchall()
            for row in rows:
                here = row["hostname"] == host
                if not here and not other_hosts:
                    continue
                if alive is not None:
                    if alive(run_record(row)):
                        continue
                elif here and row["pid"] is not None and _pid_alive(row["pid"]):
                    continue
                reason = f"process {row['pid']} on {row['hostname']} died"
                self._update_run(db, row["id"], "status = 'interrupted', reason = ?", reason)
                changed.append(row["id"])
        return [r for r in self.runs() if r.id in changed]

    # ------------------------------------------------------------------ reads

    def runs(self, *, status: str | None = None) -> list[RunRecord]:
        """All runs, or those with one status, in creation order."""
        if status is not None and status not in STATUSES:
            raise ArchlabError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        rows = self._conn.execute(
            f"{RUN_SELECT} WHERE ? IS NULL OR status = ? ORDER BY runs.id", (status, status)
        )
        return [run_record(r) for r in rows]

    def candidate_specs(self) -> dict[int, str]:
        """Each candidate's stored spec JSON by candidate id (an older store's may be a stub)."""
        rows = self._conn.execute("SELECT id, spec_json FROM candidates ORDER BY id")
        return {int(cid): str(text) for cid, text in rows}

    def run(self, run_id: int) -> RunRecord:
        """One run by id."""
        return self._get_run(self._conn, run_id)

    def epochs(self, run_id: int) -> list[EpochRecord]:
        """A run's epochs in order."""
        rows = self._conn.execute(
            f"SELECT epoch, {', '.join(EPOCH_METRICS)} FROM epochs WHERE run_id = ? ORDER BY epoch",
            (run_id,),
        )
        return [epoch_record(r) for r in rows]

    def epochs_frame(self) -> pd.DataFrame:
        """Every epoch of every run, long format, keyed by run_id, name, seed, rung and epoch."""
        return frames.epochs_frame(self._conn)

    def results_frame(self) -> pd.DataFrame:
        """One row per run: candidate, last and best metrics, throughput and provenance."""
        return frames.results_frame(self._conn)

    def _get_run(self, db: sqlite3.Connection, run_id: int) -> RunRecord:
        row = db.execute(f"{RUN_SELECT} WHERE runs.id = ?", (run_id,)).fetchone()
        if row is None:
            raise ArchlabError(f"no run with id {run_id} in {str(self.path)!r}")
        return run_record(row)

    def _sync_epochs_done(self, db: sqlite3.Connection, run_id: int) -> None:
        sql = "epochs_done = (SELECT COALESCE(MAX(epoch), 0) FROM epochs WHERE run_id = ?)"
        self._update_run(db, run_id, sql, run_id)

    def _update_run(self, db: sqlite3.Connection, run_id: int, assign: str, *args: Any) -> None:
        """``UPDATE runs SET <assign>`` for one run, stamping ``updated_at``."""
        db.execute(
            f"UPDATE runs SET {assign}, updated_at = ? WHERE id = ?", (*args, _now(), run_id)
        )


def _pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists here (a recycled pid looks alive: a known gap)."""
    try:
        os.kill(pid, 0)  # signal 0: an existence check only
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by another user
        pass
    return True

"""The results store's schema: tables, indexes, the row records and their conversions.

Version 1. A column added later must suit ALTER TABLE ADD COLUMN (a constant default, no UNIQUE
or PRIMARY KEY): ``Store._migrate`` adds whatever an older store lacks, diffed against
``TABLES``. No torch here.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from archlab.errors import ArchlabError

SCHEMA_VERSION = 1
STATUSES: tuple[str, ...] = ("pending", "running", "finished", "diverged", "failed", "interrupted")
FINAL_STATUSES: tuple[str, ...] = ("finished", "diverged", "failed", "interrupted")
EPOCH_METRICS: tuple[str, ...] = (
    "train_loss", "train_error", "val_error", "test_error", "test_top5_error",
    "images_per_s", "wall_s", "peak_mem_bytes", "lr",
)  # fmt: skip

_STATUS_CHECK = "CHECK (status IN ({}))".format(", ".join(f"'{s}'" for s in STATUSES))
TABLES: dict[str, str] = {
    "meta": "key TEXT PRIMARY KEY, value TEXT",
    "candidates": """id INTEGER PRIMARY KEY, name TEXT NOT NULL, spec_json TEXT NOT NULL,
        template TEXT, depth INTEGER, cardinality INTEGER, bottleneck_width INTEGER,
        group_width INTEGER, width_multiplier REAL, macs INTEGER, params INTEGER, acts INTEGER,
        created_at TEXT""",
    "runs": f"""id INTEGER PRIMARY KEY, candidate_id INTEGER NOT NULL REFERENCES candidates(id),
        seed INTEGER NOT NULL, config_key TEXT NOT NULL, config_json TEXT, budget_epochs INTEGER,
        rung INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'pending' {_STATUS_CHECK},
        reason TEXT, epochs_done INTEGER NOT NULL DEFAULT 0, device TEXT, archlab_version TEXT,
        torch_version TEXT, git_commit TEXT, hostname TEXT, pid INTEGER, created_at TEXT,
        started_at TEXT, updated_at TEXT, finished_at TEXT""",
    "epochs": """run_id INTEGER NOT NULL REFERENCES runs(id), epoch INTEGER NOT NULL,
        train_loss REAL, train_error REAL, val_error REAL, test_error REAL, test_top5_error REAL,
        images_per_s REAL, wall_s REAL, peak_mem_bytes INTEGER, lr REAL,
        PRIMARY KEY (run_id, epoch)""",
}
# Uniqueness lives in indexes, not table constraints, so a migrated table gets it too.
INDEXES = (
    "CREATE UNIQUE INDEX IF NOT EXISTS candidates_spec ON candidates(spec_json)",
    "CREATE UNIQUE INDEX IF NOT EXISTS runs_identity ON runs(candidate_id, seed, config_key, rung)",
)
RUN_SELECT = (
    "SELECT runs.*, candidates.name AS name FROM runs "
    "JOIN candidates ON candidates.id = runs.candidate_id"
)
# results_frame columns: who and what ran, then the metrics, then cost and provenance.
RESULT_HEAD = (
    "runs.id AS run_id", "c.name", "c.template", "c.cardinality", "c.bottleneck_width",
    "c.group_width", "c.depth", "c.width_multiplier", "runs.seed", "runs.rung",
    "runs.budget_epochs", "runs.status", "runs.reason", "runs.epochs_done AS epochs",
)  # fmt: skip
RESULT_TAIL = (
    "c.macs", "c.params", "c.acts", "runs.device", "runs.config_key", "runs.candidate_id",
    "runs.hostname", "runs.archlab_version", "runs.torch_version", "runs.git_commit",
    "runs.started_at", "runs.finished_at",
)  # fmt: skip


@dataclass(frozen=True)
class RunRecord:
    """One training run of a candidate: identity, progress and where it ran."""

    id: int
    candidate_id: int
    name: str
    seed: int
    config_key: str
    config_json: str | None
    rung: int
    budget_epochs: int | None
    status: str
    reason: str | None
    epochs_done: int
    device: str | None
    pid: int | None
    hostname: str | None
    created_at: str | None
    started_at: str | None
    updated_at: str | None
    finished_at: str | None


@dataclass(frozen=True)
class EpochRecord:
    """Metrics after one epoch (1-based); errors are fractions in [0, 1]."""

    epoch: int
    train_loss: float
    train_error: float
    val_error: float
    test_error: float
    test_top5_error: float | None = None
    images_per_s: float = float("nan")
    wall_s: float = float("nan")
    peak_mem_bytes: int | None = None
    lr: float = float("nan")


_NAN_FIELDS = ("train_loss", "train_error", "val_error", "test_error", "images_per_s", "wall_s",
               "lr")  # fmt: skip


def run_record(row: sqlite3.Row) -> RunRecord:
    keys = row.keys()
    return RunRecord(**{f: row[f] for f in RunRecord.__dataclass_fields__ if f in keys})


def epoch_record(row: sqlite3.Row) -> EpochRecord:
    """SQLite stores NaN as NULL; the float fields get their NaN back."""
    data: dict[str, Any] = dict(row)
    for field in _NAN_FIELDS:
        if data[field] is None:
            data[field] = float("nan")
    return EpochRecord(**data)


def plain(metric: str, value: Any) -> Any:
    """A plain Python number: sqlite3 cannot bind numpy float32 or int64 scalars."""
    if value is None:
        return None
    return int(value) if metric == "peak_mem_bytes" else float(value)


def typed_metrics(frame: pd.DataFrame) -> pd.DataFrame:
    """Metric columns as floats (an all-NULL column reads as object), peak memory as Int64."""
    for m in EPOCH_METRICS:
        frame[m] = frame[m].astype("Int64" if m == "peak_mem_bytes" else float)
    return frame


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring an older (or new, empty) store to SCHEMA_VERSION inside the caller's transaction:
    its missing tables, columns and indexes, diffed against ``TABLES``."""
    reference = sqlite3.connect(":memory:")  # the current schema, to diff columns against
    try:
        for table, columns in TABLES.items():
            reference.execute(f"CREATE TABLE {table} ({columns})")
            db.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
            have = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
            wanted = reference.execute(f"PRAGMA table_info({table})").fetchall()
            for _, name, kind, notnull, default, pk in wanted:
                if name in have:
                    continue
                if pk or (notnull and default is None):  # an identity column: no default
                    raise ArchlabError(f"cannot migrate {path}: {table} lacks {name}")
                extra = f" NOT NULL DEFAULT {default}" if notnull else ""
                db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}{extra}")
        for statement in INDEXES:
            db.execute(statement)
        db.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )
    finally:
        reference.close()

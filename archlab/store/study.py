"""Studies in the results store: the question, target, arms, alpha, rope and rounds of each.

Additive to :mod:`archlab.store`: two tables of their own, created on first use and kept
through the store's public ``transaction`` and ``query``; the runs stay in the store's own
tables, so a study's per-seed errors are always read from the runs themselves. No torch here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from archlab.errors import ArchlabError
from archlab.store._db import Store

_TABLES = (
    """CREATE TABLE IF NOT EXISTS studies (name TEXT PRIMARY KEY, definition_json TEXT NOT NULL,
        created_at TEXT, updated_at TEXT, status TEXT)""",
    """CREATE TABLE IF NOT EXISTS study_rounds (study TEXT NOT NULL REFERENCES studies(name),
        round INTEGER NOT NULL, need_json TEXT NOT NULL, started_at TEXT,
        PRIMARY KEY (study, round))""",
)


@dataclass(frozen=True)
class StudyRecord:
    """A stored study: its name, its definition (what makes it the same study) and rounds."""

    name: str
    definition: dict[str, Any]
    status: str | None
    rounds: tuple[dict[str, int], ...]  # seeds per arm asked for, round by round


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# Facts a study learns from its data, recorded beside its definition but not part of what makes
# it the same study: a store written before they were recorded still holds the same study.
NOTED_KEYS = ("val_size",)


def _canonical(definition: dict[str, Any]) -> str:
    return json.dumps(definition, sort_keys=True, separators=(",", ":"))


def _defining(definition: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in definition.items() if k not in NOTED_KEYS}


def _ensure(store: Store) -> None:
    # The store's own write transaction (one short transaction, as its own writes are).
    with store.transaction() as db:
        for statement in _TABLES:
            db.execute(statement)


def has_studies(store: Store) -> bool:
    """Whether the store holds a studies table with at least one study (reads only)."""
    return store.has_table("studies") and bool(store.query("SELECT 1 FROM studies LIMIT 1"))


def study_names(store: Store) -> list[str]:
    """Names of the stored studies, oldest first."""
    if not has_studies(store):
        return []
    rows = store.query("SELECT name FROM studies ORDER BY created_at, name")
    return [str(r[0]) for r in rows]


def load_study(store: Store, name: str) -> StudyRecord | None:
    """The stored study of that name, or None."""
    if not has_studies(store):
        return None
    found = store.query("SELECT definition_json, status FROM studies WHERE name = ?", (name,))
    if not found:
        return None
    row = found[0]
    rounds = store.query(
        "SELECT need_json FROM study_rounds WHERE study = ? ORDER BY round", (name,)
    )
    return StudyRecord(
        name,
        json.loads(row[0]),
        row[1],
        tuple(json.loads(r[0]) for r in rounds),
    )


def check_study(store: Store, name: str, definition: dict[str, Any]) -> StudyRecord | None:
    """Refuse a different study under ``name``; return the same one if stored (reads only)."""
    if not name or not isinstance(name, str):
        raise ArchlabError(f"study name must be a non-empty string, got {name!r}")
    record = load_study(store, name)
    theirs, mine = _defining(record.definition) if record else {}, _defining(definition)
    if record is not None and _canonical(theirs) != _canonical(mine):
        differ = sorted(k for k in set(theirs) | set(mine) if theirs.get(k) != mine.get(k))
        raise ArchlabError(
            f"the store {str(store.path)!r} holds a different study named {name!r} (differs in "
            f"{', '.join(differ)}); give another study name or another store"
        )
    return record


def save_study(store: Store, name: str, definition: dict[str, Any]) -> StudyRecord:
    """Record a new study, or return the same stored one; a different one is refused."""
    existing = check_study(store, name, definition)
    if existing is not None:
        return existing
    _ensure(store)
    with store.transaction() as db:
        db.execute(
            "INSERT INTO studies(name, definition_json, created_at, updated_at, status) "
            "VALUES (?, ?, ?, ?, 'running')",
            (name, _canonical(definition), _now(), _now()),
        )
    record = load_study(store, name)
    assert record is not None
    return record


def note_study(store: Store, name: str, **noted: Any) -> None:
    """Record what a study learned from its data (``val_size``) in its stored definition."""
    unknown = sorted(set(noted) - set(NOTED_KEYS))
    if unknown:
        raise ArchlabError(f"a study notes only {', '.join(NOTED_KEYS)}, got {unknown}")
    record = load_study(store, name)
    if record is None or all(record.definition.get(k) == v for k, v in noted.items()):
        return
    with store.transaction() as db:
        db.execute(
            "UPDATE studies SET definition_json = ?, updated_at = ? WHERE name = ?",
            (_canonical({**record.definition, **noted}), _now(), name),
        )


def record_round(store: Store, name: str, round_no: int, need: dict[str, int]) -> None:
    """Record the seeds per arm one round asks for (a rerun of the same round overwrites it)."""
    with store.transaction() as db:
        db.execute(
            "INSERT OR REPLACE INTO study_rounds(study, round, need_json, started_at) "
            "VALUES (?, ?, ?, ?)",
            (name, round_no, json.dumps(need, sort_keys=True), _now()),
        )
        db.execute("UPDATE studies SET updated_at = ? WHERE name = ?", (_now(), name))


def set_status(store: Store, name: str, status: str) -> None:
    """Mark the study ``decided``, ``max seeds``, ``time budget`` or ``running``."""
    with store.transaction() as db:
        db.execute(
            "UPDATE studies SET status = ?, updated_at = ? WHERE name = ?", (status, _now(), name)
        )

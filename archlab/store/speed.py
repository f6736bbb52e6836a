"""Speed measurements in the results store, keyed by what changes them and by the run they were
timed in.

Additive to :mod:`archlab.store`, as study records are: one table of its own, ``speed_runs``,
created on the first write and kept through the store's public ``transaction`` and ``query``. A
key is the canonical JSON of what was measured and how (the spec or model, input, batch, device
name, dtype, memory format, threads, torch version, repeats, warm-up; docs/counting.md,
"Measured speed"); a *session* is one side-by-side run (targets timed round-robin together). A
row is one key's measurement in one session, with its round samples, so the ratio of two
targets of one session can be recomputed round by round. Every session is kept (the history is
data); a second write of the same key in the same session changes nothing. Reading a comparison
back asks for the latest session that holds every key it needs (:func:`find_session`), so keys
from different sessions are never mixed. No torch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from archlab.store._db import Store

TABLE = "speed_runs"
_CREATE = """CREATE TABLE IF NOT EXISTS speed_runs (session TEXT NOT NULL,
    key_json TEXT NOT NULL, name TEXT NOT NULL, device TEXT, batch INTEGER,
    step_ms_per_image REAL, latency_ms REAL, result_json TEXT NOT NULL, created_at TEXT,
    PRIMARY KEY (session, key_json))"""


def canonical_key(key: dict[str, Any]) -> str:
    """The key as stored: sorted, compact JSON (two spellings of one key are one row)."""
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


def find_session(
    store: Store, keys: Sequence[dict[str, Any]]
) -> tuple[str, list[dict[str, Any]]] | None:
    """The latest session holding every one of ``keys`` and its measurements in their order,
    or None (reads only)."""
    if not store.has_table(TABLE) or not keys:
        return None
    wanted = [canonical_key(k) for k in keys]
    distinct = sorted(set(wanted))
    marks = ",".join("?" * len(distinct))
    rows = store.query(
        f"SELECT session FROM speed_runs WHERE key_json IN ({marks}) GROUP BY session "
        "HAVING COUNT(DISTINCT key_json) = ? ORDER BY MAX(created_at) DESC, MAX(rowid) DESC "
        "LIMIT 1",
        (*distinct, len(distinct)),
    )
    if not rows:
        return None
    session = str(rows[0][0])
    found = store.query(
        f"SELECT key_json, result_json FROM speed_runs WHERE session = ? AND key_json IN ({marks})",
        (session, *distinct),
    )
    by_key = {k: json.loads(r) for k, r in found}
    return session, [by_key[k] for k in wanted]


def find_speed(store: Store, key: dict[str, Any]) -> dict[str, Any] | None:
    """The latest stored measurement of exactly this key, or None (reads only)."""
    found = find_session(store, [key])
    return None if found is None else found[1][0]


def save_session(
    store: Store, session: str, measurements: Sequence[tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    """Keep one session's measurements ``(key, result)`` in one transaction: all or none."""
    now = datetime.now(timezone.utc).isoformat(timespec="microseconds")
    with store.transaction() as db:
        db.execute(_CREATE)
        for key, result in measurements:
            db.execute(
                "INSERT OR IGNORE INTO speed_runs(session, key_json, name, device, batch, "
                "step_ms_per_image, latency_ms, result_json, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session, canonical_key(key), str(result["name"]), key.get("device"),
                 key.get("batch"), result.get("step_ms_per_image"), result.get("latency_ms"),
                 json.dumps(result, sort_keys=True), now),
            )  # fmt: skip


def speed_rows(store: Store) -> list[dict[str, Any]]:
    """Every stored measurement with its key and session, oldest first (reads only)."""
    if not store.has_table(TABLE):
        return []
    rows = store.query(
        "SELECT key_json, result_json, session FROM speed_runs ORDER BY created_at, rowid"
    )
    return [{"key": json.loads(k), **json.loads(r), "session": s} for k, r, s in rows]

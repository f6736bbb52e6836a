"""Speed measurements in the results store, keyed by everything that changes them.

Additive to :mod:`archlab.store`, as study records are: one table of its own, ``speed``, created
on the first write and kept through the store's public ``transaction`` and ``query``. A key is
the canonical JSON of what was measured and how (the spec or model, input, batch, device name,
dtype, memory format, threads, torch version, repeats, warm-up; docs/counting.md, "Measured
speed"): the same key is read back, never measured again, and a different key is never mixed
with it. The first measurement of a key stays; a second write of it changes nothing. No torch.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from archlab.store._db import Store

TABLE = "speed"
_CREATE = """CREATE TABLE IF NOT EXISTS speed (key_json TEXT PRIMARY KEY, name TEXT NOT NULL,
    device TEXT, batch INTEGER, step_ms_per_image REAL, latency_ms REAL,
    result_json TEXT NOT NULL, created_at TEXT)"""


def canonical_key(key: dict[str, Any]) -> str:
    """The key as stored: sorted, compact JSON (two spellings of one key are one row)."""
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


def find_speed(store: Store, key: dict[str, Any]) -> dict[str, Any] | None:
    """The stored measurement of exactly this key, or None (reads only)."""
    if not store.has_table(TABLE):
        return None
    rows = store.query("SELECT result_json FROM speed WHERE key_json = ?", (canonical_key(key),))
    return json.loads(rows[0][0]) if rows else None


def save_speed(store: Store, key: dict[str, Any], result: dict[str, Any]) -> None:
    """Keep one measurement under its key; a key already stored keeps its first measurement."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with store.transaction() as db:
        db.execute(_CREATE)
        db.execute(
            "INSERT OR IGNORE INTO speed(key_json, name, device, batch, step_ms_per_image, "
            "latency_ms, result_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (canonical_key(key), str(result["name"]), key.get("device"), key.get("batch"),
             result.get("step_ms_per_image"), result.get("latency_ms"),
             json.dumps(result, sort_keys=True), now),
        )  # fmt: skip


def speed_rows(store: Store) -> list[dict[str, Any]]:
    """Every stored measurement with its key, oldest first (reads only)."""
    if not store.has_table(TABLE):
        return []
    rows = store.query("SELECT key_json, result_json FROM speed ORDER BY created_at, rowid")
    return [{"key": json.loads(k), **json.loads(r)} for k, r in rows]

"""Stores written by hand, as earlier archlab versions left them, for migration tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

# A version-0 store as an early archlab wrote it: no meta or epochs table, a runs table without
# the later columns, one finished run of candidate 'old'.
VERSION_0_SCHEMA = """
    CREATE TABLE candidates (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
                             spec_json TEXT NOT NULL UNIQUE, macs INTEGER, params INTEGER,
                             acts INTEGER);
    CREATE TABLE runs (id INTEGER PRIMARY KEY, candidate_id INTEGER NOT NULL,
                       seed INTEGER NOT NULL, config_key TEXT NOT NULL,
                       status TEXT NOT NULL, epochs_done INTEGER NOT NULL DEFAULT 0);
    INSERT INTO candidates VALUES (1, 'old', '{}', 10, 20, 30);
    INSERT INTO runs VALUES (1, 1, 0, 'k', 'finished', 2);
"""


def make_version0_store(path: Path, extra_sql: str = "") -> Path:
    """Write a version-0 store by hand (plus ``extra_sql``) for migration tests."""
    conn = sqlite3.connect(path)
    conn.executescript(VERSION_0_SCHEMA + extra_sql)
    conn.close()
    return path

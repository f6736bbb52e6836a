"""The store's public API for tables kept beside its own (study records use nothing private)."""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path

import pytest

import archlab.store
from archlab.store import Store
from archlab.store._faults import StoreFaultError
from archlab.store.study import load_study, save_study, study_names

STUDY = Path(archlab.store.__file__).with_name("study.py")


def test_transaction_commits_whole(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", create=True) as store:
        with store.transaction() as db:
            db.execute("CREATE TABLE extra (k TEXT PRIMARY KEY, v INTEGER)")
            db.execute("INSERT INTO extra VALUES ('a', 1)")
        assert store.has_table("extra") and not store.has_table("absent")
        assert [tuple(r) for r in store.query("SELECT k, v FROM extra")] == [("a", 1)]


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", create=True) as store:
        with store.transaction() as db:
            db.execute("CREATE TABLE extra (k TEXT PRIMARY KEY)")
        with pytest.raises(RuntimeError), store.transaction() as db:
            db.execute("INSERT INTO extra VALUES ('a')")
            raise RuntimeError("half-way")
        assert store.query("SELECT k FROM extra") == []


def test_query_on_a_read_only_store_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path, create=True) as store:
        save_study(store, "q", {"question": "cardinality", "arms": []})
    with Store(path, read_only=True) as store:
        assert study_names(store) == ["q"]
        record = load_study(store, "q")
        assert record is not None and record.definition["question"] == "cardinality"
        with pytest.raises((sqlite3.Error, StoreFaultError)):
            store.query("INSERT INTO studies(name, definition_json) VALUES ('x', '{}')")


def test_study_records_use_only_the_public_api() -> None:
    private = []
    for node in ast.walk(ast.parse(STUDY.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and node.attr != "__":
            private.append(node.attr)
    assert not private, private

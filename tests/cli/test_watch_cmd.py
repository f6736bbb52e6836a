"""`archlab watch` on the command line: one snapshot, and its refusals in one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from archlab.store import EpochRecord, Store

Cli = Callable[..., tuple[int, str, str]]


def _store(path: Path) -> Path:
    from archlab.presets import make_spec

    spec = make_spec("cifar", 11, 2, 5, width_multiplier=0.125)
    with Store(path, create=True) as db:
        cid = db.add_candidate(name=spec.name, spec=spec, macs=1, params=1, acts=1)
        run = db.add_run(candidate_id=cid, seed=0, config_key="k", config={}, budget_epochs=3)
        db.record_epoch(run.id, EpochRecord(1, 1.0, 0.5, 0.25, 0.3, images_per_s=50.0))
        db.finish_run(run.id, "finished")
    return path


def test_once_and_json(cli: Cli, tmp_path: Path) -> None:
    store = _store(tmp_path / "s.db")
    code, out, err = cli("watch", "--store", str(store), "--once")
    assert code == 0 and err == ""
    assert "in progress: none" in out and "25.00%" in out and "1/3" in out
    code, out, _ = cli("watch", "--store", str(store), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["finished"][0]["val_error"] == 0.25 and data["in_progress"] == []


def test_bad_input_is_one_line_and_exit_2(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    code, out, err = cli("watch", "--store", str(missing), "--once")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "no results store" in err and not missing.exists()  # nothing created
    other = tmp_path / "notes.txt"
    other.write_text("not a database\n")
    code, _, err = cli("watch", "--store", str(other), "--once")
    assert code == 2 and "not a results store" in err and len(err.strip().splitlines()) == 1
    assert other.read_text() == "not a database\n"
    store = _store(tmp_path / "s.db")
    code, _, err = cli("watch", "--store", str(store), "--interval", "0")
    assert code == 2 and "interval must be" in err


def test_watch_leaves_only_the_store_in_its_folder(cli: Cli, tmp_path: Path) -> None:
    store = _store(tmp_path / "s.db")
    for flags in (["--once"], ["--json"]):
        code, _, err = cli("watch", "--store", str(store), *flags)
        assert code == 0, err
        assert sorted(p.name for p in tmp_path.iterdir()) == ["s.db"]  # no -wal, no -shm

"""`archlab results` through the real entry point: table, JSON, CSV, Parquet, failures."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from archlab.cli import main, results_cmd

from archlab.space import make_spec
from archlab.store import EpochRecord, Store

# cli/main.py may or may not register the command yet; register it once for these tests.
if not any(c.name == "results" for c in main.app.registered_commands):
    results_cmd.register(main.app)

Cli = Callable[..., tuple[int, str, str]]
JSON_KEYS = {"name", "cardinality", "bottleneck_width", "depth", "seed", "status", "epochs",
             "val_error", "test_error", "macs", "params"}  # fmt: skip


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """A store with one finished two-epoch run and one pending run."""
    path = tmp_path / "runs" / "store.db"
    spec = make_spec("cifar", 29, 8, 16, width_multiplier=0.25).to_dict()
    with Store(path, create=True) as store:
        cid = store.add_candidate(name="resnext29_8x16d_w0.25", spec=spec, macs=12_345_678,
                                  params=98_765, acts=4_321)  # fmt: skip
        run = store.add_run(candidate_id=cid, seed=0, config_key="k1", config={},
                                      budget_epochs=2)  # fmt: skip
        store.record_epoch(run.id, EpochRecord(1, 1.5, 0.6, 0.55, 0.56, images_per_s=900.0))
        store.record_epoch(run.id, EpochRecord(2, 1.1, 0.4, 0.35, 0.37, images_per_s=1000.0))
        store.finish_run(run.id, "finished")
        store.add_run(candidate_id=cid, seed=1, config_key="k1", config={},
                                budget_epochs=2)  # fmt: skip
    return path


def test_table(cli: Cli, store_path: Path) -> None:
    code, out, err = cli("results", "--store", str(store_path))
    assert code == 0, err
    assert "2 runs in" in out and "resnext29_8x16d_w0.25" in out
    assert "finished" in out and "pending" in out
    assert "0.35" in out and "12,345,678" in out


def test_json(cli: Cli, store_path: Path) -> None:
    code, out, err = cli("results", "--store", str(store_path), "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 2 and set(rows[0]) >= JSON_KEYS
    done, pending = rows
    assert (done["seed"], done["status"], done["epochs"]) == (0, "finished", 2)
    assert (done["val_error"], done["test_error"], done["cardinality"]) == (0.35, 0.37, 8)
    assert done["macs"] == 12_345_678 and done["bottleneck_width"] == 16 and done["depth"] == 29
    assert pending["status"] == "pending" and pending["val_error"] is None  # NaN -> null


def test_csv(cli: Cli, store_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "export" / "results.csv"
    code, out, err = cli("results", "--store", str(store_path), "--csv", str(path))
    assert code == 0, err
    assert f"wrote 2 runs to {path}" in out.replace("\n", "")
    frame = pd.read_csv(path)
    assert list(frame["seed"]) == [0, 1] and list(frame["status"]) == ["finished", "pending"]
    assert frame.loc[0, "best_val_error"] == 0.35 and pd.isna(frame.loc[1, "val_error"])


def test_parquet_without_engine_names_the_extra(
    cli: Cli, store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for engine in ("pyarrow", "fastparquet"):  # as on a machine without the parquet extra
        monkeypatch.setitem(sys.modules, engine, None)
    path = tmp_path / "results.parquet"
    code, _, err = cli("results", "--store", str(store_path), "--parquet", str(path))
    assert code == 2 and not path.exists()
    assert (
        err
        == "archlab results: error: parquet export needs pyarrow: pip install 'archlab[parquet]'\n"
    )


def test_parquet(cli: Cli, store_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "results.parquet"
    code, _, err = cli("results", "--store", str(store_path), "--parquet", str(path))
    assert code == 0, err
    assert list(pd.read_parquet(path)["status"]) == ["finished", "pending"]


@pytest.mark.parametrize(
    "args",
    [["--store", "{tmp}/missing.db"], ["--store", "{tmp}/notes.txt"]],
    ids=["missing", "not-sqlite"],
)
def test_bad_store_is_one_line_and_exit_2(cli: Cli, args: list[str], tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("these are not the runs you are looking for\n")
    code, out, err = cli("results", *(a.format(tmp=tmp_path) for a in args))
    assert code == 2 and out == ""
    assert (
        err.startswith("archlab results: error: ")
        and err.count("\n") == 1
        and "Traceback" not in err
    )
    assert not (tmp_path / "missing.db").exists()  # looking never creates a store


def test_conflicting_outputs_are_a_usage_error(cli: Cli, store_path: Path) -> None:
    code, _, err = cli("results", "--store", str(store_path), "--json", "--csv", "x.csv")
    assert code == 2 and "at most one of --csv, --parquet, --json" in err


def test_csv_dash_is_stdout_and_nothing_else(
    cli: Cli, store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("results", "--store", str(store_path), "--csv", "-")
    assert code == 0 and err == "", err
    assert not (tmp_path / "-").exists()  # not a file named '-'
    frame = pd.read_csv(io.StringIO(out))  # stdout is the CSV alone: no "wrote ..." line
    assert list(frame["seed"]) == [0, 1] and list(frame["status"]) == ["finished", "pending"]


def test_parquet_dash_is_binary_stdout_but_not_to_a_terminal(
    store_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main.run(["results", "--store", str(store_path), "--parquet", "-"])
    out, err = capsysbinary.readouterr()
    assert code == 0 and err == b"" and not (tmp_path / "-").exists()
    assert list(pd.read_parquet(io.BytesIO(out))["status"]) == ["finished", "pending"]
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    code = main.run(["results", "--store", str(store_path), "--parquet", "-"])
    out, err = capsysbinary.readouterr()
    assert code == 2 and out == b""
    assert err.count(b"\n") == 1 and b"redirect stdout" in err


def test_missing_store_folder_is_refused_not_created(cli: Cli, tmp_path: Path) -> None:
    store = tmp_path / "no" / "such" / "store.db"
    code, out, err = cli("results", "--store", str(store), "--csv", str(tmp_path / "x.csv"))
    assert code == 2 and out == ""
    assert err == f"archlab results: error: no results store at {str(store)!r} (no such file)\n"
    assert not (tmp_path / "no").exists() and not (tmp_path / "x.csv").exists()


def test_csv_makes_missing_parent_folders(cli: Cli, store_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "c" / "results.csv"
    code, _, err = cli("results", "--store", str(store_path), "--csv", str(path))
    assert code == 0, err
    assert len(pd.read_csv(path)) == 2

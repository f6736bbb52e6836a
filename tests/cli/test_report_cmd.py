"""`archlab report` through the real entry point: report, paper tables, failure paths."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from archlab.cli import main as climain
from archlab.cli import report_cmd

from archlab.space import make_spec
from archlab.store import EpochRecord, Store

if "report" not in {c.name for c in climain.app.registered_commands}:
    report_cmd.register(climain.app)

Cli = Callable[..., tuple[int, str, str]]
COMMITTED = Path(__file__).resolve().parents[2] / "reports" / "paper-tables.md"


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """Two candidates with one finished run each."""
    path = tmp_path / "runs" / "store.db"
    with Store(path, create=True) as store:
        for c, val in ((1, 0.3), (4, 0.25)):
            spec = make_spec("cifar", 29, c, 4, width_multiplier=0.25)
            cid = store.add_candidate(
                name=spec.name, spec=spec, macs=10**6 * c, params=1000 * c, acts=100
            )
            run = store.add_run(
                candidate_id=cid,
                seed=0,
                config_key="k",
                config={"dataset": "digits"},
                budget_epochs=1,
            )
            store.record_epoch(run.id, EpochRecord(1, 1.0, val, val, val))
            store.finish_run(run.id, "finished")
    return path


def test_report(cli: Cli, store_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "my report"
    code, stdout, err = cli(
        "report", "--store", str(store_path), "--out", str(out), "--title", "Two runs"
    )
    assert code == 0, err
    assert "report.md" in stdout.replace("\n", "")
    text = (out / "report.md").read_text()
    assert text.startswith("# Two runs\n")
    command = f"archlab report --store {store_path} --out '{out}' --title 'Two runs'"
    assert f"Regenerate with: `{command}`" in text
    assert "- dataset: digits; budget: 1 epoch" in text and "30.00 (n=1)" in text
    assert (out / "figures" / "error-vs-macs.png").is_file()


def test_paper_tables(cli: Cli, tmp_path: Path) -> None:
    code, stdout, err = cli("report", "--paper-tables", "--out", str(tmp_path), "--json")
    assert code == 0, err
    assert json.loads(stdout) == {"written": [str(tmp_path / "paper-tables.md")]}
    assert (tmp_path / "paper-tables.md").read_bytes() == COMMITTED.read_bytes()
    assert not (tmp_path / "report.md").exists()  # no store asked for, none read


@pytest.mark.parametrize("what", ["missing", "text-file", "directory"])
def test_not_a_store_is_one_line_and_exit_2(cli: Cli, tmp_path: Path, what: str) -> None:
    bad = {
        "missing": tmp_path / "missing.db",
        "text-file": tmp_path / "notes.txt",
        "directory": tmp_path,
    }[what]
    (tmp_path / "notes.txt").write_text("these are not the runs you are looking for\n")
    code, out, err = cli("report", "--store", str(bad), "--out", str(tmp_path / "out"))
    assert code == 2 and out == ""
    assert (
        err.startswith("archlab report: error: ")
        and err.count("\n") == 1
        and "Traceback" not in err
    )
    assert not (tmp_path / "missing.db").exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("paper_tables", [False, True])
def test_out_is_a_file(cli: Cli, store_path: Path, tmp_path: Path, paper_tables: bool) -> None:
    # Said as export, demo and compare-spaces say it (it read "report folder ... directory").
    out = tmp_path / "f.md"
    out.write_text("x")
    tables = ["--paper-tables"] if paper_tables else []
    code, _, err = cli("report", *tables, "--store", str(store_path), "--out", str(out))
    assert code == 2 and err == f"archlab report: error: --out '{out}' is not a folder\n"


def test_out_is_required(cli: Cli) -> None:
    code, _, err = cli("report", "--paper-tables")
    assert code == 2 and "--out" in err


def test_out_dash_is_refused_and_makes_no_folder(
    cli: Cli, store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("report", "--store", str(store_path), "--out", "-")
    assert code == 2 and "'-' (stdout)" in err and err.count("\n") == 1
    assert not (tmp_path / "-").exists()

"""Output folders checked before training, compare.md swapped in whole, one output format
(issue 12, class 5)."""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path

import pytest

import archlab.report.compare as compare
from archlab.errors import ArchlabError

Cli = Callable[..., tuple[int, str, str]]
SPACE = """
template = "cifar"
depth = {{ choice = [11] }}
cardinality = {{ choice = [{c}] }}
bottleneck_width = {{ low = 2, high = 8 }}
width_multiplier = 0.125
"""


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_space_refuses_json_and_csv_together(cli: Cli) -> None:
    code, out, err = cli("space", "--template", "cifar", "--depth", "11", "--json", "--csv")
    assert code == 2 and out == "" and "--csv" in _one_line(err)


def test_compare_spaces_checks_out_before_training(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(SPACE.format(c=1))
    (tmp_path / "b.toml").write_text(SPACE.format(c=2))
    (tmp_path / "file").write_text("not a folder")
    store = tmp_path / "c.db"
    code, _, err = cli("compare-spaces", str(tmp_path / "a.toml"), str(tmp_path / "b.toml"),
                       "--samples", "2", "--epochs", "1", "--limit", "64", "--store", str(store),
                       "--out", str(tmp_path / "file" / "cmp"))  # fmt: skip
    assert code == 2 and "is not a folder" in _one_line(err), err
    assert not store.exists()  # nothing trained, nothing stored


def test_demo_checks_out_before_training(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    store = tmp_path / "d.db"
    code, _, err = cli("demo", "--store", str(store), "--out", str(tmp_path / "file" / "rep"))
    assert code == 2 and "is not a folder" in _one_line(err), err
    assert not store.exists()


def test_study_checks_its_workdir_before_storing_anything(cli: Cli, tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    (tmp_path / "s-work").write_text("a file where the work folder goes")
    code, _, err = cli(
        "study", "--preset", "cardinality", "--epochs", "1", "--limit", "64", "--store", str(store)
    )
    assert code == 2 and "workdir" in _one_line(err), err
    assert not store.exists()


def test_compare_md_is_swapped_in_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "cmp"
    (out / "figures").mkdir(parents=True)
    (out / "compare.md").write_text("old")
    (out / "figures" / "edf-compare.png").write_bytes(b"old")

    def half_way(c: object, out_dir: Path, *, command: str) -> str:
        (out_dir / "figures").mkdir(parents=True, exist_ok=True)
        (out_dir / "figures" / "edf-compare.png").write_bytes(b"new")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(compare, "render_comparison", half_way)
    with pytest.raises(ArchlabError, match="No space left"):
        compare.write_comparison(None, out, command="x")  # type: ignore[arg-type]
    assert (out / "compare.md").read_text() == "old"
    assert (out / "figures" / "edf-compare.png").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cmp"]  # no staging left behind


# One rule for paths (issue 14): an output (a store to be made, an export, a report folder)
# gets its missing parent folders; an input (a store to read) must exist and is refused in one
# line without creating anything.
TINY = ["--cardinalities", "1", "--depth", "11", "--width-multiplier", "0.125", "--limit", "64"]


def test_a_new_store_gets_its_missing_folders(cli: Cli, tmp_path: Path) -> None:
    store = tmp_path / "runs" / "deeper" / "x.db"
    code, _, err = cli("train-candidates", *TINY, "--epochs", "1", "--store", str(store))
    assert code == 0, err
    assert store.is_file() and (tmp_path / "runs" / "deeper" / "x-work").is_dir()
    export = tmp_path / "out" / "sub" / "x.csv"
    assert cli("results", "--store", str(store), "--csv", str(export))[0] == 0
    assert export.is_file()
    report = tmp_path / "reports" / "sub" / "rep"
    code, _, err = cli("report", "--store", str(store), "--out", str(report))
    assert code == 0 and (report / "report.md").is_file(), err


@pytest.mark.parametrize("command", ["results", "report"])
def test_a_store_to_read_must_exist(cli: Cli, tmp_path: Path, command: str) -> None:
    store = tmp_path / "missing" / "x.db"
    extra = ["--out", str(tmp_path / "rep")] if command == "report" else []
    code, out, err = cli(command, "--store", str(store), *extra)
    assert code == 2 and out == ""
    assert (
        _one_line(err)
        == f"archlab {command}: error: no results store at {str(store)!r} (no such file)"
    )
    assert sorted(tmp_path.iterdir()) == []  # neither the store's folder nor the report's


def test_a_store_under_a_file_is_refused_before_training(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    store = tmp_path / "file" / "sub" / "x.db"
    code, _, err = cli("train-candidates", *TINY, "--epochs", "1", "--store", str(store))
    assert code == 2 and "is a file, not a folder" in _one_line(err), err

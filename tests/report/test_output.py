"""A report is replaced whole or not at all (issue 12, class 5): a failure half-way through
writing the figures leaves the previous report.md and figures exactly as they were."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pytest

import archlab.report.plots
from archlab.errors import ArchlabError
from archlab.report.markdown import write_report
from archlab.report.output import atomic_output_dir, atomic_write_text, check_writable_dir
from archlab.report.paper_tables import write_paper_tables
from archlab.space import make_spec
from archlab.store import EpochRecord, Store


def _store(path: Path, errors: tuple[float, ...]) -> Path:
    """One finished run per cardinality, with the given validation errors."""
    with Store(path, create=True) as store:
        for c, val in zip((1, 2, 4), errors, strict=True):
            spec = make_spec("cifar", 29, c, 4, width_multiplier=0.25)
            cid = store.add_candidate(name=spec.name, spec=spec, macs=10**6 * c, params=c, acts=1)
            run = store.add_run(
                candidate_id=cid, seed=0, config_key="k", config={"dataset": "digits"},
                budget_epochs=2,
            )  # fmt: skip
            for epoch in (1, 2):
                store.record_epoch(run.id, EpochRecord(epoch, 1.0, val, val, val))
            store.finish_run(run.id, "finished")
    return path


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` by relative path, with a digest of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def first_report(tmp_path: Path) -> Path:
    out = tmp_path / "report"
    write_report(_store(tmp_path / "a.db", (0.3, 0.25, 0.2)), out, command="archlab report")
    (out / "notes.txt").write_text("the user's own file")
    return out


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_report_failing_half_way_leaves_the_old_one_intact(
    first_report: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: type
) -> None:
    before = _snapshot(first_report)
    assert "report.md" in before and sum(k.startswith("figures/") for k in before) >= 4
    save, saved = archlab.report.plots.save, []

    def fail_on_the_second(fig: object, stem: Path) -> list[Path]:
        if saved:
            raise error("killed half-way")
        saved.append(stem)
        return save(fig, stem)  # type: ignore[arg-type]

    monkeypatch.setattr(archlab.report.plots, "save", fail_on_the_second)
    new_store = _store(tmp_path / "b.db", (0.6, 0.5, 0.4))
    with pytest.raises(error, match="killed half-way"):
        write_report(new_store, first_report, command="archlab report")
    assert saved  # one new figure was written before the failure ...
    assert _snapshot(first_report) == before  # ... and none of it reached the report folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.db", "b.db", "report"]


def test_a_finished_report_replaces_figures_and_keeps_user_files(
    first_report: Path, tmp_path: Path
) -> None:
    (first_report / "figures" / "edf-7.png").write_bytes(b"stale figure of an older report")
    (first_report / "figures" / "mine.png").write_bytes(b"the user's own figure")
    old = (first_report / "report.md").read_text()
    new_store = _store(tmp_path / "b.db", (0.6, 0.5, 0.4))
    path = write_report(new_store, first_report, command="archlab report")
    assert path == first_report / "report.md" and path.read_text() != old
    assert "60.00" in path.read_text()
    assert not (first_report / "figures" / "edf-7.png").exists()  # ours, not written again
    assert (first_report / "figures" / "mine.png").read_bytes() == b"the user's own figure"
    assert (first_report / "notes.txt").read_text() == "the user's own file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.db", "b.db", "report"]


def test_atomic_output_dir_into_a_new_folder(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "out"
    with atomic_output_dir(out) as staging:
        assert staging.parent == out.parent and not out.exists()
        (staging / "sub").mkdir()
        (staging / "sub" / "a.txt").write_text("a")
        (staging / "b.txt").write_text("b")
    assert _snapshot(out) == _snapshot(out) and (out / "sub" / "a.txt").read_text() == "a"
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]


def test_paper_tables_written_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_paper_tables(tmp_path)
    old = path.read_text()
    mode = path.stat().st_mode
    path.write_text("an older version")

    def fail(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(Exception, match="No space left on device"):
        write_paper_tables(tmp_path)
    assert path.read_text() == "an older version"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary left
    monkeypatch.undo()
    assert atomic_write_text(path, old).read_text() == old and path.stat().st_mode == mode


def test_check_writable_dir_creates_nothing(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b"
    assert check_writable_dir(out, field="out") == out
    assert not (tmp_path / "a").exists() and list(tmp_path.iterdir()) == []
    (tmp_path / "c").mkdir()
    check_writable_dir(tmp_path / "c")
    assert list((tmp_path / "c").iterdir()) == []


def test_check_writable_dir_refuses_files_and_unwritable_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(ArchlabError, match=r"out '.*f' is not a folder$"):
        check_writable_dir(tmp_path / "f")
    with pytest.raises(ArchlabError, match=r"is not a folder \(its parent '.*f' is a file\)"):
        check_writable_dir(tmp_path / "f" / "sub", field="out")

    def read_only(*_: object, **__: object) -> str:
        raise OSError(30, "Read-only file system")

    # Root writes through any chmod, so the read-only file system is simulated at the probe.
    monkeypatch.setattr(tempfile, "mkdtemp", read_only)
    with pytest.raises(ArchlabError) as info:
        check_writable_dir(tmp_path / "new", field="work")
    assert (
        str(info.value) == f"work {str(tmp_path / 'new')!r} is not writable: Read-only file system"
    )

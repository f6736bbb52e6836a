"""report: a golden report over a synthetic store, its figures, and the edge cases.

The golden file is written by this code once: `ARCHLAB_UPDATE_GOLDEN=1 pytest tests/test_report.py`
rewrites it; review the diff. The key numbers are also checked independently below.
"""

from __future__ import annotations

import itertools
import os
import re
import sqlite3
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import archlab
import archlab.store as store_module
from archlab.complexity import totals
from archlab.errors import ArchlabError
from archlab.report import write_report
from archlab.space import make_spec
from archlab.store import EpochRecord, Store

GOLDEN = Path(__file__).parent / "data" / "report_golden.md"
COMMAND = "archlab report --store store.db --out out"
VERSION_LINE = f"- archlab: {archlab.__version__} (this report)"
# Final val errors per (C, d of the template before the 0.25 multiplier), per rung, per seed.
FINAL = {
    (1, 64): {0: [0.40, 0.42], 1: [0.30, 0.32]},
    (2, 64): {0: [0.36, 0.38], 1: [0.27, 0.28]},
    (4, 64): {0: [0.35, 0.34], 1: [0.25, 0.26]},
    (1, 92): {0: [0.37, 0.39], 1: [0.29, 0.29]},
    (1, 128): {0: [0.38, 0.36], 1: [0.28, 0.30]},
}


def _clock() -> Callable[[], str]:
    """Store timestamps from a counter, so the report's date is the same on every run."""
    tick = itertools.count()

    def now() -> str:
        t = next(tick)
        return f"2024-05-01T12:{t // 60:02d}:{t % 60:02d}.000+00:00"

    return now


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "_now", _clock())


def _candidate(store: Store, c: int, d: int) -> tuple[int, str]:
    spec = make_spec("cifar", 29, c, d, width_multiplier=0.25, input_size=8)
    macs, params, acts = totals(spec)
    cid = store.add_candidate(name=spec.name, spec=spec, macs=macs, params=params, acts=acts)
    return cid, spec.name


def _run(store: Store, cid: int, seed: int, rung: int, epochs: int) -> int:
    config = {"dataset": "digits", "epochs": epochs, "data": {"name": "digits"}}
    run = store.get_or_create_run(
        candidate_id=cid,
        seed=seed,
        config_key=f"key{rung}",
        config=config,
        budget_epochs=epochs,
        rung=rung,
    )
    store.start_run(
        run.id,
        device="cpu",
        archlab_version="0.0.test",
        torch_version="2.13.0",
        git_commit="0123456789abcdef0123",
    )
    return run.id


def build_store(path: Path) -> Path:
    """Five candidates (two Fig. 7 families) x 2 seeds x rungs 0/1, and one that never finished."""
    with Store(path) as store:
        for (c, d), rungs in FINAL.items():
            cid, _ = _candidate(store, c, d)
            for rung, finals in rungs.items():
                epochs = 2 + 2 * rung
                for seed, final in enumerate(finals):
                    run = _run(store, cid, seed, rung, epochs)
                    for e in range(1, epochs + 1):
                        val = 0.9 + (final - 0.9) * e / epochs
                        store.record_epoch(
                            run,
                            EpochRecord(
                                e,
                                2.0 / e,
                                val - 0.1,
                                val,
                                final + 0.01,
                                images_per_s=1000.0 + 100 * c,
                            ),
                        )
                    store.finish_run(run, "finished")
        cid, _ = _candidate(store, 8, 64)
        for seed, (status, reason) in enumerate(
            [("diverged", "loss is nan at epoch 2"), ("failed", "RuntimeError: out | of memory")]
        ):
            run = _run(store, cid, seed, 0, 2)
            store.record_epoch(run, EpochRecord(1, 2.0, 0.8, 0.85, 0.86))
            store.finish_run(run, status, reason)
    return path


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _referenced(text: str) -> list[str]:
    return re.findall(r"\]\((figures/[^)]+)\)", text)


@pytest.fixture(scope="module")
def golden_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The synthetic store's report, rendered once for the tests below."""
    tmp = tmp_path_factory.mktemp("golden")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(store_module, "_now", _clock())
        store = build_store(tmp / "store.db")
    path = write_report(store, tmp / "out", command=COMMAND)
    return path, path.read_text(encoding="utf-8")


def test_golden_markdown(golden_report: tuple[Path, str]) -> None:
    _, text = golden_report
    normalised = text.replace(VERSION_LINE, "- archlab: @VERSION@ (this report)")
    if os.environ.get("ARCHLAB_UPDATE_GOLDEN"):
        GOLDEN.write_text(normalised, encoding="utf-8")
    assert normalised == GOLDEN.read_text(encoding="utf-8")


def test_key_facts_computed_independently(golden_report: tuple[Path, str]) -> None:
    _, text = golden_report
    # Mean ± sample std of the rung-1 seeds, by hand: 1x64d has 0.30 and 0.32.
    assert "| `resnext29_1x16d_w0.25` | 1 | 16 | 29 | 16 |" in text
    row = next(
        line for line in text.splitlines() if line.startswith("| `resnext29_1x16d_w0.25` | 1 ")
    )
    assert "| 4 epochs (rung 1) | 31.00 ± 1.41 (n=2) | 32.00 ± 1.41 (n=2) | 4 finished |" in row
    assert "1,100" in row  # median images/s of 1000 + 100·C
    # The Pareto front of (MACs, mean rung-1 error) computed here by brute force.
    points = {}
    for (c, d), rungs in FINAL.items():
        spec = make_spec("cifar", 29, c, d, width_multiplier=0.25, input_size=8)
        points[spec.name] = (totals(spec)[0], float(np.mean(rungs[1])))
    front = sorted(
        n
        for n, (m, e) in points.items()
        if not any(m2 <= m and e2 <= e and (m2, e2) != (m, e) for m2, e2 in points.values())
    )
    section = text.split("### Pareto front")[1].split("##")[0]
    assert sorted(re.findall(r"`([^`]+)`", section)) == front
    assert "resnext29_1x32d_w0.25" not in section  # 1x128d: more MACs and more error than 2x64d
    # Kendall τ and Spearman ρ of the rung-0 vs rung-1 mean errors, from scipy.
    short = [np.mean(r[0]) for r in FINAL.values()]
    long = [np.mean(r[1]) for r in FINAL.values()]
    tau, rho = stats.kendalltau(short, long).statistic, stats.spearmanr(short, long).statistic
    assert f"| 2 epochs (rung 0) | 4 epochs (rung 1) | 5 | {tau:.3f} | {rho:.3f} |" in text
    # Failed and diverged runs are listed with their reasons, never dropped; pipes escaped.
    assert "| diverged | 1 | loss is nan at epoch 2 |" in text
    assert "| failed | 1 | RuntimeError: out \\| of memory |" in text
    assert "| `resnext29_8x16d_w0.25` | 8 | 16 |" in text and "1 diverged, 1 failed" in text
    # Header: provenance from the store, the date from its newest finished run.
    assert f"Regenerate with: `{COMMAND}`" in text
    assert "runs by archlab 0.0.test at git commit 0123456789ab" in text
    assert "- torch: 2.13.0; device: cpu" in text
    assert "- dataset: digits; budget: 2 epochs (rung 0), 4 epochs (rung 1)" in text
    assert re.search(r"- date: 2024-05-01 12:\d\d:\d\d UTC", text)
    assert "more cardinality | `resnext29_4x16d_w0.25`" in text  # the Fig. 7 families
    assert "more width | `resnext29_1x32d_w0.25`" in text


def test_figures_are_pngs_of_the_intended_size_and_referenced(
    golden_report: tuple[Path, str],
) -> None:
    path, text = golden_report
    figures = path.parent / "figures"
    pngs = sorted(p.name for p in figures.glob("*.png"))
    assert pngs == [
        "budget-ranking-1.png",
        "cardinality-vs-width-1.png",
        "curves-1.png",
        "error-vs-macs.png",
        "error-vs-params.png",
    ]
    refs = _referenced(text)
    for name in pngs:
        assert _png_size(figures / name) == (700, 450)
        assert f"figures/{name}" in refs
        svg = (figures / name).with_suffix(".svg")
        assert f"figures/{svg.name}" in refs and svg.read_text().lstrip().startswith("<?xml")
    assert all((path.parent / ref).is_file() for ref in refs)


def test_rerendering_is_byte_identical_and_clears_stale_figures(
    golden_report: tuple[Path, str], tmp_path: Path
) -> None:
    path, text = golden_report
    out = tmp_path / "again"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "curves-9.png").write_bytes(b"stale")
    (out / "figures" / "mine.png").write_bytes(b"not ours")
    again = write_report(path.parent.parent / "store.db", out, command=COMMAND)
    assert again.read_text(encoding="utf-8") == text
    assert (
        not (out / "figures" / "curves-9.png").exists() and (out / "figures" / "mine.png").exists()
    )
    for name in ("error-vs-macs.png", "error-vs-macs.svg", "curves-1.png"):
        assert (out / "figures" / name).read_bytes() == (
            path.parent / "figures" / name
        ).read_bytes()


def test_empty_store_says_no_runs_yet(tmp_path: Path) -> None:
    Store(tmp_path / "empty.db").close()
    text = write_report(tmp_path / "empty.db", tmp_path / "out", command="x").read_text()
    assert "No runs yet" in text and "## Candidates" not in text
    assert not (tmp_path / "out" / "figures").exists()


def test_only_failed_runs(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        cid, _ = _candidate(store, 2, 64)
        run = _run(store, cid, 0, 0, 3)
        store.finish_run(run, "failed", "ValueError: bad input")
    text = write_report(tmp_path / "s.db", tmp_path / "out", command="x").read_text()
    assert "| failed | 0 | ValueError: bad input |" in text
    assert "| `resnext29_2x16d_w0.25` |" in text and "| — | — | 1 failed |" in text
    assert "Not drawn: no candidate has a finished run" in text
    assert "- date: 2024-05-01" in text
    assert _referenced(text) == []


def test_one_candidate(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        cid, _ = _candidate(store, 4, 64)
        run = _run(store, cid, 0, 0, 2)
        for e in (1, 2):
            store.record_epoch(run, EpochRecord(e, 1.0, 0.5 / e, 0.6 / e, 0.61 / e))
        store.finish_run(run, "finished")
    path = write_report(tmp_path / "s.db", tmp_path / "out", command="x")
    text = path.read_text()
    assert "30.00 (n=1)" in text and "Not drawn: the store has no such pair" in text
    assert "Not computed" in text
    for ref in _referenced(text):
        assert (path.parent / ref).is_file()
        if ref.endswith(".png"):
            assert _png_size(path.parent / ref) == (700, 450)


def test_store_from_an_older_schema(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    # As in test_store: no meta or epochs table, a runs table without the later columns.
    conn.executescript("""
        CREATE TABLE candidates (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
                                 spec_json TEXT NOT NULL UNIQUE, macs INTEGER, params INTEGER,
                                 acts INTEGER);
        CREATE TABLE runs (id INTEGER PRIMARY KEY, candidate_id INTEGER NOT NULL,
                           seed INTEGER NOT NULL, config_key TEXT NOT NULL,
                           status TEXT NOT NULL, epochs_done INTEGER NOT NULL DEFAULT 0);
        INSERT INTO candidates VALUES (1, 'old', '{}', 10, 20, 30);
        INSERT INTO candidates VALUES (2, 'older', '{"x": 1}', 40, 50, 60);
        INSERT INTO runs VALUES (1, 1, 0, 'k', 'finished', 2);
        INSERT INTO runs VALUES (2, 2, 0, 'k', 'failed', 0);
    """)
    conn.close()
    text = write_report(path, tmp_path / "out", command="x").read_text()
    assert "| `old` | — | — | — | — | 0.00 | 20 | 30 |" in text
    assert "- date: no run has finished" in text and "- dataset: not stored" in text
    assert "| `older` | 0 | no epoch budget | failed | 0 | — |" in text


def test_not_a_store_is_an_archlab_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello, these are not runs at all, just some words\n")
    for bad in (tmp_path / "missing.db", tmp_path / "notes.txt", tmp_path):
        with pytest.raises(ArchlabError) as info:
            write_report(bad, tmp_path / "out", command="x")
        assert "\n" not in str(info.value)


def test_edf_section_with_ten_candidates(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        for i, (c, d) in enumerate(itertools.product((1, 2, 4, 8), (16, 32, 48))):
            cid, _ = _candidate(store, c, d)
            run = _run(store, cid, 0, 0, 1)
            store.record_epoch(run, EpochRecord(1, 1.0, 0.3, 0.30 + i / 100, 0.3))
            store.finish_run(run, "finished")
    path = write_report(tmp_path / "s.db", tmp_path / "out", command="x")
    text = path.read_text()
    assert "![error EDF](figures/edf.png)" in text
    assert "| cifar on digits, 1 epoch | 12 | 30.00 | 35.50 |" in text
    assert _png_size(path.parent / "figures" / "edf.png") == (700, 450)
    assert "(2 of 2)" in text  # twelve candidates: curves split over two figures

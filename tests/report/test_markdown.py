"""report: a golden report over a synthetic store, its figures, and the edge cases.

The golden file is written by this code once:
`ARCHLAB_UPDATE_GOLDEN=1 pytest tests/report/test_markdown.py` rewrites it;
review the diff. The key numbers are also checked independently below.
"""

from __future__ import annotations

import itertools
import os
import re
import struct
import warnings
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers.stores import make_version0_store
from scipy import stats

import archlab
import archlab.store._db as store_module
from archlab.complexity import totals
from archlab.errors import ArchlabError
from archlab.report import edf, plots
from archlab.report.markdown import write_report
from archlab.space import make_spec
from archlab.store import EpochRecord, Store

GOLDEN = Path(__file__).parents[1] / "data" / "report_golden.md"
COMMAND = "archlab report --store store.db --out out"
VERSION_LINE = f"- archlab: {archlab.__version__} (this report)"
# Final val errors per (C, d of the 0.25-width network, as named), per rung, per seed.
FINAL = {
    (1, 16): {0: [0.40, 0.42], 1: [0.30, 0.32]},
    (2, 16): {0: [0.36, 0.38], 1: [0.27, 0.28]},
    (4, 16): {0: [0.35, 0.34], 1: [0.25, 0.26]},
    (1, 23): {0: [0.37, 0.39], 1: [0.29, 0.29]},
    (1, 32): {0: [0.38, 0.36], 1: [0.28, 0.30]},
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
    run = store.add_run(
        candidate_id=cid,
        seed=seed,
        config_key="key-halving",  # as run.py: one key for every rung of a halving run
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
    with Store(path, create=True) as store:
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
        cid, _ = _candidate(store, 8, 16)
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
    rows = [line for line in text.splitlines() if line.startswith("| `resnext29_1x16d_w0.25` | 1 ")]
    assert len(rows) == 2  # one row per budget: nothing dropped, nothing mixed
    assert "| 2 epochs (rung 0) | 41.00 ± 1.41 (n=2) | 42.00 ± 1.41 (n=2) | 2 finished |" in rows[0]
    assert "| 4 epochs (rung 1) | 31.00 ± 1.41 (n=2) | 32.00 ± 1.41 (n=2) | 2 finished |" in rows[1]
    assert all("| 1,100 |" in row for row in rows)  # median images/s of 1000 + 100·C
    # Per budget, the Pareto front of (MACs, mean error) computed here by brute force.
    complexity = text.split("## Error vs complexity")[1].split("## Training curves")[0]
    for rung, budget in ((0, "2 epochs (rung 0)"), (1, "4 epochs (rung 1)")):
        points = {}
        for (c, d), rungs in FINAL.items():
            spec = make_spec("cifar", 29, c, d, width_multiplier=0.25, input_size=8)
            points[spec.name] = (totals(spec)[0], float(np.mean(rungs[rung])))
        front = sorted(
            n
            for n, (m, e) in points.items()
            if not any(m2 <= m and e2 <= e and (m2, e2) != (m, e) for m2, e2 in points.values())
        )
        group = complexity.split(f"### digits, {budget}\n")[1].split("\n### ")[0]
        table = group.split("#### Pareto front")[1]
        assert sorted(re.findall(r"\| `([^`]+)` \|", table)) == front
        assert table.count(f"| {budget} |") == len(front)  # the budget labelled on every row
    assert "resnext29_1x32d_w0.25" not in table  # 1x32d: more MACs and more error than 2x16d
    # Kendall τ and Spearman ρ of the rung-0 vs rung-1 mean errors, from scipy.
    short = [np.mean(r[0]) for r in FINAL.values()]
    long = [np.mean(r[1]) for r in FINAL.values()]
    tau, rho = stats.kendalltau(short, long).statistic, stats.spearmanr(short, long).statistic
    assert f"| 2 epochs (rung 0) | 4 epochs (rung 1) | 5 | {tau:.3f} | {rho:.3f} |" in text
    # Failed and diverged runs are listed with their reasons, never dropped; pipes escaped.
    assert "| diverged | 1 | loss is nan at epoch 2 |" in text
    assert "| failed | 1 | RuntimeError: out \\| of memory |" in text
    assert "| `resnext29_8x16d_w0.25` | 8 | 16 |" in text and "1 diverged, 1 failed" in text
    # Header: provenance from the store, the date from its newest finished run (test below).
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
        "cardinality-vs-width-1-1.png",  # one Fig. 7 view per budget
        "cardinality-vs-width-2-1.png",
        "curves-1.png",
        "error-vs-macs-1.png",  # one figure per budget: 2 epochs
        "error-vs-macs-2.png",  # and 4 epochs
        "error-vs-params-1.png",
        "error-vs-params-2.png",
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
    for name in ("error-vs-macs-1.png", "error-vs-macs-2.svg", "curves-1.png"):
        assert (out / "figures" / name).read_bytes() == (
            path.parent / "figures" / name
        ).read_bytes()


def test_empty_store_says_no_runs_yet(tmp_path: Path) -> None:
    Store(tmp_path / "empty.db", create=True).close()
    text = write_report(tmp_path / "empty.db", tmp_path / "out", command="x").read_text()
    assert "No runs yet" in text and "## Candidates" not in text
    assert not (tmp_path / "out" / "figures").exists()


def test_only_failed_runs(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", create=True) as store:
        cid, _ = _candidate(store, 2, 16)
        run = _run(store, cid, 0, 0, 3)
        store.finish_run(run, "failed", "ValueError: bad input")
    text = write_report(tmp_path / "s.db", tmp_path / "out", command="x").read_text()
    assert "| failed | 0 | ValueError: bad input |" in text
    assert "| `resnext29_2x16d_w0.25` |" in text and "| — | — | 1 failed |" in text
    assert "Not drawn: no comparison group (one dataset, budget and config) has 2" in text
    assert "- date: no finished run" in text  # a failed run's time is not a finished run's
    assert _referenced(text) == []


def test_one_candidate(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", create=True) as store:
        cid, _ = _candidate(store, 4, 16)
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
    path = make_version0_store(
        tmp_path / "old.db",
        """
        INSERT INTO candidates VALUES (2, 'older', '{"x": 1}', 40, 50, 60);
        INSERT INTO runs VALUES (2, 2, 0, 'k', 'failed', 0);
        """,
    )
    text = write_report(path, tmp_path / "out", command="x").read_text()
    assert "| `old` | — | — | — | — | 0.00 | 20 | 30 |" in text
    assert "- date: no finished run" in text and "- dataset: not stored" in text
    assert "| `older` | 0 | no epoch budget | failed | 0 | — |" in text


def test_not_a_store_is_an_archlab_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello, these are not runs at all, just some words\n")
    for bad in (tmp_path / "missing.db", tmp_path / "notes.txt", tmp_path):
        with pytest.raises(ArchlabError) as info:
            write_report(bad, tmp_path / "out", command="x")
        assert "\n" not in str(info.value)


def test_edf_section_with_ten_candidates(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", create=True) as store:
        for i, (c, d) in enumerate(itertools.product((1, 2, 4, 8), (4, 8, 12))):
            cid, _ = _candidate(store, c, d)
            run = _run(store, cid, 0, 0, 1)
            store.record_epoch(run, EpochRecord(1, 1.0, 0.3, 0.30 + i / 100, 0.3))
            store.finish_run(run, "finished")
    path = write_report(tmp_path / "s.db", tmp_path / "out", command="x")
    text = path.read_text()
    assert "![error EDF, digits, 1 epoch](figures/edf.png)" in text
    assert "| cifar on digits, 1 epoch | 12 | 30.00 | 35.50 |" in text
    assert "with mean validation error below e" in text  # as plotted: steps rise at each error
    assert _png_size(path.parent / "figures" / "edf.png") == (700, 450)
    assert "(2 of 2)" in text  # twelve candidates: curves split over two figures


def test_date_is_the_newest_finished_run(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", create=True) as store:
        cid, _ = _candidate(store, 1, 16)
        done = _run(store, cid, 0, 0, 1)
        store.record_epoch(done, EpochRecord(1, 1.0, 0.3, 0.3, 0.3))
        store.finish_run(done, "finished")
        failed = _run(store, cid, 1, 0, 1)  # ends later, but did not finish
        store.finish_run(failed, "failed", "boom")
        stamps = store.results_frame().set_index("run_id")["finished_at"]
    assert stamps[failed] > stamps[done]
    text = write_report(tmp_path / "s.db", tmp_path / "out", command="x").read_text()
    expected = datetime.fromisoformat(stamps[done]).strftime("%Y-%m-%d %H:%M:%S")
    assert f"- date: {expected} UTC (the newest finished run" in text


HALVING = {0: 1, 1: 2, 2: 4, 3: 8}  # rung -> epochs; eta 2 keeps 8, 4, 2, 1 candidates


def build_halving_store(path: Path) -> Path:
    """Successive halving of 8 candidates over rungs 0..3 (1, 2, 4, 8 epochs), one seed."""
    settings = [(c, d) for c in (1, 2, 4, 8) for d in (8, 16)]
    with Store(path, create=True) as store:
        alive = []
        for c, d in settings:
            alive.append(_candidate(store, c, d))
        for rung, epochs in HALVING.items():
            finals = {}
            for i, (cid, name) in enumerate(alive):
                # Errors fall with epochs; the ranking shifts a little between rungs.
                final = 0.6 - 0.05 * rung - 0.01 * ((i * (rung + 3)) % 7)
                run = _run(store, cid, 0, rung, epochs)
                for e in range(1, epochs + 1):
                    val = 0.9 + (final - 0.9) * e / epochs
                    store.record_epoch(run, EpochRecord(e, 2.0 / e, val - 0.05, val, val + 0.01))
                store.finish_run(run, "finished")
                finals[(cid, name)] = final
            alive = sorted(alive, key=lambda k: (finals[k], k[1]))[: len(alive) // 2]
    return path


def test_halving_store_compares_within_each_budget(tmp_path: Path) -> None:
    path = write_report(build_halving_store(tmp_path / "s.db"), tmp_path / "out", command="x")
    text = path.read_text()
    candidates = text.split("## Candidates")[1].split("\n## ")[0]
    assert len(re.findall(r"^\| `", candidates, flags=re.M)) == 8 + 4 + 2 + 1  # none dropped
    complexity = text.split("## Error vs complexity")[1].split("\n## ")[0]
    headings = re.findall(r"^### (.+)$", complexity, flags=re.M)
    budgets = ["1 epoch (rung 0)", "2 epochs (rung 1)", "4 epochs (rung 2)"]
    assert headings == [f"digits, {b}" for b in budgets]  # rung 3 has a single survivor
    for k, (heading, budget) in enumerate(zip(headings, budgets, strict=True), 1):
        group = complexity.split(f"### {heading}\n")[1].split("\n### ")[0]
        assert f"figures/error-vs-macs-{k}.png" in group
        front = group.split("#### Pareto front")[1]
        rows = re.findall(r"^\| `[^`]+` \| (.+?) \|", front, flags=re.M)
        assert rows and set(rows) == {budget}  # never a 1-epoch loser beside an 8-epoch survivor
    assert "figures/error-vs-macs.png" not in text
    # One training curve per candidate (8), at its largest budget: two figures of 6 and 2.
    assert "training curves on digits (1 of 2)" in text and "(2 of 2)" in text
    ranking = text.split("## Short vs long budget")[1]
    assert "| 1 epoch (rung 0) | 2 epochs (rung 1) | 4 |" in ranking
    for ref in _referenced(text):
        assert (path.parent / ref).is_file()


def test_two_datasets_are_kept_apart(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", create=True) as store:
        for k, dataset in enumerate(("digits", "cifar10")):
            for c in (1, 2, 4):
                cid, _ = _candidate(store, c, 16)
                config = {"data": {"name": dataset}, "epochs": 2}
                key = f"k-{dataset}"
                run = store.add_run(
                    candidate_id=cid, seed=0, config_key=key, config=config, budget_epochs=2
                ).id
                for e in (1, 2):
                    val = 0.5 - 0.1 * k - 0.01 * c * e
                    store.record_epoch(run, EpochRecord(e, 1.0, val, val, val))
                store.finish_run(run, "finished")
    path = write_report(tmp_path / "s.db", tmp_path / "out", command="x")
    text = path.read_text()
    assert "| candidate | dataset | C | d |" in text
    assert "| `resnext29_1x16d_w0.25` | cifar10 | 1 | 16 |" in text
    assert "| `resnext29_1x16d_w0.25` | digits | 1 | 16 |" in text
    assert "### cifar10, 2 epochs, config k-cifar10" in text
    assert "### digits, 2 epochs, config k-digits" in text
    curves = text.split("## Training curves")[1].split("\n## ")[0]
    assert "### cifar10" in curves and "figures/curves-1-1.png" in curves
    assert "### digits" in curves and "figures/curves-2-1.png" in curves
    assert _png_size(path.parent / "figures" / "curves-2-1.png") == (700, 450)


def _shared_weights(a: np.ndarray, b: np.ndarray, bins: int = 5) -> list[np.ndarray]:
    """compare-spaces' rule, written again: one set of log10 edges over both spaces."""
    logs = np.log10(np.r_[a, b])
    edges = np.linspace(logs.min(), logs.max(), bins + 1)
    out = []
    for m in (a, b):
        index = np.digitize(np.log10(m), edges[1:-1])
        counts = np.bincount(index, minlength=bins)
        out.append(1 / counts[index] / np.count_nonzero(counts))
    return out


def _weighted_ks(a: np.ndarray, b: np.ndarray, wa: np.ndarray, wb: np.ndarray) -> float:
    points = np.union1d(a, b)
    return max(abs(wa[a <= p].sum() - wb[b <= p].sum()) for p in points)


def test_normalised_ks_bins_each_pair_on_shared_edges(tmp_path: Path) -> None:
    # Two design spaces (templates) in one comparison group, far apart in MACs.
    spaces: dict[str, list[tuple[float, float]]] = {"cifar": [], "imagenet": []}
    with Store(tmp_path / "s.db", create=True) as store:
        for i, (c, d) in enumerate(itertools.product((1, 2, 4, 8, 16), (1, 2))):
            for template, depth, err in (("cifar", 29, 0.30 + i / 100),
                                         ("imagenet", 26, 0.50 - i / 40)):  # fmt: skip
                spec = make_spec(template, depth, c, d, width_multiplier=0.25, input_size=32)
                macs, params, acts = totals(spec)
                cid = store.add_candidate(name=spec.name, spec=spec, macs=macs, params=params,
                                          acts=acts)  # fmt: skip
                run = _run(store, cid, 0, 0, 1)
                store.record_epoch(run, EpochRecord(1, 1.0, err, err, err))
                store.finish_run(run, "finished")
                spaces[template].append((macs, err))
    text = write_report(tmp_path / "s.db", tmp_path / "out", command="x").read_text()
    (ma, ea), (mb, eb) = (np.array(spaces[t]).T for t in ("cifar", "imagenet"))
    shared = _weighted_ks(ea, eb, *_shared_weights(ma, mb))
    own = _weighted_ks(ea, eb, *(_shared_weights(m, m)[0] for m in (ma, mb)))
    assert f"{shared:.3f}" != f"{own:.3f}"  # the example tells the two rules apart
    plain = stats.ks_2samp(ea, eb).statistic
    row = "| cifar on digits, 1 epoch | imagenet on digits, 1 epoch |"
    assert f"{row} {plain:.3f} | {shared:.3f} |" in text


def test_constant_errors_rank_nothing_and_warn_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", create=True) as store:
        for c in (1, 2, 4):
            cid, _ = _candidate(store, c, 16)
            for rung, err in ((0, 0.5), (1, 0.4 - c / 100)):  # every 1-epoch error the same
                run = _run(store, cid, 0, rung, rung + 1)
                store.record_epoch(run, EpochRecord(1, 1.0, err, err, err))
                store.finish_run(run, "finished")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's ConstantInputWarning would raise here
        text = write_report(tmp_path / "s.db", tmp_path / "out", command="x").read_text()
    assert "| 3 | — (constant errors) | — (constant errors) |" in text
    assert "nan" not in text


def test_edf_figure_plots_edf_curve(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = edf.edf_curve

    def spy(errors: Any, weights: Any = None) -> Any:
        calls.append(weights is None)
        return real(errors, weights)

    monkeypatch.setattr(edf, "edf_curve", spy)
    errors, weights = np.array([30.0, 10.0, 20.0, 20.0]), np.array([0.1, 0.2, 0.3, 0.4])
    fig = plots.edf_figure([("space", errors, weights)])
    assert calls == [True, False]  # the plain and the normalised EDF
    xs, cum = real(errors, weights)
    line = fig.axes[1].lines[0]
    np.testing.assert_allclose(line.get_xdata(), np.r_[xs[0], xs])
    np.testing.assert_allclose(line.get_ydata(), np.r_[0.0, cum])


def test_two_candidates_at_one_point_keep_both_labels() -> None:
    fig = plots.cardinality_vs_width(
        ([1e6, 2e6, 2e6], [30.0, 25.0, 25.0], ["net_1x8d", "net_2x8d", "net_twin"]),
        ([1e6, 3e6], [30.0, 28.0], ["net_1x8d", "net_1x16d"]),
        title="t",
    )
    labels = sorted(t.get_text() for t in fig.axes[0].texts)
    assert labels == ["1x16d", "1x8d", "2x8d", "twin"]  # the baseline once, the twins both


# Titles as the report writes them, with a long comparison-group label (issue 14: they were cut
# off on the right, and the curves' title, centred over an axes narrowed for its legend, on both
# sides).
_NAMES = [f"resnext29_{c}x{d}d_w0.25" for c, d in ((1, 64), (2, 40), (4, 24), (8, 14))]
_GROUP = "digits, 4 epochs (rung 1), config 1a2b3c4d, 10 classes, 8x8 input"
_CURVE = (np.arange(1.0, 5.0), np.array([50.0, 30, 20, 10]), np.array([55.0, 35, 25, 15]))
_FIGURES: dict[str, Callable[[], Any]] = {
    "error-vs-complexity": lambda: plots.error_vs_complexity(
        [1.0, 2, 3, 4], [10.0, 9, 8, 7], [1.0, 1, 1, 1], _NAMES, xlabel="MACs (millions)",
        title=f"Validation error vs parameters: {_GROUP}", front=[True] * 4,
    ),
    "training-curves": lambda: plots.training_curves(
        [(n, *_CURVE) for n in _NAMES],
        title="Training curves on npz:/data/someone/exports/handwritten_digits_8x8.npz (2 of 3)",
    ),
    "cardinality-vs-width": lambda: plots.cardinality_vs_width(
        ([1e6, 2e6, 3e6], [10.0, 9, 8], _NAMES[:3]),
        ([1e6, 2.5e6], [10.0, 9.5], [_NAMES[0], "resnext29_1x96d_w0.25"]),
        title=f"cifar depth 29, width x0.25, 10 classes, 8x8 input; {_GROUP}",
    ),
    "budget-scatter": lambda: plots.budget_scatter(
        [10.0, 20, 30], [12.0, 18, 33], _NAMES[:3], xlabel="2 epochs", ylabel="4 epochs",
        title="Short vs long budget on digits, 2 vs 4 epochs (Kendall tau 0.67, n = 3 runs)",
    ),
    "edf": lambda: plots.edf_figure([("space A", np.array([3.0, 1, 2]), np.ones(3))]),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(_FIGURES))
def test_titles_lie_inside_the_figure_and_above_their_axes(name: str) -> None:
    fig = _FIGURES[name]()
    renderer = fig.canvas.get_renderer()
    titles = [
        (ax, t) for ax in fig.axes for t in (ax.title, ax._left_title, ax._right_title)
        if t.get_text()
    ]  # fmt: skip
    assert titles, "every figure has a title"
    for ax, title in titles:
        box = title.get_window_extent(renderer)
        assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1, (title.get_text(), box)
        assert fig.bbox.y0 <= box.y0 and box.y1 <= fig.bbox.y1, (title.get_text(), box)
        assert box.y0 >= ax.get_window_extent(renderer).y1  # wrapping never runs into the plot
    text = " ".join(" ".join(t.get_text().split()) for _, t in titles)
    if name == "training-curves":  # wrapped, not shortened: every word is still there
        assert "handwritten_digits_8x8.npz (2 of 3) [names: resnext29_*_w0.25]" in text

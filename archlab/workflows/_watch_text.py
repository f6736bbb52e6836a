"""The text of one ``watch`` snapshot: aligned plain lines, the same on a terminal and off one.

Deterministic (no clock): the same snapshot gives the same lines, so an unchanged store is not
printed again off a terminal. Errors in percent, as ``results`` and ``study`` print them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archlab.workflows.watch import RunView, Snapshot, StudyView


def snapshot_lines(snapshot: Snapshot) -> list[str]:
    """The whole view: a summary line, runs in progress, finished runs, each study's verdict."""
    s = snapshot
    lines = [
        f"{s.store}: {len(s.in_progress)} in progress, {s.pending} pending, "
        f"{len(s.finished)} finished"
    ]
    lines += _section("in progress", _running_rows(s.in_progress))
    lines += _section("finished", _finished_rows(s.finished))
    for study in s.studies:
        lines += _study_lines(study)
    return lines


def _section(title: str, rows: list[list[str]]) -> list[str]:
    if len(rows) < 2:  # the header alone
        return [f"{title}: none"]
    return [f"{title}:", *_aligned(rows)]


def _running_rows(runs: Sequence[RunView]) -> list[list[str]]:
    rows = [["run", "candidate", "seed", "rung", "epoch", "val err", "img/s", "ETA", ""]]
    for r in runs:
        rows.append([str(r.run_id), r.name, str(r.seed), str(r.rung), _epochs(r),
                     _pct(r.val_error), _rate(r.images_per_s), _duration(r.eta_s),
                     r.note or ""])  # fmt: skip
    return rows


def _finished_rows(runs: Sequence[RunView]) -> list[list[str]]:
    rows = [["run", "candidate", "seed", "rung", "status", "epochs", "best val err", "val err",
             "test err", "wall", ""]]  # fmt: skip
    for r in runs:
        rows.append([str(r.run_id), r.name, str(r.seed), str(r.rung), r.status, _epochs(r),
                     _pct(r.best_val_error), _pct(r.val_error), _pct(r.test_error),
                     _duration(r.wall_s), r.note or ""])  # fmt: skip
    return rows


def _study_lines(study: StudyView) -> list[str]:
    best = study.best if study.best is not None else "none decided yet"
    arms = ", ".join(
        f"{label} {seeds} seed{'s' if seeds != 1 else ''} {_points(mean)}"
        for label, seeds, mean in study.arms
    )
    rows = [["A", "B", "A - B (pts)", "interval", "p adj", "verdict"]]
    for p in study.pairs:
        interval = f"[{_num(p.ci_low)}, {_num(p.ci_high)}]"
        rows.append([p.a, p.b, _num(p.diff, "+.2f"), interval, _num(p.p_adj, ".3g"), p.verdict])
    head = [f"study {study.name} ({study.status or 'running'}): best {best}", f"  arms: {arms}"]
    if len(rows) < 2:
        return [*head, "  verdict: no look yet (the first seeds are training)"]
    return [*head, "  verdict (validation error):", *_aligned(rows, indent="    ")]


def _aligned(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent
        + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _epochs(run: RunView) -> str:
    return f"{run.epoch}/{run.epochs}" if run.epochs is not None else str(run.epoch)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _points(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}%"


def _num(value: float | None, fmt: str = ".2f") -> str:
    return "-" if value is None else format(value, fmt)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _duration(seconds: float | None) -> str:
    """h:mm:ss, or '-' when unknown."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"

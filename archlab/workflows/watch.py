"""What ``archlab watch`` does: a live view of a results store that another process trains into.

It reads the store alone. Each refresh opens the file through SQLite's read-only URI mode
(``Store(..., read_only=True, live=True)``): that connection can never write, checkpoint or
remove the file, waits at most a second for a lock, takes a few short reads (WAL: readers never
block the writer, docs/training.md) and is closed before the view sleeps. What the view shows is
:func:`build_snapshot` of what it read, a pure function: runs in progress (epoch of total, the
last epoch's validation error and images/s, an ETA from the stored epoch times), finished runs,
and for each study its current verdict, from :func:`archlab.stats.study.evaluate_study`, the one
the ``study`` command reaches (docs/statistics.md).
"""

from __future__ import annotations

import dataclasses
import math
import os
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from archlab.errors import ArchlabError
from archlab.stats.study import StudyOutcome, evaluate_study
from archlab.store import FINAL_STATUSES, EpochRecord, RunRecord, Store, StoreFaultError
from archlab.store.study import load_study, study_names
from archlab.workflows._watch_text import snapshot_lines

DEFAULT_INTERVAL_S = 2.0
MAX_INTERVAL_S = 3600.0


@dataclass(frozen=True)
class RunView:
    """One run as the view shows it; errors are fractions, ``eta_s`` None when unknown."""

    run_id: int
    name: str
    seed: int
    rung: int
    status: str
    epoch: int
    epochs: int | None  # the run's budget of epochs (this rung's, under halving)
    val_error: float | None  # the last stored epoch's
    best_val_error: float | None
    test_error: float | None
    images_per_s: float | None
    wall_s: float
    eta_s: float | None
    note: str | None  # a finished run's reason, or a running run whose process is gone


@dataclass(frozen=True)
class PairView:
    """One compared pair of a study: A - B in points, its interval, adjusted p and verdict."""

    a: str
    b: str
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    p_adj: float | None
    verdict: str


@dataclass(frozen=True)
class StudyView:
    """A study's current state: seeds and mean val error per arm, the verdict per pair."""

    name: str
    status: str | None
    arms: tuple[tuple[str, int, float | None], ...]  # (label, seeds, mean val error %)
    pairs: tuple[PairView, ...]
    best: str | None


@dataclass(frozen=True)
class Snapshot:
    """What one refresh shows: runs in progress, pending count, finished runs and studies."""

    store: str
    in_progress: tuple[RunView, ...]
    pending: int
    finished: tuple[RunView, ...]
    studies: tuple[StudyView, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN never appears: unknowns are None)."""
        return dataclasses.asdict(self)


def build_snapshot(
    store: str,
    runs: Sequence[RunRecord],
    epochs: Mapping[int, Sequence[EpochRecord]],
    studies: Sequence[StudyOutcome] = (),
    *,
    gone: frozenset[int] = frozenset(),
) -> Snapshot:
    """The view of runs, their stored epochs and study outcomes (pure: no clock, no file).

    ``gone`` holds the ids of 'running' runs whose process is known to be dead on this host.
    """
    views = [_run_view(run, epochs.get(run.id, ()), run.id in gone) for run in runs]
    return Snapshot(
        store=store,
        in_progress=tuple(v for v in views if v.status == "running"),
        pending=sum(v.status == "pending" for v in views),
        finished=tuple(v for v in views if v.status in FINAL_STATUSES),
        studies=tuple(_study_view(outcome) for outcome in studies),
    )


def _run_view(run: RunRecord, epochs: Sequence[EpochRecord], gone: bool) -> RunView:
    last = epochs[-1] if epochs else None
    vals = [e.val_error for e in epochs if _known(e.val_error)]
    walls = [e.wall_s for e in epochs if _known(e.wall_s)]
    done = last.epoch if last is not None else 0
    eta = None
    if run.status == "running" and run.budget_epochs is not None and walls:
        # The mean stored epoch time, times the epochs still to train: the store alone says it.
        eta = max(run.budget_epochs - done, 0) * sum(walls) / len(walls)
    note = run.reason
    if gone:
        note = f"process {run.pid} on {run.hostname} is gone; rerunning its command resumes it"
    return RunView(
        run_id=run.id,
        name=run.name,
        seed=run.seed,
        rung=run.rung,
        status=run.status,
        epoch=done,
        epochs=run.budget_epochs,
        val_error=_value(last.val_error) if last is not None else None,
        best_val_error=min(vals) if vals else None,
        test_error=_value(last.test_error) if last is not None else None,
        images_per_s=_value(last.images_per_s) if last is not None else None,
        wall_s=float(sum(walls)),
        eta_s=eta,
        note=note,
    )


def _study_view(outcome: StudyOutcome) -> StudyView:
    d = outcome.to_dict()  # the study command's own JSON: the same numbers it prints
    arms = tuple((str(a["label"]), int(a["seeds"]), a["val_error_mean"]) for a in d["arms"])
    pairs = tuple(
        PairView(p["a"], p["b"], p["diff"], p["ci_low"], p["ci_high"], p["p_adj"], p["verdict"])
        for p in d["pairs"]
    )
    return StudyView(outcome.name, outcome.status, arms, pairs, d["best"]["arm"])


def _known(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def _value(value: float | None) -> float | None:
    return float(value) if value is not None and _known(value) else None


def read_snapshot(store: str | Path) -> Snapshot:
    """One snapshot of ``store``, read through a live read-only connection closed at return."""
    path = Path(store)
    with Store(path, read_only=True, live=True) as db:
        runs = db.runs()
        epochs: dict[int, list[EpochRecord]] = {}
        for run in runs:
            if run.status != "pending":
                epochs[run.id] = db.epochs(run.id)
        outcomes = []
        for name in study_names(db):
            record = load_study(db, name)
            if record is not None:
                # power=False: seeds-for-power is a search per pair, too slow for each refresh.
                outcomes.append(evaluate_study(db, record, power=False))
    return build_snapshot(str(path), runs, epochs, outcomes, gone=_gone(runs))


def _gone(runs: Sequence[RunRecord]) -> frozenset[int]:
    """'running' runs of this host whose process no longer exists (the view cannot mark them)."""
    host = socket.gethostname()
    dead = set()
    for run in runs:
        if run.status == "running" and run.hostname == host and run.pid is not None:
            try:
                os.kill(run.pid, 0)  # signal 0: an existence check only
            except ProcessLookupError:
                dead.add(run.id)
            except PermissionError:  # alive, another user's
                pass
    return frozenset(dead)


def check_interval(interval: float) -> float:
    """A refresh interval in seconds: a finite number in (0, MAX_INTERVAL_S]."""
    number = isinstance(interval, int | float) and not isinstance(interval, bool)
    if not (number and math.isfinite(interval) and 0 < interval <= MAX_INTERVAL_S):
        raise ArchlabError(
            f"interval must be a number of seconds in (0, {MAX_INTERVAL_S:g}], got {interval!r}"
        )
    return float(interval)


def watch(
    store: str | Path,
    *,
    once: bool = False,
    interval: float = DEFAULT_INTERVAL_S,
    out: TextIO | None = None,
    plain: bool | None = None,
) -> Snapshot:
    """Show the store's runs and studies: once, or redrawn every ``interval`` s until Ctrl-C.

    On a terminal the view redraws in place; off one (``plain``, decided like training's
    progress, :func:`archlab.train.progress.plain_output`) each changed snapshot is printed as
    plain lines under a time stamp. A missing or non-archlab file is refused before anything is
    shown. Returns the last snapshot.
    """
    from archlab.train.progress import plain_output

    interval = check_interval(interval)
    stream = out if out is not None else sys.stdout
    snapshot = read_snapshot(store)  # a bad file fails here, in one line
    if once:
        stream.write("\n".join(snapshot_lines(snapshot)) + "\n")
        return snapshot
    if plain if plain is not None else plain_output((stream,)):
        return _watch_plain(store, snapshot, interval, stream)
    return _watch_live(store, snapshot, interval, stream)


def _refresh(store: str | Path, last: Snapshot) -> tuple[Snapshot, str | None]:
    """The next snapshot, or the last one and a note when the store is busy for a moment."""
    try:
        return read_snapshot(store), None
    except StoreFaultError as exc:
        if "locked" not in str(exc):
            raise
        return last, "store busy; showing the last snapshot"


def _watch_plain(store: str | Path, snapshot: Snapshot, interval: float, out: TextIO) -> Snapshot:
    shown: Snapshot | None = None
    try:
        while True:
            if snapshot != shown:
                out.write(f"--- {time.strftime('%H:%M:%S')}\n")
                out.write("\n".join(snapshot_lines(snapshot)) + "\n")
                out.flush()
                shown = snapshot
            time.sleep(interval)
            snapshot, _ = _refresh(store, snapshot)
    except KeyboardInterrupt:  # the way to leave a live view: not an error
        return snapshot


def _watch_live(store: str | Path, snapshot: Snapshot, interval: float, out: TextIO) -> Snapshot:
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    def frame(snap: Snapshot, note: str | None) -> Text:
        head = f"{time.strftime('%H:%M:%S')}  refresh every {interval:g} s, Ctrl-C to leave"
        lines = [head + (f"  ({note})" if note else ""), *snapshot_lines(snap)]
        return Text("\n".join(lines))

    console = Console(file=out)
    try:
        with Live(frame(snapshot, None), console=console, auto_refresh=False) as live:
            while True:
                time.sleep(interval)
                snapshot, note = _refresh(store, snapshot)
                live.update(frame(snapshot, note), refresh=True)
    except KeyboardInterrupt:
        return snapshot

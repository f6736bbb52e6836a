"""What ``archlab results`` reads and writes: one row per run of an existing store, as a frame,
CSV or Parquet, to a file (its missing parent folders made) or to an open binary stream.

The store marks a run ``running`` when the driver takes it, before a worker starts it, so the
status shown tells the two apart by the locks (:mod:`archlab.train.liveness`): a run whose run
folder is locked is ``running``; one whose folder is free while the driver that took it still
holds its own lock waits in that driver's queue: ``queued``. Any other ``running`` run (its
driver on another host, or gone) is shown as stored; the next training call's recovery decides.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from archlab.errors import ArchlabError
from archlab.store import RunRecord, Store, write_parquet
from archlab.train.liveness import driver_is_alive, run_is_alive

FORMATS = ("csv", "parquet")


def load_results(store: str | Path, *, workdir: str | Path | None = None) -> pd.DataFrame:
    """Every run of an existing store (opened read-only, never created), one row each.

    A ``running`` run that waits in its driver's queue reads ``queued``; ``workdir`` is where
    the runs' folders are (default: beside the store, as training puts them).
    """
    with Store(store, read_only=True) as db:
        frame = db.results_frame()
        running = {r.id: r for r in db.runs(status="running")}
        store_id = db.store_id
    if running:
        from archlab.train.workspace import default_workdir  # torch: only when runs are live

        work = Path(workdir) if workdir is not None else default_workdir(Path(store))
        frame["status"] = [
            _live_status(running[int(i)], work, store_id) if int(i) in running else status
            for i, status in zip(frame["run_id"], frame["status"], strict=True)
        ]
    return frame


def _live_status(run: RunRecord, work: Path, store_id: str) -> str:
    """``running`` while a worker holds the run folder's lock, ``queued`` while only its driver
    lives; as stored when neither can be seen from here."""
    from archlab.train.workspace import run_dir_path

    if run_is_alive(run_dir_path(work, store_id, run)):
        return "running"
    driver = run.hostname is not None and run.pid is not None
    if driver and driver_is_alive(work, str(run.hostname), int(run.pid or 0)):
        return "queued"
    return run.status


def export_results(store: str | Path, out: str | Path | BinaryIO, *, fmt: str) -> int:
    """Write every column of every run as ``fmt`` (csv or parquet) to ``out``; the row count.

    ``out`` is a file path (missing parent folders are made, as for every archlab output) or a
    binary stream such as ``sys.stdout.buffer``, which is written to but not closed.
    """
    if fmt not in FORMATS:
        raise ArchlabError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    frame = load_results(store)
    if isinstance(out, str | Path):
        _write_file(frame, Path(out), fmt=fmt, store=Path(store))
    else:
        out.write(_encode(frame, fmt))
    return len(frame)


def _encode(frame: pd.DataFrame, fmt: str) -> bytes:
    """The whole export in memory: Parquet needs a seekable target, a pipe is not one."""
    if fmt == "csv":
        return frame.to_csv(index=False).encode("utf-8")
    buffer = io.BytesIO()
    write_parquet(frame, buffer)
    return buffer.getvalue()


def _write_file(frame: pd.DataFrame, out: Path, *, fmt: str, store: Path) -> None:
    if out.is_dir():
        raise ArchlabError(f"{str(out)!r} is a folder; give a file name to write")
    if out.resolve() == store.resolve():
        raise ArchlabError(f"refusing to write the export over the store {str(store)!r}")
    data = _encode(frame, fmt)  # a missing engine is refused before any folder is made
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    except OSError as exc:
        raise ArchlabError(f"cannot write {str(out)!r}: {exc.strerror}") from None

"""What ``archlab results`` reads and writes: one row per run of an existing store, as a frame,
CSV or Parquet, to a file (its missing parent folders made) or to an open binary stream."""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from archlab.errors import ArchlabError
from archlab.store import Store, write_parquet

FORMATS = ("csv", "parquet")


def load_results(store: str | Path) -> pd.DataFrame:
    """Every run of an existing store (opened read-only, never created), one row each."""
    with Store(store, read_only=True) as db:
        return db.results_frame()


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

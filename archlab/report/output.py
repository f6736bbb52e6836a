"""Report output written whole or not at all: a killed or failed report leaves the old one intact.

A report is several files (``report.md`` and the figures it links); rendering them takes
seconds to minutes. Everything is written into a staging folder beside the output folder (same
file system, so renames are atomic) and swapped in only when the last file is written.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from archlab.errors import ArchlabError


@contextlib.contextmanager
def atomic_output_dir(
    out: str | Path, *, replaces: Callable[[Path], bool] = lambda _: True
) -> Iterator[Path]:
    """Yield an empty staging folder; on success its entries replace their namesakes in ``out``.

    Write into the staging folder what ``out`` should hold, at the same relative paths. When the
    block ends normally each top-level file replaces its namesake in ``out`` by one atomic
    rename; each folder replaces its namesake by two renames (milliseconds apart), folders
    first so ``report.md`` is swapped last. Files of an old folder that ``replaces`` does not
    claim (a user's own) are carried over. Entries of ``out`` the block did not write are left
    alone. On an exception the staging folder is removed and ``out`` is untouched.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".staging", dir=out.parent))
    try:
        yield staging
        out.mkdir(exist_ok=True)
        entries = sorted(staging.iterdir(), key=lambda p: (not p.is_dir(), p.name))
        for entry in entries:
            _swap_in(entry, out / entry.name, replaces)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _swap_in(new: Path, old: Path, replaces: Callable[[Path], bool]) -> None:
    """Put ``new`` where ``old`` is: a file atomically, a folder keeping the old's other files."""
    if not new.is_dir() or not old.is_dir():
        os.replace(new, old)
        return
    for kept in old.iterdir():
        target = new / kept.name
        if kept.is_file() and not replaces(kept) and not target.exists():
            try:
                os.link(kept, target)  # a hard link: the old folder stays whole until the swap
            except OSError:
                shutil.copy2(kept, target)
    trash = new.with_name(new.name + ".old")
    os.rename(old, trash)
    os.rename(new, old)
    shutil.rmtree(trash, ignore_errors=True)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``path`` through a temporary file and one rename: readers see old or new, whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A named temporary (not mkstemp's private 0600 file): the result keeps the usual mode.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def check_writable_dir(path: str | Path, *, field: str = "out") -> Path:
    """Refuse an output folder that cannot take files, before any long work is done for it.

    ``os.access`` says yes to root on any local file, so the check writes: a scratch folder in
    ``path`` (or, when ``path`` does not exist yet, in its nearest existing parent), removed at
    once. Nothing is left behind, and a missing ``path`` is not created.
    """
    out = Path(path)
    probe_in = out
    while not probe_in.exists() and probe_in != probe_in.parent:
        probe_in = probe_in.parent
    if not probe_in.is_dir():
        what = "" if probe_in == out else f" (its parent {str(probe_in)!r} is a file)"
        raise ArchlabError(f"{field} {str(out)!r} is not a folder{what}")
    try:
        scratch = tempfile.mkdtemp(prefix=".archlab-probe-", dir=probe_in)
        os.rmdir(scratch)
    except OSError as exc:
        raise ArchlabError(f"{field} {str(out)!r} is not writable: {exc.strerror}") from None
    return out

"""Faults of the results store's file: one line each, naming the file and what to do.

SQLite reports a damaged page, a lock held too long, a full disk or a read-only file as
``sqlite3`` exceptions from wherever the store happens to be touched (and pandas re-wraps those
raised under ``read_sql_query``). :func:`guard_faults` turns each into a :class:`StoreFaultError`
at the store's public methods, so every command that opens a store (``results``, ``report``,
``train-candidates``) says the same thing. :func:`connect_read_only` opens a store that cannot be
written (a read-only file or file system), which plain WAL mode cannot. No torch here.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import inspect
import os
import shutil
import sqlite3
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from archlab.errors import ArchlabError

# Above this size the open-time PRAGMA quick_check (a full scan) is skipped; damage in a larger
# store is still reported, as it surfaces, by the translation below.
QUICK_CHECK_MAX_BYTES = 256 * 2**20

# SQLite's primary result codes (sqlite3.h): the low byte of an extended code.
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 8, 10, 11, 13, 14, 26
# For a code-less exception (a pandas wrapper's text), the SQLite messages of those codes.
_MESSAGES = (
    ("database disk image is malformed", _CORRUPT),
    ("database or disk is full", _FULL),
    ("database is locked", _BUSY),
    ("database table is locked", _LOCKED),
    ("attempt to write a readonly database", _READONLY),
    ("disk i/o error", _IOERR),
    ("unable to open database file", _CANTOPEN),
)


class StoreFaultError(ArchlabError):
    """The store's file is damaged, locked, full or read-only: one line says what to do."""


def fault_code(exc: BaseException) -> int | None:
    """SQLite's primary result code behind ``exc`` (or its causes), or None if it is not one."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return _FULL
        if isinstance(seen, OSError) and seen.errno == errno.EROFS:
            return _READONLY
        if isinstance(seen, OSError) and seen.errno == errno.ENAMETOOLONG:
            return _CANTOPEN
        if isinstance(seen, sqlite3.Error):
            code = getattr(seen, "sqlite_errorcode", None)
            if code is not None:
                return int(code) & 0xFF
            text = str(seen).lower()
            return next((c for m, c in _MESSAGES if m in text), None)
        seen = seen.__cause__ or seen.__context__
    return None


def fault_message(code: int, path: Path, *, timeout_s: float | None = None) -> str | None:
    """The one line for a store fault with SQLite result ``code``, or None for other errors."""
    where = repr(str(path))
    if code == _CORRUPT:
        return corrupt_message(path, "database disk image is malformed")
    if code == _FULL:
        return (
            f"no space left to write the results store {where} (database or disk is full); "
            "free space and rerun: finished epochs are kept"
        )
    if code in (_BUSY, _LOCKED):
        waited = f" for {timeout_s:g} s" if timeout_s is not None else ""
        return f"results store {where} is locked by another process{waited}; retry when it is done"
    if code == _READONLY:
        return (
            f"results store {where} is read-only (a read-only file or file system); "
            "copy it somewhere writable to add to it"
        )
    if code == _IOERR:
        return (
            f"disk I/O error on the results store {where}; check the disk (is it full?) and "
            "rerun: finished epochs are kept"
        )
    if code == _CANTOPEN and (too_long := _name_too_long(path)) is not None:
        return f"cannot open the results store {where}: {too_long}; give a shorter name"
    if code == _CANTOPEN:
        return (
            f"cannot open the results store {where} (unable to open database file); check "
            "that its folder exists and is readable"
        )
    return None


def _name_too_long(path: Path) -> str | None:
    """Which part of ``path`` is longer than its file system allows, if one is."""
    for part in path.parts:
        limit = 255  # NAME_MAX of ext4, xfs, btrfs, tmpfs
        if len(os.fsencode(part)) > limit:
            return f"the name {part[:20]!r}... is {len(os.fsencode(part))} bytes, over {limit}"
    return None


def corrupt_message(path: Path, detail: str) -> str:
    """The one line for a damaged store: what SQLite found, and the two ways back."""
    return (
        f"results store {str(path)!r} is damaged ({detail}); recover it with "
        f'`sqlite3 {path} ".recover" | sqlite3 recovered.db`, or restore it from a copy'
    )


def is_corruption(exc: BaseException) -> bool:
    """Whether ``exc`` says the file is a damaged database (not: no database at all)."""
    return fault_code(exc) == _CORRUPT


@contextlib.contextmanager
def translated(path: Path, *, timeout_s: float | None = None) -> Iterator[None]:
    """Re-raise a store fault inside the block as one-line :class:`StoreFaultError`."""
    try:
        yield
    except ArchlabError:
        raise
    except (sqlite3.Error, OSError) as exc:  # pandas' DatabaseError is an OSError
        code = fault_code(exc)
        message = fault_message(code, path, timeout_s=timeout_s) if code is not None else None
        if message is None:
            raise
        raise StoreFaultError(message) from exc


_Cls = TypeVar("_Cls", bound=type)


def guard_faults(cls: _Cls) -> _Cls:
    """Class decorator: ``__init__`` and every public method translate store faults.

    The instance must have ``path`` (set first thing in ``__init__``) and may have
    ``busy_timeout_s``; private methods are covered by the public ones that call them.
    """
    for name, member in list(vars(cls).items()):
        if inspect.isfunction(member) and (name == "__init__" or not name.startswith("_")):
            setattr(cls, name, _guarded(member))
    return cls


def _guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.Error, OSError):
            path = getattr(self, "path", None)
            if path is None:
                raise
            with translated(Path(path), timeout_s=getattr(self, "busy_timeout_s", None)):
                raise

    return wrapper


def check_integrity(conn: sqlite3.Connection, path: Path) -> None:
    """``PRAGMA quick_check`` on a store small enough to scan: a damaged page fails at open."""
    try:
        size = path.stat().st_size
    except OSError:
        return
    if size > QUICK_CHECK_MAX_BYTES:
        return
    problems = [str(r[0]) for r in conn.execute("PRAGMA quick_check")]
    if problems != ["ok"]:
        raise StoreFaultError(corrupt_message(path, f"quick_check: {problems[0]}"))


def connect_read_only(path: Path, *, timeout_s: float, uri: bool = False) -> sqlite3.Connection:
    """A connection for reading the store, even on a read-only file or file system.

    A writable store gets a plain connection, unless ``uri`` (a live view beside a trainer,
    which tidies the files its open created: :class:`_TidyOnClose`).
    Otherwise ``mode=ro`` first: it sees a live
    writer's commits. A WAL store whose folder cannot take the ``-shm`` index fails that; then,
    with no ``-wal`` left by a crash, ``immutable=1`` reads the file as it is, and with one, a
    private copy of both is read so no committed write is missed.
    """
    if can_write(path) and not uri:
        # A plain connection, made read-only by the caller (PRAGMA query_only): unlike mode=ro
        # it removes its -wal and -shm files on close instead of leaving them beside the store.
        return _connect(str(path), timeout_s)
    quoted = urllib.parse.quote(str(path.resolve()))
    conn = None
    try:
        absent = tuple(p for p in _sidecars(path) if not p.exists())
        # A live view: the -wal and -shm files its open creates are tidied when it closes.
        target = f"file:{quoted}?mode=ro"
        conn = _connect(target, timeout_s, _TidyOnClose) if uri else _connect(target, timeout_s)
        if isinstance(conn, _TidyOnClose):
            conn.store, conn.created = path, absent
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.DatabaseError as exc:
        retry = fault_code(exc) in (_CANTOPEN, _READONLY, _IOERR)
        if conn is not None and not retry:
            return conn  # not a database, damaged, locked: the store's first query says which
        if conn is not None:
            conn.close()
        if not retry:
            raise
    wal = path.with_name(path.name + "-wal")
    if not (wal.is_file() and wal.stat().st_size > 0):
        return _connect(f"file:{quoted}?immutable=1", timeout_s)
    with tempfile.TemporaryDirectory(prefix="archlab-store-") as tmp:
        copy = Path(tmp) / path.name
        shutil.copyfile(path, copy)
        shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        source = _connect(str(copy), timeout_s)
        return in_memory_copy(source)


def _sidecars(path: Path) -> list[Path]:
    """The ``-wal`` and ``-shm`` files SQLite keeps beside a WAL store while it is open."""
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]


class _TidyOnClose(sqlite3.Connection):
    """A ``mode=ro`` connection that, once closed, has SQLite remove the ``-wal`` and ``-shm``
    files its own open created (``created``, beside the store at ``store``).

    A read-only connection to a WAL store creates both files where the folder allows and, unable
    to write, never removes them (https://sqlite.org/wal.html, "Read-Only Databases"). Deleting
    them by hand could lose a trainer's commits; instead a plain connection is opened and closed:
    SQLite checkpoints and removes them only if that connection is the store's last, and leaves
    them to a trainer that has them open. It writes no row (query_only).
    """

    store: Path | None = None
    created: tuple[Path, ...] = ()

    def close(self) -> None:
        """Close, then let SQLite remove the files this connection created if no one uses them."""
        super().close()
        if self.store is None or not any(p.exists() for p in self.created):
            return
        with contextlib.suppress(sqlite3.Error):  # tidying is best effort; the read is done
            tidy = _connect(str(self.store), 0.1)
            try:
                tidy.execute("PRAGMA query_only=ON")
                tidy.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                tidy.close()


def can_write(path: Path) -> bool:
    """Whether the store file and its folder (for the -wal and -shm files) are writable."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def in_memory_copy(conn: sqlite3.Connection) -> sqlite3.Connection:
    """The database of ``conn`` copied into memory (``conn`` is closed): a private scratch copy."""
    memory = sqlite3.connect(":memory:", isolation_level=None)
    memory.row_factory = conn.row_factory
    conn.backup(memory)
    conn.close()
    return memory


def _connect(
    target: str, timeout_s: float, factory: type[sqlite3.Connection] | None = None
) -> sqlite3.Connection:
    return sqlite3.connect(
        target, uri=target.startswith("file:"), timeout=timeout_s, isolation_level=None,
        factory=factory or sqlite3.Connection,
    )  # fmt: skip

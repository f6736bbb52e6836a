"""Whether a run is being trained right now, decided by its run folder's lock, not by a pid.

The trainer holds an exclusive lock on ``RUN_DIR/.lock`` for its whole task (``tasks.py``), and
the operating system drops that lock however the process ends. So a free lock means no process
trains the run, even when the pid recorded in the store now belongs to an unrelated process
(pid reuse is routine in containers), and a held lock means one does. ``flock`` locks are only
as good as the file system's: local disks and most network file systems honour them.

A run the driver has marked ``running`` but not yet handed to a worker holds no run lock; the
driver's own lock (``WORK/.driver-HOST-PID.lock``, held for the whole invocation) covers it, so
a second invocation on the same store does not take runs the first still has queued. Both are
locks: a pid that now belongs to an unrelated process holds neither.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

LOCK_NAME = ".lock"


def run_lock_path(run_dir: str | Path) -> Path:
    """The lock file a trainer holds while it trains the run in ``run_dir``."""
    return Path(run_dir) / LOCK_NAME


def run_is_alive(run_dir: str | Path) -> bool:
    """Whether some process holds ``run_dir``'s lock now (a non-blocking try, released at once).

    A run folder without a lock file was never started here: not alive. The probe holds the
    lock for microseconds; a trainer starting in that instant is refused as if the run were in
    use, and its rerun goes through.
    """
    return _held(run_lock_path(run_dir))


def _held(path: Path) -> bool:
    if not path.is_file():
        return False
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire(blocking=False)
    except Timeout:
        return True
    lock.release()
    return False


def driver_lock_path(work: str | Path, host: str, pid: int) -> Path:
    """The lock the driver process ``pid`` on ``host`` holds while its invocation runs."""
    return Path(work) / f".driver-{host}-{pid}.lock"


def driver_is_alive(work: str | Path, host: str, pid: int) -> bool:
    """Whether the driver that recorded ``pid`` on ``host`` still runs its invocation."""
    return _held(driver_lock_path(work, host, pid))


@contextlib.contextmanager
def hold_driver_lock(work: Path) -> Iterator[None]:
    """Hold this process's driver lock in ``work`` for the block; the file goes with it."""
    path = driver_lock_path(work, socket.gethostname(), os.getpid())
    lock = FileLock(path, timeout=0)
    lock.acquire(blocking=False)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)  # before release: no other process can hold it yet
        lock.release(force=True)

"""Whether a run is being trained right now, decided by its run folder's lock, not by a pid.

The trainer holds an exclusive lock on ``RUN_DIR/.lock`` for its whole task (``tasks.py``), and
the operating system drops that lock however the process ends. So a free lock means no process
trains the run, even when the pid recorded in the store now belongs to an unrelated process
(pid reuse is routine in containers), and a held lock means one does. ``flock`` locks are only
as good as the file system's: local disks and most network file systems honour them.

Not wired into the driver yet (issue 12, phase 2: ``--reclaim`` and stale-run recovery).
"""

from __future__ import annotations

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
    path = run_lock_path(run_dir)
    if not path.is_file():
        return False
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire(blocking=False)
    except Timeout:
        return True
    lock.release()
    return False

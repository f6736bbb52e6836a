"""A run's liveness by its folder's lock, not its pid (issue 12, class 2)."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from archlab.train.liveness import run_is_alive, run_lock_path

Cli = Callable[..., tuple[int, str, str]]

# What the trainer does (tasks.py): an exclusive, non-blocking flock on RUN_DIR/.lock, held
# until the process ends, then a line on stdout so the test knows it is held.
HOLDER = textwrap.dedent("""
    import fcntl, sys, time
    handle = open(sys.argv[1], "w")
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("held", flush=True)
    time.sleep(60)
""")


def _hold_in_another_process(run_dir: Path) -> subprocess.Popen[str]:
    run_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(run_lock_path(run_dir))],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_folder_never_started_is_not_alive(tmp_path: Path) -> None:
    assert not run_is_alive(tmp_path / "missing")
    (tmp_path / "run").mkdir()
    assert not run_is_alive(tmp_path / "run")
    assert not run_lock_path(tmp_path / "run").exists()  # the probe creates nothing


def test_alive_while_a_process_holds_the_lock_and_not_after_it_is_killed(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = _hold_in_another_process(run_dir)
    try:
        assert run_is_alive(run_dir)
        assert run_is_alive(run_dir)  # probing twice does not take the lock away
    finally:
        proc.kill()  # kill -9: the OS releases the lock with the process
        proc.wait()
    assert not run_is_alive(run_dir)
    assert run_lock_path(run_dir).is_file()  # the lock file stays for the next trainer


def test_a_reused_pid_does_not_make_a_run_alive(tmp_path: Path) -> None:
    # The store's row may name a pid that now belongs to a live, unrelated process (here: our
    # parent, certainly alive); the lock, left free by the dead trainer, is what counts.
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    run_lock_path(run_dir).write_text("")
    os.kill(os.getppid(), 0)  # that pid is alive
    assert not run_is_alive(run_dir)


def test_a_lock_held_by_this_process_is_seen(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with FileLock(run_lock_path(run_dir)):
        assert run_is_alive(run_dir)
    assert not run_is_alive(run_dir)


# ---------------------------------------------------------------- wired into the driver (CLI)

TINY = ["--cardinalities", "1", "--depth", "11", "--width-multiplier", "0.125", "--limit", "64",
        "--batch-size", "32", "--epochs", "1", "--threads", "1"]  # fmt: skip


def _mark_running(store: Path, pid: int) -> None:
    with sqlite3.connect(store) as db:
        db.execute("UPDATE runs SET status = 'running', pid = ?, hostname = ?", (pid, _HOST))


_HOST = socket.gethostname()


def test_a_running_row_with_a_reused_live_pid_and_a_free_lock_is_recovered(
    cli: Cli, tmp_path: Path
) -> None:
    store = tmp_path / "runs.db"
    code, _, err = cli("train-candidates", *TINY, "--store", str(store))
    assert code == 0, err
    sleeper = subprocess.Popen(["sleep", "60"])  # a live process unrelated to archlab
    try:
        _mark_running(store, sleeper.pid)
        code, out, err = cli("train-candidates", *TINY, "--store", str(store), "--json")
    finally:
        sleeper.kill()
        sleeper.wait()
    assert code == 0, err
    assert "was interrupted: resuming" in err
    assert [r["status"] for r in json.loads(out)["runs"]] == ["finished"]


def test_a_running_row_whose_lock_is_held_is_refused_in_one_line(cli: Cli, tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    code, _, err = cli("train-candidates", *TINY, "--store", str(store))
    assert code == 0, err
    (run_dir,) = (tmp_path / "runs-work").glob("*-run-00001-*")
    holder = _hold_in_another_process(run_dir)
    try:
        _mark_running(store, holder.pid)
        for reclaim in ([], ["--reclaim"]):
            code, _, err = cli("train-candidates", *TINY, "--store", str(store), *reclaim)
            assert code == 2
            assert len(err.strip().splitlines()) == 1 and "locked" in err, err
    finally:
        holder.kill()
        holder.wait()
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT status FROM runs").fetchall() == [("running",)]
    code, _, err = cli("train-candidates", *TINY, "--store", str(store))  # lock free now
    assert code == 0, err


def test_reclaim_takes_another_hosts_run_whose_lock_is_free(cli: Cli, tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    code, _, err = cli("train-candidates", *TINY, "--store", str(store))
    assert code == 0, err
    with sqlite3.connect(store) as db:
        db.execute("UPDATE runs SET status = 'running', pid = 1, hostname = 'elsewhere'")
    code, _, err = cli("train-candidates", *TINY, "--store", str(store))
    assert code == 2 and "reclaim" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("train-candidates", *TINY, "--store", str(store), "--reclaim")
    assert code == 0, err

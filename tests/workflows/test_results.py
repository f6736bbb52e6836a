"""`archlab results` tells queued runs from running ones, by the locks (issue 18, item 7)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from archlab.space import make_spec
from archlab.store import EpochRecord, Store
from archlab.train.liveness import driver_lock_path, run_lock_path
from archlab.train.workspace import default_workdir, run_dir_path
from archlab.workflows.results import load_results

Cli = Callable[..., tuple[int, str, str]]

# An exclusive flock held until killed, as the trainer (run folder) and driver (work folder) do.
HOLDER = textwrap.dedent("""
    import fcntl, sys, time
    handle = open(sys.argv[1], "w")
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("held", flush=True)
    time.sleep(60)
""")


def _hold(path: Path) -> subprocess.Popen[str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE,
                            text=True)  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """Seeds 0-1 marked running by this process (the 'driver'), seed 2 pending, seed 3 finished."""
    path = tmp_path / "runs.db"
    spec = make_spec("cifar", 11, 2, None, width_multiplier=0.125, num_classes=10)
    with Store(path, create=True) as db:
        cid = db.add_candidate(name=spec.name, spec=spec, macs=1, params=1, acts=1)
        runs = [db.add_run(candidate_id=cid, seed=s, config_key="k", config={}, budget_epochs=2)
                for s in range(4)]  # fmt: skip
        for run in (runs[0], runs[1], runs[3]):
            db.start_run(run.id, device="cpu", archlab_version="0", torch_version="0",
                         git_commit=None)  # fmt: skip
        db.record_epoch(runs[3].id, EpochRecord(1, 1.0, 0.5, 0.5, 0.5))
        db.finish_run(runs[3].id, "finished")
    return path


@pytest.fixture
def locks(store: Path) -> Iterator[dict[str, subprocess.Popen[str]]]:
    """Seed 0's run folder locked (a worker trains it) and the driver's lock held."""
    work = default_workdir(store)
    with Store(store, read_only=True) as db:
        first = db.runs()[0]
        run_lock = run_lock_path(run_dir_path(work, db.store_id, first))
    held = {
        "run": _hold(run_lock),
        "driver": _hold(driver_lock_path(work, socket.gethostname(), os.getpid())),
    }
    yield held
    for proc in held.values():
        proc.kill()
        proc.wait()


def _statuses(frame) -> list[str]:  # type: ignore[no-untyped-def]
    return list(frame.sort_values("seed")["status"])


def test_queued_and_running_are_told_apart(store: Path, locks) -> None:
    assert _statuses(load_results(store)) == ["running", "queued", "pending", "finished"]


def test_a_run_folder_locked_without_the_driver_is_running(store: Path, locks) -> None:
    locks["driver"].kill()
    locks["driver"].wait()
    # Seed 1: no lock anywhere can be seen; shown as stored (the next train call recovers it).
    assert _statuses(load_results(store)) == ["running", "running", "pending", "finished"]


def test_without_locks_the_stored_status_is_shown(store: Path) -> None:
    assert _statuses(load_results(store)) == ["running", "running", "pending", "finished"]
    elsewhere = load_results(store, workdir=store.parent / "elsewhere")
    assert _statuses(elsewhere) == ["running", "running", "pending", "finished"]


def test_the_cli_shows_queued(store: Path, locks, cli: Cli) -> None:
    code, out, _ = cli("results", "--store", str(store), "--json")
    assert code == 0
    assert [r["status"] for r in sorted(json.loads(out), key=lambda r: r["seed"])] == [
        "running", "queued", "pending", "finished",
    ]  # fmt: skip
    code, out, _ = cli("results", "--store", str(store), "--csv", "-")
    assert code == 0 and ",queued," in out

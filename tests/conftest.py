"""Shared fixtures: a CLI runner that returns (exit code, stdout, stderr)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run ``archlab ARGS`` in-process as the console script would."""
    from archlab.cli.main import run

    def invoke(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.fixture(scope="session")
def ray_local():  # type: ignore[no-untyped-def]
    """A real local Ray with 2 CPUs, started once per test session."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


# A version-0 store as an early archlab wrote it: no meta or epochs table, a runs table without
# the later columns, one finished run of candidate 'old'.
VERSION_0_SCHEMA = """
    CREATE TABLE candidates (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
                             spec_json TEXT NOT NULL UNIQUE, macs INTEGER, params INTEGER,
                             acts INTEGER);
    CREATE TABLE runs (id INTEGER PRIMARY KEY, candidate_id INTEGER NOT NULL,
                       seed INTEGER NOT NULL, config_key TEXT NOT NULL,
                       status TEXT NOT NULL, epochs_done INTEGER NOT NULL DEFAULT 0);
    INSERT INTO candidates VALUES (1, 'old', '{}', 10, 20, 30);
    INSERT INTO runs VALUES (1, 1, 0, 'k', 'finished', 2);
"""


def make_version0_store(path: Path, extra_sql: str = "") -> Path:
    """Write a version-0 store by hand (plus ``extra_sql``) for migration tests."""
    conn = sqlite3.connect(path)
    conn.executescript(VERSION_0_SCHEMA + extra_sql)
    conn.close()
    return path


@pytest.fixture
def one_torch_thread():  # type: ignore[no-untyped-def]
    """Counting runs tiny batch-1 passes: one thread is as fast and avoids OpenMP stalls when
    another job shares the (2-core) machine. Restored afterwards."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def train_specs(  # type: ignore[no-untyped-def]
    specs,
    *,
    config,
    store_path,
    seeds=(0,),
    device="auto",
    workdir=None,
    halving=None,
    execution=None,
    reclaim=False,
    data=None,
    reporter=None,
):
    """Train specs through one RunPlan, as the library entry point does (tests' shorthand)."""
    import dataclasses

    from archlab.train.plan import ExecutionOptions, RunPlan
    from archlab.workflows.train_candidates import train_candidates

    execution = dataclasses.replace(execution or ExecutionOptions(), device=device, reclaim=reclaim)
    plan = RunPlan(
        candidates=tuple(specs),
        config=config,
        seeds=tuple(seeds),
        halving=halving,
        execution=execution,
        store=str(store_path),
        workdir=None if workdir is None else str(workdir),
    )
    return train_candidates(plan, reporter=reporter, data=data)

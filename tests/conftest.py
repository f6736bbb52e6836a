"""Shared fixtures: a CLI runner that returns (exit code, stdout, stderr)."""

from __future__ import annotations

import os
from collections.abc import Callable

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

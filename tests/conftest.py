"""Shared fixtures: a CLI runner that returns (exit code, stdout, stderr), Ray, MLflow's server."""

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


@pytest.fixture
def one_torch_thread():  # type: ignore[no-untyped-def]
    """Counting runs tiny batch-1 passes: one thread is as fast and avoids OpenMP stalls when
    another job shares the (2-core) machine. Restored afterwards."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def mlflow_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A real `mlflow server` on a free loopback port (helpers.tracking), stopped afterwards."""
    pytest.importorskip("mlflow")
    from helpers.tracking import MlflowServer

    server = MlflowServer(tmp_path_factory.mktemp("mlflow-server"))
    server.start()
    yield server
    server.stop()

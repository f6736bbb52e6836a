"""A tracking sink that fails mid-run: training goes on, the store keeps every result, one warning.

The MLflow side is left with the run as far as it got (status RUNNING); rerunning the command
skips the stored run and sends MLflow what it missed (docs/training.md, "Tracking"). Over HTTP:
a server that never answers is refused at the start after one short timeout, and a real `mlflow
server` stopped mid-run (marked slow: it takes 5-20 s to start) costs one warning.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

Cli = Callable[..., tuple[int, str, str]]
TINY = ["--cardinalities", "1", "--template", "cifar", "--depth", "11", "--width-multiplier",
        "0.125", "--dataset", "digits", "--limit", "200", "--threads", "1", "--epochs", "2",
        "--quiet"]  # fmt: skip


def _stored(store: Path) -> tuple[str, int]:
    with sqlite3.connect(store) as db:
        status, epochs = db.execute("SELECT status, epochs_done FROM runs").fetchone()
    return status, epochs


def test_a_failing_mlflow_server_never_stops_training_and_a_rerun_catches_up(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    from archlab.workflows._tracking_mlflow import MlflowSink

    monkeypatch.chdir(tmp_path)
    uri, store = f"sqlite:///{tmp_path / 'm.db'}", tmp_path / "s.db"
    real_epoch = MlflowSink.epoch

    def gone(self: MlflowSink, run_id: int, metrics: Mapping[str, Any]) -> None:
        raise ConnectionError("the tracking server went away\nmore lines")

    monkeypatch.setattr(MlflowSink, "epoch", gone)
    code, _, err = cli("train-candidates", *TINY, "--store", str(store), "--mlflow", uri,
                       "--tensorboard", str(tmp_path / "tb"))  # fmt: skip
    assert code == 0, err
    assert _stored(store) == ("finished", 2)
    warnings = [line for line in err.splitlines() if "tracking stopped" in line]
    assert len(warnings) == 1 and "server went away" in warnings[0]
    assert warnings[0].startswith("archlab train-candidates: warning: MLflow tracking stopped")
    assert list((tmp_path / "tb").iterdir())  # the other sink went on
    client = MlflowClient(tracking_uri=uri)
    (experiment,) = [e for e in client.search_experiments() if e.name == "archlab"]
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "RUNNING" and not client.get_metric_history(run.info.run_id, "lr")

    monkeypatch.setattr(MlflowSink, "epoch", real_epoch)
    code, _, err = cli("train-candidates", *TINY, "--store", str(store), "--mlflow", uri)
    assert code == 0, err
    (again,) = client.search_runs([experiment.experiment_id])
    assert again.info.run_id == run.info.run_id and again.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_error")] == [1, 2]


def test_a_server_that_never_answers_is_refused_after_one_timeout(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No retries: a hung server costs one timeout (the user's own setting kept), then exit 2."""
    from helpers.tracking import silent_listener

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    store = tmp_path / "s.db"
    with silent_listener() as uri:
        code, out, err = cli("train-candidates", *TINY, "--store", str(store), "--mlflow", uri)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"--mlflow {uri!r} cannot be used: no answer from {uri} within 1 s" in err
    assert not store.exists() and not out
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ  # archlab's setting was scoped


@pytest.mark.slow
def test_a_real_server_stopped_mid_run_costs_one_warning_and_a_rerun_catches_up(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_server: Any
) -> None:
    from mlflow.tracking import MlflowClient

    from archlab.workflows._tracking_mlflow import MlflowSink

    monkeypatch.chdir(tmp_path)
    uri, store = mlflow_server.uri, tmp_path / "s.db"
    real_epoch = MlflowSink.epoch

    def then_stop(self: MlflowSink, run_id: int, metrics: Mapping[str, Any]) -> None:
        real_epoch(self, run_id, metrics)
        if metrics["epoch"] == 1:
            mlflow_server.stop()  # the server goes away after the first epoch is sent

    monkeypatch.setattr(MlflowSink, "epoch", then_stop)
    code, _, err = cli("train-candidates", *TINY, "--store", str(store), "--mlflow", uri)
    assert code == 0, err
    assert _stored(store) == ("finished", 2)
    warnings = [line for line in err.splitlines() if "tracking stopped" in line]
    assert len(warnings) == 1, err
    assert f"MLflow tracking stopped (nothing answers at {uri} (connection refused))" in err

    monkeypatch.setattr(MlflowSink, "epoch", real_epoch)
    mlflow_server.start()
    client = MlflowClient(tracking_uri=uri)
    (experiment,) = [e for e in client.search_experiments() if e.name == "archlab"]
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "RUNNING"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_error")] == [1]
    code, _, err = cli("train-candidates", *TINY, "--store", str(store), "--mlflow", uri)
    assert code == 0 and "warning" not in err, err
    (again,) = client.search_runs([experiment.experiment_id])
    assert again.info.run_id == run.info.run_id and again.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_error")] == [1, 2]
    assert any(a.path.endswith(".pth") for a in client.list_artifacts(run.info.run_id, "model"))

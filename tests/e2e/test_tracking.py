"""--mlflow and --tensorboard end to end, read back with the real tools' own readers.

MLflow's client reads the runs, params, metrics and the parent-child structure back from a local
SQLite tracking store and (marked slow: the server takes 5-20 s to start) from a real
`mlflow server` on a loopback port; TensorBoard's EventAccumulator reads the scalars and the
hparams record back and they match the store's per-epoch metrics (docs/training.md, "Tracking").
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

Cli = Callable[..., tuple[int, str, str]]
# Tiny: depth 11 at width 1/8, 200 digits, one thread.
TINY = ["--template", "cifar", "--depth", "11", "--width-multiplier", "0.125",
        "--dataset", "digits", "--limit", "200", "--threads", "1"]  # fmt: skip


def _store_epochs(store: Path) -> dict[str, list[dict[str, float]]]:
    with sqlite3.connect(store) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute(
            "SELECT c.name, r.seed, r.rung, e.* FROM epochs e JOIN runs r ON r.id = e.run_id "
            "JOIN candidates c ON c.id = r.candidate_id ORDER BY e.epoch"
        ).fetchall()
    out: dict[str, list[dict[str, float]]] = {}
    for row in rows:
        out.setdefault(f"{row['name']}-s{row['seed']}-r{row['rung']}", []).append(dict(row))
    return out


@pytest.mark.parametrize("executor", [[], ["--workers", "2"]], ids=["in-process", "pool"])
def test_tensorboard_scalars_match_the_store(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, executor: list[str]
) -> None:
    """In this process and from a worker pool: the driver feeds the sink from what it stored."""
    monkeypatch.setitem(sys.modules, "mlflow", None)  # archlab trains without mlflow
    _tensorboard_matches_the_store(cli, tmp_path, executor)


@pytest.mark.ray
def test_tensorboard_scalars_from_ray_match_the_store(
    cli: Cli, tmp_path: Path, ray_local: object
) -> None:
    _tensorboard_matches_the_store(cli, tmp_path, ["--executor", "ray"])


def _tensorboard_matches_the_store(cli: Cli, tmp_path: Path, executor: list[str]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    store, tb = tmp_path / "s.db", tmp_path / "tb"
    code, _, err = cli("train-candidates", "--cardinalities", "1,2", *TINY, "--epochs", "2",
                       *executor, "--store", str(store), "--tensorboard", str(tb),
                       "--quiet")  # fmt: skip
    assert code == 0, err
    stored = _store_epochs(store)
    assert sorted(p.name for p in tb.iterdir()) == sorted(stored)
    for folder, epochs in stored.items():
        events = EventAccumulator(str(tb / folder))
        events.Reload()
        tags = events.Tags()["scalars"]
        assert {"train_loss", "val_error", "test_error", "lr", "images_per_s"} <= set(tags)
        for key in ("train_loss", "train_error", "val_error", "test_error", "lr"):
            got = [(e.step, e.value) for e in events.Scalars(key)]
            want = [(e["epoch"], e[key]) for e in epochs]
            assert [s for s, _ in got] == [s for s, _ in want]
            assert [v for _, v in got] == pytest.approx([v for _, v in want], rel=1e-6)
        assert events.Scalars("final/val_error")[-1].value == pytest.approx(epochs[-1]["val_error"])


def _mlflow_runs(uri: str) -> list:  # type: ignore[type-arg]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("archlab")
    assert experiment is not None
    return client.search_runs([experiment.experiment_id], max_results=1000)


def test_study_to_mlflow_parent_and_children_without_duplicates(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)  # MLflow puts a SQLite store's artifacts under ./mlruns
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    args = ["study", "--preset", "cardinality", "--cardinalities", "1,2", *TINY, "--epochs", "1",
            "--min-seeds", "2", "--max-seeds", "2", "--store", str(tmp_path / "s.db"),
            "--mlflow", uri, "--quiet"]  # fmt: skip
    code, _, err = cli(*args)
    assert code == 0, err
    assert "warning" not in err, err
    runs = _mlflow_runs(uri)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["archlab.study"] and parent.data.tags["archlab.stop"]
    assert any(key.startswith("verdict.") for key in parent.data.tags)
    client = MlflowClient(tracking_uri=uri)
    verdict = {a.path for a in client.list_artifacts(parent.info.run_id, "verdict")}
    assert "verdict/verdict.md" in verdict
    keys = {(r.data.tags["archlab.candidate"], r.data.tags["archlab.seed"]) for r in children}
    assert len(keys) == len(children) == 4  # one child per (arm, seed): 2 arms x 2 seeds
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.info.status == "FINISHED"
        assert {"archlab.rung", "archlab.version", "archlab.git_commit", "archlab.run_id"} <= set(
            child.data.tags
        )
        assert child.data.params["spec.template"] == "cifar"
        assert "recipe.lr" in child.data.params
        history = client.get_metric_history(child.info.run_id, "val_error")
        assert [m.step for m in history] == [1]
        model = [a.path for a in client.list_artifacts(child.info.run_id, "model")]
        assert any(path.endswith(".pth") for path in model)
    code, _, err = cli(*args)  # the rerun resumes: no new MLflow run
    assert code == 0, err
    again = _mlflow_runs(uri)
    assert sorted(r.info.run_id for r in again) == sorted(r.info.run_id for r in runs)
    for child in (r for r in again if "mlflow.parentRunId" in r.data.tags):
        assert len(client.get_metric_history(child.info.run_id, "val_error")) == 1


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--mlflow", "nosuchscheme://nowhere", "--mlflow 'nosuchscheme://nowhere' cannot be used"),
        ("--mlflow", "sqlite:///FILE/m.db", "cannot be used"),  # a folder that is a file
        ("--mlflow", "http://127.0.0.1:9", "nothing answers at http://127.0.0.1:9"),
        ("--mlflow", "ftp://127.0.0.1", "or a URI of databricks:,"),  # a scheme MLflow lacks
        ("--tensorboard", "FILE", "--tensorboard"),
    ],
)
def test_bad_tracking_target_exits_2_before_training(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: str, value: str, words: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("not a folder")
    value = value.replace("FILE", str(tmp_path / "a-file"))
    store = tmp_path / "s.db"
    code, _, err = cli("train-candidates", "--cardinalities", "1", *TINY, "--epochs", "1",
                         "--store", str(store), option, value)  # fmt: skip
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and words in err, err
    assert "Traceback" not in err and not store.exists()  # refused before anything trained


def test_mlflow_without_the_package_names_the_extra(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)
    store = tmp_path / "s.db"
    code, _, err = cli("study", "--preset", "cardinality", *TINY, "--store", str(store),
                       "--mlflow", "sqlite:///m.db")  # fmt: skip
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "--mlflow needs the mlflow package: pip install 'archlab[mlflow]'" in err
    assert not store.exists()


def test_print_config_carries_the_tracking_targets(cli: Cli, tmp_path: Path) -> None:
    code, out, err = cli("train-candidates", "--cardinalities", "1", *TINY, "--mlflow",
                         "sqlite:///m.db", "--tensorboard", "tb", "--print-config")  # fmt: skip
    assert code == 0, err
    assert 'mlflow = "sqlite:///m.db"' in out and 'tensorboard = "tb"' in out
    plan = tmp_path / "plan.toml"
    plan.write_text(out)
    code, again, err = cli("train-candidates", "--config", str(plan), "--print-config")
    assert code == 0, err
    assert again == out
    code, study, err = cli("study", "--preset", "cardinality", "--tensorboard", "tb",
                           "--print-config")  # fmt: skip
    assert code == 0, err
    assert 'tensorboard = "tb"' in study


def test_a_web_server_that_is_not_mlflow_is_refused_in_one_line(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers.tracking import plain_web_server

    monkeypatch.chdir(tmp_path)
    store = tmp_path / "s.db"
    with plain_web_server() as uri:
        code, _, err = cli("train-candidates", "--cardinalities", "1", *TINY, "--store",
                           str(store), "--mlflow", uri)  # fmt: skip
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{uri} answered HTTP 404: no MLflow tracking API there" in err
    assert not store.exists()


def test_tensorboard_hparams_and_a_resumed_run_read_back_once(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupted after epoch 2 of 3 and resumed: each step once, the hparams record whole."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    import archlab.train.tasks as tasks_module

    store, tb = tmp_path / "s.db", tmp_path / "tb"
    args = ["train-candidates", "--cardinalities", "2", *TINY, "--epochs", "3", "--store",
            str(store), "--tensorboard", str(tb), "--quiet"]  # fmt: skip
    real = tasks_module.train_run

    def stop_after_two(*a: object, **k: object) -> object:
        on_epoch = k["on_epoch"]

        def chained(metrics: dict[str, object]) -> None:
            on_epoch(metrics)  # type: ignore[operator]
            if metrics["epoch"] == 2:
                raise KeyboardInterrupt

        return real(*a, **{**k, "on_epoch": chained})  # type: ignore[arg-type]

    monkeypatch.setattr(tasks_module, "train_run", stop_after_two)
    code, _, err = cli(*args)
    assert code != 0, err
    assert [e["epoch"] for e in next(iter(_store_epochs(store).values()))] == [1, 2]
    monkeypatch.setattr(tasks_module, "train_run", real)
    code, _, err = cli(*args)
    assert code == 0 and "epoch 3/3" in err and "epoch 1/3" not in err, err  # resumed
    ((folder, epochs),) = _store_epochs(store).items()
    events = EventAccumulator(str(tb / folder))
    events.Reload()
    for key in ("val_error", "lr", "train_loss"):
        got = [(e.step, e.value) for e in events.Scalars(key)]
        assert [s for s, _ in got] == [1, 2, 3]
        assert [v for _, v in got] == pytest.approx([e[key] for e in epochs], rel=1e-6)
    content = events.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hparams = start.session_start_info.hparams
    assert hparams["candidate"].string_value == folder.rsplit("-s", 1)[0]
    assert hparams["cardinality"].number_value == 2 and hparams["epochs"].number_value == 3
    assert hparams["seed"].number_value == 0 and hparams["dataset"].string_value == "digits"
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"])
    tags = {m.name.tag for m in experiment.experiment.metric_infos}
    assert tags == {"final/train_loss", "final/train_error", "final/val_error", "final/test_error"}
    assert events.Scalars("final/val_error")[-1].value == pytest.approx(epochs[-1]["val_error"])


# Width 1/16 for train-candidates; a study needs 1/8 for C = 2 to match C = 1's MACs.
TINY16 = [*TINY[:4], "--width-multiplier", "0.0625", *TINY[6:]]


@pytest.mark.slow
def test_a_real_mlflow_server_over_http(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_server: object
) -> None:
    """`mlflow server` on loopback: runs, params, metrics, tags, served artifacts, a study."""
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    uri = mlflow_server.uri  # type: ignore[attr-defined]
    client = MlflowClient(tracking_uri=uri)
    train = ["train-candidates", "--cardinalities", "1,2", *TINY16, "--epochs", "2", "--store",
             str(tmp_path / "t.db"), "--mlflow", uri, "--quiet"]  # fmt: skip
    code, out, err = cli(*train)
    assert code == 0, err
    assert "View run" not in out + err and "warning" not in err  # MLflow prints no run URLs
    stored = _store_epochs(tmp_path / "t.db")
    runs = _mlflow_runs(uri)
    assert sorted(r.info.run_name for r in runs) == sorted(stored)
    for run in runs:
        epochs, tags, params = stored[run.info.run_name], run.data.tags, run.data.params
        assert run.info.status == "FINISHED" and "mlflow.parentRunId" not in tags
        assert params["seed"] == tags["archlab.seed"] == "0" and tags["archlab.rung"] == "0"
        assert params["spec.name"] == tags["archlab.candidate"] == run.info.run_name[:-6]
        assert [s["depth"] for s in json.loads(params["spec.stages"])] == [1, 1, 1]
        assert params["recipe.lr"] and params["data.name"] == "digits"
        assert params["budget.epochs"] == "2"
        for key in ("train_loss", "val_error", "test_error", "lr"):
            history = client.get_metric_history(run.info.run_id, key)
            assert [(m.step, m.value) for m in history] == [
                (e["epoch"], pytest.approx(e[key])) for e in epochs
            ]
        files = {a.path for a in client.list_artifacts(run.info.run_id, "model")}
        (meta,) = [f for f in files if f.endswith(".json")]
        assert any(f.endswith(".pth") for f in files)
        local = client.download_artifacts(run.info.run_id, meta, str(tmp_path))
        exported = json.loads(Path(local).read_text())
        assert exported["name"] == params["spec.name"] and exported["seed"] == 0
    code, _, err = cli(*train)  # the rerun skips the stored runs and makes no MLflow run
    assert code == 0, err
    again = _mlflow_runs(uri)
    assert sorted(r.info.run_id for r in again) == sorted(r.info.run_id for r in runs)
    for run in again:
        assert len(client.get_metric_history(run.info.run_id, "val_error")) == 2

    study = ["study", "--preset", "cardinality", "--cardinalities", "1,2", *TINY, "--epochs", "1",
             "--min-seeds", "2", "--max-seeds", "2", "--store", str(tmp_path / "s.db"),
             "--mlflow", uri, "--json"]  # fmt: skip
    code, out, err = cli(*study)
    assert code == 0, err
    result = json.loads(out)  # stdout is the JSON alone
    study_runs = [r for r in _mlflow_runs(uri) if r.data.tags["archlab.store"].endswith("s.db")]
    (parent,) = [r for r in study_runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in study_runs if r is not parent]
    assert len(children) == 4  # 2 arms x 2 seeds
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert parent.info.status == "FINISHED" and parent.data.tags["archlab.stop"]
    assert parent.data.tags["archlab.best"] == str(result["best"]["arm"] or "none")
    verdict = {a.path for a in client.list_artifacts(parent.info.run_id, "verdict")}
    assert {"verdict/verdict.md", "verdict/verdict.json"} <= verdict

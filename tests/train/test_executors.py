"""Successive halving, the local worker pool, and the Ray executor against a real local Ray."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers.training import train_specs

from archlab.errors import ArchlabError, speaking_as
from archlab.search.ranges import ParamRange
from archlab.search.sampling import DesignSpace, sample_space
from archlab.space import make_spec
from archlab.store import Store
from archlab.train.config import TrainConfig
from archlab.train.data import DatasetSplits, load_dataset
from archlab.train.executors import ExecutionOptions, RayExecutor, check_ray_address
from archlab.train.plan import Halving
from archlab.train.progress import LogReporter

TINY = [make_spec("cifar", 11, c, 2, width_multiplier=0.125) for c in (1, 2)]
METRICS = ["train_loss", "train_error", "val_error", "test_error"]


@pytest.fixture(scope="module")
def digits() -> DatasetSplits:
    return load_dataset("digits", limit=200)


def _epochs(store: Path) -> list[tuple[str, int, int, int, tuple[float, ...]]]:
    frame = Store(store, create=False).epochs_frame()
    return sorted(
        (r.name, r.seed, r.rung, r.epoch, tuple(getattr(r, m) for m in METRICS))
        for r in frame.itertuples()
    )


def test_halving_rungs_and_validation() -> None:
    assert Halving(2, 1, 8).rungs == (1, 2, 4, 8)
    assert Halving(3, 1, 10).rungs == (1, 3, 9, 10)
    assert Halving(2, 4, 4).rungs == (4,)
    assert [Halving().survivors(n) for n in (16, 5, 1)] == [8, 2, 1]
    with pytest.raises(ArchlabError, match="eta"):
        Halving(eta=1)
    with pytest.raises(ArchlabError, match=r"4 is above strategy\.max_epochs 2"):
        Halving(min_epochs=4, max_epochs=2)


def _sixteen() -> list:  # type: ignore[type-arg]
    space = DesignSpace(
        template="cifar",
        depth=ParamRange.choice(11),
        cardinality=ParamRange(1, 8, "pow2"),
        bottleneck_width=ParamRange(1, 12, "uniform"),
        width_multiplier=ParamRange.choice(0.25),
    )
    return list(sample_space(space, 16, seed=3).specs)


def test_halving_16_candidates(
    digits: DatasetSplits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "s.db"
    specs = _sixteen()
    plan = Halving(eta=2, min_epochs=1, max_epochs=8)
    config = TrainConfig(epochs=8, batch_size=64)
    kwargs = {
        "config": config,
        "device": "cpu",
        "store_path": store,
        "data": digits,
        "halving": plan,
        "execution": ExecutionOptions(threads=1),
    }

    import archlab.train.driver as run_module

    calls = {"done": 0}
    real_on_done = run_module.Driver.on_done

    def stop_in_rung_2(self, task, result):  # type: ignore[no-untyped-def]
        real_on_done(self, task, result)
        calls["done"] += 1
        if calls["done"] == 16 + 8 + 2:  # two runs into the third rung
            raise KeyboardInterrupt

    monkeypatch.setattr(run_module.Driver, "on_done", stop_in_rung_2)
    with pytest.raises(KeyboardInterrupt):
        train_specs(specs, **kwargs)
    statuses = Store(store, create=False).results_frame().groupby(["rung", "status"]).size()
    assert statuses.to_dict() == {
        (0, "finished"): 16,
        (1, "finished"): 8,
        (2, "finished"): 2,
        (2, "interrupted"): 2,
    }
    monkeypatch.setattr(run_module.Driver, "on_done", real_on_done)
    before = _epochs(store)
    summary = train_specs(specs, **kwargs)
    fresh = [r for r in summary.runs if not r.skipped]
    assert len(fresh) == 2 + 2  # the rest of rung 2, then rung 3: nothing retrained
    frame = Store(store, create=False).results_frame()
    assert frame.groupby("rung").size().to_dict() == {0: 16, 1: 8, 2: 4, 3: 2}
    assert frame.groupby("rung").budget_epochs.first().to_dict() == {0: 1, 1: 2, 2: 4, 3: 8}
    assert set(frame.status) == {"finished"} and list(frame.epochs) == list(frame.budget_epochs)
    after = _epochs(store)
    assert set(before) <= set(after)  # what was stored stays exactly as it was
    # Survivors are the best half by validation error of the rung before.
    rung0 = frame[frame.rung == 0].sort_values(["val_error", "name"])
    assert set(frame[frame.rung == 1].name) == set(rung0.name[:8])
    # Continuing from checkpoints is exact: the last rung equals a plain 8-epoch run.
    winner = next(s for s in specs if s.name == frame[frame.rung == 3].name.iloc[0])
    grid_store = tmp_path / "grid.db"
    train_specs(
        [winner],
        config=config,
        device="cpu",
        store_path=grid_store,
        data=digits,
        execution=ExecutionOptions(threads=1),
    )
    halved = [e[4] for e in after if e[0] == winner.name and e[2] == 3]
    plain = [e[4] for e in _epochs(grid_store)]
    assert halved == plain and len(plain) == 8


def _same_metrics(tmp_path: Path, first: ExecutionOptions, second: ExecutionOptions) -> None:
    """The same runs through two executions store exactly the same epochs."""
    config = TrainConfig(epochs=2, batch_size=64, limit=200)
    stores = [tmp_path / "first.db", tmp_path / "second.db"]
    for store, execution in zip(stores, (first, second), strict=True):
        summary = train_specs(
            TINY, config=config, seeds=(0, 1), device="cpu", store_path=store, execution=execution
        )
        assert {r.status for r in summary.runs} == {"finished"}
    assert _epochs(stores[0]) == _epochs(stores[1])
    assert len(_epochs(stores[1])) == 8


def test_worker_pool_matches_in_process(tmp_path: Path) -> None:
    _same_metrics(tmp_path, ExecutionOptions(threads=1), ExecutionOptions(workers=2, threads=1))


def test_ray_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    start = time.monotonic()
    with pytest.raises(ArchlabError, match="cannot reach"):
        check_ray_address("127.0.0.1:1")
    assert time.monotonic() - start < 5
    with pytest.raises(ArchlabError, match="HOST:PORT"):
        check_ray_address("nowhere")
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ArchlabError, match="pip install"):
        RayExecutor().connect()


@pytest.mark.ray
def test_ray_stores_the_same_metrics_as_local(ray_local, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _same_metrics(
        tmp_path, ExecutionOptions(threads=1), ExecutionOptions(executor="ray", threads=1)
    )


def _warned(
    tmp_path: Path,
    specs: list,
    execution: ExecutionOptions,
    capsys: pytest.CaptureFixture[str],  # type: ignore[type-arg]
) -> tuple[list[str], list[str], str]:
    """Train ``specs`` once with a corrupt checkpoint in the first run's folder, which the run
    warns of and passes over: the warning lines on stderr, the first run's logged warnings, and
    the line expected on stderr."""
    store, work = tmp_path / "s.db", tmp_path / "work"
    with Store(store, create=True) as s:
        store_id = s.store_id
    run_dir = work / f"{store_id}-run-00001-{specs[0].name}-s0"
    run_dir.mkdir(parents=True)
    (run_dir / "epoch-0001.ckpt").write_bytes(b"not a checkpoint")
    capsys.readouterr()
    with speaking_as("archlab train-candidates"):
        summary = train_specs(
            specs,
            config=TrainConfig(epochs=1, batch_size=64, limit=200),
            device="cpu",
            store_path=store,
            workdir=work,
            execution=execution,
            reporter=LogReporter(),
        )
    assert {r.status for r in summary.runs} == {"finished"}
    shown = [line for line in capsys.readouterr().err.splitlines() if ": warning: " in line]
    events = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    logged = [e["message"] for e in events if e["event"] == "warning"]
    text = f"checkpoint {run_dir / 'epoch-0001.ckpt'} is corrupt; falling back to the previous one"
    return shown, logged, f"archlab train-candidates: warning: {specs[0].name} seed 0: {text}"


@pytest.mark.parametrize(
    "execution",
    [ExecutionOptions(threads=1), ExecutionOptions(workers=2, threads=1)],
    ids=["in-process", "pool"],
)
def test_a_runs_warning_is_said_once_on_stderr_and_logged(
    execution: ExecutionOptions, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A pool worker's warnings come back with its outcome; the parent says them as the
    # in-process executor does, once each; the other run, which warned of nothing, says nothing.
    shown, logged, expected = _warned(tmp_path, TINY, execution, capsys)
    assert shown == [expected]
    assert logged == [expected.rsplit(" seed 0: ", 1)[1]]


@pytest.mark.ray
def test_a_ray_runs_warning_is_said_on_stderr(  # type: ignore[no-untyped-def]
    ray_local, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    execution = ExecutionOptions(executor="ray", threads=1)
    shown, logged, expected = _warned(tmp_path, TINY[:1], execution, capsys)
    assert shown == [expected]
    assert logged == [expected.rsplit(" seed 0: ", 1)[1]]


def _starts(work: Path) -> list[dict]:  # type: ignore[type-arg]
    events = []
    for log in work.glob("*-run-*/log.jsonl"):
        for line in log.read_text().splitlines():
            event = json.loads(line)
            if event["event"] == "start":
                events.append({**event, "log": str(log)})
    return events


def _train_and_kill_a_worker(
    specs: list,
    tmp_path: Path,
    execution: ExecutionOptions,  # type: ignore[type-arg]
) -> tuple[object, Path, Path]:
    """Train in a thread, SIGKILL the worker of the first run once it has a checkpoint."""
    config = TrainConfig(epochs=12, batch_size=32, limit=300)
    store, work = tmp_path / "s.db", tmp_path / "work"
    outcome: dict[str, object] = {}

    def drive() -> None:
        outcome["summary"] = train_specs(
            specs,
            config=config,
            device="cpu",
            store_path=store,
            workdir=work,
            execution=execution,
        )

    driver = threading.Thread(target=drive)
    driver.start()
    deadline = time.monotonic() + 120
    victim = None
    while victim is None and time.monotonic() < deadline and driver.is_alive():
        starts = _starts(work)
        if starts and list(work.glob("*-run-*/epoch-*.ckpt")):
            victim = starts[0]["pid"]
        time.sleep(0.05)
    assert victim is not None, "the runs finished before a worker could be killed"
    os.kill(victim, signal.SIGKILL)
    driver.join(timeout=300)
    return outcome["summary"], store, work


@pytest.mark.ray
def test_ray_worker_killed_mid_task(ray_local, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    summary, store, work = _train_and_kill_a_worker(
        TINY[:1], tmp_path, ExecutionOptions(executor="ray", threads=1)
    )
    assert [r.status for r in summary.runs] == ["finished"]  # type: ignore[attr-defined]
    assert len(_starts(work)) == 2  # Ray retried the task once, on a new worker
    epochs = Store(store, create=False).epochs_frame()
    assert list(epochs.epoch) == list(range(1, 13))  # every epoch stored exactly once


def test_pool_worker_killed_mid_task_is_retried(tmp_path: Path) -> None:
    summary, store, _ = _train_and_kill_a_worker(
        TINY, tmp_path, ExecutionOptions(workers=2, threads=1)
    )
    assert [r.status for r in summary.runs] == ["finished", "finished"]  # type: ignore[attr-defined]
    epochs = Store(store, create=False).epochs_frame()
    assert not epochs.duplicated(["run_id", "epoch"]).any()
    assert epochs.groupby("run_id").epoch.apply(list).tolist() == [list(range(1, 13))] * 2


def test_a_run_folder_in_use_is_not_trained_twice(digits: DatasetSplits, tmp_path: Path) -> None:
    import fcntl

    store, work = tmp_path / "s.db", tmp_path / "work"
    with Store(store, create=True) as s:
        store_id = s.store_id
    run_dir = work / f"{store_id}-run-00001-{TINY[0].name}-s0"
    run_dir.mkdir(parents=True)
    with open(run_dir / ".lock", "w") as held:  # another process's trainer, as far as flock knows
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        summary = train_specs(
            TINY[:1],
            config=TrainConfig(epochs=1),
            device="cpu",
            store_path=store,
            workdir=work,
            data=digits,
        )
    assert summary.runs[0].status == "failed"
    assert "in use by another process" in (summary.runs[0].reason or "")


def test_halving_promotes_only_from_a_whole_rung(
    digits: DatasetSplits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import archlab.train.tasks as tasks_module

    specs = [make_spec("cifar", 11, c, 2, width_multiplier=0.125) for c in (1, 2, 4, 8)]
    kwargs = {
        "config": TrainConfig(epochs=2, batch_size=64),
        "device": "cpu",
        "data": digits,
        "store_path": tmp_path / "s.db",
        "halving": Halving(2, 1, 2),
        "execution": ExecutionOptions(threads=1),
    }
    real = tasks_module.train_run

    def flaky(spec, *args, **kw):  # type: ignore[no-untyped-def]
        if spec.cardinality == 4:
            raise RuntimeError("transient failure")
        return real(spec, *args, **kw)

    monkeypatch.setattr(tasks_module, "train_run", flaky)
    first = train_specs(specs, **kwargs)
    assert {r.rung for r in first.runs} == {0}  # nothing promoted from a broken rung
    monkeypatch.setattr(tasks_module, "train_run", real)
    train_specs(specs, **kwargs)
    frame = Store(tmp_path / "s.db", create=False).results_frame()
    assert frame.groupby("rung").size().to_dict() == {0: 4, 1: 2}
    rung0 = frame[frame.rung == 0].sort_values(["val_error", "name"])
    assert set(frame[frame.rung == 1].name) == set(rung0.name[:2])

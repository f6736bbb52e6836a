"""The count workflow: contradictory options refused before anything is counted, and a spec
given by its options counted as its name is."""

from __future__ import annotations

from typing import Any

import pytest

from archlab.errors import ArchlabError, OptionError

TINY_CIFAR: dict[str, Any] = {"template": "cifar", "width_multiplier": 0.125}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give a model name (e.g. resnext50_32x4d), spec options such as cardinality"),
        ({"name": "resnet50", "cardinality": 4}, "give a model name or spec options such as"),
        ({"model": "torch.nn:Linear", "name": "resnet50"}, "model counts any module and name"),
        ({"model": "torch.nn:Linear", "depth": 50}, "and depth is for archlab's own specs"),
        ({"model": "torch.nn:Linear", "batch_size": 2}, "and batch_size is for archlab's own"),
        ({"name": "resnet50", "input_dtype": "long"}, "input_dtype needs model"),
        ({"name": "resnet50", "repeats": 3}, "repeats goes with measure or roofline"),
        ({"name": "resnet50", "input_shape": (1, 3, 8, 8)}, "input_shape needs model"),
        ({"name": "resnet50", "model_kwargs": "{}"}, "model_kwargs needs model"),
        ({"name": "resnet50", "input_sizes": (8,), "per_layer": True}, "per_layer needs a sing"),
        ({"name": "resnet50", "input_sizes": (8,), "input_size": 8}, "input_size needs a single"),
        ({"name": "resnet50", "device": "cpu"}, "device goes with measure"),
        ({"name": "resnet50", "batch_size": 2}, "batch_size goes with measure"),
        ({"name": "resnet50", "dtype": "float16", "roofline": True}, "dtype goes with measure"),
        ({"name": "resnet50", "store": "s.db"}, "store goes with measure"),
    ],
)
def test_run_count_refuses_contradictions_before_counting(
    kwargs: dict[str, Any], message: str
) -> None:
    from archlab.workflows.count import run_count

    with pytest.raises(OptionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_count(**kwargs)


def test_run_count_from_spec_options_equals_the_name() -> None:
    from archlab.workflows.count import run_count

    by_options = run_count(cardinality=4, bottleneck_width=1, depth=11, counters=["analytic"],
                           **TINY_CIFAR)  # fmt: skip
    by_name = run_count("resnext11_4x1d_w0.125", counters=["analytic"])
    assert by_options.report is not None and by_name.report is not None
    assert by_options.report.name == by_name.report.name == "resnext11_4x1d_w0.125"
    assert by_options.to_dict() == by_name.to_dict()


TIMED: dict[str, Any] = {"name": "resnext11_4x1d_w0.125", "counters": ["analytic"], "measure": True,
                         "device": "cpu", "batch_size": 2, "repeats": 3}  # fmt: skip


def _check_structure(d: dict[str, Any]) -> None:
    """Keys present and every interval ordered; no timing value asserted (a shared machine)."""
    for q in ("step_ms", "latency_ms"):
        median = d["step_ms_per_image" if q == "step_ms" else q]
        low, high = d[f"{q}_ci"]
        assert 0 < low <= median <= high
    assert 0 < d["ci_level"] <= 1 and d["forward_ms"] == d["latency_ms"]
    assert d["train_ms"] == d["step_ms_per_image"] * d["batch"]
    for k in ("dtype", "threads", "repeats", "device", "forward_images_per_s", "train_macs_per_s"):
        assert d[k] is not None, k
    assert d["key"]["dtype"] == d["dtype"] and d["key"]["threads"] == d["threads"]


def test_measure_without_store_writes_nothing(tmp_path, monkeypatch, one_torch_thread) -> None:
    from archlab.workflows.count import run_count

    monkeypatch.chdir(tmp_path)
    out = run_count(**TIMED)
    assert out.speed is not None
    d = out.to_dict()["speed"]
    _check_structure(d)
    assert (d["reused"], d["store"], d["batch"], d["repeats"]) == (False, None, 2, 3)
    assert d["device"].startswith("cpu:") and d["dtype"] == "float32"
    assert list(tmp_path.iterdir()) == []


def test_measure_with_store_is_reused(tmp_path, monkeypatch, one_torch_thread) -> None:
    from archlab.measure.speed_data import SpeedMeter
    from archlab.workflows.count import run_count

    first = run_count(**TIMED, store=tmp_path / "s.db")
    assert first.speed is not None and not first.speed.measurement.reused

    def never(*args: Any) -> Any:
        raise AssertionError("a reused measurement was timed again")

    monkeypatch.setattr(SpeedMeter, "_time", never)
    again = run_count(**TIMED, store=tmp_path / "s.db")
    assert again.speed is not None
    d, d0 = again.to_dict()["speed"], first.to_dict()["speed"]
    _check_structure(d)
    assert d["reused"] and d["store"] == str(tmp_path / "s.db") and d["session"] == d0["session"]
    assert d["step_ms_ci"] == d0["step_ms_ci"] and d["key"] == d0["key"]
    with pytest.raises(AssertionError, match="timed again"):  # another key is a new measurement
        run_count(**{**TIMED, "repeats": 2}, store=tmp_path / "s.db")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"repeats": 0}, "repeats must be"), ({"batch_size": 0}, "batch_size must be"),
     ({"dtype": "float8"}, "dtype must be one of float32, float16, bfloat16, got 'float8'")],
)  # fmt: skip
def test_measure_bad_settings_refused_before_counting(
    kwargs: dict[str, Any], message: str, tmp_path, monkeypatch
) -> None:
    from archlab.workflows import count

    monkeypatch.setattr(count, "count_all", lambda *a, **k: pytest.fail("counted"))
    with pytest.raises(ArchlabError, match=message):
        count.run_count(**{**TIMED, **kwargs}, store=tmp_path / "s.db")
    assert not (tmp_path / "s.db").exists()

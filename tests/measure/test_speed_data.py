"""Measured speed as data: the median interval, the key, reuse from the store, bad input."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from archlab.errors import ArchlabError
from archlab.measure._rounds import Runner
from archlab.measure.speed_data import (
    SpeedMeter,
    SpeedSettings,
    SpeedTarget,
    median_interval,
    spec_target,
    time_samples,
)
from archlab.presets import get_spec
from archlab.store import Store
from archlab.store.speed import find_speed, speed_rows

TINY = get_spec("resnext29_2x4d_w0.0625")


def test_median_interval_is_the_order_statistic_interval() -> None:
    ten = median_interval(range(1, 11))
    assert ten.median == 5.5
    # n = 10: [x(2), x(9)] covers the median with 1 - 2 * 11/1024 = 97.9%; [x(3), x(8)] 89%.
    assert (ten.low, ten.high) == (2, 9)
    assert ten.level == pytest.approx(1 - 2 * 11 / 1024)
    three = median_interval([3.0, 1.0, 2.0])
    assert (three.low, three.median, three.high) == (1.0, 2.0, 3.0)
    assert three.level == pytest.approx(0.75)  # below n = 6 no interval reaches 95%
    with pytest.raises(ArchlabError, match="no timed samples"):
        median_interval([])


def _fake_prepare(calls: list[str]) -> Callable[[SpeedTarget, SpeedSettings], Runner]:
    def prepare(target: SpeedTarget, settings: SpeedSettings) -> Runner:
        calls.append(target.name)
        rounds = itertools.count()

        def run(kind: str) -> float:
            step = 0.010 * (1 + 0.01 * (next(rounds) // 2))  # a step then a forward per round
            return step if kind == "step" else step / 3

        return run

    return prepare


def test_a_measurement_is_stored_and_reused_never_mixed_across_keys(tmp_path: Path) -> None:
    calls: list[str] = []
    with Store(tmp_path / "s.db", create=True) as store:
        meter = SpeedMeter(SpeedSettings(batch=4, repeats=6, device="cpu"), store=store,
                           prepare=_fake_prepare(calls))  # fmt: skip
        first = meter.spec(TINY)
        assert not first.reused and calls == [TINY.name]
        # 10 ms per batch of 4: 2.5 ms per image; latency per batch is a third of the step.
        assert first.step.median == pytest.approx(2.5 * 1.025)
        assert first.step.low <= first.step.median <= first.step.high
        again = meter.spec(TINY)
        assert again.reused and calls == [TINY.name]  # read back, not measured
        assert again.values() == first.values()
        assert (meter.measured, meter.reused) == (1, 1)
        # Another batch is another key: measured, kept beside the first.
        other = SpeedMeter(SpeedSettings(batch=8, repeats=6, device="cpu"), store=store,
                           prepare=_fake_prepare(calls))  # fmt: skip
        assert not other.spec(TINY).reused and len(calls) == 2
        rows = speed_rows(store)
        assert [r["key"]["batch"] for r in rows] == [4, 8]
        key = rows[0]["key"]
        for field in ("spec", "input_size", "device", "dtype", "channels_last", "threads",
                      "torch", "repeats", "warmup"):  # fmt: skip
            assert field in key
        assert key["device"].startswith("cpu:")
        assert find_speed(store, {**key, "dtype": "bfloat16"}) is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"batch": 0}, "batch must be an integer >= 1, got 0"),
        ({"repeats": -1}, "repeats must be an integer >= 1, got -1"),
        ({"dtype": "float8"}, "dtype must be one of float32, float16, bfloat16, got 'float8'"),
        ({"threads": 0}, "threads must be an integer >= 1"),
    ],
)
def test_bad_settings_are_refused_naming_the_value(settings: dict, message: str) -> None:
    with pytest.raises(ArchlabError, match=message):
        SpeedSettings(**settings)


def test_an_error_stores_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", create=True) as store:
        meter = SpeedMeter(SpeedSettings(batch=1, device="cpu"), store=store)
        # cifar at 4x4 input collapses to a 1x1 final map: BN cannot train at batch 1.
        with pytest.raises(ArchlabError, match="batch 1 with a 1x1 final map"):
            meter.spec(TINY, input_size=4)
        assert speed_rows(store) == []


def test_time_samples_reads_the_injected_clock() -> None:
    ticks = itertools.count()
    target = spec_target(TINY, 16, batch=2)
    import torch

    model, xs = target.build(torch.device("cpu"), torch.float32, False)
    settings = SpeedSettings(batch=2, repeats=3, warmup=1)
    steps, forwards = time_samples(model, xs, settings, clock=lambda: float(next(ticks)))
    assert steps == [1.0, 1.0, 1.0] and forwards == [1.0, 1.0, 1.0]  # warm-up dropped


def test_a_real_measurement_has_ordered_intervals(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", create=True) as store:
        m = SpeedMeter(SpeedSettings(batch=2, repeats=3, warmup=1, device="cpu"), store=store)
        result = m.spec(TINY, input_size=16).to_dict()
    for name in ("step_ms_per_image", "latency_ms"):
        low, high = result[name.replace("_per_image", "") + "_ci"]
        assert 0 < low <= result[name] <= high
    assert result["key"]["input_size"] == 16 and not result["reused"]
    assert math.isclose(result["ci_level"], 0.75)
    json.dumps(result)


def test_any_model_by_reference_is_keyed_by_its_reference_and_inputs(tmp_path: Path) -> None:
    from archlab.measure.speed_data import model_target

    (tmp_path / "tiny_net.py").write_text(
        "import torch\n\ndef make(width=4):\n"
        "    return torch.nn.Sequential(torch.nn.Embedding(10, width), torch.nn.Linear(width, 2))\n"
    )
    target = model_target(f"{tmp_path / 'tiny_net.py'}:make", {"width": 4}, [[2, 5]], "long")
    with Store(tmp_path / "s.db", create=True) as store:
        meter = SpeedMeter(SpeedSettings(batch=2, repeats=3, warmup=1, device="cpu"), store=store)
        first = meter(target)
        assert meter(target).reused and not first.reused
    assert first.key["model"].endswith("tiny_net.py:make") and first.key["shapes"] == [[2, 5]]
    assert first.key["input_dtype"] == "long" and first.name == "make"
    assert first.step.low <= first.step.median <= first.step.high


def test_a_model_reference_is_timed_inside_the_user_code_guard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from archlab.measure.speed_data import model_target

    (tmp_path / "rude_net.py").write_text(
        "import sys\nimport torch\n\n"
        "class Loud(torch.nn.Linear):\n"
        "    def forward(self, x):\n        print('hello from forward')\n"
        "        return super().forward(x)\n\n"
        "class Quits(torch.nn.Linear):\n"
        "    def forward(self, x):\n        sys.exit(3)\n"
    )
    settings = SpeedSettings(batch=2, repeats=1, warmup=0, device="cpu")
    meter = SpeedMeter(settings)
    loud = meter(
        model_target(
            f"{tmp_path / 'rude_net.py'}:Loud", {"in_features": 4, "out_features": 2}, [[2, 4]]
        )
    )
    out = capsys.readouterr()
    assert loud.step.median > 0 and out.out == "" and "hello from forward" in out.err
    quits = model_target(
        f"{tmp_path / 'rude_net.py'}:Quits", {"in_features": 4, "out_features": 2}, [[2, 4]]
    )
    with pytest.raises(ArchlabError, match=r"timing the model called sys.exit\(3\)"):
        meter(quits)


def test_a_spec_bn_cannot_train_and_an_absent_device_are_refused() -> None:
    from archlab.space import make_spec

    imagenet = make_spec("imagenet", 50, 32, 1, width_multiplier=0.25)  # 1x1 final map at 32
    with pytest.raises(ArchlabError, match="BN cannot train"):
        spec_target(imagenet, 32, batch=1)
    assert spec_target(imagenet, 32, batch=2).name == imagenet.name  # batch 2 trains
    with pytest.raises(ArchlabError, match="device must be one of"):
        SpeedMeter(SpeedSettings(device="tpu"))
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ArchlabError, match="no CUDA"):
            SpeedMeter(SpeedSettings(device="cuda"))

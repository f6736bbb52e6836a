"""CountSpeed: the older count --measure fields derived from a SpeedMeter measurement, on fixed
samples (no clock)."""

from __future__ import annotations

import pytest

from archlab.measure.count_speed import CountSpeed
from archlab.measure.speed_data import measurement

KEY = {"batch": 4, "device": "cpu:test", "dtype": "bfloat16", "channels_last": False,
       "threads": 3, "torch": "2.x", "repeats": 3, "warmup": 1}  # fmt: skip


def test_derived_fields_follow_the_medians() -> None:
    # seconds per batch of 4: train steps median 0.2 s, forwards median 0.05 s
    m = measurement("net", KEY, ([0.3, 0.2, 0.1], [0.04, 0.06, 0.05]), batch=4)
    d = CountSpeed(m, forward_macs=1000, step_macs=3000).to_dict()
    assert d["step_ms_per_image"] == pytest.approx(50.0) and d["latency_ms"] == pytest.approx(50.0)
    assert d["step_ms_ci"] == pytest.approx([25.0, 75.0]) and d["ci_level"] == 0.75
    assert d["train_ms"] == pytest.approx(200.0) and d["forward_ms"] == pytest.approx(50.0)
    assert d["train_images_per_s"] == pytest.approx(20.0)
    assert d["forward_images_per_s"] == pytest.approx(80.0)
    assert d["forward_macs_per_s"] == pytest.approx(80_000.0)
    assert d["train_macs_per_s"] == pytest.approx(60_000.0)
    assert (d["dtype"], d["threads"], d["batch_size"], d["torch_version"]) == ("bfloat16", 3, 4,
                                                                               "2.x")  # fmt: skip
    assert d["store"] is None and d["reused"] is False and d["key"] == KEY


def test_rows_state_the_interval_and_where_it_is_kept(tmp_path) -> None:
    m = measurement("net", KEY, ([0.3, 0.2, 0.1], [0.04, 0.06, 0.05]), batch=4)
    rows = dict(CountSpeed(m, None, None, store=tmp_path / "s.db").rows())
    assert rows["train step, ms per image"] == "50 [25, 75]"
    assert rows["forward_macs_per_s"] is None and rows["dtype"] == "bfloat16"
    assert rows["store"] == f"kept in {tmp_path / 's.db'}"
    assert dict(CountSpeed(m, None, None).rows())["store"] == "not kept"

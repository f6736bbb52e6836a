"""Speed measurements in the store: one row per key, the first kept, old stores read as empty."""

from __future__ import annotations

from pathlib import Path

from archlab.store import Store
from archlab.store.speed import canonical_key, find_speed, save_speed, speed_rows

KEY = {"spec": {"name": "x"}, "batch": 4, "device": "cpu:test", "threads": 1}


def test_a_key_keeps_its_first_measurement(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", create=True) as store:
        assert find_speed(store, KEY) is None and speed_rows(store) == []  # no table yet
        save_speed(store, KEY, {"name": "x", "step_ms_per_image": 1.5, "latency_ms": 3.0})
        save_speed(store, dict(reversed(KEY.items())), {"name": "x", "step_ms_per_image": 9.0})
        assert find_speed(store, KEY) == {"name": "x", "step_ms_per_image": 1.5, "latency_ms": 3.0}
        assert find_speed(store, {**KEY, "batch": 8}) is None
        (row,) = speed_rows(store)
        assert row["key"] == KEY and row["step_ms_per_image"] == 1.5
    assert canonical_key(KEY) == canonical_key(dict(reversed(KEY.items())))
    with Store(tmp_path / "s.db", read_only=True) as store:  # read back without writing
        assert find_speed(store, KEY) is not None

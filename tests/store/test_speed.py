"""Speed measurements in the store: rows per (session, key), a comparison read back only from one
session holding every key, the latest such session, old stores read as empty."""

from __future__ import annotations

from pathlib import Path

from archlab.store import Store
from archlab.store.speed import canonical_key, find_session, find_speed, save_session, speed_rows

BASE = {"spec": {"name": "base"}, "batch": 4, "device": "cpu:test", "threads": 1}
A = {**BASE, "spec": {"name": "a"}}
B = {**BASE, "spec": {"name": "b"}}


def _result(name: str, ms: float) -> dict[str, object]:
    return {"name": name, "step_ms_per_image": ms, "latency_ms": 3 * ms}


def test_a_comparison_is_read_back_only_from_one_session(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", create=True) as store:
        assert find_session(store, [BASE]) is None and speed_rows(store) == []  # no table yet
        save_session(store, "s1", [(BASE, _result("base", 1.0)), (A, _result("a", 2.0))])
        save_session(store, "s2", [(BASE, _result("base", 5.0)), (B, _result("b", 6.0))])
        # Each pair was timed together: read back from its own session, in the order asked.
        assert find_session(store, [A, BASE]) == ("s1", [_result("a", 2.0), _result("base", 1.0)])
        assert find_session(store, [BASE, B]) == ("s2", [_result("base", 5.0), _result("b", 6.0)])
        # A and B were never timed together: nothing is mixed across sessions.
        assert find_session(store, [BASE, A, B]) is None
        # A key alone: its latest session's measurement.
        assert find_speed(store, BASE) == _result("base", 5.0)
        # Timed again together: the newer session is the one read back; the older stays.
        save_session(store, "s3", [(BASE, _result("base", 9.0)), (A, _result("a", 18.0))])
        assert find_session(store, [BASE, A]) == ("s3", [_result("base", 9.0), _result("a", 18.0)])
        # The same key written twice in one session keeps its first measurement.
        save_session(store, "s3", [(dict(reversed(A.items())), _result("a", 99.0))])
        rows = speed_rows(store)
        assert [r["session"] for r in rows] == ["s1", "s1", "s2", "s2", "s3", "s3"]
        assert rows[-1]["step_ms_per_image"] == 18.0 and rows[-1]["key"] == A
        assert find_session(store, [{**BASE, "batch": 8}]) is None
    assert canonical_key(A) == canonical_key(dict(reversed(A.items())))
    with Store(tmp_path / "s.db", read_only=True) as store:  # read back without writing
        assert find_session(store, [BASE, A]) is not None

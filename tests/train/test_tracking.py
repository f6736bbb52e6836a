"""GuardedTracker: each sink's first error warns once on stderr and switches that sink off."""

from __future__ import annotations

from typing import Any

import pytest

from archlab.train.tracking import GuardedTracker, tracked_metrics


class _Sink:
    def __init__(self, name: str, fail_at: int | None = None) -> None:
        self.name, self.fail_at, self.epochs = name, fail_at, []  # type: list[int]

    def epoch(self, run_id: int, metrics: dict[str, Any]) -> None:
        if metrics["epoch"] == self.fail_at:
            raise OSError("no space left\nsecond line")
        self.epochs.append(metrics["epoch"])


def test_a_failing_sink_warns_once_and_the_others_go_on(capsys: pytest.CaptureFixture[str]) -> None:
    bad, good = _Sink("MLflow", fail_at=2), _Sink("TensorBoard")
    tracker = GuardedTracker([bad, good])  # type: ignore[list-item]
    for epoch in (1, 2, 3, 4):
        tracker.epoch(7, {"epoch": epoch})
    assert bad.epochs == [1] and good.epochs == [1, 2, 3, 4]
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("archlab: warning: MLflow tracking stopped (no space left)")
    tracker.close()  # sinks without close are passed over
    assert bool(tracker) and not GuardedTracker([])


def test_tracked_metrics_keep_numbers_only() -> None:
    got = tracked_metrics(
        {"epoch": 1, "val_error": 0.5, "lr": float("nan"), "test_top5_error": None}
    )
    assert got == {"val_error": 0.5}

"""Tracking sinks (MLflow, TensorBoard) as the driver sees them: fed after the store.

The store is the truth (docs/training.md, "Tracking"). The driver tells a :class:`Tracker` about a
run only after the store holds it: when the run starts, after each stored epoch, and when its
final status is stored (or, on a rerun, when a stored run is skipped, so a sink can fill in what
an earlier invocation did not send). :class:`GuardedTracker` wraps each sink so that its first
error prints one warning on stderr and switches that sink off for the rest of the invocation:
training goes on and no stored result is lost; a rerun sends the tracking side what it missed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from archlab.errors import print_warning

if TYPE_CHECKING:
    from archlab.space import NetSpec
    from archlab.store import RunRecord
    from archlab.train.plan import RunPlan

# The per-epoch metrics a sink records (EpochRecord's fields, errors as fractions).
TRACKED_METRICS = ("train_loss", "train_error", "val_error", "test_error", "test_top5_error",
                   "lr", "images_per_s", "wall_s")  # fmt: skip


class Tracker(Protocol):
    """What the driver tells a tracking sink, each call after the store write it mirrors."""

    name: str

    def run_started(self, store_id: str, run: RunRecord, spec: NetSpec, plan: RunPlan) -> None: ...
    def epoch(self, run_id: int, metrics: Mapping[str, Any]) -> None: ...
    def run_ended(
        self,
        store_id: str,
        run: RunRecord,
        spec: NetSpec,
        plan: RunPlan,
        history: Sequence[Mapping[str, Any]],
    ) -> None: ...
    def close(self) -> None: ...


def tracked_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The epoch's metrics a sink records: numbers only (a NaN or missing value is left out)."""
    out = {}
    for key in TRACKED_METRICS:
        value = metrics.get(key)
        if isinstance(value, int | float) and value == value:  # NaN != NaN
            out[key] = float(value)
    return out


class GuardedTracker:
    """Fans each call out to the sinks; a sink's first error warns once and switches it off."""

    name = "tracking"

    def __init__(self, sinks: Sequence[Tracker]) -> None:
        self._sinks = list(sinks)

    def __bool__(self) -> bool:
        return bool(self._sinks)

    def each(self, call: str, *args: Any) -> None:
        """Call ``call`` on every sink that has it; one that fails is warned about and dropped."""
        for sink in list(self._sinks):
            if not hasattr(sink, call):
                continue
            try:
                getattr(sink, call)(*args)
            except Exception as exc:  # any failure of a sink: the store and training go on
                self._sinks.remove(sink)
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
                print_warning(
                    f"{sink.name} tracking stopped ({first}); training goes on and the store "
                    f"keeps every result; rerun the command to send {sink.name} what it missed"
                )

    def run_started(self, store_id: str, run: RunRecord, spec: NetSpec, plan: RunPlan) -> None:
        """A run is stored as running."""
        self.each("run_started", store_id, run, spec, plan)

    def epoch(self, run_id: int, metrics: Mapping[str, Any]) -> None:
        """An epoch is stored."""
        self.each("epoch", run_id, metrics)

    def run_ended(
        self,
        store_id: str,
        run: RunRecord,
        spec: NetSpec,
        plan: RunPlan,
        history: Sequence[Mapping[str, Any]],
    ) -> None:
        """A run's final status is stored (or a stored run was skipped), with its history."""
        self.each("run_ended", store_id, run, spec, plan, history)

    def close(self) -> None:
        """Flush and close every sink still on."""
        self.each("close")

"""``count --measure``: one spec or model timed by :class:`~archlab.measure.speed_data.SpeedMeter`.

The measurement is the one ``--match speed`` uses (docs/counting.md, "Measured speed"): train-step
time per image and inference latency at the batch, each a median with its interval, keyed by the
device name, dtype, threads, batch and repeats. :class:`CountSpeed` adds the throughput the
older ``count --measure`` printed (forward_ms, train_ms, images/s, MACs/s), derived from those
medians and the analytic (a spec) or traced (a model) MACs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archlab.measure.speed_data import SpeedMeasurement

# The key's fields a reader of ``count --measure`` wants beside the medians.
KEY_FIELDS = ("dtype", "channels_last", "threads", "repeats", "warmup")


@dataclass(frozen=True)
class CountSpeed:
    """One measurement with the MACs of a forward and of a training step (one input each)."""

    measurement: SpeedMeasurement
    forward_macs: int | None
    step_macs: int | None
    store: Path | None = None  # where it was kept (or read back from); None: not kept

    def to_dict(self) -> dict[str, Any]:
        """The measurement (medians, [low, high] intervals, ci_level, key, reused), the key's
        settings, and forward/train milliseconds, images/s and MACs/s at the medians."""
        m = self.measurement
        batch = int(m.key["batch"])
        fwd_ms = m.latency.median
        train_ms = m.step.median * batch

        def rate(per_image: float | None, ms: float) -> float | None:
            return None if per_image is None or ms <= 0 else per_image * batch * 1e3 / ms

        return {
            **m.to_dict(),
            **{k: m.key[k] for k in KEY_FIELDS},
            "torch_version": m.key["torch"],
            "batch_size": batch,
            "forward_ms": fwd_ms,
            "forward_images_per_s": rate(1, fwd_ms),
            "forward_macs_per_s": rate(self.forward_macs, fwd_ms),
            "train_ms": train_ms,
            "train_images_per_s": rate(1, train_ms),
            "train_macs_per_s": rate(self.step_macs, train_ms),
            "store": None if self.store is None else str(self.store),
        }

    def rows(self) -> list[list[Any]]:
        """(quantity, value) rows for a human table: medians with intervals, then the key."""
        d = self.to_dict()
        step, lat = d["step_ms_ci"], d["latency_ms_ci"]
        return [
            ["train step, ms per image", f"{d['step_ms_per_image']:.4g} [{step[0]:.4g}, "
                                        f"{step[1]:.4g}]"],
            [f"inference latency, ms per batch of {d['batch']}", f"{d['latency_ms']:.4g} "
                                                                 f"[{lat[0]:.4g}, {lat[1]:.4g}]"],
            ["interval coverage", f"{d['ci_level']:.1%}"],
            *([k, d[k]] for k in ("forward_images_per_s", "forward_macs_per_s",
                                  "train_images_per_s", "train_macs_per_s")),
            *([k, d[k]] for k in ("device", "dtype", "threads", "batch", "repeats", "warmup",
                                  "channels_last", "torch_version")),
            ["store", ("reused from " if d["reused"] else "kept in ") + d["store"]
             if d["store"] else "not kept"],
        ]  # fmt: skip

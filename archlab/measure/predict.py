"""The roofline-predicted time of a spec's training step, from the analytic count alone.

Each conv and fc layer of :func:`archlab.complexity.complexity` is placed on a roofline with a
given peak MAC rate and memory bandwidth (measured by :func:`archlab.measure.roofline.
peak_macs_per_s` and :func:`~archlab.measure.roofline.bandwidth_bytes_per_s`), as
``archlab count --roofline`` places a traced layer (docs/counting.md, "Roofline"):

- a pass of a layer at batch B takes max(B x MACs / peak, bytes / bandwidth), with bytes =
  (B x input elements + its own parameters + B x output elements) x the element size, the
  roofline module's :func:`~archlab.measure.roofline.layer_bytes` (caches ignored);
- a training step runs 3 passes of each layer (forward, data gradient, weight gradient: each
  reads and writes as many elements as the forward and does as many MACs), and 2 of the stem,
  whose input is the image and gets no data gradient (the convention of
  :func:`archlab.measure.speed.training_step_macs`);
- BN, ReLU, pooling and the residual add cost nothing here (0 MACs, and the roofline module
  places only layers with MACs), nor does the optimizer step.

Torch-free: the numbers in, seconds out, so the formula is testable without a clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.complexity import LayerCount, complexity
from archlab.errors import ArchlabError
from archlab.space import NetSpec

TRAIN_PASSES = 3  # forward, data gradient, weight gradient
STEM_PASSES = 2  # the image needs no data gradient


@dataclass(frozen=True)
class PredictedLayer:
    """One conv or fc layer's share of the predicted step at the stated batch."""

    path: str
    passes: int
    macs: int  # one pass, whole batch
    bytes: int  # one pass, whole batch
    seconds: float  # all passes


@dataclass(frozen=True)
class StepPrediction:
    """The roofline-predicted training step of one spec at one batch size."""

    name: str
    batch_size: int
    peak_macs_per_s: float
    bandwidth_bytes_per_s: float
    layers: tuple[PredictedLayer, ...]

    @property
    def seconds(self) -> float:
        """Predicted seconds of one training step of the whole batch."""
        return sum(r.seconds for r in self.layers)

    @property
    def ms_per_image(self) -> float:
        """Predicted milliseconds of a training step per image."""
        return self.seconds * 1e3 / self.batch_size

    @property
    def forward_bytes_per_image(self) -> float:
        """Bytes one forward pass moves per image (parameters shared by the batch)."""
        return sum(r.bytes for r in self.layers) / self.batch_size


def spec_layer_bytes(row: LayerCount, batch_size: int, itemsize: int) -> int:
    """Bytes one pass of a conv or fc row moves at ``batch_size``: the roofline's formula."""
    in_elems = row.c_in * row.h_in * row.h_in
    out_elems = row.c_out * row.h_out * row.h_out
    return (batch_size * (in_elems + out_elems) + row.params) * itemsize


def predict_step_time(
    spec: NetSpec,
    *,
    peak_macs_per_s: float,
    bandwidth_bytes_per_s: float,
    batch_size: int = 8,
    input_size: int | None = None,
    itemsize: int = 4,
) -> StepPrediction:
    """Sum over conv and fc layers of passes x max(MACs / peak, bytes / bandwidth)."""
    for key, rate in (("peak_macs_per_s", peak_macs_per_s),
                      ("bandwidth_bytes_per_s", bandwidth_bytes_per_s)):  # fmt: skip
        if not rate > 0:
            raise ArchlabError(f"{key} must be a positive number, got {rate!r}")
    for key, value in (("batch_size", batch_size), ("itemsize", itemsize)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ArchlabError(f"{key} must be an integer >= 1, got {value!r}")
    cx = complexity(spec, input_size)
    rows = [r for r in cx.layers if r.kind in ("conv", "fc")]
    layers = []
    for i, r in enumerate(rows):
        passes = STEM_PASSES if i == 0 else TRAIN_PASSES
        macs = r.macs * batch_size
        nbytes = spec_layer_bytes(r, batch_size, itemsize)
        one = max(macs / peak_macs_per_s, nbytes / bandwidth_bytes_per_s)
        layers.append(PredictedLayer(r.path, passes, macs, nbytes, passes * one))
    name = f"{spec.name}@{cx.input_size}"
    return StepPrediction(name, batch_size, peak_macs_per_s, bandwidth_bytes_per_s, tuple(layers))

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

With measured in-core ceilings (the Roofline model's computational ceilings, Williams et al.,
"Roofline", CACM 2009; docs/counting.md, "Which number predicts speed?"), a layer's MACs run at
its kind's attained rate instead of the one peak: max(MACs / ceiling, bytes / bandwidth). The
ceilings are measured by :mod:`archlab.measure.ceilings`; :class:`Ceilings` looks one up: a dense
kind by its name, a grouped kxk conv by its group width (channels per group), log-log
interpolated between the measured widths, the dense kxk conv standing for one group as wide as
its channels, clamped beyond; the stem, the fc and any kind not measured take the peak.

Torch-free: the numbers in, seconds out, so the formula is testable without a clock.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from archlab.complexity import LayerCount, complexity
from archlab.errors import ArchlabError
from archlab.space import NetSpec

TRAIN_PASSES = 3  # forward, data gradient, weight gradient
STEM_PASSES = 2  # the image needs no data gradient


@dataclass(frozen=True)
class Ceiling:
    """The attained MAC rate of one conv kind at one group width, measured at a stated shape."""

    kind: str  # "dense 1x1", "dense 3x3", "grouped 3x3": the roofline module's kinds
    group_width: int  # channels per group (all the input channels for a dense conv)
    macs_per_s: float


@dataclass(frozen=True)
class Ceilings:
    """Measured ceilings below the dense matmul peak (Williams et al. 2009)."""

    rows: tuple[Ceiling, ...]

    def macs_per_s(self, kind: str, group_width: int, peak: float) -> float:
        """The ceiling a layer of ``kind`` with ``group_width`` channels per group runs at;
        ``peak`` for a kind not measured."""
        if kind.startswith("grouped "):
            dense = "dense " + kind.removeprefix("grouped ")
            points = sorted((r.group_width, r.macs_per_s) for r in self.rows
                            if r.kind == kind or r.kind == dense)  # fmt: skip
            return _log_log(points, group_width) if points else peak
        rates = [r.macs_per_s for r in self.rows if r.kind == kind]
        return rates[0] if rates else peak


def _log_log(points: list[tuple[int, float]], x: int) -> float:
    """Interpolate ``points`` (x ascending) linearly in log x and log y; clamped at the ends."""
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x == x1:
            return y1  # a measured width: its own rate, exactly
        if x < x1:
            t = math.log(x / x0) / math.log(x1 / x0)
            return math.exp(math.log(y0) + t * (math.log(y1) - math.log(y0)))
    return points[-1][1]


def spec_layer_kind(row: LayerCount, is_stem: bool) -> str:
    """stem, grouped kxk, dense kxk or fc: :func:`archlab.measure.roofline.layer_kind`'s names."""
    if is_stem:
        return "stem"
    if row.kind == "fc":
        return "fc"
    return f"{'grouped' if row.groups > 1 else 'dense'} {row.kernel}x{row.kernel}"


@dataclass(frozen=True)
class PredictedLayer:
    """One conv or fc layer's share of the predicted step at the stated batch."""

    path: str
    passes: int
    macs: int  # one pass, whole batch
    bytes: int  # one pass, whole batch
    seconds: float  # all passes
    kind: str  # stem, dense kxk, grouped kxk, fc
    macs_per_s: float  # the ceiling (or the peak) its MACs run at
    memory_bound: bool  # bytes / bandwidth above MACs / ceiling


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
    ceilings: Ceilings | None = None,
) -> StepPrediction:
    """Sum over conv and fc layers of passes x max(MACs / peak, bytes / bandwidth); with
    ``ceilings``, each layer's MACs over its kind's measured ceiling instead of the peak."""
    rates = [("peak_macs_per_s", peak_macs_per_s), ("bandwidth_bytes_per_s", bandwidth_bytes_per_s)]
    if ceilings is not None:
        rates += [(f"ceiling of {c.kind} at group width {c.group_width}", c.macs_per_s)
                  for c in ceilings.rows]  # fmt: skip
    for key, rate in rates:
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
        kind = spec_layer_kind(r, i == 0)
        rate = peak_macs_per_s
        if ceilings is not None:
            rate = ceilings.macs_per_s(kind, r.c_in // r.groups, peak_macs_per_s)
        macs = r.macs * batch_size
        nbytes = spec_layer_bytes(r, batch_size, itemsize)
        compute, memory = macs / rate, nbytes / bandwidth_bytes_per_s
        layers.append(PredictedLayer(r.path, passes, macs, nbytes, passes * max(compute, memory),
                                     kind, rate, memory > compute))  # fmt: skip
    name = f"{spec.name}@{cx.input_size}"
    return StepPrediction(name, batch_size, peak_macs_per_s, bandwidth_bytes_per_s, tuple(layers))

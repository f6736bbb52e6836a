"""The roofline of one model on this device: per layer, bytes moved, arithmetic intensity,
measured time and the fraction of the roof it attains (docs/counting.md, "Roofline").

Formulas, stated once:

- bytes moved by a layer = (input elements + its own parameters + output elements) x the
  element size of the dtype; each tensor is read or written once, caches ignored;
- intensity = MACs / bytes moved (the layer's traced MACs, :mod:`archlab.measure.trace`);
- peak = the MAC rate of a dense ``n x n`` matmul (n^3 MACs) and bandwidth = the rate of a large
  tensor copy (2 x its bytes: one read, one write), both timed in the same run;
- roof = min(peak, intensity x bandwidth); attained = MACs / measured time; fraction = attained /
  roof (above 1 where caches beat the copy's bandwidth);
- a model with 2-d dense 1x1, dense 3x3 or grouped 3x3 convs also gets the measured in-core
  ceilings of those kinds (:mod:`archlab.measure.ceilings`, forward alone, at the input's batch),
  and each layer its ceiling (:meth:`archlab.measure.predict.Ceilings.macs_per_s`: a grouped
  conv's at its group width; the peak for any other kind) and fraction of min(ceiling,
  intensity x bandwidth).

A layer's time is measured by forward hooks around it (synchronised on CUDA), the median over
``repeats`` forwards after ``warmup``; a timed layer inside another is subtracted from it.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from archlab.errors import ArchlabError
from archlab.measure.ceilings import ceiling_shapes, measure_ceilings
from archlab.measure.predict import Ceiling, Ceilings
from archlab.measure.trace import TracedCount, TracedLayer

CEILING_KINDS = ("dense 1x1", "dense 3x3", "grouped 3x3")  # the kinds the ceilings module times
MATMUL_SIZE = 1024  # n of the n x n matmul that measures the peak MAC rate
COPY_BYTES = 64 * 2**20  # the copied tensor that measures bandwidth, larger than the caches


@dataclass(frozen=True)
class RooflineLayer:
    """One layer's point on the roofline."""

    name: str
    kind: str  # stem, grouped kxk, dense kxk, fc, or the module's class name
    macs: int
    bytes: int
    intensity: float  # MACs per byte
    ms: float  # median forward time of the layer
    attained_macs_per_s: float
    roof_macs_per_s: float  # min(peak, intensity x bandwidth)
    fraction_of_roof: float
    ceiling_macs_per_s: float  # its kind's measured ceiling (the peak where none is measured)
    fraction_of_ceiling: float  # attained / min(ceiling, intensity x bandwidth)


@dataclass(frozen=True)
class Roofline:
    """The measured roof and every layer's point on it."""

    name: str
    device: str
    dtype: str
    input_shapes: tuple[tuple[int, ...], ...]
    warmup: int
    repeats: int
    threads: int
    peak_macs_per_s: float
    bandwidth_bytes_per_s: float
    layers: tuple[RooflineLayer, ...]
    ceilings: tuple[Ceiling, ...] = ()  # measured only for a model with 2-d convs of those kinds
    ceiling_shape: str = ""  # where they were measured

    @property
    def ridge(self) -> float:
        """The intensity (MACs per byte) where the bandwidth roof meets the peak."""
        return self.peak_macs_per_s / self.bandwidth_bytes_per_s

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        out = asdict(self)
        out["input_shapes"] = [list(s) for s in self.input_shapes]
        out["ridge_macs_per_byte"] = self.ridge
        return out


def check_positive(**values: Any) -> None:
    """Each value an integer >= 1, or one error naming it."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ArchlabError(f"{name} must be an integer >= 1, got {value!r}")


def _median_s(fn: Callable[[], Any], warmup: int, repeats: int, cuda: bool) -> float:
    times = []
    for i in range(warmup + repeats):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()  # asynchronous kernels: wait before reading the clock
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return max(statistics.median(times), 1e-9)


def peak_macs_per_s(
    device: torch.device, dtype: torch.dtype, *, size: int = MATMUL_SIZE, repeats: int = 5
) -> float:
    """The MAC rate of a dense ``size x size`` matmul (size^3 MACs), median of ``repeats``."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    with torch.inference_mode():
        s = _median_s(lambda: torch.mm(a, b), 1, repeats, device.type == "cuda")
    return size**3 / s


def bandwidth_bytes_per_s(
    device: torch.device, *, nbytes: int = COPY_BYTES, repeats: int = 5
) -> float:
    """Bytes per second of a large tensor copy: one read and one write of ``nbytes``."""
    src = torch.ones(nbytes // 4, device=device)
    dst = torch.empty_like(src)
    s = _median_s(lambda: dst.copy_(src), 1, repeats, device.type == "cuda")
    return 2 * src.numel() * 4 / s


def layer_kind(module: nn.Module, is_first_conv: bool) -> str:
    """stem (the first conv), grouped kxk / dense kxk convs, fc; else the class name."""
    if isinstance(module, nn.modules.conv._ConvNd):
        if is_first_conv:
            return "stem"
        k = "x".join(str(s) for s in module.kernel_size)
        return f"{'grouped' if module.groups > 1 else 'dense'} {k}"
    if isinstance(module, nn.Linear):
        return "fc"
    return type(module).__name__


def layer_bytes(layer: TracedLayer, itemsize: int) -> int:
    """(input elements + own parameters + output elements) x the element size."""
    return (layer.in_elems + layer.params + layer.out_elems) * itemsize


def _layer_times(
    model: nn.Module, inputs: Sequence[Tensor], paths: list[str], warmup: int, repeats: int
) -> dict[str, float]:
    """Each path's median seconds per forward, less the timed paths inside it."""
    cuda = any(t.is_cuda for t in inputs)
    mods = dict(model.named_modules())
    starts: dict[str, float] = {}
    spent: dict[str, list[float]] = defaultdict(list)
    handles = []
    for path in paths:

        def pre(m: nn.Module, i: Any, path: str = path) -> None:
            if cuda:
                torch.cuda.synchronize()
            starts[path] = time.perf_counter()

        def post(m: nn.Module, i: Any, o: Any, path: str = path) -> None:
            if cuda:
                torch.cuda.synchronize()
            spent[path].append(time.perf_counter() - starts[path])

        handles.append(mods[path].register_forward_pre_hook(pre))
        handles.append(mods[path].register_forward_hook(post))
    try:
        with torch.inference_mode():
            for _ in range(warmup):
                model(*inputs)
            spent.clear()
            for _ in range(repeats):
                model(*inputs)
    finally:
        for h in handles:
            h.remove()
    per_call = {p: statistics.median(v) * len(v) / repeats for p, v in spent.items() if v}
    own = {}
    for p in paths:
        inner = [q for q in paths if q.startswith(p + ".") and q in per_call]
        own[p] = max(per_call.get(p, 0.0) - sum(per_call[q] for q in inner), 1e-9)
    return own


def roofline(
    model: nn.Module,
    inputs: Sequence[Tensor],
    traced: TracedCount,
    *,
    name: str,
    warmup: int = 2,
    repeats: int = 10,
    matmul_size: int = MATMUL_SIZE,
    copy_bytes: int = COPY_BYTES,
) -> Roofline:
    """Measure the roof and time every layer with MACs of ``model`` (already on its device)."""
    check_positive(warmup_plus_one=warmup + 1, repeats=repeats)
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None else torch.float32
    itemsize = torch.empty((), dtype=dtype).element_size()
    rows = [r for r in traced.layers if r.path and r.macs > 0]
    if not rows:
        raise ArchlabError(f"model {name} has no layer with multiply-adds to place on a roofline")
    model = model.eval()
    times = _layer_times(model, inputs, [r.path for r in rows], warmup, repeats)
    peak = peak_macs_per_s(device, dtype, size=matmul_size, repeats=repeats)
    bandwidth = bandwidth_bytes_per_s(device, nbytes=copy_bytes, repeats=repeats)
    mods = dict(model.named_modules())
    convs = [p for p, m in mods.items() if isinstance(m, nn.modules.conv._ConvNd)]
    kinds = {r.path: layer_kind(mods[r.path], bool(convs) and r.path == convs[0]) for r in rows}
    ceilings, where = Ceilings(()), ""
    if any(isinstance(mods[p], nn.Conv2d) and k in CEILING_KINDS for p, k in kinds.items()):
        batch = inputs[0].shape[0] if inputs and inputs[0].dim() else 1
        shapes = ceiling_shapes(batch_size=max(int(batch), 1), training=False)
        ceilings = measure_ceilings(shapes, device, dtype, warmup=warmup, repeats=repeats)
        s = shapes[0]
        where = (f"forward, {s.channels} channels in and out, {s.map_size}x{s.map_size} map, "
                 f"batch {s.batch_size}")  # fmt: skip
    layers = []
    for r in rows:
        nbytes = layer_bytes(r, itemsize)
        intensity = r.macs / nbytes
        roof = min(peak, intensity * bandwidth)
        attained = r.macs / times[r.path]
        m = mods[r.path]
        width = m.in_channels // m.groups if isinstance(m, nn.Conv2d) else 0
        ceiling = ceilings.macs_per_s(kinds[r.path], width, peak)
        ms = times[r.path] * 1e3
        layers.append(RooflineLayer(r.path, kinds[r.path], r.macs, nbytes, intensity, ms, attained,
                                    roof, attained / roof, ceiling,
                                    attained / min(ceiling, intensity * bandwidth)))  # fmt: skip
    assert all(math.isfinite(x.fraction_of_roof) for x in layers)
    dev = f"cuda:{torch.cuda.get_device_name(device)}" if device.type == "cuda" else device.type
    return Roofline(name, dev, str(dtype).removeprefix("torch."), traced.input_shapes,
                    warmup, repeats, torch.get_num_threads(), peak, bandwidth,
                    tuple(layers), ceilings.rows, where)  # fmt: skip

"""The roofline-predicted step time: its formula on given peak and bandwidth numbers (no clock),
its bytes equal to the roofline module's on a traced model, its MACs to the training-step count."""

from __future__ import annotations

import math

import pytest

from archlab.complexity import complexity
from archlab.errors import ArchlabError
from archlab.measure.predict import predict_step_time, spec_layer_bytes
from archlab.measure.roofline import layer_bytes
from archlab.measure.speed import training_step_macs
from archlab.measure.trace import trace_count
from archlab.models import build_model
from archlab.presets import get_spec

SPEC = "resnext29_8x16d_w0.25"


def test_bytes_are_the_roofline_modules_on_the_traced_model() -> None:
    spec = get_spec(SPEC)
    traced = {r.path: r for r in trace_count(build_model(spec), (2, 3, 32, 32)).layers if r.macs}
    rows = [r for r in complexity(spec).layers if r.kind in ("conv", "fc")]
    assert [r.path for r in rows] == [p for p in traced if p]
    for r in rows:
        assert spec_layer_bytes(r, 2, 4) == layer_bytes(traced[r.path], 4)
        assert traced[r.path].macs == 2 * r.macs
    stem = rows[0]  # by hand: (2 x (3 + 16) x 32 x 32 + 3 x 3 x 3 x 16) x 4 bytes
    assert spec_layer_bytes(stem, 2, 4) == (2 * (3 + 16) * 32 * 32 + 432) * 4


def test_compute_bound_is_the_training_step_macs_over_the_peak() -> None:
    spec = get_spec(SPEC)
    p = predict_step_time(spec, peak_macs_per_s=1e9, bandwidth_bytes_per_s=1e30, batch_size=4)
    assert [r.passes for r in p.layers[:2]] == [2, 3] and p.layers[-1].path == "fc"
    assert all(r.passes == 3 for r in p.layers[1:])
    step = training_step_macs(spec)
    # 3 passes of every layer but the stem's 2; training_step_macs counts the fc bias twice,
    # forward and gradient, where the roofline runs it three times.
    assert math.isclose(p.seconds, 4 * (step.step_macs + step.bias_grad_macs) / 1e9, rel_tol=1e-12)
    assert math.isclose(p.ms_per_image, p.seconds * 1e3 / 4)


def test_memory_bound_is_the_bytes_over_the_bandwidth() -> None:
    spec = get_spec(SPEC)
    p = predict_step_time(spec, peak_macs_per_s=1e30, bandwidth_bytes_per_s=1e9, batch_size=2)
    rows = [r for r in complexity(spec).layers if r.kind in ("conv", "fc")]
    total = sum(spec_layer_bytes(r, 2, 4) for r in rows)
    stem = spec_layer_bytes(rows[0], 2, 4)
    assert math.isclose(p.seconds, (3 * total - stem) / 1e9, rel_tol=1e-12)
    assert p.forward_bytes_per_image == total / 2


def test_each_layer_takes_the_max_of_its_two_times() -> None:
    spec = get_spec(SPEC)
    peak, bw = 16e9, 1e9  # ridge at 16 MACs per byte
    p = predict_step_time(spec, peak_macs_per_s=peak, bandwidth_bytes_per_s=bw, batch_size=8)
    for r in p.layers:
        assert r.seconds == r.passes * max(r.macs / peak, r.bytes / bw)
    kinds = {r.macs / r.bytes > peak / bw for r in p.layers}
    assert kinds == {True, False}  # both sides of the ridge in this spec at these numbers
    assert p.seconds == sum(r.seconds for r in p.layers)
    assert p.name == f"{spec.name}@32"


@pytest.mark.parametrize(
    ("kw", "word"),
    [
        ({"peak_macs_per_s": 0.0}, "peak_macs_per_s"),
        ({"bandwidth_bytes_per_s": float("nan")}, "bandwidth_bytes_per_s"),
        ({"batch_size": 0}, "batch_size"),
        ({"itemsize": True}, "itemsize"),
    ],
)
def test_bad_numbers_are_refused_by_name(kw: dict[str, float], word: str) -> None:
    args = {"peak_macs_per_s": 1e9, "bandwidth_bytes_per_s": 1e9, **kw}
    with pytest.raises(ArchlabError, match=word):
        predict_step_time(get_spec(SPEC), **args)  # type: ignore[arg-type]

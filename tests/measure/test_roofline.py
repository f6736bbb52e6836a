"""The roofline: bytes and intensity by the documented formula (docs/counting.md, "Roofline"),
a measured roof, every layer's fraction of it (positive and finite; times never asserted), and
each layer's measured ceiling looked up by kind and group width (given ceilings)."""

from __future__ import annotations

import math

import pytest
import torch
from helpers.zoo_models import SmallNet, TinyViT
from torch import nn

from archlab.errors import ArchlabError
from archlab.measure import roofline as roofline_module
from archlab.measure.ceilings import CeilingShape
from archlab.measure.predict import Ceiling, Ceilings
from archlab.measure.roofline import layer_bytes, layer_kind, roofline
from archlab.measure.trace import trace_count
from archlab.models import build_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")
FAST = {"repeats": 2, "warmup": 1, "matmul_size": 64, "copy_bytes": 2**20}


def test_spec_layers_bytes_and_intensity_by_the_formula() -> None:
    model = build_model("resnext29_8x16d_w0.25")
    shape = (2, 3, 32, 32)
    traced = trace_count(model, shape)
    roof = roofline(model, (torch.zeros(shape),), traced, name="r", **FAST)
    rows = {r.path: r for r in traced.layers}
    assert roof.peak_macs_per_s > 0 and roof.bandwidth_bytes_per_s > 0
    assert len(roof.layers) == sum(1 for r in traced.layers if r.path and r.macs)
    for x in roof.layers:
        r = rows[x.name]
        assert x.bytes == 4 * (r.in_elems + r.params + r.out_elems)  # float32
        assert x.intensity == x.macs / x.bytes and x.macs == r.macs
        assert x.roof_macs_per_s == min(
            roof.peak_macs_per_s, x.intensity * roof.bandwidth_bytes_per_s
        )
        assert math.isfinite(x.fraction_of_roof) and x.fraction_of_roof > 0 and x.ms > 0
    kinds = {x.name: x.kind for x in roof.layers}
    assert kinds["conv1"] == "stem" and kinds["fc"] == "fc"
    assert kinds["layer1.0.conv2"] == "grouped 3x3" and kinds["layer1.0.conv1"] == "dense 1x1"
    # conv1 of the first block: input (2, 16, 32, 32) -> the formula by hand
    c = rows["layer1.0.conv1"]
    assert c.in_elems == 2 * 16 * 32 * 32


def test_any_model_and_nested_layers() -> None:
    model = TinyViT()
    traced = trace_count(model, (1, 3, 32, 32))
    roof = roofline(model, (torch.zeros(1, 3, 32, 32),), traced, name="vit", **FAST)
    kinds = {x.name: x.kind for x in roof.layers}
    assert kinds == {"patch": "stem", "attn": "MultiheadAttention", "fc": "fc"}
    assert all(x.fraction_of_roof > 0 for x in roof.layers)


def test_layer_kind_and_bytes() -> None:
    assert layer_kind(nn.Conv2d(4, 4, 3, groups=2), False) == "grouped 3x3"
    assert layer_kind(nn.Conv2d(4, 4, 1), True) == "stem"
    assert layer_kind(nn.LayerNorm(3), False) == "LayerNorm"
    row = trace_count(SmallNet(), (1, 3, 32, 32)).layers[0]
    assert layer_bytes(row, 2) == 2 * (row.in_elems + row.params + row.out_elems)


@pytest.mark.parametrize("repeats", [0, -1])
def test_repeats_must_be_positive(repeats: int) -> None:
    model = SmallNet()
    traced = trace_count(model, (1, 3, 32, 32))
    with pytest.raises(ArchlabError, match="repeats must be an integer >= 1"):
        roofline(model, (torch.zeros(1, 3, 32, 32),), traced, name="s", repeats=repeats)


GIVEN = Ceilings((Ceiling("dense 1x1", 128, 2e8), Ceiling("dense 3x3", 128, 4e8),
                  Ceiling("grouped 3x3", 1, 1e6), Ceiling("grouped 3x3", 64, 3e8)))  # fmt: skip


def test_each_conv_gets_its_kinds_ceiling(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[CeilingShape, ...]] = []

    def fake(shapes: tuple[CeilingShape, ...], *a: object, **kw: object) -> Ceilings:
        seen.append(shapes)
        return GIVEN

    monkeypatch.setattr(roofline_module, "measure_ceilings", fake)
    model = build_model("resnext29_8x16d_w0.25")  # grouped 3x3 at g = 16, 32, 64
    traced = trace_count(model, (2, 3, 32, 32))
    roof = roofline(model, (torch.zeros(2, 3, 32, 32),), traced, name="r", **FAST)
    (shapes,) = seen
    assert {(s.passes, s.batch_size) for s in shapes} == {(1, 2)}  # forward alone, input batch
    assert roof.ceilings == GIVEN.rows and "forward, 128 channels" in roof.ceiling_shape
    mods = dict(model.named_modules())
    peak = roof.peak_macs_per_s
    for x in roof.layers:
        m = mods[x.name]
        width = m.in_channels // m.groups if isinstance(m, nn.Conv2d) else 0
        assert x.ceiling_macs_per_s == GIVEN.macs_per_s(x.kind, width, peak)
        bound = min(x.ceiling_macs_per_s, x.intensity * roof.bandwidth_bytes_per_s)
        assert x.fraction_of_ceiling == x.attained_macs_per_s / bound
    by_name = {x.name: x.ceiling_macs_per_s for x in roof.layers}
    assert by_name["conv1"] == peak and by_name["fc"] == peak  # stem and fc: not measured
    assert by_name["layer1.0.conv1"] == 2e8 and by_name["layer3.0.conv2"] == 3e8  # g = 64
    assert 1e6 < by_name["layer1.0.conv2"] < by_name["layer2.0.conv2"] < 3e8  # interpolated
    assert "ceilings" in roof.to_dict() and roof.to_dict()["ceilings"][0]["kind"] == "dense 1x1"


def test_no_ceilings_without_a_conv_of_those_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*a: object, **kw: object) -> Ceilings:
        raise AssertionError("measured ceilings for a model without those convs")

    monkeypatch.setattr(roofline_module, "measure_ceilings", refuse)
    model = TinyViT()  # its one conv is the stem
    traced = trace_count(model, (1, 3, 32, 32))
    roof = roofline(model, (torch.zeros(1, 3, 32, 32),), traced, name="vit", **FAST)
    assert roof.ceilings == () and roof.ceiling_shape == ""
    assert all(x.ceiling_macs_per_s == roof.peak_macs_per_s for x in roof.layers)

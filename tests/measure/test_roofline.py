"""The roofline: bytes and intensity by the documented formula (docs/counting.md, "Roofline"),
a measured roof, and every layer's fraction of it (positive and finite; times never asserted)."""

from __future__ import annotations

import math

import pytest
import torch
from helpers.zoo_models import SmallNet, TinyViT
from torch import nn

from archlab.errors import ArchlabError
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

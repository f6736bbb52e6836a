"""The traced count of torchvision's models against an independent module-hook count.

torchvision is not a dependency of archlab: the tests that need it skip where it does not import.
The hook counter below is written from the modules' attributes alone (no aten ops, no archlab
code) and is itself checked on a model of the test zoo, so it runs everywhere.
"""

from __future__ import annotations

import math

import pytest
import torch
from helpers.zoo_models import SmallNet
from torch import nn

from archlab.measure.counters import count_model
from archlab.measure.trace import trace_count

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def hook_count(model: nn.Module, shape: tuple[int, ...]) -> tuple[int, int]:
    """(MACs, bias MACs) of every conv and linear module, from its attributes and output size."""
    total, bias = [0], [0]

    def conv(m: nn.modules.conv._ConvNd, inputs: tuple, out: torch.Tensor) -> None:
        per = math.prod(m.kernel_size)
        if m.transposed:  # every input element meets out_channels / groups x kernel weights
            total[0] += inputs[0].numel() * (m.out_channels // m.groups) * per
        else:  # every output element sums in_channels / groups x kernel products
            total[0] += out.numel() * (m.in_channels // m.groups) * per
        if m.bias is not None:
            total[0] += out.numel()
            bias[0] += out.numel()

    def linear(m: nn.Linear, inputs: tuple, out: torch.Tensor) -> None:
        total[0] += out.numel() * m.in_features
        if m.bias is not None:
            total[0] += out.numel()
            bias[0] += out.numel()

    for m in model.modules():
        if isinstance(m, nn.modules.conv._ConvNd):
            m.register_forward_hook(conv)
        elif isinstance(m, nn.Linear):
            m.register_forward_hook(linear)
    with torch.no_grad():
        model.eval()(torch.zeros(shape))
    return total[0], bias[0]


def test_hook_counter_on_the_zoo() -> None:
    """The independent counter agrees with the trace where both apply (run everywhere)."""
    t = trace_count(SmallNet(), (2, 3, 16, 16))
    assert hook_count(SmallNet(), (2, 3, 16, 16)) == (t.macs, t.bias_macs)


@pytest.mark.parametrize(
    ("name", "size"),
    [("resnet18", 64), ("resnext50_32x4d", 64), ("mobilenet_v2", 64), ("convnext_tiny", 64)],
)
def test_torchvision_models_traced_equal_hook_count(name: str, size: int) -> None:
    models = pytest.importorskip("torchvision.models")
    model = getattr(models, name)(weights=None).eval()
    shape = (1, 3, size, size)
    t = trace_count(model, shape)
    assert (t.macs, t.bias_macs) == hook_count(model, shape)
    assert t.params == sum(p.numel() for p in model.parameters())


def test_torchvision_resnet50_ops_metadata() -> None:
    """torchvision's `_ops` metadata: conv + linear multiply-adds in GMACs, rounded to 3 places."""
    models = pytest.importorskip("torchvision.models")
    weights = models.ResNet50_Weights.IMAGENET1K_V1
    report = count_model(models.resnet50(weights=None), counters=["traced"], per_layer=False)
    traced = report.result("traced")
    assert traced.macs == 4_089_185_256 and traced.params == 25_557_032  # docs/paper.md, Table 1
    assert round(traced.macs / 1e9, 3) == pytest.approx(weights.meta["_ops"], abs=1e-3)

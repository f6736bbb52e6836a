"""The torch builder: torchvision layout, the three forms, and agreement with the count."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from torch import nn

from archlab.complexity import complexity
from archlab.errors import SpecError
from archlab.models import ResNeXt, build_model, convert_model, convert_state_dict
from archlab.presets import PRESETS
from archlab.space import NetSpec, make_spec

MANIFEST = json.loads(
    (Path(__file__).parents[1] / "data" / "torchvision_state_dicts.json").read_text()
)


def _hooked_macs(model: nn.Module, size: int) -> dict[str, int]:
    """Conv and linear multiply-adds seen by forward hooks, independent of archlab's formulas."""
    counts: dict[str, int] = {}

    def hook(name: str):  # type: ignore[no-untyped-def]
        def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            if isinstance(module, nn.Conv2d):
                per_output = module.weight[0].numel()  # (c_in / groups) · k · k
                counts[name] = out[0].numel() * per_output
            else:
                assert isinstance(module, nn.Linear)
                counts[name] = module.weight.numel() + (
                    module.out_features if module.bias is not None else 0
                )

        return record

    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            module.register_forward_hook(hook(name))
    device = next(model.parameters()).device
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, size, size, device=device))
    return counts


def _meta_model(spec: NetSpec, form: str = "c") -> ResNeXt:
    with torch.device("meta"):
        return ResNeXt(spec, form)


@pytest.mark.parametrize("name", sorted(MANIFEST["models"]))
def test_state_dict_matches_torchvision(name: str) -> None:
    ours = {k: list(v.shape) for k, v in _meta_model(PRESETS[name]).state_dict().items()}
    theirs = {k: shape for k, shape in MANIFEST["models"][name]}
    assert ours == theirs


def test_strict_load_round_trip() -> None:
    spec = make_spec("imagenet", 50, 4, 2, width_multiplier=0.25, num_classes=7)
    a, b = build_model(spec), build_model(spec)
    b.load_state_dict(a.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    assert torch.equal(a.eval()(x), b.eval()(x))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_params_and_macs_equal_the_analytic_count(name: str) -> None:
    spec = PRESETS[name]
    size = 64 if spec.template == "imagenet" else 32
    model = _meta_model(spec)
    analytic = complexity(spec, size)
    assert sum(p.numel() for p in model.parameters()) == analytic.params
    hooked = _hooked_macs(model, size)
    expected = {r.path: r.macs for r in analytic.layers if r.kind in ("conv", "fc")}
    assert hooked == expected


def test_random_specs_params_and_macs_equal_the_analytic_count() -> None:
    rng = random.Random(7)
    for _ in range(60):
        template = rng.choice(["imagenet", "cifar"])
        spec = make_spec(
            template,
            cardinality=rng.choice([1, 2, 3, 4, 8, 32]),
            bottleneck_width=rng.randint(1, 48),
            blocks=tuple(rng.randint(1, 3) for _ in range(4 if template == "imagenet" else 3)),
            width_multiplier=rng.choice([0.125, 0.25, 0.5, 1.0]),
            num_classes=rng.randint(2, 100),
        )
        size = rng.choice([32, 64]) if template == "imagenet" else rng.choice([8, 16, 32])
        form = rng.choice(["a", "b", "c"])
        model = _meta_model(spec, form)
        analytic = complexity(spec, size)
        assert sum(p.numel() for p in model.parameters()) == analytic.params, (spec.name, form)
        assert sum(_hooked_macs(model, size).values()) == analytic.macs, (spec.name, form)


def _randomise_bn(model: nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            c = module.num_features
            module.running_mean.copy_(torch.randn(c, generator=gen) * 0.5)
            module.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
            module.weight.data.copy_(torch.rand(c, generator=gen) + 0.5)
            module.bias.data.copy_(torch.randn(c, generator=gen) * 0.2)


@pytest.mark.parametrize("template", ["imagenet", "cifar"])
def test_three_forms_are_equivalent(template: str) -> None:
    """Sec. 3.3 / Fig. 3: (a), (b) and (c) compute the same function after conversion."""
    torch.manual_seed(0)
    spec = make_spec(template, 26 if template == "imagenet" else 11, 4, 2, width_multiplier=0.25)
    model_c = build_model(spec)
    _randomise_bn(model_c, 1)
    model_c.eval()
    x = torch.randn(3, 3, 32, 32)
    expected = model_c(x)
    for form in ("a", "b"):
        model = convert_model(model_c, form).eval()
        assert model.form == form
        assert sum(p.numel() for p in model.parameters()) == sum(
            p.numel() for p in model_c.parameters()
        )
        torch.testing.assert_close(model(x), expected, rtol=1e-4, atol=1e-5)
    # A wrong weight mapping is caught: the comparison above is sensitive to every path weight.
    broken = convert_state_dict(spec, model_c.state_dict(), "a")
    broken["layer1.0.paths.0.conv3.weight"] = broken["layer1.0.paths.0.conv3.weight"] * 2
    model_a = ResNeXt(spec, "a")
    model_a.load_state_dict(broken)
    assert not torch.allclose(model_a.eval()(x), expected, atol=1e-3)


def test_forms_agree_in_train_mode_too() -> None:
    """BN is per channel, so the split BNs see the same batch statistics as form (c)'s."""
    torch.manual_seed(0)
    spec = make_spec("cifar", 11, 2, 1, width_multiplier=0.25)
    model_c = build_model(spec).train()
    model_b = convert_model(model_c, "b").train()
    x = torch.randn(4, 3, 16, 16)
    torch.testing.assert_close(model_b(x), model_c(x), rtol=1e-4, atol=1e-5)


def test_init_and_zero_init_residual() -> None:
    spec = make_spec("cifar", 11, 2, 1, width_multiplier=0.25)
    default = build_model(spec)
    assert all(float(b.bn3.weight.detach().abs().sum()) > 0 for b in default.layer1)
    zeroed = build_model(spec, zero_init_residual=True)
    for form_model in (zeroed, build_model(spec, form="a", zero_init_residual=True)):
        for stage in (form_model.layer1, form_model.layer2, form_model.layer3):
            assert all(float(b.bn3.weight.detach().abs().sum()) == 0 for b in stage)
    # Kaiming fan_out: std = sqrt(2 / (out_channels · k · k)).
    conv = build_model("resnet50").layer3[0].conv2
    fan_out = conv.out_channels * 9
    assert float(conv.weight.detach().std()) == pytest.approx((2 / fan_out) ** 0.5, rel=0.05)


def test_builder_inputs() -> None:
    assert build_model("resnext29_4x4d", num_classes=3).fc.out_features == 3
    assert build_model("resnext29_4x5d").layer1[0].conv2.out_channels == 20  # any printed name
    with pytest.raises(SpecError, match="valid"):
        build_model("resnext30_4x5d")
    with pytest.raises(SpecError, match="form"):
        build_model("resnext29_4x4d", form="d")
    with pytest.raises(SpecError, match="form c"):
        convert_model(build_model("resnext29_4x4d", form="a"), "b")


def test_builder_stays_on_the_cpu_and_is_repeatable() -> None:
    """No device moves, no construction-time state: the same seed builds the same weights."""
    spec = make_spec("cifar", 11, 2, 1, width_multiplier=0.25)
    torch.manual_seed(3)
    a = build_model(spec)
    torch.manual_seed(3)
    b = build_model(spec)
    assert all(p.device.type == "cpu" for p in a.parameters())
    assert all(torch.equal(a.state_dict()[k], v) for k, v in b.state_dict().items())


def _hooked_acts(model: nn.Module, size: int) -> int:
    """Output elements of every conv, max pool and linear layer, seen by forward hooks."""
    total = 0

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        total += out[0].numel()

    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.MaxPool2d | nn.Linear):
            module.register_forward_hook(record)
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, size, size, device="meta"))
    return total


@pytest.mark.parametrize("template", ["imagenet", "cifar"])
def test_form_a_has_more_activations_than_c(template: str) -> None:
    """(b) writes what (c) writes; each of (a)'s C paths writes all w_out channels in its conv3."""
    spec = make_spec(template, 26 if template == "imagenet" else 11, 4, 2, width_multiplier=0.25)
    size = 64 if template == "imagenet" else 32
    analytic = complexity(spec, size)
    assert _hooked_acts(_meta_model(spec, "c"), size) == analytic.acts
    assert _hooked_acts(_meta_model(spec, "b"), size) == analytic.acts
    conv3 = [r for r in analytic.layers if r.path.endswith(".conv3")]
    extra = sum((spec.cardinality - 1) * r.acts for r in conv3)
    assert extra > 0
    assert _hooked_acts(_meta_model(spec, "a"), size) == analytic.acts + extra

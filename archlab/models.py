"""Spec -> torch model, in the paper's three equivalent block forms (Sec. 3.3, Fig. 3).

Module names follow torchvision's ResNet (``conv1``, ``bn1``, ``layer1.0.conv2``,
``layer1.0.downsample.0``, ``fc``), so form-(c) checkpoints interchange with torchvision and timm.
Every layer comes from the recipe in :mod:`archlab.layers` (stem, each block of
:func:`archlab.blocks.iter_blocks`, head), the recipe the analytic count walks.

Where BN sits in forms (a) and (b), and why the three forms are the same function:
BN acts per channel, so the BN after form (c)'s first two convs splits exactly into one BN per
path over that path's d channels (``paths.i.bn1``, ``paths.i.bn2``). The third conv is where the
forms differ: (a) gives each path its own 1x1 conv to ``w_out`` and sums the paths; (b) concatenates
the paths and applies one 1x1 conv. Since Σ_i A_i·B_i = [A_1, …, A_C]·[B_1; …; B_C] (footnote 3),
both equal form (c)'s conv3 on the concatenation, provided the last BN comes *after* the
aggregation (footnote 6: BN after the sum, before the shortcut addition). A BN per path before the
sum would normalise each path's partial sum separately and break the equivalence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
from torch import Tensor, nn

from archlab.blocks import BlockSpec, iter_blocks
from archlab.errors import SpecError
from archlab.layers import (
    FORMS,
    BlockRecipe,
    Layer,
    block_recipe,
    head_recipe,
    path_recipe,
    stem_recipe,
)
from archlab.presets import get_spec
from archlab.space import NetSpec, with_overrides

Form = Literal["a", "b", "c"]


def make_layer(layer: Layer) -> nn.Module:
    """The torch module of one recipe layer (:mod:`archlab.layers`)."""
    if layer.kind == "conv":
        return nn.Conv2d(
            layer.c_in, layer.c_out, layer.kernel, layer.stride, layer.padding,
            groups=layer.groups, bias=layer.bias,
        )  # fmt: skip
    if layer.kind == "bn":
        return nn.BatchNorm2d(layer.c_out)
    if layer.kind == "maxpool":
        return nn.MaxPool2d(layer.kernel, layer.stride, layer.padding)
    if layer.kind == "avgpool":
        return nn.AdaptiveAvgPool2d(1)
    return nn.Linear(layer.c_in, layer.c_out, bias=layer.bias)


def _add_layers(module: nn.Module, layers: tuple[Layer, ...]) -> None:
    for layer in layers:
        module.add_module(layer.name, make_layer(layer))


def _downsample(recipe: BlockRecipe) -> nn.Module | None:
    """Projection shortcut (type B: 1x1 conv + BN) where the shape changes."""
    if not recipe.shortcut:
        return None
    return nn.Sequential(*(make_layer(layer) for layer in recipe.shortcut))


class BottleneckC(nn.Module):
    """Form (c): 1x1 -> 3x3 grouped conv (groups = C) -> 1x1; stride on the 3x3 (Sec. 4)."""

    conv1: nn.Conv2d
    bn1: nn.BatchNorm2d
    conv2: nn.Conv2d
    bn2: nn.BatchNorm2d
    conv3: nn.Conv2d
    bn3: nn.BatchNorm2d

    def __init__(self, block: BlockSpec) -> None:
        super().__init__()
        recipe = block_recipe(block)
        _add_layers(self, recipe.branch)  # conv1 bn1 conv2 bn2 conv3 bn3
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(recipe)

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)  # (N, w_out, H', W')
        out = self.relu(self.bn1(self.conv1(x)))  # (N, C·d, H, W)
        out = self.relu(self.bn2(self.conv2(out)))  # (N, C·d, H', W')
        out = self.bn3(self.conv3(out))  # (N, w_out, H', W')
        return self.relu(out + identity)


class _PathAB(nn.Module):
    """One path of forms (a) and (b): 1x1 (w_in -> d), 3x3 (d -> d), each with its own BN."""

    conv1: nn.Conv2d
    bn1: nn.BatchNorm2d
    conv2: nn.Conv2d
    bn2: nn.BatchNorm2d
    conv3: nn.Module | None

    def __init__(self, layers: tuple[Layer, ...]) -> None:
        super().__init__()
        _add_layers(self, layers)  # conv1 bn1 conv2 bn2, and conv3 in form (a)
        # Form (a) only: the path's own 1x1 back to w_out; its BN comes after the sum.
        self.conv3 = self._modules.get("conv3")
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))  # (N, d, H, W)
        out = self.relu(self.bn2(self.conv2(out)))  # (N, d, H', W')
        return out if self.conv3 is None else self.conv3(out)  # (N, w_out, H', W') in form (a)


class BottleneckA(nn.Module):
    """Form (a): C paths of 1x1 -> 3x3 -> 1x1 summed, one BN after the sum (Fig. 3a, fn. 6).

    Same function, MACs and parameters as form (c), but not the same activations: each path's
    1x1 writes all w_out channels, C·w_out in all where form (c)'s conv3 writes w_out.
    """

    bn3: nn.BatchNorm2d

    def __init__(self, block: BlockSpec) -> None:
        super().__init__()
        recipe = block_recipe(block)
        path, after = path_recipe(recipe, "a")
        self.paths = nn.ModuleList(_PathAB(path) for _ in range(block.groups))
        _add_layers(self, after)  # bn3
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(recipe)

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = torch.stack([path(x) for path in self.paths]).sum(0)  # (N, w_out, H', W')
        return self.relu(self.bn3(out) + identity)


class BottleneckB(nn.Module):
    """Form (b): C paths of 1x1 -> 3x3, concatenated to C·d channels, one 1x1 (Fig. 3b)."""

    conv3: nn.Conv2d
    bn3: nn.BatchNorm2d

    def __init__(self, block: BlockSpec) -> None:
        super().__init__()
        recipe = block_recipe(block)
        path, after = path_recipe(recipe, "b")
        self.paths = nn.ModuleList(_PathAB(path) for _ in range(block.groups))
        _add_layers(self, after)  # conv3 bn3
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(recipe)

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = torch.cat([path(x) for path in self.paths], dim=1)  # (N, C·d, H', W')
        return self.relu(self.bn3(self.conv3(out)) + identity)


_BLOCKS: dict[str, type[nn.Module]] = {"a": BottleneckA, "b": BottleneckB, "c": BottleneckC}


class ResNeXt(nn.Module):
    """A ResNeXt of any spec; ResNet is the C=1 case. Stages are ``layer1`` … ``layerN``."""

    conv1: nn.Conv2d
    bn1: nn.BatchNorm2d
    maxpool: nn.Module
    avgpool: nn.Module
    fc: nn.Linear

    def __init__(self, spec: NetSpec, form: str = "c") -> None:
        super().__init__()
        if form not in _BLOCKS:
            raise SpecError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
        self.spec = spec
        self.form = form
        # Table 1: 7x7/2 conv, 3x3/2 max pool; Sec. 5.3: one 3x3 conv, no pooling.
        _add_layers(self, stem_recipe(spec))  # conv1 bn1, and maxpool on ImageNet
        if "maxpool" not in self._modules:
            self.maxpool = nn.Identity()
        self.relu = nn.ReLU(inplace=True)
        stages: list[list[nn.Module]] = [[] for _ in spec.stages]
        for block in iter_blocks(spec):
            stages[block.stage].append(_BLOCKS[form](block))
        self.num_stages = len(stages)
        for i, blocks in enumerate(stages):
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
        _add_layers(self, head_recipe(spec))  # avgpool fc

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (N, stem, H/4 or H, ...)
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)  # (N, w_out, H_s, W_s)
        x = torch.flatten(self.avgpool(x), 1)  # (N, w_out_last)
        return self.fc(x)  # (N, num_classes)


def init_weights(model: nn.Module, *, zero_init_residual: bool = False) -> None:
    """Kaiming-normal convs (fan_out, as torchvision), BN to identity; optionally zero last BN."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    if zero_init_residual:  # each block then starts as the identity (Goyal et al. 2017)
        for module in model.modules():
            if isinstance(module, BottleneckA | BottleneckB | BottleneckC):
                nn.init.zeros_(module.bn3.weight)


def resolve_spec(spec_or_name: NetSpec | str, num_classes: int | None = None) -> NetSpec:
    """A spec from a spec or a preset name, with an optional number of classes."""
    spec = get_spec(spec_or_name) if isinstance(spec_or_name, str) else spec_or_name
    if not isinstance(spec, NetSpec):
        raise SpecError(f"expected a NetSpec or a preset name, got {type(spec_or_name).__name__}")
    return with_overrides(spec, num_classes=num_classes) if num_classes is not None else spec


def build_model(
    spec: NetSpec | str,
    form: str = "c",
    num_classes: int | None = None,
    *,
    zero_init_residual: bool = False,
) -> ResNeXt:
    """The model of a spec (or preset name) in form a, b or c; on the CPU, freshly initialised."""
    model = ResNeXt(resolve_spec(spec, num_classes), form)
    init_weights(model, zero_init_residual=zero_init_residual)
    return model


# --------------------------------------------------------------------------- form conversion

_BN_KEYS = ("weight", "bias", "running_mean", "running_var")


def convert_state_dict(
    spec: NetSpec, state_dict: Mapping[str, Tensor], form: str
) -> dict[str, Tensor]:
    """Map a form-(c) state dict onto form ``form`` so both compute the same function.

    Path i takes rows [i·d, (i+1)·d) of conv1/bn1/conv2/bn2 (the grouped 3x3's i-th group is
    exactly a dense d->d conv); form (a) also takes the matching input columns of conv3.
    """
    if form not in FORMS:
        raise SpecError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
    out = dict(state_dict)
    if form == "c":
        return out
    for block in iter_blocks(spec):
        prefix = f"layer{block.stage + 1}.{block.index}."
        d = block.w_b // block.groups
        conv3 = out.pop(prefix + "conv3.weight") if form == "a" else None
        for i in range(block.groups):
            rows = slice(i * d, (i + 1) * d)
            path = f"{prefix}paths.{i}."
            out[path + "conv1.weight"] = state_dict[prefix + "conv1.weight"][rows].clone()
            out[path + "conv2.weight"] = state_dict[prefix + "conv2.weight"][rows].clone()
            for bn in ("bn1", "bn2"):
                for key in _BN_KEYS:
                    out[f"{path}{bn}.{key}"] = state_dict[f"{prefix}{bn}.{key}"][rows].clone()
                out[f"{path}{bn}.num_batches_tracked"] = state_dict[
                    f"{prefix}{bn}.num_batches_tracked"
                ].clone()
            if conv3 is not None:
                out[path + "conv3.weight"] = conv3[:, rows].clone()
        for name in ("conv1.weight", "conv2.weight"):
            out.pop(prefix + name)
        for bn in ("bn1", "bn2"):
            for key in (*_BN_KEYS, "num_batches_tracked"):
                out.pop(f"{prefix}{bn}.{key}")
    return out


def convert_model(model: ResNeXt, form: str) -> ResNeXt:
    """A new model in ``form`` computing the same function as the form-(c) ``model``."""
    if model.form != "c":
        raise SpecError(f"conversion starts from form c, got a form-{model.form} model")
    target = ResNeXt(model.spec, form)
    target.load_state_dict(convert_state_dict(model.spec, model.state_dict(), form), strict=True)
    return target.train(model.training)

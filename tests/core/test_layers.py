"""The layer recipe: one description of stem, blocks and head that builder and count share."""

from __future__ import annotations

import pytest
import torch

from archlab import layers
from archlab.blocks import iter_blocks
from archlab.complexity import clear_block_cache, complexity, totals
from archlab.errors import SpecError
from archlab.layers import block_recipe, head_recipe, path_recipe, stem_recipe
from archlab.models import ResNeXt
from archlab.presets import get_spec
from archlab.space import make_spec


def test_recipe_of_resnext50() -> None:
    """Table 1 and Sec. 4: 7x7/2 stem and max pool, stride on the 3x3, projections where needed."""
    spec = get_spec("resnext50_32x4d")
    assert [(x.kind, x.name, x.kernel, x.stride) for x in stem_recipe(spec)] == [
        ("conv", "conv1", 7, 2),
        ("bn", "bn1", 1, 1),
        ("maxpool", "maxpool", 3, 2),
    ]
    recipes = [block_recipe(b) for b in iter_blocks(spec)]
    first = recipes[3]  # layer2.0
    assert first.prefix == "layer2.0."
    assert [(x.name, x.c_in, x.c_out, x.kernel, x.stride, x.groups) for x in first.branch] == [
        ("conv1", 256, 256, 1, 1, 1),
        ("bn1", 256, 256, 1, 1, 256),
        ("conv2", 256, 256, 3, 2, 32),
        ("bn2", 256, 256, 1, 1, 256),
        ("conv3", 256, 512, 1, 1, 1),
        ("bn3", 512, 512, 1, 1, 512),
    ]
    assert [x.name for x in first.shortcut] == ["downsample.0", "downsample.1"]
    assert first.shortcut[0].stride == 2
    assert [bool(r.shortcut) for r in recipes] == [1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0]
    head = head_recipe(spec)
    assert [(x.kind, x.c_in, x.c_out, x.bias) for x in head] == [
        ("avgpool", 2048, 2048, False),
        ("fc", 2048, 1000, True),
    ]
    assert not any(x.bias for x in (*stem_recipe(spec), *first.branch, *first.shortcut))


def test_cifar_stem_is_one_3x3_conv() -> None:
    stem = stem_recipe(get_spec("resnext29_8x64d"))
    assert [(x.kind, x.kernel, x.stride, x.padding) for x in stem] == [
        ("conv", 3, 1, 1),
        ("bn", 1, 1, 0),
    ]


def test_paths_split_form_c_into_c_dense_paths() -> None:
    """Sec. 3.3: C paths of d channels hold exactly form (c)'s weights, in both forms."""
    block = next(iter_blocks(make_spec("imagenet", 50, 4, 24)))
    recipe = block_recipe(block)

    def weights(x: layers.Layer) -> int:
        return x.kernel**2 * x.c_in // x.groups * x.c_out if x.kind == "conv" else 2 * x.c_out

    branch = sum(weights(x) for x in recipe.branch)
    for form in ("a", "b"):
        path, after = path_recipe(recipe, form)
        assert all(x.c_out == 24 for x in path[:4])
        assert 4 * sum(weights(x) for x in path) + sum(weights(x) for x in after) == branch
    assert [x.name for x in path_recipe(recipe, "a")[1]] == ["bn3"]
    with pytest.raises(SpecError, match="form"):
        path_recipe(recipe, "c")


def test_a_change_to_the_recipe_reaches_builder_and_count_alike(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both consume the recipe, so a changed kernel changes both and they still agree."""
    spec = make_spec("cifar", 11, 2, 1, width_multiplier=0.25)

    def params(form: str) -> int:
        with torch.device("meta"):
            return sum(p.numel() for p in ResNeXt(spec, form).parameters())

    before = complexity(spec).params
    original = layers.conv_bn

    def five_by_five(name: str, bn: str, c_in: int, c_out: int, kernel: int, *a: int):  # type: ignore[no-untyped-def]
        return original(name, bn, c_in, c_out, 5 if kernel == 3 else kernel, *a)

    monkeypatch.setattr(layers, "conv_bn", five_by_five)
    clear_block_cache()  # the count remembers blocks as the recipe made them
    try:
        after = complexity(spec).params
        assert after > before
        assert params("c") == params("a") == params("b") == after == totals(spec)[1]
    finally:
        clear_block_cache()  # no 5x5 counts left behind for the next test

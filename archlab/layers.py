"""The layer recipe of the stem, every block and the head, written once for builder and count.

:func:`archlab.models.build_model` turns each :class:`Layer` into a torch module and
:func:`archlab.complexity.complexity` turns it into a counted row, so the two cannot drift: a
change here (a kernel, a stride, a width) changes both. Names follow torchvision's ResNet
(``conv1``, ``bn1``, ``layer1.0.conv2``, ``layer1.0.downsample.0``, ``fc``); a block's layer
names are relative to the block (``conv2``), the stem's and head's to the network.

Only layers with weights or counted outputs are listed: ReLU and the residual addition have
neither (the convention of :mod:`archlab.complexity`), and where they sit is the forward pass's
business (Sec. 4: ReLU after each BN except the block's last, which follows the addition).

No torch here, like :mod:`archlab.space`: counting never builds a model.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from archlab.blocks import BlockSpec, final_width
from archlab.errors import SpecError
from archlab.space import NetSpec

# The block's three equivalent forms (Fig. 3): (a) split-transform-merge paths, (b) paths
# concatenated before the last 1x1, (c) one grouped conv; the builder and the config take these.
FORMS: tuple[str, ...] = ("a", "b", "c")

IN_CHANNELS = 3  # RGB; grayscale data is repeated to three channels by the data loaders

LayerKind = Literal["conv", "bn", "maxpool", "avgpool", "fc"]


class Layer(NamedTuple):
    """One layer: its kind, name, channels and window (a named tuple: enumerations make many).

    Convs are square, padded by ``kernel // 2`` and bias-free (BN follows every conv); the
    max pool is padded the same way; ``avgpool`` is global (its window is the whole map); the fc
    is the one layer with a bias.
    """

    kind: LayerKind
    name: str
    c_in: int
    c_out: int
    kernel: int = 1
    stride: int = 1
    groups: int = 1

    @property
    def padding(self) -> int:
        """Same-size padding of the window: 3 for the 7x7 stem conv, 1 for 3x3 convs and pools."""
        return self.kernel // 2

    @property
    def bias(self) -> bool:
        """Only the fc has a bias; every conv is followed by BN, which has its own shift."""
        return self.kind == "fc"


def conv_bn(
    name: str, bn_name: str, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1
) -> tuple[Layer, Layer]:
    """A conv and the BN right after it (Sec. 4: BN after each conv)."""
    return (
        Layer("conv", name, c_in, c_out, kernel, stride, groups),
        Layer("bn", bn_name, c_out, c_out, 1, 1, c_out),  # groups = channels: BN is per channel
    )


class BlockRecipe(NamedTuple):
    """A bottleneck block in form (c): the residual branch and the shortcut, in forward order."""

    block: BlockSpec
    branch: tuple[Layer, ...]  # conv1 bn1 conv2 bn2 conv3 bn3
    shortcut: tuple[Layer, ...]  # () for identity; downsample.0 (conv) and .1 (BN) otherwise

    @property
    def prefix(self) -> str:
        """torchvision's path of the block, e.g. ``layer1.0.``."""
        return block_prefix(self.block)


def block_prefix(block: BlockSpec) -> str:
    """torchvision's path of a block, e.g. ``layer1.0.``: the one use of its stage and index."""
    return f"layer{block.stage + 1}.{block.index}."


def stem_recipe(spec: NetSpec) -> tuple[Layer, ...]:
    """Table 1's 7x7/2 conv + 3x3/2 max pool (ImageNet), or Sec. 5.3's one 3x3 conv (CIFAR)."""
    if spec.template == "imagenet":
        c = spec.stem_width
        pool = Layer("maxpool", "maxpool", c, c, kernel=3, stride=2)
        return (*conv_bn("conv1", "bn1", IN_CHANNELS, c, 7, 2), pool)
    return conv_bn("conv1", "bn1", IN_CHANNELS, spec.stem_width, 3)


def block_recipe(block: BlockSpec) -> BlockRecipe:
    """Form (c): 1x1 to C·d, 3x3 grouped conv (C groups), 1x1 to w_out; projection if needed."""
    branch = (
        *conv_bn("conv1", "bn1", block.w_in, block.w_b, 1),
        # Stride on the 3x3 conv, as Sec. 4 and Table 1's FLOPs require.
        *conv_bn("conv2", "bn2", block.w_b, block.w_b, 3, block.stride, block.groups),
        *conv_bn("conv3", "bn3", block.w_b, block.w_out, 1),
    )
    shortcut: tuple[Layer, ...] = ()
    if block.has_projection:  # type B shortcut: 1x1 conv + BN where the shape changes
        shortcut = conv_bn("downsample.0", "downsample.1", block.w_in, block.w_out, 1, block.stride)
    return BlockRecipe(block, branch, shortcut)


def head_recipe(spec: NetSpec) -> tuple[Layer, ...]:
    """Global average pooling and the fc classifier."""
    c = final_width(spec)
    return (Layer("avgpool", "avgpool", c, c), Layer("fc", "fc", c, spec.num_classes))


def path_recipe(recipe: BlockRecipe, form: str) -> tuple[tuple[Layer, ...], tuple[Layer, ...]]:
    """One of the C paths of forms (a) and (b), and the layers after the aggregation.

    Path i is form (c)'s branch restricted to its d = C·d / C channels (Sec. 3.3, Fig. 3): the
    grouped 3x3's i-th group is a dense d -> d conv, and BN, acting per channel, splits into one
    BN per path. Form (a) gives each path its own 1x1 to w_out, summed, then one BN (footnote 6);
    form (b) concatenates the paths and keeps form (c)'s 1x1 and BN.
    """
    if form not in ("a", "b"):
        raise SpecError(f"paths exist in forms a and b only, got form {form!r}")
    conv1, bn1, conv2, bn2, conv3, bn3 = recipe.branch
    c = recipe.block.groups
    d = conv2.c_in // c
    path = (
        conv1._replace(c_out=d),
        bn1._replace(c_in=d, c_out=d, groups=d),
        conv2._replace(c_in=d, c_out=d, groups=1),
        bn2._replace(c_in=d, c_out=d, groups=d),
    )
    if form == "a":
        return (*path, conv3._replace(c_in=d)), (bn3,)
    return path, (conv3, bn3)

"""Batches for the trainer: normalisation, crop-and-flip augmentation and batch iteration.

All of it works on whatever device the tensors are on: on CUDA the whole dataset lives on the
GPU and each batch is cropped and flipped there (airbench's pattern).

The augmentation switch (``TrainConfig.augment``) and how ``auto`` resolves per data set live
with the config (:mod:`archlab.train.config`); this module applies what it resolves to.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from archlab.errors import ArchlabError


def check_int(field: str, value: object, low: int) -> None:
    """Refuse anything but an integer >= ``low`` (bools included), naming the field."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ArchlabError(f"{field} must be an integer >= {low}, got {value!r}")


def default_pad(image_size: int) -> int:
    """Crop padding for an image size: 4 for 32x32 (paper Sec. 5.3), 1 for 8x8."""
    check_int("image_size", image_size, 1)
    return image_size // 8


def normalize(
    x_uint8: torch.Tensor,
    mean: Sequence[float],
    std: Sequence[float],
    *,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """``(x / 255 - mean) / std`` per channel of (N, C, H, W) uint8, on x's device."""
    if x_uint8.dtype != torch.uint8 or x_uint8.dim() != 4:
        raise ArchlabError(
            f"normalize needs uint8 (N, C, H, W), got {x_uint8.dtype} {tuple(x_uint8.shape)}"
        )
    if len(mean) != x_uint8.shape[1] or len(std) != x_uint8.shape[1] or min(std) <= 0:
        raise ArchlabError(f"mean/std need {x_uint8.shape[1]} entries, std > 0; got {mean}, {std}")
    m = torch.tensor(mean, dtype=torch.float32, device=x_uint8.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=x_uint8.device).view(1, -1, 1, 1)
    # float32 arithmetic, one rounding to a low-precision dtype at the end.
    return ((x_uint8.float() / 255 - m) / s).to(dtype)


def augment(
    x_uint8: torch.Tensor, *, pad: int, flip: bool, generator: torch.Generator
) -> torch.Tensor:
    """Random crop from the zero-padded batch, then a random horizontal flip if ``flip``.

    Sec. 5.3's CIFAR recipe is ``pad=4``: 32x32 crops of a 40x40 zero-padded image. Row
    offsets, column offsets and flip coins are drawn on ``generator``'s device, then moved.
    """
    if x_uint8.dim() != 4:
        raise ArchlabError(f"augment needs (N, C, H, W) images, got shape {tuple(x_uint8.shape)}")
    check_int("pad", pad, 0)
    n, _, h, w = x_uint8.shape
    gen_dev, dev, out = generator.device, x_uint8.device, x_uint8
    if pad:
        padded = torch.nn.functional.pad(x_uint8, (pad, pad, pad, pad))  # zeros
        dy, dx = torch.randint(0, 2 * pad + 1, (2, n), generator=generator, device=gen_dev).to(dev)
        rows = (dy[:, None] + torch.arange(h, device=dev))[:, :, None]  # (N, H, 1)
        cols = (dx[:, None] + torch.arange(w, device=dev))[:, None, :]  # (N, 1, W)
        idx = torch.arange(n, device=dev)[:, None, None]
        # Advanced indices split by a slice put the broadcast dims first: (N, H, W, C).
        out = padded[idx, :, rows, cols].permute(0, 3, 1, 2).contiguous()
    if flip:
        coin = (torch.rand(n, generator=generator, device=gen_dev) < 0.5).to(dev)
        out = torch.where(coin[:, None, None, None], out.flip(3), out)
    return out


def iterate_batches(
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None,
    drop_last: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(x, y)`` batches, in a permutation drawn from ``generator`` when shuffling.

    With ``shuffle`` and no generator, torch's global RNG is used (not reproducible).
    """
    check_int("batch_size", batch_size, 1)
    if len(x) != len(y):
        raise ArchlabError(f"x has {len(x)} examples but y has {len(y)}")
    n = len(x)
    order = None
    if shuffle:
        dev = generator.device if generator is not None else torch.device("cpu")
        order = torch.randperm(n, generator=generator, device=dev).to(x.device)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        if order is None:
            yield x[start : start + batch_size], y[start : start + batch_size]
        else:
            idx = order[start : start + batch_size]
            yield x[idx], y[idx.to(y.device)]

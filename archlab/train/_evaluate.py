"""Measurements around the training step: evaluation, input layout, autocast, peak memory, timing.

Internals of :mod:`archlab.train.loop`, kept apart so the loop reads as the recipe.
"""

from __future__ import annotations

import copy
import resource
import statistics
import sys
import time
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from archlab.train.data import DatasetSplits, iterate_batches, normalize

if TYPE_CHECKING:
    from archlab.train.config import TrainConfig


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    data: DatasetSplits,
    *,
    batch_size: int,
    device: torch.device,
    channels_last: bool,
    amp: bool,
) -> tuple[float, float | None]:
    """Top-1 error and, with more than 10 classes, top-5 error (fractions)."""
    model.eval()
    wrong1 = wrong5 = 0
    k5 = data.num_classes > 10
    for xb, yb in iterate_batches(x, y, batch_size, shuffle=False, generator=None):
        logits = forward(model, model_inputs(xb, data, device, channels_last), device, amp).float()
        yb = yb.to(device)
        wrong1 += int((logits.argmax(1) != yb).sum())
        if k5:
            top5 = logits.topk(5, dim=1).indices
            wrong5 += int((top5 != yb[:, None]).all(1).sum())
    n = max(len(y), 1)
    return wrong1 / n, (wrong5 / n if k5 else None)


def model_inputs(
    xb: Tensor, data: DatasetSplits, device: torch.device, channels_last: bool
) -> Tensor:
    """A batch normalised on the device, in the configured memory layout."""
    x = normalize(xb.to(device, non_blocking=True), data.mean, data.std)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def forward(model: nn.Module, x: Tensor, device: torch.device, amp: bool) -> Tensor:
    """The model's logits, under bf16 autocast on CUDA when ``amp``."""
    if amp and device.type == "cuda":
        with torch.autocast("cuda", dtype=torch.bfloat16):
            return model(x)
    return model(x)


def peak_memory(device: torch.device) -> int:
    """Peak bytes: CUDA's allocator on a GPU, the process's resident set on the CPU."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    # ru_maxrss is KiB on Linux, bytes on macOS: the process-wide peak resident set.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


def estimate_epoch_seconds(
    step_model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: nn.Module,
    data: DatasetSplits,
    config: TrainConfig,
    device: torch.device,
    probe_steps: int = 5,
) -> float:
    """Seconds one epoch will take, timed on a few full-size steps whose updates are undone.

    The first two steps are warm-up (one-off set-up, compilation) and are not timed; a data set
    of a single batch is timed on repeats of it. Evaluation is a forward pass only, about a
    third of a training step per image.
    """
    saved = (
        {k: v.clone() for k, v in step_model.state_dict().items()},
        copy.deepcopy(optimizer.state_dict()),
    )
    step_model.train()
    n = min(config.batch_size, len(data.y_train))
    xb, yb = data.x_train[:n], data.y_train[:n]  # one full batch, repeated: same shape each step
    timings: list[float] = []
    for i in range(probe_steps + 2):
        start = time.perf_counter()
        x = model_inputs(xb, data, device, config.channels_last)
        loss = loss_fn(forward(step_model, x, device, config.amp).float(), yb.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= 2:
            timings.append(time.perf_counter() - start)
    step_model.load_state_dict(saved[0])
    optimizer.load_state_dict(saved[1])
    per_image = statistics.median(timings) / n
    images = len(data.y_train) + (len(data.y_val) + len(data.y_test)) / 3
    return max(per_image * images, 1e-3)

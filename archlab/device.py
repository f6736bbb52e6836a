"""Which torch device a run or a timing uses: one rule for training and measurement alike."""

from __future__ import annotations

from typing import TYPE_CHECKING

from archlab.errors import ArchlabError

if TYPE_CHECKING:
    import torch

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> torch.device:
    """``auto`` is CUDA when present, else the CPU; asking for absent CUDA is a user error."""
    import torch  # here, so a plan can name its device without importing torch

    if device not in DEVICES:
        raise ArchlabError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ArchlabError("device 'cuda' asked for, but torch sees no CUDA device")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)

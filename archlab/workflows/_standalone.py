"""What makes an export stand alone: how to feed the model, what its outputs mean, and the
``torch.export`` program that runs without archlab (``archlab export --format pt2``).

Read from the run's checkpoint, which records the data's normalisation, image size, whether its
images were grey repeated to three channels, and the class names (train/loop.py); a checkpoint
written before those were recorded gives the spec's input size, label indices as names and an
unknown channel handling. docs/training.md describes the JSON.
"""

from __future__ import annotations

import io
from typing import Any

import torch

from archlab.errors import ArchlabError
from archlab.models import build_model
from archlab.space import spec_from_dict

# What ``export --format`` writes: a state_dict to rebuild with archlab, or a program without it.
FILE_FORMATS: dict[str, str] = {"state_dict": ".pth", "pt2": ".pt2"}
_HOW = "x = image / scale (uint8 0..255 to 0..1), then (x[c] - mean[c]) / std[c] per channel"


def check_file_format(file_format: str) -> None:
    """One of FILE_FORMATS, refused before anything is read or written."""
    if file_format not in FILE_FORMATS:
        raise ArchlabError(f"format must be one of {', '.join(FILE_FORMATS)}, got {file_format!r}")


def standalone_fields(state: dict[str, Any], model_file: str, file_format: str) -> dict[str, Any]:
    """The JSON's model file (``weights`` or ``program``), ``input`` and ``classes``."""
    spec = spec_from_dict(state["spec"])
    recorded = state.get("input") or {}
    grey = recorded.get("grey")
    if grey is None:
        channels = "unknown (trained before archlab recorded it)"
    elif grey:
        channels = "grey: feed grey images repeated to three identical channels"
    else:
        channels = "colour: feed RGB images"
    feeding = {
        "layout": "NCHW",
        "dtype": "float32",
        "size": list(recorded.get("size") or [spec.input_size, spec.input_size]),
        "channels": 3,
        "grey": grey,
        "channel_handling": channels,
        "scale": recorded.get("scale"),
        "mean": recorded.get("mean"),
        "std": recorded.get("std"),
        "normalisation": _HOW if "mean" in recorded else None,
    }
    classes = state.get("classes") or {
        "names": [str(i) for i in range(spec.num_classes)],
        "from": "indices",
    }
    program = file_format == "pt2"
    return {
        "file_format": file_format,
        "weights": None if program else model_file,
        "program": model_file if program else None,
        "input": feeding,
        "classes": classes,
    }


def program_bytes(
    state: dict[str, Any], state_dict: dict[str, torch.Tensor], size: list[int]
) -> bytes:
    """The eval-mode network as a saved ``torch.export`` program, batch dimension dynamic."""
    from torch.export import Dim, export, save

    spec = spec_from_dict(state["spec"])
    model = build_model(spec, form=state.get("config", {}).get("form", "c"))
    model.load_state_dict(state_dict)
    model.eval()  # batch norm from its running statistics: the model that was evaluated
    example = torch.zeros(2, 3, *size)  # (N, C, H, W); N = 2, as a size of 1 would be fixed
    try:
        with torch.no_grad():
            program = export(model, (example,), dynamic_shapes=({0: Dim("batch")},))
    except Exception as exc:  # torch.export raises several types for what it cannot trace
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ArchlabError(f"torch.export cannot export {spec.name}: {first}") from None
    buffer = io.BytesIO()
    save(program, buffer)
    return buffer.getvalue()

"""The report header's recipe line and near-chance warning, from what each run stored.

Every training value a run stored is shown (issue 14: a report whose header hides a batch size
or an augmentation switch cannot be reproduced from it); fields on which runs differ list every
value. The lr says how it was derived: the linear scaling rule, or set by hand.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from archlab.store.frames import NEAR_CHANCE_MARGIN
from archlab.train.lr_rule import lr_derivation

# Shown in this order; any other stored field follows, sorted, so a new TrainConfig field shows
# up without an edit here. The data set's name and the budget have their own header lines.
ORDER = (
    "batch_size", "lr", "momentum", "nesterov", "weight_decay", "decay_bn_and_bias", "schedule",
    "warmup_epochs", "step_milestones", "label_smoothing", "augment", "val_fraction",
    "split_seed", "limit", "form", "zero_init_residual", "channels_last", "amp", "compile",
)  # fmt: skip
_NOT_RECIPE = frozenset({"dataset", "epochs", "time_budget"})
# Switches the loop honours on CUDA only: bf16 autocast is entered only when the device is CUDA
# (train/_evaluate.py, forward), so a CPU run's amp = true changed nothing. channels_last is not
# here: the loop converts the model and every batch to that layout on any device (train/loop.py).
CUDA_ONLY = ("amp",)


def run_settings(config_json: str | None) -> dict[str, Any]:
    """A stored run config's training values, flat: the plan layout or an older flat one."""
    try:
        config = json.loads(config_json or "{}")
    except json.JSONDecodeError:
        return {}
    if not isinstance(config, dict):
        return {}
    if any(isinstance(config.get(k), dict) for k in ("data", "recipe")):  # a run plan's layout
        data = {k: v for k, v in (config.get("data") or {}).items() if k != "name"}
        return {**data, **(config.get("recipe") or {})}
    return {k: v for k, v in config.items() if k not in _NOT_RECIPE}


def _value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def applied(settings: dict[str, Any], device: Any) -> dict[str, Any]:
    """A run's settings as they took effect on its device: a CUDA-only switch set on another
    device reads ``requested, not applied on DEVICE``."""
    where = str(device) if isinstance(device, str) and device else "an unstored device"
    out = dict(settings)
    for key in CUDA_ONLY:
        if out.get(key) is True and not where.startswith("cuda"):
            out[key] = f"requested, not applied on {where}"
    return out


def recipe_line(config_jsons: list[str | None], devices: list[Any] | None = None) -> str:
    """``- recipe: batch_size 32; lr 0.025 (0.1 x 32/128, ...); ...`` over the given runs.

    ``devices`` (each run's stored device, in the same order) turns a CUDA-only switch on a run
    elsewhere into ``requested, not applied``; without it the stored values are shown as set.
    """
    runs = [run_settings(c) for c in config_jsons]
    if devices is not None:
        runs = [applied(s, device) for s, device in zip(runs, devices, strict=True)]
    settings = [s for s in runs if s]
    if not settings:
        return "- recipe: not stored"
    keys = [k for k in ORDER if any(k in s for s in settings)]
    keys += sorted({k for s in settings for k in s} - set(ORDER))
    parts = []
    for key in keys:
        if key == "lr":
            pairs = sorted({(s.get("lr"), s.get("batch_size")) for s in settings}, key=str)
            text = " or ".join(_lr(lr, batch) for lr, batch in pairs)
        else:
            text = " or ".join(sorted({_value(s.get(key)) for s in settings}))
        parts.append(f"{key} {text}")
    return "- recipe: " + "; ".join(parts)


def _lr(lr: Any, batch: Any) -> str:
    if not isinstance(lr, int | float) or not isinstance(batch, int):
        return _value(lr)
    return f"{lr:g} ({lr_derivation(float(lr), batch)})"


def near_chance_line(results: pd.DataFrame) -> list[str]:
    """The warning line naming runs whose last val error is near chance; none if no run is."""
    if "near_chance" not in results:
        return []
    flagged = results[results["near_chance"].fillna(False).astype(bool)]
    if flagged.empty:
        return []
    runs = ", ".join(
        f"{r.name} seed {r.seed} at {100 * r.val_error:.1f}% (chance {100 * r.chance_error:.0f}%)"
        for r in flagged.sort_values(["name", "seed", "run_id"]).itertuples()
    )
    n = len(flagged)
    return [
        f"- **warning: {n} run{'s' * (n != 1)} ended near chance** (last val error within "
        f"{100 * NEAR_CHANCE_MARGIN:g} points of 1 - 1/classes; they learned next to nothing, "
        f"so the recipe or budget is too short for them): {runs}"
    ]

"""Fig. 7's families: from one C=1 baseline, more cardinality (d fixed) or more width (C=1).

Candidates belong to one family when their specs differ only in C and d (:func:`family_key`);
within it, Sec. 5.3's comparison at equal model size sets the cardinality family beside the
width family. Settings come from :mod:`archlab.report.analysis`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from archlab.report.analysis import _keys, _missing, with_extra_columns

# Every spec property but C and d: candidates differing only in C and d belong together.
FAMILY_KEYS: tuple[str, ...] = ("template", "depth", "width_multiplier", "num_classes",
                                "input_size", "family_key", "dataset")  # fmt: skip


def family_key(spec: dict[str, Any]) -> str:
    """A spec dict as canonical JSON without any stage's cardinality and bottleneck width."""
    drop = ("cardinality", "bottleneck_width")
    stages = [{k: v for k, v in s.items() if k not in drop} for s in spec.get("stages", [])]
    return json.dumps({**spec, "stages": stages}, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Families:
    """Fig. 7's two ways up from one baseline: more cardinality (d fixed) or more width (C=1)."""

    label: str
    baseline: str
    cardinality: pd.DataFrame  # C grows, d == the baseline's d; sorted by params
    width: pd.DataFrame  # C == 1, d grows; sorted by params


def _family_label(row: Any, show_dataset: bool) -> str:
    label = (
        f"{row['template']}, depth {int(row['depth'])}, width ×{float(row['width_multiplier']):g}"
    )
    if not _missing(row["num_classes"]):
        label += f", {int(row['num_classes'])} classes"
    if not _missing(row["input_size"]):
        label += f", {int(row['input_size'])}x{int(row['input_size'])} input"
    return label + (f", {row['dataset']}" if show_dataset else "")


def families(candidates: pd.DataFrame, minimum: int = 2) -> list[Families]:
    """Per spec family (FAMILY_KEYS) the two Fig. 7 families when each has ``minimum`` members.

    Give one row per candidate (one comparison group). The baseline is the C=1 candidate with
    the smallest d. "More cardinality" is every candidate whose d equals the baseline's (1x64d,
    2x64d, 3x64d, 4x64d in Fig. 7); "more width" is every C=1 candidate (1x64d, 1x92d, 1x128d,
    1x160d). Both start at the baseline.
    """
    done = with_extra_columns(candidates)
    done = done[(done["val_n"] > 0) & done["params"].notna()]
    done = done.dropna(subset=["template", "depth", "cardinality", "bottleneck_width"])
    show_dataset = done["dataset"].map(lambda d: "" if _missing(d) else str(d)).nunique() > 1
    found = []
    for _, g in done.groupby(_keys(done, FAMILY_KEYS), sort=True):
        ones = g[g["cardinality"] == 1]
        if ones.empty:
            continue
        base = ones.sort_values(["bottleneck_width", "name"], kind="mergesort").iloc[0]
        card = g[g["bottleneck_width"] == base["bottleneck_width"]]
        if len(card) < minimum or len(ones) < minimum:
            continue
        found.append(
            Families(
                label=_family_label(base, show_dataset),
                baseline=str(base["name"]),
                cardinality=card.sort_values(["params", "name"], kind="mergesort"),
                width=ones.sort_values(["params", "name"], kind="mergesort"),
            )
        )
    return found

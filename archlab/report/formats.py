"""Fixed text formats of report cells and the one markdown table helper.

Shared by the run report, the design-space comparison and the paper tables, so every table
archlab writes is made the same way: deterministic, fixed float formats, so reports can be
golden-tested.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

DASH = "—"


def pct(mean: float, std: float, n: int) -> str:
    """An error fraction as '12.34 ± 0.56 (n=2)' percent; '—' without finished runs."""
    if n == 0 or pd.isna(mean):
        return DASH
    if n == 1 or pd.isna(std):
        return f"{100 * mean:.2f} (n={n})"
    return f"{100 * mean:.2f} ± {100 * std:.2f} (n={n})"


def millions(value: Any) -> str:
    """A count in millions with 2 decimals."""
    return DASH if value is None or pd.isna(value) else f"{float(value) / 1e6:,.2f}"


def integer(value: Any) -> str:
    """An exact integer with thousands separators."""
    return DASH if value is None or pd.isna(value) else f"{int(value):,}"


def cell(text: Any) -> str:
    """Table-safe text: no pipes or newlines."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return DASH
    return str(text).replace("|", "\\|").replace("\n", " ").strip() or DASH


def md_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()
) -> str:
    """A GitHub markdown table; columns in ``right`` are right-aligned."""
    align = ["---:" if i in right else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)

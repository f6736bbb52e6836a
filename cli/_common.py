"""Parsing and printing helpers shared by the commands; no archlab logic lives here."""

from __future__ import annotations

import json
import math
import shlex
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table


def parse_int_list(text: str, option: str) -> list[int]:
    """'1,2,4' -> [1, 2, 4]; anything else is a usage error naming the option."""
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(p == "" for p in parts):
        raise typer.BadParameter(f"{option} needs a comma-separated list of integers, got {text!r}")
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise typer.BadParameter(
            f"{option} needs a comma-separated list of integers, got {text!r}"
        ) from None


def parse_band(text: str | None, option: str) -> tuple[float | None, float | None] | None:
    """'MIN:MAX' with either side optional ('4e9:', ':5e9') -> (min, max)."""
    if text is None:
        return None
    lo, sep, hi = text.partition(":")
    if not sep:
        raise typer.BadParameter(f"{option} needs MIN:MAX (either side may be empty), got {text!r}")
    try:
        band = (float(lo) if lo.strip() else None, float(hi) if hi.strip() else None)
    except ValueError:
        raise typer.BadParameter(f"{option} needs numbers as MIN:MAX, got {text!r}") from None
    if any(v is not None and not math.isfinite(v) for v in band):
        raise typer.BadParameter(
            f"{option} needs finite numbers (leave a side empty), got {text!r}"
        )
    if band[0] is not None and band[1] is not None and band[0] > band[1]:
        raise typer.BadParameter(f"{option}: MIN {band[0]:g} is above MAX {band[1]:g}")
    return band


def print_json(data: Any) -> None:
    """One JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def console() -> Console:
    """A console bound to the current stdout (tests capture it)."""
    return Console(file=sys.stdout, width=200, soft_wrap=False)


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> Table:
    """A rich table, numbers right-aligned."""
    t = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        numeric = rows and all(isinstance(r[i], int | float) for r in rows if r[i] is not None)
        t.add_column(col, justify="right" if numeric else "left")
    for r in rows:
        t.add_row(*[fmt(v) for v in r])
    return t


def fmt(value: Any) -> str:
    """Exact integers with separators, floats to 4 significant digits."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def default_store_dir(store: Path, default: Path) -> None:
    """Create the default store's folder; a folder the user named must already exist."""
    if store == default:
        store.parent.mkdir(parents=True, exist_ok=True)


def command_line(
    command: str, positional: list[str], options: list[tuple[str, object, object]]
) -> str:
    """``archlab COMMAND ...`` as typed, naming only options that differ from their default."""
    parts = ["archlab", command, *positional]
    for flag, value, default in options:
        if value != default:
            parts += [flag, str(value)]
    return shlex.join(parts)

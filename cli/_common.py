"""Parsing and printing helpers shared by the commands; no archlab logic lives here."""

from __future__ import annotations

import json
import math
import shlex
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from archlab.errors import print_warning

if TYPE_CHECKING:
    from archlab.search.solver import Match
    from archlab.search.speed_match import SpeedMatch
    from archlab.workflows.space import CandidateTable

MATCH_ERR = "match err %"  # a match error in a table for people: percent (JSON keeps fractions)


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


def path_value(value: str | Path) -> Path:
    """A path option's text as a Path, an empty one refused: ``Path('')`` is ``.``, the current
    folder, and a later message about '.' would hide that the value typed was empty (an unset
    shell variable, ``--store "$STORE"``)."""
    if isinstance(value, Path):  # a default, not typed
        return value
    if not value.strip():
        raise typer.BadParameter(f"the path is empty, got {value!r}")
    return Path(value)


def path_text(value: str) -> str:
    """:func:`path_value` for an option the library takes as text: an empty one is refused."""
    path_value(value)
    return value


def path_argument(value: str | None) -> Path | None:
    """:func:`path_value` for a positional path (``compare-spaces '' B.toml``), as a callback.

    The argument stays typed ``Path`` so its help still reads ``<path>`` (a ``parser`` turns it
    into ``<Path>``); ``path_type=str`` keeps the text as typed, which this turns into the Path.
    """
    return None if value is None else path_value(value)


# The keywords of every option that names a file or folder (typer.Option(**PATH)).
PATH: dict[str, Any] = {"parser": path_value, "metavar": "<path>"}
PATH_TEXT: dict[str, Any] = {"parser": path_text, "metavar": "<path>"}
# ... and of every positional argument that does (typer.Argument(**PATH_ARGUMENT)).
PATH_ARGUMENT: dict[str, Any] = {"path_type": str, "callback": path_argument}


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


def int_tuple(text: str | None, option: str) -> tuple[int, ...] | None:
    """'50,101' -> (50, 101); None (not given) stays None."""
    return None if text is None else tuple(parse_int_list(text, option))


def percent(fraction: float | None) -> float | None:
    """A fraction as a percent, for tables; None stays None."""
    return None if fraction is None or fraction != fraction else 100 * fraction


def warn(lines: Iterable[str]) -> None:
    """Each warning as one line on stderr, so stdout (a table or JSON) stays clean."""
    for line in lines:
        print_warning(line)


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


def command_line(ctx: typer.Context, *, skip: tuple[str, ...] = ("quiet", "as_json")) -> str:
    """``archlab COMMAND ...`` as typed: arguments, then only the options given on the line.

    Read back from click's record of where each value came from, so no default is restated.
    """
    parts = ["archlab", ctx.info_name or ""]
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if param.name in skip or value is None:
            continue
        if param.param_type_name == "argument":
            parts.append(str(value))
            continue
        source = ctx.get_parameter_source(param.name or "")
        if source is None or source.name != "COMMANDLINE":  # typer vendors its own click enum
            continue
        if getattr(param, "is_flag", False):
            flag = param.opts[0] if value else (param.secondary_opts or param.opts)[0]
            parts.append(flag)
        else:
            parts += [param.opts[0], str(value)]
    return shlex.join(parts)


def given(params: dict[str, Any], *names: str) -> dict[str, Any]:
    """The named parameters that were given (not None), for a library call's keywords."""
    return {name: params[name] for name in names if params.get(name) is not None}


def seeds_given(text: str | None) -> dict[str, Any]:
    """``{"seeds": [...]}`` when --seeds was given, else nothing (the library's default)."""
    return {} if text is None else {"seeds": parse_int_list(text, "--seeds")}


def print_match(match: Match, speed: SpeedMatch | None = None) -> None:
    """The matched spec beside its baseline, and how close the match is."""
    from archlab.workflows.match import unit_of

    if speed is not None:
        return print_speed_match(speed)
    d = match.to_dict()
    base = [d["baseline_name"], 1, match.baseline.bottleneck_width, match.baseline.group_width,
            d["baseline_block_params"], *d["baseline_network"].values(), None]  # fmt: skip
    row = [d["name"], d["cardinality"], d["bottleneck_width"], d["group_width"],
           d["block_params"], *d["network"].values(), percent(d["relative_error"])]  # fmt: skip
    title = (f"{d['template']} depth {d['depth']}, input {d['input_size']}: matched on "
             f"{unit_of(match.scope)} at {d['complexity']:g}x the baseline")  # fmt: skip
    cols = ["model", "C", "d", "group width", "block params", "MACs", "params", "acts", MATCH_ERR]
    out = console()
    out.print(table(title, cols, [base, row]))
    out.print(f"target {fmt(round(d['target']))}, got {fmt(d['value'])}")


def print_speed_match(m: SpeedMatch) -> None:
    """A match on measured time: both specs' MACs, medians and intervals, and the error."""
    d = m.to_dict()
    key, ci = (
        ("step_ms_per_image", "step_ms_ci")
        if m.quantity == "speed"
        else ("latency_ms", "latency_ms_ci")
    )
    ratio = f"{d['ratio']:.3g} [{d['ratio_ci'][0]:.3g}, {d['ratio_ci'][1]:.3g}]"
    pairs = ((d["baseline"], "1", None), (d["match"], ratio, percent(d["relative_error"])))
    rows = [[s["name"], s["macs"], s[key], s[ci][0], s[ci][1], r, e] for s, r, e in pairs]
    batch = d["match"]["batch"]
    unit = "ms/image (train step)" if m.quantity == "speed" else f"ms at batch {batch}"
    cols = ["model", "MACs", unit, "95% low", "95% high", "ratio [95%]", MATCH_ERR]
    title = f"matched on measured {m.quantity} side by side on {d['match']['device']}"
    out = console()
    out.print(table(title, cols, rows))
    out.print(f"target ratio {d['target_ratio']:g}x the baseline timed in the same run; "
              f"the MACs match was {d['analytic_name']}")  # fmt: skip


def print_table(result: CandidateTable, *, as_json: bool, as_csv: bool) -> None:
    """Candidates as JSON, CSV (both with ``relative_error`` a fraction) or a table (percent)."""
    frame = result.frame
    if as_json:
        print_json(frame.to_dict(orient="records"))
    elif as_csv:
        print(frame.drop(columns="spec").to_csv(index=False), end="")
    else:
        cols = ["name", "depth", "cardinality", "bottleneck_width", "group_width",
                "block_params", "macs", "params", "acts"]  # fmt: skip
        rows = [[native(v) for v in r] for r in frame[cols].itertuples(index=False)]
        if "measured_on" in frame:  # d solved on measured time: the median and its interval
            key = "step_ms_per_image" if frame["measured_on"].iloc[0] == "speed" else "latency_ms"
            ci = "step_ms_ci" if key == "step_ms_per_image" else "latency_ms_ci"
            cols += ["ms/image" if key == "step_ms_per_image" else "ms/batch", "95% interval"]
            for r, median, (low, high) in zip(rows, frame[key], frame[ci], strict=True):
                r += [native(median), f"[{low:.4g}, {high:.4g}]"]
        if not result.sampled:
            cols.append(MATCH_ERR)
            for r, error in zip(rows, frame["relative_error"], strict=True):
                r.append(percent(native(error)))
        console().print(table(result.title, cols, rows))


def native(value: Any) -> Any:
    """numpy scalars -> Python numbers, NaN and NA -> None, for printing."""
    import pandas as pd

    if value is None or (not isinstance(value, dict | list | tuple) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value

"""`archlab results`: what the results store holds, as a table, JSON, CSV or Parquet."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from archlab.train.defaults import DEFAULT_STORE
from archlab.workflows.results import export_results, load_results

from ._common import PATH, console, native, print_json, table
from .options import JsonOpt, ReadStoreOpt

# The table's columns; --json, --csv and --parquet carry every column of results_frame.
TABLE_COLUMNS = [
    "run_id", "name", "seed", "rung", "status", "epochs", "val_error", "near_chance",
    "best_val_error", "test_error", "test_error_at_best_val", "images_per_s", "wall_s", "macs",
    "params",
]  # fmt: skip


def results_cmd(
    store: ReadStoreOpt = Path(DEFAULT_STORE),
    csv: Annotated[
        Path | None, typer.Option("--csv", help="Write every column as CSV ('-': stdout).", **PATH)
    ] = None,
    parquet: Annotated[
        Path | None,
        typer.Option(
            "--parquet",
            help="Write every column as Parquet, needs pyarrow ('-': stdout).",
            **PATH,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List one row per run: the candidate, its last and best errors, throughput and cost."""
    if sum([csv is not None, parquet is not None, as_json]) > 1:
        raise typer.BadParameter("give at most one of --csv, --parquet, --json")
    if (out := csv or parquet) is not None:
        fmt, to_stdout = ("csv" if csv is not None else "parquet"), str(out) == "-"
        if fmt == "parquet" and to_stdout and sys.stdout.isatty():
            raise typer.BadParameter("--parquet - writes binary: redirect stdout to a file or pipe")
        sys.stdout.flush()  # '-': the data alone on stdout, as bytes
        count = export_results(store, sys.stdout.buffer if to_stdout else out, fmt=fmt)
        if to_stdout:
            sys.stdout.buffer.flush()
        else:
            console().print(f"wrote {count} runs to {out}")
        return
    frame = load_results(store)
    if as_json:
        print_json(json.loads(frame.to_json(orient="records")))  # NaN and NA -> null
    else:
        rows = [[native(v) for v in r] for r in frame[TABLE_COLUMNS].itertuples(index=False)]
        console().print(table(f"{len(frame)} runs in {store}", TABLE_COLUMNS, rows))


def register(app: typer.Typer) -> None:
    """Attach this command to the app."""
    app.command("results")(results_cmd)

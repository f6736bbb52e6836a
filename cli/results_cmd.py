"""`archlab results`: what the results store holds, as a table, JSON, CSV or Parquet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from archlab.errors import ArchlabError
from archlab.store import Store, write_parquet

from ._common import console, print_json, table

# The table's columns; --json, --csv and --parquet carry every column of results_frame.
TABLE_COLUMNS = [
    "name", "seed", "rung", "status", "epochs", "val_error", "near_chance", "best_val_error",
    "test_error", "test_error_at_best_val", "images_per_s", "wall_s", "macs", "params",
]  # fmt: skip


def results_cmd(
    store: Annotated[
        Path, typer.Option("--store", help="The results store written by train-candidates.")
    ] = Path("archlab-runs/store.db"),
    csv: Annotated[Path | None, typer.Option("--csv", help="Write every column as CSV.")] = None,
    parquet: Annotated[
        Path | None,
        typer.Option("--parquet", help="Write every column as Parquet (needs pyarrow)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """One row per run: the candidate, its last and best errors, throughput and cost."""
    if sum([csv is not None, parquet is not None, as_json]) > 1:
        raise typer.BadParameter("give at most one of --csv, --parquet, --json")
    with Store(store, create=False, read_only=True) as db:
        frame = db.results_frame()
    if as_json:
        print_json(json.loads(frame.to_json(orient="records")))  # NaN and NA -> null
    elif (out := csv or parquet) is not None:
        if out.is_dir():
            raise ArchlabError(f"{str(out)!r} is a folder; give a file name to write")
        if out.resolve() == store.resolve():
            raise ArchlabError(f"refusing to write the export over the store {str(store)!r}")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            if csv is not None:
                frame.to_csv(out, index=False)
            else:
                write_parquet(frame, out)
        except OSError as exc:
            raise ArchlabError(f"cannot write {str(out)!r}: {exc.strerror}") from None
        console().print(f"wrote {len(frame)} runs to {out}")
    else:
        rows = [[_cell(v) for v in r] for r in frame[TABLE_COLUMNS].itertuples(index=False)]
        console().print(table(f"{len(frame)} runs in {store}", TABLE_COLUMNS, rows))


def _cell(value: Any) -> Any:
    """numpy scalars -> Python numbers, NaN and NA -> None, for printing."""
    if pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else value


def register(app: typer.Typer) -> None:
    """Attach this command to the app."""
    app.command("results")(results_cmd)

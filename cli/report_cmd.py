"""`archlab report`: a markdown report with figures of a results store, or the paper's tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from archlab.train.defaults import DEFAULT_STORE

from ._common import PATH, command_line, console, print_json
from .options import JsonOpt


def report_cmd(
    ctx: typer.Context,
    *,
    store: Annotated[
        Path | None,
        typer.Option(
            "--store",
            help=f"The results store to read (never written; default {DEFAULT_STORE}).",
            **PATH,
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for report.md and figures/.", **PATH)],
    title: Annotated[str | None, typer.Option("--title", help="Heading of report.md.")] = None,
    paper_tables: Annotated[
        bool,
        typer.Option(
            "--paper-tables",
            help="Write paper-tables.md (Tables 1-4 and 7) from the analytic model; no store.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write report.md with figures for a results store, or the paper's tables."""
    from archlab.workflows.report import write_reports

    written = write_reports(out, store=store, title=title, paper_tables=paper_tables,
                            command=command_line(ctx))  # fmt: skip
    if as_json:
        print_json({"written": [str(p) for p in written]})
    else:
        for path in written:
            console().print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Attach this command to the app."""
    app.command("report")(report_cmd)

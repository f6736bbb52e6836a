"""`archlab report`: a markdown report with figures of a results store, or the paper's tables."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from ._common import console, print_json

DEFAULT_STORE = Path("archlab-runs/store.db")


def command_line(store: Path | None, out: Path, title: str | None) -> str:
    """The command as it would be typed to regenerate the report (written in its header)."""
    args = ["report"]
    if store is not None:
        args += ["--store", str(store)]
    args += ["--out", str(out)]
    if title is not None:
        args += ["--title", title]
    return "archlab " + shlex.join(args)


def report_cmd(
    out: Annotated[Path, typer.Option("--out", help="Directory for report.md and figures/.")],
    store: Annotated[
        Path | None,
        typer.Option("--store", help=f"The results store (default: {DEFAULT_STORE})."),
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="Heading of report.md.")] = None,
    paper_tables: Annotated[
        bool,
        typer.Option(
            "--paper-tables",
            help="Write paper-tables.md (Tables 1-4 and 7) from the analytic model; no store.",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the written paths as JSON.")
    ] = False,
) -> None:
    """Write report.md with figures for a results store, or the paper's tables."""
    # Imported here so that matplotlib loads only when a report is asked for.
    from archlab.report.markdown import write_report
    from archlab.report.paper_tables import write_paper_tables

    written = []
    if paper_tables:
        written.append(write_paper_tables(out))
    if store is not None or not paper_tables:
        path = store if store is not None else DEFAULT_STORE
        command = command_line(store, out, title)
        written.append(write_report(path, out, command=command, title=title or "archlab report"))
    if as_json:
        print_json({"written": [str(p) for p in written]})
    else:
        for path in written:
            console().print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Attach this command to the app."""
    app.command("report")(report_cmd)

"""`archlab watch`: a live view of a results store while another process trains into it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from archlab.train.defaults import DEFAULT_STORE

from ._common import print_json
from .options import ReadStoreOpt


def watch_cmd(
    store: ReadStoreOpt = Path(DEFAULT_STORE),
    once: Annotated[bool, typer.Option("--once", help="Print one snapshot and exit.")] = False,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between refreshes.")] = 2.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="One snapshot, machine-readable (implies --once).")
    ] = False,
) -> None:
    """Show runs in progress (epoch, val error, images/s, ETA), finished runs, study verdicts."""
    from archlab.workflows.watch import read_snapshot, watch

    if as_json:
        print_json(read_snapshot(store).to_dict())
        return
    watch(store, once=once, interval=interval)


def register(app: typer.Typer) -> None:
    """Attach the command to the app."""
    app.command("watch")(watch_cmd)

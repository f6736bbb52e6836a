"""`archlab export`: a run's best-validation model (a state_dict or a torch.export program) and
JSON saying how to rebuild it, feed it and read its outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from archlab.train.defaults import DEFAULT_STORE

from ._common import PATH, console, print_json
from .options import JsonOpt, ReadStoreOpt


def export_cmd(
    store: ReadStoreOpt = Path(DEFAULT_STORE),
    run: Annotated[
        int | None, typer.Option("--run", help="Run id (see `results`), or give --best.")
    ] = None,
    best: Annotated[
        bool, typer.Option("--best", help="The finished run with the lowest val error.")
    ] = False,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="With --best: choose among this data set.")
    ] = None,
    workdir: Annotated[
        Path | None,
        typer.Option(
            "--workdir", help="Where the runs trained (default: beside the store).", **PATH
        ),
    ] = None,
    file_format: Annotated[
        str,
        typer.Option(
            "--format", help="state_dict (.pth, rebuilt with archlab) or pt2 (torch.export)."
        ),
    ] = "state_dict",
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the .pth (or .pt2) and its .json.", **PATH)
    ] = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Write a run's best-validation model and a JSON file saying how to rebuild and feed it.

    The model is torchvision-layout weights (.pth), or a torch.export program with --format pt2
    (.pt2); the JSON holds the spec, input size, channels, normalisation and classes.
    """
    from archlab.workflows.export import export_run

    result = export_run(store, run_id=run, best=best, dataset=dataset, workdir=workdir, out=out,
                        file_format=file_format)  # fmt: skip
    if as_json:
        print_json({k: str(v) if isinstance(v, Path) else v for k, v in vars(result).items()})
        return
    console().print(
        f"run {result.run_id} ({result.name} seed {result.seed}), best epoch {result.epoch}: "
        f"val error {result.val_error:.2%}, test error {result.test_error:.2%}\n"
        f"wrote {result.weights} and {result.spec_file}"
    )


def register(app: typer.Typer) -> None:
    """Attach the command to the app."""
    app.command("export")(export_cmd)

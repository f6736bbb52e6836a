"""`archlab demo`: the README's main job on the built-in default data set (see archlab.demo)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ._common import command_line, console, given


def demo_cmd(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Option("--out", help="Report folder (reports/demo).")] = None,
    store: Annotated[
        Path | None, typer.Option("--store", help="Results store (archlab-runs/demo.db).")
    ] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", help="Epochs per run (6).")] = None,
    seeds: Annotated[int | None, typer.Option("--seeds", help="Seeds per arm first (3).")] = None,
    max_seeds: Annotated[
        int | None, typer.Option("--max-seeds", help="At most this many seeds per arm (10).")
    ] = None,
    width_multiplier: Annotated[
        float | None, typer.Option(help="Width of the studied networks (0.125).")
    ] = None,
    device: Annotated[str | None, typer.Option("--device", help="auto | cpu | cuda.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="Log lines instead of bars.")] = False,
) -> int:
    """Run the main job on the built-in default: match, enumerate, a study on digits, report."""
    from archlab.train.progress import make_reporter
    from archlab.workflows.demo import demo

    result = demo(
        **given(
            ctx.params, "out", "store", "epochs", "seeds", "max_seeds", "width_multiplier",
            "device",
        ),
        command=command_line(ctx),
        reporter=make_reporter(quiet=quiet),
        show=_show,
    )  # fmt: skip
    return 1 if result.study.any_failed else 0


def _show(step: str, result: Any) -> None:
    """Print one step of the demo under its heading."""
    from archlab.search.solver import Match
    from archlab.workflows.space import CandidateTable
    from archlab.workflows.study import StudyResult

    from .space_cmds import print_match, print_table
    from .study_cmd import print_study

    out = console()
    out.rule(step)
    if isinstance(result, Match):
        print_match(result)
    elif isinstance(result, CandidateTable):
        print_table(result, as_json=False, as_csv=False)
    elif isinstance(result, StudyResult):
        print_study(result)
    else:
        out.print(f"report written to {result}")


def register(app: typer.Typer) -> None:
    """Attach the command to the app."""
    app.command("demo")(demo_cmd)

"""The ``archlab`` entry point: registers commands; user errors become one line and exit 2."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

from archlab.errors import ArchlabError

from . import (
    compare_cmd,
    count_cmd,
    demo_cmd,
    report_cmd,
    results_cmd,
    space_cmds,
    study_cmd,
    train_cmd,
)

app = typer.Typer(
    name="archlab",
    help="ResNeXt design-space search: exact complexity, matched candidates, short training runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
space_cmds.register(app)
train_cmd.register(app)
count_cmd.register(app)
results_cmd.register(app)
report_cmd.register(app)
compare_cmd.register(app)
demo_cmd.register(app)
study_cmd.register(app)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv`` and return the exit code; bad input gives one stderr line and 2."""
    try:
        rv = app(
            args=list(argv) if argv is not None else None,
            prog_name="archlab",
            standalone_mode=False,
        )
    except typer.TyperException as exc:  # typer's vendored click: usage and parameter errors
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `archlab`: the help was the answer
            return 0
        ctx = getattr(exc, "ctx", None)
        where = f" ({ctx.command_path})" if ctx is not None else ""
        print(f"archlab: error{where}: {exc.format_message()}", file=sys.stderr)
        return 2
    except ArchlabError as exc:
        print(f"archlab: error: {exc}", file=sys.stderr)
        return 2
    except typer.Abort:
        print("archlab: aborted", file=sys.stderr)
        return 130
    if rv == 130:  # typer turns Ctrl-C into exit code 130
        print(
            "archlab: interrupted; finished epochs are stored, rerun the same command to resume",
            file=sys.stderr,
        )
    return rv if isinstance(rv, int) else 0


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())


if __name__ == "__main__":
    main()

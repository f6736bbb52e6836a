"""The ``archlab`` entry point: registers commands; user errors become one line and exit 2."""

from __future__ import annotations

import inspect
import os
import re
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Annotated

import typer

from archlab.errors import ArchlabError, OptionError, speaking_as

from . import (
    compare_cmd,
    count_cmd,
    demo_cmd,
    export_cmd,
    report_cmd,
    results_cmd,
    space_cmds,
    study_cmd,
    train_cmd,
    watch_cmd,
)
from .options import flag, plan_words
from .plan_options import FLAGS

app = typer.Typer(
    name="archlab",
    help="ResNeXt design-space search: exact complexity, matched candidates, short training runs.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


def version_line() -> str:
    """``archlab X.Y.Z (torch A.B.C)``, read from the installed metadata: importing torch costs
    seconds, and start-up must not pay that for every command."""
    from importlib.metadata import PackageNotFoundError, version

    from archlab._version import __version__

    try:
        torch_version = version("torch")
    except PackageNotFoundError:
        torch_version = "not installed"
    return f"archlab {__version__} (torch {torch_version})"


def _print_version(value: bool) -> None:
    if value:
        print(version_line())
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            help="Print archlab's and torch's versions and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """ResNeXt design-space search: exact complexity, matched candidates, short training runs."""


# `archlab --help` lists the commands in this order, the README's: the flow from a question to
# its report.
space_cmds.register(app)  # match-flops, space
count_cmd.register(app)
train_cmd.register(app)
study_cmd.register(app)
compare_cmd.register(app)
results_cmd.register(app)
export_cmd.register(app)
watch_cmd.register(app)
report_cmd.register(app)
demo_cmd.register(app)


def help_paragraphs(doc: str | None) -> str | None:
    """A command's docstring with each paragraph on one line: typer's rich help keeps the line
    breaks of every paragraph after the first, so a source line's wrap broke the printed text
    (``space --help`` read "log-uniform from" / "1 to 64" on two lines)."""
    if not doc:
        return doc
    return "\n\n".join(" ".join(p.split()) for p in inspect.cleandoc(doc).split("\n\n"))


for _info in app.registered_commands:
    _info.help = help_paragraphs(_info.help or getattr(_info.callback, "__doc__", None))


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv`` and return the exit code; bad input gives one stderr line and 2.

    Every error line has one shape, ``archlab COMMAND: error: MESSAGE`` (argparse's for a
    subcommand), whether typer or the library found the mistake: where commands are chained in a
    script, the line says which of them failed. Warning lines match: ``archlab COMMAND: warning:
    MESSAGE``.
    """
    args = list(argv) if argv is not None else sys.argv[1:]
    try:
        # Warning lines name the command too (``archlab COMMAND: warning: ...``).
        with speaking_as(command_path(args)):
            rv = app(args=args, prog_name="archlab", standalone_mode=False)
    except typer.TyperException as exc:  # typer's vendored click: usage and parameter errors
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `archlab`: the help was the answer
            return 0
        message = exc.format_message()
        if type(exc).__name__ == "BadParameter" and getattr(exc, "param", None) is None:
            message = str(getattr(exc, "message", message))  # a shim's own: it names its flags
        if "got " not in message:  # typer's type errors do not say what was typed
            message += typed_value(exc, args)
        return error(command_path(args, exc), message)
    except OptionError as exc:  # options named by their keywords: the CLI names its flags
        return error(command_path(args), exc.render(flag))
    except ArchlabError as exc:
        path = command_path(args)
        return error(path, cli_words(str(exc), path.partition(" ")[2] or None))
    except typer.Abort:
        print("archlab: aborted", file=sys.stderr)
        return 130
    except (RecursionError, MemoryError) as exc:
        # Last resort: loaders turn these into ArchlabError naming the file; this catches an
        # input path that does not (e.g. a deeply nested --candidates JSON), one line, no trace.
        what = "nested too deeply" if isinstance(exc, RecursionError) else "too large"
        return error(command_path(args), f"input {what} to process ({type(exc).__name__})")
    if rv == 130:  # typer turns Ctrl-C into exit code 130
        print(stop_line("interrupted", args), file=sys.stderr)
    return rv if isinstance(rv, int) else 0


def error(command: str, message: str) -> int:
    """Print the one error line, ``archlab COMMAND: error: MESSAGE``, and return exit code 2."""
    print(f"{command}: error: {message}", file=sys.stderr)
    return 2


def command_path(args: Sequence[str], exc: Exception | None = None) -> str:
    """``archlab space``: the command an error is about, from typer's context where the error
    has one, else the first word typed that names a command; ``archlab`` where none does."""
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        return str(ctx.command_path)
    commands = getattr(typer.main.get_command(app), "commands", {})
    word = next((a for a in args if not a.startswith("-")), None)
    return f"archlab {word}" if word in commands else "archlab"


def typed_value(exc: Exception, args: Sequence[str]) -> str:
    """``, got 'abc'``: the text given to the option an error is about (the last one counts)."""
    opts = getattr(getattr(exc, "param", None), "opts", None) or []
    for i in range(len(args) - 1, -1, -1):
        for opt in opts:
            if args[i] == opt and i + 1 < len(args):
                return f", got {args[i + 1]!r}"
            if args[i].startswith(opt + "=") and opt.startswith("--"):
                return f", got {args[i][len(opt) + 1 :]!r}"
    return ""


# The commands that train: only their stop line speaks of stored epochs and resuming.
_TRAINING = frozenset({"train-candidates", "study", "demo", "compare-spaces"})


def stop_line(what: str, args: Sequence[str]) -> str:
    """The one line a stop by a signal prints, naming resume only for a command that trains."""
    if _TRAINING.isdisjoint(args):
        return f"archlab: {what}"
    return f"archlab: {what}; finished epochs are stored, rerun the same command to resume"


def _flags() -> set[str]:
    """Every long flag of every command, read from the app (only when an error is printed)."""
    group = typer.main.get_command(app)
    commands = getattr(group, "commands", {}).values()
    return {o for c in commands for p in c.params for o in p.opts if o.startswith("--")}


# Study settings the library names by field; the user typed these options.
_WORDS = {"preset or arms": "--preset or --arms", "max_seeds": "--max-seeds",
          "at least seeds": "at least --seeds",
          "epochs or time_budget": "--epochs or --run-time-budget"}  # fmt: skip


def _command_flags(command: str | None) -> set[str]:
    """The long flags ``command --help`` lists (an earlier, hidden spelling is not offered)."""
    group = typer.main.get_command(app)
    found = getattr(group, "commands", {}).get(command or "")
    params = [] if found is None else found.params
    return {o for p in params if not getattr(p, "hidden", False) for o in p.opts if o[:2] == "--"}


# A library keyword in a message: snake_case anywhere (``width_multiplier``), a plain word only
# where it opens the message as its subject (``template must be one of ...``, ``out '/x' is``).
# Not inside a path, a quoted value or a dotted name, nor in a message about a file's keys.
_FILE = re.compile(r"\.(?:toml|json)\b")
_SNAKE = re.compile(r"(?<![-\w./'\"`])[a-z]+(?:_[a-z]+)+\b(?![-\w./'\"`])")
_SUBJECT = re.compile(r"^[a-z]+(?= (?:must |needs |goes |'))|(?<=\bgive )[a-z]+\b")


def field_words(message: str, flags: set[str]) -> str:
    """A library message with the keywords it names (``input_size``) as the command's flags.

    Only a keyword whose flag the command has is rewritten, so a Python caller's word stays where
    the user typed no such option.
    """

    def word(m: re.Match[str]) -> str:
        option = flag(m.group(0))
        return option if option in flags else m.group(0)

    if _FILE.search(message):  # ``space.toml: width_multiplier ...`` names the file's key
        return message
    return _SUBJECT.sub(word, _SNAKE.sub(word, message))


def cli_words(message: str, command: str | None = None) -> str:
    """A library message with its plan keys (``strategy.max_epochs``) and fields as options."""
    # The training commands' keys first: each names exactly one option (plan_options.FLAGS).
    message = re.sub(r"\b[a-z]+\.[a-z_]+\b", lambda m: FLAGS.get(m.group(0), m.group(0)), message)
    message = plan_words(message, _flags())
    for field, option in _WORDS.items():
        message = re.sub(rf"(?<![-\w.]){re.escape(field)}\b", option, message)
    return field_words(message, _command_flags(command))


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Say what SIGINT says, then die of SIGTERM as before (exit status 143).

    Dying by the default action keeps the crash promise a kill already kept: what was stored
    stays stored, nothing half-written is committed. ``os.write``: the handler may interrupt a
    print, and a buffered stream must not be re-entered.
    """
    os.write(2, (stop_line("terminated (SIGTERM)", sys.argv[1:]) + "\n").encode())
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def main() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    sys.exit(run())


if __name__ == "__main__":
    main()

"""Project exceptions and warning lines.

A user mistake is a ValueError naming the value and what is allowed; a warning is one stderr
line, ``archlab COMMAND: warning: MESSAGE``, printed through :func:`warning_line`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class ArchlabError(ValueError):
    """A mistake in what the user asked for; the CLI prints it as one line and exits 2."""


class SpecError(ArchlabError):
    """An invalid network spec or template parameter."""


class SolverError(ArchlabError):
    """A complexity target that no integer width or cardinality reaches."""


class OptionError(ArchlabError):
    """Options that contradict each other or do not apply together.

    The message names the options by their keyword names (``seed needs sample``); the CLI shows
    the same message with its flags (``--seed needs --sample``) through :meth:`render`, so a
    Python caller and a CLI user get one rule in their own words.
    """

    def __init__(self, template: str, *options: str) -> None:
        self.template = template  # one ``{}`` per option, in order
        self.options = options
        super().__init__(template.format(*options))

    def render(self, word: Callable[[str], str]) -> str:
        """The message with each option written by ``word`` (e.g. a keyword -> its CLI flag)."""
        return self.template.format(*(word(option) for option in self.options))


# Who speaks a warning line: ``archlab``, or ``archlab COMMAND`` while the CLI runs a command
# (set by the CLI's entry point), so warnings and errors share one shape (docs/training.md,
# "Output, paths, errors"). A plain global, not a ContextVar: a line may come from a helper
# thread (a pool's result thread, a tracking sink), which a ContextVar would not reach.
_speaker = ["archlab"]


def warning_line(message: str) -> str:
    """``archlab COMMAND: warning: MESSAGE``: a warning's one line, in the error line's shape."""
    return f"{_speaker[0]}: warning: {message}"


def print_warning(message: str) -> None:
    """Print :func:`warning_line` on stderr, so stdout (a table, JSON) stays clean."""
    print(warning_line(message), file=sys.stderr)


@contextmanager
def speaking_as(command: str) -> Iterator[None]:
    """Warning lines name ``command`` (``archlab space``) inside the block; restored after."""
    before, _speaker[0] = _speaker[0], command
    try:
        yield
    finally:
        _speaker[0] = before

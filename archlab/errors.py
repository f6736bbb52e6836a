"""Project exceptions: a user mistake is a ValueError naming the value and what is allowed."""

from __future__ import annotations

from collections.abc import Callable


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

"""Project exceptions: a user mistake is a ValueError naming the value and what is allowed."""

from __future__ import annotations


class ArchlabError(ValueError):
    """A mistake in what the user asked for; the CLI prints it as one line and exits 2."""


class SpecError(ArchlabError):
    """An invalid network spec or template parameter."""


class SolverError(ArchlabError):
    """A complexity target that no integer width or cardinality reaches."""

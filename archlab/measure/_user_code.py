"""Run a user's model code (import, construction, forward) without letting it steer archlab.

``count --model`` imports and runs code archlab did not write. That code may call ``sys.exit``,
raise ``KeyboardInterrupt`` or print; none of it may change archlab's exit code or its stdout
(which ``--json`` keeps machine-readable). Inside :func:`user_code` the module's prints go to
stderr, and an exit or a raised interrupt becomes one :class:`ArchlabError` naming the model.
A real Ctrl-C (a SIGINT delivered while the code runs) still interrupts as usual. See
docs/trust.md: the model's code is trusted to run, not to control archlab.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

from archlab.errors import ArchlabError


@contextlib.contextmanager
def user_code(ref: str, doing: str) -> Iterator[None]:
    """Run the block as the user's code of model ``ref`` (``doing``: what it was doing)."""
    received: list[int] = []
    with _note_sigint(received), contextlib.redirect_stdout(sys.stderr):
        try:
            yield
        except SystemExit as exc:
            raise ArchlabError(
                f"model {ref!r}: {doing} called sys.exit({exc.code!r}); a model must not exit"
            ) from None
        except KeyboardInterrupt:
            if received:  # the user pressed Ctrl-C: an interrupt, not the model's doing
                raise
            raise ArchlabError(
                f"model {ref!r}: {doing} raised KeyboardInterrupt without an interrupt"
            ) from None


@contextlib.contextmanager
def _note_sigint(received: list[int]) -> Iterator[None]:
    """Record a SIGINT before raising KeyboardInterrupt, so a real one is told from a raised one.

    Signal handlers can be set from the main thread only; elsewhere (a worker thread) every
    KeyboardInterrupt counts as the model's.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)

"""Run checkpoints: written atomically, verified by SHA-256, with a fallback to the previous one.

A checkpoint holds the model, the optimizer, the epoch, the schedule's length and the metrics
history so far, so a run resumed on any machine (or a later rung of successive halving) reports
its whole curve.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write atomically (temporary file, fsync, rename) with a SHA-256 of the payload inside."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    digest = hashlib.sha256(payload).hexdigest().encode()
    tmp = path.with_name(path.name + ".tmp")
    try:
        with named_os_errors(tmp), open(tmp, "wb") as handle:
            handle.write(digest + b"\n" + payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError:
        # A half-written temporary file on a full disk would hold the space the rerun needs.
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable where the OS allows
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextlib.contextmanager
def named_os_errors(path: Path) -> Iterator[None]:
    """Give a write's ``OSError`` (a full disk raises one without a file name) ``path``."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None or exc.errno is None:
            raise
        raise OSError(exc.errno, exc.strerror, str(path)) from exc


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    """The checkpoint's state, or None when it is missing, truncated or fails its checksum."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    digest, _, payload = raw.partition(b"\n")
    if hashlib.sha256(payload).hexdigest().encode() != digest:
        return None
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=False)
    except Exception:  # a payload that hashes right but will not load is corrupt all the same
        return None
    return state if isinstance(state, dict) else None


# The one place that knows checkpoint file names: epoch-0007.ckpt holds the state after epoch 7.
_PREFIX, _SUFFIX = "epoch-", ".ckpt"


def checkpoint_path(run_dir: Path, epoch: int) -> Path:
    """Where epoch ``epoch``'s checkpoint lives."""
    return run_dir / f"{_PREFIX}{epoch:04d}{_SUFFIX}"


def checkpoint_epoch(path: Path) -> int:
    """The epoch a checkpoint's file name records (the inverse of :func:`checkpoint_path`)."""
    return int(path.name.removeprefix(_PREFIX).removesuffix(_SUFFIX))


def list_checkpoints(run_dir: Path) -> list[Path]:
    """The run's checkpoint files, oldest epoch first; temporary and corrupt ones excluded."""
    return sorted(run_dir.glob(f"{_PREFIX}*{_SUFFIX}"), key=checkpoint_epoch)


def latest_good_checkpoint(run_dir: Path, *, warn: Callable[[str], None]) -> dict[str, Any] | None:
    """Newest checkpoint that loads; corrupt ones are reported, renamed aside, and skipped."""
    for path in reversed(list_checkpoints(run_dir)):
        state = load_checkpoint(path)
        if state is not None:
            return state
        warn(f"checkpoint {path} is corrupt; falling back to the previous one")
        with contextlib.suppress(OSError):
            path.rename(path.with_name(path.name + ".corrupt"))
    return None


def prune(run_dir: Path, keep: int = 2) -> None:
    """Delete all but the newest ``keep`` checkpoints."""
    # The previous checkpoint stays as the fallback for a corrupt newest one.
    for path in list_checkpoints(run_dir)[:-keep]:
        path.unlink(missing_ok=True)

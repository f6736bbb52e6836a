"""Run checkpoints: plain ``torch.save`` files, written atomically, verified by SHA-256.

A checkpoint is a dict that ``torch.load(path, weights_only=True)`` reads: the model, the
optimizer, the epoch, the schedule's length and the metrics history so far (so a run resumed on
any machine, or a later rung of successive halving, reports its whole curve), and ``format``.
Integrity: torch's zip reader checks no CRC of tensor data (a flipped bit in a weight loads
silently; torch 2.x, measured). So the zip's archive comment, which every zip reader skips,
carries a SHA-256 of all the bytes before it: one self-contained file, checked whole, that
survives a copy.

A run keeps its newest ``keep`` checkpoints (resume points; a corrupt newest one falls back to
an older one) and always the checkpoint of its best-validation epoch, which export reads.
Files of the earlier format (a digest line, then the payload) are still read for resume.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from archlab.train.config import DEFAULT_KEEP

FORMAT = "archlab-checkpoint/2"
_SEAL_TAG = b"archlab-sha256:"
_COMMENT_LEN = len(_SEAL_TAG) + 64
_OLD_HEADER = re.compile(rb"[0-9a-f]{64}\n")  # format 1: hex digest line + torch.save payload


def _seal(payload: bytes) -> bytes:
    """A ``torch.save`` zip with its archive comment set to a SHA-256 of all bytes before it."""
    # The end-of-central-directory record closes the file; torch writes no comment, so its last
    # two bytes (the comment length) are zero. Zip readers, torch's included, accept a comment.
    if payload[-22:-18] != b"PK\x05\x06" or payload[-2:] != b"\x00\x00":
        raise AssertionError("torch.save wrote no zip archive without a comment")
    head = payload[:-2] + _COMMENT_LEN.to_bytes(2, "little") + _SEAL_TAG
    return head + hashlib.sha256(head).hexdigest().encode()


def _is_sealed(raw: bytes) -> bool:
    """Whether ``raw`` ends with our seal and the seal matches every byte before it."""
    tail = raw[-_COMMENT_LEN - 2 :]
    if tail[:2] != _COMMENT_LEN.to_bytes(2, "little") or tail[2 : 2 + len(_SEAL_TAG)] != _SEAL_TAG:
        return False
    return hashlib.sha256(raw[:-64]).hexdigest().encode() == raw[-64:]


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` atomically (temporary file, fsync, rename), sealed by its SHA-256."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    data = _seal(buffer.getvalue())
    tmp = path.with_name(path.name + ".tmp")
    try:
        with named_os_errors(tmp), open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError:
        # A half-written temporary file on a full disk would hold the space the rerun needs.
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    _sync_dir(path.parent)


def _sync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # make a rename itself durable where the OS allows
        dir_fd = os.open(folder, os.O_RDONLY)
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
    """The checkpoint's state, or None when it is missing, truncated or fails its digest."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    old = _OLD_HEADER.match(raw)
    if old is not None:  # format 1: the digest of the payload on the first line
        raw = raw[old.end() :]
        if hashlib.sha256(raw).hexdigest().encode() != old.group()[:-1]:
            return None
    elif not _is_sealed(raw):
        return None
    try:
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception:  # a truncated zip, a damaged pickle: corrupt all the same
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


def best_epoch(history: Sequence[dict[str, Any]]) -> int | None:
    """The epoch with the lowest validation error (the earliest on ties); None without one."""
    best: tuple[float, int] | None = None
    for row in history:
        error = row.get("val_error")
        if error is None or not math.isfinite(error):
            continue
        if best is None or error < best[0]:  # strict: a tie keeps the earlier epoch
            best = (float(error), int(row["epoch"]))
    return None if best is None else best[1]


def prune(run_dir: Path, keep: int = DEFAULT_KEEP, best: int | None = None) -> None:
    """Delete all but the newest ``keep`` checkpoints and the best-validation epoch's."""
    for path in list_checkpoints(run_dir)[:-keep]:
        if best is None or checkpoint_epoch(path) != best:
            path.unlink(missing_ok=True)


def copy_checkpoints(source: Path, target_dir: Path) -> None:
    """Seed a run folder from another run's checkpoint ``source`` and the older ones beside it.

    Successive halving continues a rung from the previous rung's newest checkpoint; the best
    epoch's checkpoint comes along, since the continued run's history (and best) includes those
    epochs. Oldest first: the newest lands last, so a crash midway resumes from an exact
    earlier point rather than skipping the best.
    """
    upto = checkpoint_epoch(source)
    target_dir.mkdir(parents=True, exist_ok=True)
    for path in list_checkpoints(source.parent):
        if checkpoint_epoch(path) > upto:
            continue
        target = target_dir / path.name
        tmp = target.with_name(target.name + ".tmp")
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)  # atomic: a crash leaves either nothing or the whole file
    _sync_dir(target_dir)

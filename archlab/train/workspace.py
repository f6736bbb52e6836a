"""Where an invocation's files go: the store path checked, the work folder made, provenance."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from archlab.complexity import totals
from archlab.errors import ArchlabError
from archlab.space import NetSpec, with_overrides
from archlab.store import RunRecord
from archlab.train.data import DatasetSplits


def check_store_path(path: Path) -> None:
    """A store path must name a file whose folder exists and is writable, or can be made.

    A missing folder is judged at its nearest existing parent, like every archlab output; the
    store creates it (``Store(..., create=True)``) once everything else has been checked.
    """
    folder = path.parent if str(path.parent) else Path(".")
    parent = folder
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):  # judged below, at the nearest parent
        pass
    except OSError as exc:  # a name longer than the file system allows, a loop of links...
        raise ArchlabError(f"store path {str(path)!r} cannot be used: {exc.strerror}") from None
    if path.is_dir():
        raise ArchlabError(f"store path {str(path)!r} is a directory; give a file such as runs.db")
    if not parent.is_dir():
        made = "" if parent == folder else f"{str(folder)!r} cannot be made: "
        raise ArchlabError(f"store directory {made}{str(parent)!r} is a file, not a folder")
    if not os.access(parent, os.W_OK):
        raise ArchlabError(f"store directory {str(parent)!r} is not writable")


def default_workdir(store: Path) -> Path:
    """Checkpoints and logs beside the store: ``runs.db`` -> ``runs-work/``."""
    return store.with_name(store.stem + "-work")


def run_dir_path(work: Path, store_id: str, run: RunRecord) -> Path:
    """A run's folder of checkpoints and log in the work folder."""
    # The store's id keeps runs of two stores sharing a work folder apart (run ids restart).
    return work / f"{store_id}-run-{run.id:05d}-{run.name}-s{run.seed}"


def make_workdir(work: Path) -> None:
    """Create the work folder, or say in one line why it cannot be."""
    try:
        if work.exists() and not work.is_dir():
            raise ArchlabError(f"workdir {str(work)!r} is a file, not a folder")
        work.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchlabError(f"cannot create workdir {str(work)!r}: {exc.strerror}") from None
    if not os.access(work, os.W_OK):
        raise ArchlabError(f"workdir {str(work)!r} is not writable")


def git_commit() -> str | None:
    """The commit of the archlab checkout, when it is one."""
    root = Path(__file__).resolve().parents[2]  # archlab/train/workspace.py -> the checkout
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def fit_to_data(specs: Sequence[NetSpec], data: DatasetSplits) -> list[NetSpec]:
    """Each candidate for the dataset's classes and image size, validated before any training."""
    if not specs:
        raise ArchlabError("no candidates to train")
    fitted: list[NetSpec] = []
    for spec in specs:
        spec = with_overrides(spec, num_classes=data.num_classes, input_size=data.image_size)
        totals(spec)  # raises SpecError now if the images are too small for the template
        if spec not in fitted:
            fitted.append(spec)
    return fitted

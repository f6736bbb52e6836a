"""Output folders checked for writability before a workflow trains anything (issue 12)."""

from __future__ import annotations

from pathlib import Path

from archlab.report.output import check_writable_dir
from archlab.train.workspace import check_store_path, default_workdir


def check_output_folders(
    store: str | Path, *, workdir: str | Path | None = None, out: str | Path | None = None
) -> None:
    """Refuse, in one line, a store folder, work folder or report folder that cannot be written.

    Found now rather than after hours of training. Folders that do not exist yet are checked
    at their nearest existing parent (the workflow creates them) and not created here.
    """
    store_file = Path(store)
    check_store_path(store_file)  # a folder given as the store: said as train-candidates says it
    check_writable_dir(store_file.parent, field="store folder")
    work = Path(workdir) if workdir is not None else default_workdir(store_file)
    check_writable_dir(work, field="workdir")
    if out is not None:
        check_writable_dir(out, field="out")

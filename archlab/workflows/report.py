"""The report workflow: a store's markdown report with figures, the paper's tables, or both."""

from __future__ import annotations

from pathlib import Path

from archlab.errors import ArchlabError
from archlab.report.output import check_writable_dir
from archlab.train import defaults

DEFAULT_STORE = Path(defaults.DEFAULT_STORE)
DEFAULT_TITLE = "archlab report"


def write_reports(
    out: str | Path,
    *,
    store: str | Path | None = None,
    title: str | None = None,
    paper_tables: bool = False,
    command: str = "archlab.workflows.report.write_reports()",
) -> list[Path]:
    """Write ``report.md`` of ``store`` into ``out``, and/or the paper's tables; the paths.

    With ``paper_tables`` alone no store is read (the tables come from the analytic model);
    otherwise the store (default ``archlab-runs/store.db``) is reported, its header naming
    ``command`` as the way to regenerate it.
    """
    # Imported here so that matplotlib loads only when a report is written.
    from archlab.report.markdown import write_report
    from archlab.report.paper_tables import write_paper_tables

    if str(out) == "-":  # a report is a folder of markdown and figures: it has no stdout form
        raise ArchlabError("--out names a folder for report.md and its figures; '-' (stdout) "
                           "cannot hold them: give a folder")  # fmt: skip
    check_writable_dir(out, field="out")  # said as export, demo and compare-spaces say it
    written = []
    if paper_tables:
        written.append(write_paper_tables(out))
    if store is not None or not paper_tables:
        path = DEFAULT_STORE if store is None else Path(store)
        written.append(write_report(path, out, command=command, title=title or DEFAULT_TITLE))
    return written

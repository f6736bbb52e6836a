"""`archlab report`: one markdown page, with figures, of what a results store holds.

The markdown is deterministic for a given store: rows are sorted, numbers have fixed formats,
and the date is the newest ``finished_at`` of a finished run, never the wall clock. Candidates
are compared only within a comparison group (one dataset, rung, epoch budget and config; see
:mod:`archlab.report.analysis`). The rules that
decide which runs are averaged live in :mod:`archlab.report.analysis`; each section's wording in
:mod:`archlab.report.sections`; the figures in :mod:`archlab.report.plots`. This module loads the
store, writes the header and puts the sections together (:func:`render`, :func:`write_report`).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from archlab._version import __version__
from archlab.errors import ArchlabError
from archlab.report import analysis, families, recipe, sections, verdict_section
from archlab.report.formats import cell, md_table
from archlab.report.output import atomic_output_dir
from archlab.report.sections import FIGURES
from archlab.space import spec_from_dict
from archlab.store import Store

__all__ = ["FIGURES", "load", "md_table", "render", "write_report"]

# Files the sections write under figures/; stale ones from an earlier report are removed.
_OURS = re.compile(
    r"^(error-vs-(macs|params)(-\d+)?|curves(-\d+){1,2}|cardinality-vs-width(-\d+){1,2}|"
    r"edf(-\d+)?|budget-ranking-\d+|verdict-[\w.-]+)\.(png|svg)$"
)


def _distinct(values: Any, *, width: int | None = None) -> str:
    items = sorted({str(v)[:width] if width else str(v) for v in values if not pd.isna(v)})
    return ", ".join(items) if items else "not stored"


def _dataset(config_json: str | None) -> str | None:
    """The dataset name a run's stored config names ('digits', 'cifar10', ...)."""
    try:
        config = json.loads(config_json or "{}")
    except json.JSONDecodeError:
        return None
    data = config.get("data")
    if isinstance(data, dict) and data.get("name"):
        return str(data["name"])
    return str(config["dataset"]) if config.get("dataset") else None


def _date(results: pd.DataFrame) -> str:
    """The newest ``finished_at`` of a *finished* run; failed or diverged runs do not count."""
    stamps = []
    for value in results.loc[results["status"] == "finished", "finished_at"].dropna():
        try:
            stamp = datetime.fromisoformat(str(value))
        except ValueError:
            continue
        stamps.append(stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc))
    if not stamps:
        return "no finished run"
    newest = max(stamps).astimezone(timezone.utc)
    return f"{newest:%Y-%m-%d %H:%M:%S} UTC (the newest finished run, not when this was written)"


def _commits_line(results: pd.DataFrame) -> list[str]:
    """A warning line when the runs come from more than one git commit (older runs, stored
    before archlab recorded the commit, count as ``unknown``); none for a single commit."""
    commits = [str(c)[:12] if not pd.isna(c) and c else "unknown" for c in results["git_commit"]]
    counts = pd.Series(commits, dtype=object).value_counts()
    if len(counts) < 2:
        return []
    ordered = sorted(counts.items(), key=lambda kv: (kv[0] == "unknown", -kv[1], kv[0]))
    listed = ", ".join(f"{c} ({n} run{'s' * (n != 1)})" for c, n in ordered)
    return [
        f"- **warning: runs from {len(counts)} commits**: {listed}; differences between runs "
        "may come from the code as well as the design"
    ]


def _header(title: str, command: str, results: pd.DataFrame) -> list[str]:
    lines = [f"# {title}", "", f"Regenerate with: `{command}`", ""]
    if results.empty:
        return [*lines, f"- archlab: {__version__}", "", "No runs yet: the store is empty."]
    show_rung = analysis.shows_rung(results)
    budgets = sorted(
        {(int(r), b) for r, b in zip(results["rung"], results["budget_epochs"], strict=True)},
        key=lambda rb: analysis.budget_sort_key(*rb),
    )
    n_cand = results["candidate_id"].nunique()
    return [
        *lines,
        f"- archlab: {__version__} (this report); runs by archlab "
        f"{_distinct(results['archlab_version'])} at git commit "
        f"{_distinct(results['git_commit'], width=12)}",
        *_commits_line(results),
        f"- torch: {_distinct(results['torch_version'])}; device: {_distinct(results['device'])}",
        f"- dataset: {_distinct(results['dataset'])}; budget: "
        + ", ".join(analysis.budget_label(r, b, show_rung=show_rung) for r, b in budgets),
        f"- date: {_date(results)}",
        recipe.recipe_line(
            list(results.get("config_json", pd.Series(dtype=object))), list(results["device"])
        ),
        f"- runs: {len(results)} ({analysis.status_text(results['status'])}) of {n_cand} "
        f"candidate{'s' * (n_cand != 1)}",
        *recipe.near_chance_line(results),
    ]


# --------------------------------------------------------------------------- entry point


def _spec_columns(store: Store) -> dict[int, tuple[int | None, int | None, str | None]]:
    """Per candidate id: classes, input size and Fig. 7 family key from its stored spec."""
    out: dict[int, tuple[int | None, int | None, str | None]] = {}
    for cid, text in store.candidate_specs().items():
        try:
            spec = spec_from_dict(json.loads(text)).to_dict()
        except (ValueError, TypeError):  # an older store's placeholder spec, or none
            out[int(cid)] = (None, None, None)
            continue
        out[int(cid)] = (spec["num_classes"], spec["input_size"], families.family_key(spec))
    return out


def load(store_path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The store's results, with each run's dataset and each candidate's spec facts, and epochs."""
    with Store(store_path, create=False, read_only=True) as store:
        results = store.results_frame()
        epochs = store.epochs_frame()
        configs = {r.id: r.config_json for r in store.runs()}
        specs = _spec_columns(store)
    results["dataset"] = [_dataset(configs.get(int(i))) for i in results["run_id"]]
    results["config_json"] = [configs.get(int(i)) for i in results["run_id"]]
    facts = [specs.get(int(c), (None, None, None)) for c in results["candidate_id"]]
    results["num_classes"] = pd.array([f[0] for f in facts], dtype="Int64")
    results["input_size"] = pd.array([f[1] for f in facts], dtype="Int64")
    results["family_key"] = [f[2] for f in facts]
    return results, epochs


def render(
    results: pd.DataFrame,
    epochs: pd.DataFrame,
    out_dir: Path,
    *,
    command: str,
    title: str = "archlab report",
) -> str:
    """The report's markdown; writes its figures under ``out_dir``/figures as a side effect."""
    lines = _header(title, command, results)
    if results.empty:
        return "\n".join(lines) + "\n"
    results = analysis.with_extra_columns(results)
    show = sections.Show(
        rung=analysis.shows_rung(results),
        dataset=results["dataset"].map(cell).nunique() > 1,
        config=analysis.shows_config(results),
    )
    settings = analysis.settings_frame(results)
    groups = analysis.comparison_groups(settings)
    parts = [
        sections.candidates_section(analysis.candidate_results(results), show),
        sections.failures_section(results, show),
        sections.complexity_section(out_dir, groups, show),
        sections.curves_section(out_dir, settings, epochs),
        sections.families_section(out_dir, groups),
        sections.edf_section(out_dir, settings),
        sections.ranking_section(out_dir, settings, show),
    ]
    for part in parts:  # each section is a list of lines; a blank line between sections
        lines += ["", *part]
    return "\n".join(lines) + "\n"


def write_report(
    store_path: str | Path, out_dir: str | Path, *, command: str, title: str = "archlab report"
) -> Path:
    """Write ``out_dir``/report.md and its figures (PNG and SVG) for a results store."""
    results, epochs = load(store_path)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ArchlabError(f"report folder {str(out)!r} is a file, not a directory")
    try:  # staged beside out and swapped in whole: a failed report leaves the old one intact
        with atomic_output_dir(out, replaces=lambda p: bool(_OURS.match(p.name))) as staging:
            text = render(results, epochs, staging, command=command, title=title)
            text = verdict_section.with_verdict(text, store_path, staging)  # studies open it
            (staging / "report.md").write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ArchlabError(f"cannot write the report to {str(out)!r}: {exc.strerror}") from None
    return out / "report.md"

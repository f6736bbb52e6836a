"""`archlab report`: one markdown page, with figures, of what a results store holds.

The markdown is deterministic for a given store: rows are sorted, numbers have fixed formats,
and the date is the newest ``finished_at`` in the store, never the wall clock. The rules that
decide which runs are averaged live in :mod:`archlab.analysis`; the figures in
:mod:`archlab.plots`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import archlab
from archlab import analysis, plots
from archlab.errors import ArchlabError
from archlab.store import Store

FIGURES = "figures"
CURVES_PER_FIGURE = 6  # more lines than this on one axes stop being readable
MAX_SCATTERS = 3
# Files this module writes under figures/; stale ones from an earlier report are removed.
_OURS = re.compile(
    r"^(error-vs-(macs|params)|curves-\d+|cardinality-vs-width-\d+|edf|budget-ranking-\d+)"
    r"\.(png|svg)$"
)
DASH = "—"
CANDIDATE_HEADER = ("candidate", "C", "d", "depth", "group width", "MACs (M)", "params", "acts",
                    "images/s", "budget", "val error (%)", "test error (%)", "runs")  # fmt: skip
RANK_HEADER = ("short budget", "long budget", "candidates", "Kendall τ", "Spearman ρ")


# --------------------------------------------------------------------------- formats


def pct(mean: float, std: float, n: int) -> str:
    """An error fraction as '12.34 ± 0.56 (n=2)' percent; '—' without finished runs."""
    if n == 0 or pd.isna(mean):
        return DASH
    if n == 1 or pd.isna(std):
        return f"{100 * mean:.2f} (n={n})"
    return f"{100 * mean:.2f} ± {100 * std:.2f} (n={n})"


def millions(value: Any) -> str:
    """A count in millions with 2 decimals."""
    return DASH if value is None or pd.isna(value) else f"{float(value) / 1e6:,.2f}"


def integer(value: Any) -> str:
    """An exact integer with thousands separators."""
    return DASH if value is None or pd.isna(value) else f"{int(value):,}"


def cell(text: Any) -> str:
    """Table-safe text: no pipes or newlines."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return DASH
    return str(text).replace("|", "\\|").replace("\n", " ").strip() or DASH


def md_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()
) -> str:
    """A GitHub markdown table; columns in ``right`` are right-aligned."""
    align = ["---:" if i in right else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


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


def _date(finished: pd.Series) -> str:
    stamps = []
    for value in finished.dropna():
        try:
            stamp = datetime.fromisoformat(str(value))
        except ValueError:
            continue
        stamps.append(stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc))
    if not stamps:
        return "no run has finished"
    newest = max(stamps).astimezone(timezone.utc)
    return f"{newest:%Y-%m-%d %H:%M:%S} UTC (the newest finished run, not when this was written)"


# --------------------------------------------------------------------------- sections


def _header(title: str, command: str, results: pd.DataFrame) -> list[str]:
    lines = [f"# {title}", "", f"Regenerate with: `{command}`", ""]
    if results.empty:
        return [*lines, f"- archlab: {archlab.__version__}", "", "No runs yet: the store is empty."]
    show_rung = bool((results["rung"] != 0).any())
    budgets = sorted(
        {(int(r), b) for r, b in zip(results["rung"], results["budget_epochs"], strict=True)},
        key=lambda rb: analysis.budget_sort_key(*rb),
    )
    statuses = analysis.status_counts(results.assign(candidate_id=0))[0]
    n_cand = results["candidate_id"].nunique()
    return [
        *lines,
        f"- archlab: {archlab.__version__} (this report); runs by archlab "
        f"{_distinct(results['archlab_version'])} at git commit "
        f"{_distinct(results['git_commit'], width=12)}",
        f"- torch: {_distinct(results['torch_version'])}; device: {_distinct(results['device'])}",
        f"- dataset: {_distinct(results['dataset'])}; budget: "
        + ", ".join(analysis.budget_label(r, b, show_rung=show_rung) for r, b in budgets),
        f"- date: {_date(results['finished_at'])}",
        f"- runs: {len(results)} ({statuses}) of {n_cand} candidate{'s' * (n_cand != 1)}",
    ]


def _candidates_section(table: pd.DataFrame, show_rung: bool) -> list[str]:
    rows = [
        [f"`{r.name}`", integer(r.cardinality), integer(r.bottleneck_width), integer(r.depth),
         integer(r.group_width), millions(r.macs), integer(r.params), integer(r.acts),
         DASH if pd.isna(r.images_per_s) else f"{r.images_per_s:,.0f}",
         analysis.budget_label(r.rung, r.budget_epochs, show_rung=show_rung),
         pct(r.val_mean, r.val_std, r.val_n), pct(r.test_mean, r.test_std, r.test_n), r.runs]
        for r in table.itertuples()
    ]  # fmt: skip
    return [
        "## Candidates",
        "",
        "Errors are the last epoch's, in percent: mean ± sample std over the finished seeds (n) "
        "at each candidate's largest budget with a finished run. d and the group width (C·d) "
        "are the first stage's; images/s is the median training throughput. Runs counts every "
        "run of the candidate at any budget.",
        "",
        md_table(CANDIDATE_HEADER, rows, right=range(1, 9)),
    ]


def _failures_section(results: pd.DataFrame, show_rung: bool) -> list[str]:
    bad = results[results["status"].isin(["diverged", "failed", "interrupted"])]
    lines = ["## Failed, diverged and interrupted runs", ""]
    if bad.empty:
        return [*lines, "None."]
    bad = bad.sort_values(["name", "rung", "budget_epochs", "seed", "run_id"], kind="mergesort")
    rows = [
        [f"`{r.name}`", str(r.seed), analysis.budget_label(r.rung, r.budget_epochs,
         show_rung=show_rung), r.status, str(r.epochs), cell(r.reason)]
        for r in bad.itertuples()
    ]  # fmt: skip
    header = ["candidate", "seed", "budget", "status", "epochs done", "reason"]
    return [*lines, md_table(header, rows, right=[1, 4])]


def _figure(out: Path, stem: str, fig: Any, alt: str) -> str:
    plots.save(fig, out / FIGURES / stem)
    return f"![{alt}]({FIGURES}/{stem}.png) ([SVG]({FIGURES}/{stem}.svg))"


def _complexity_section(out: Path, done: pd.DataFrame) -> list[str]:
    lines = ["## Error vs complexity", ""]
    done = done[(done["macs"].fillna(0) > 0) & (done["params"].fillna(0) > 0)]
    if done.empty:
        return [*lines, "Not drawn: no candidate has a finished run and stored complexity."]
    front = analysis.pareto_mask(done["macs"], done["val_mean"])
    err, std, names = 100 * done["val_mean"], 100 * done["val_std"], list(done["name"])
    fig = plots.error_vs_complexity(done["macs"] / 1e6, err, std, names, front=front,
                                    xlabel="MACs (millions, log scale)",
                                    title="Validation error vs MACs")  # fmt: skip
    lines += [_figure(out, "error-vs-macs", fig, "validation error vs MACs"), ""]
    fig = plots.error_vs_complexity(done["params"] / 1e6, err, std, names,
                                    xlabel="parameters (millions, log scale)",
                                    title="Validation error vs parameters")  # fmt: skip
    lines += [_figure(out, "error-vs-params", fig, "validation error vs parameters"), ""]
    on_front = done[front].sort_values(["macs", "val_mean", "name"], kind="mergesort")
    rows = [
        [f"`{r.name}`", millions(r.macs), integer(r.params), pct(r.val_mean, r.val_std, r.val_n)]
        for r in on_front.itertuples()
    ]
    return [
        *lines,
        "### Pareto front: validation error vs MACs",
        "",
        "Candidates no other candidate beats on both MACs and mean validation error (circled "
        "in the first figure), by MACs:",
        "",
        md_table(["candidate", "MACs (M)", "params", "val error (%)"], rows, right=[1, 2]),
    ]


def _curves_section(out: Path, curves: list[analysis.Curve]) -> list[str]:
    lines = ["## Training curves", ""]
    if not curves:
        return [*lines, "Not drawn: no finished run has stored epochs."]
    lines += [
        "Train (dashed) and validation (solid) error per epoch, mean over the finished "
        "seeds at the reported budget (the paper's Fig. 5 view).",
        "",
    ]
    chunks = [curves[i : i + CURVES_PER_FIGURE] for i in range(0, len(curves), CURVES_PER_FIGURE)]
    for k, chunk in enumerate(chunks, 1):
        part = f" ({k} of {len(chunks)})" if len(chunks) > 1 else ""
        data = [(c.name, c.epochs, 100 * c.train_error, 100 * c.val_error) for c in chunk]
        fig = plots.training_curves(data, title="Training curves" + part)
        lines += [_figure(out, f"curves-{k}", fig, "training curves" + part), ""]
    return lines[:-1]


def _families_section(out: Path, done: pd.DataFrame) -> list[str]:
    lines = ["## Cardinality vs width", ""]
    rule = (
        "Families come from the data (Fig. 7): per template, depth and width multiplier, "
        'the baseline is the C = 1 candidate with the smallest d; "more cardinality" is '
        'every candidate with the baseline\'s d, "more width" every C = 1 candidate. Drawn '
        "when both families have at least 2 finished members."
    )
    found = analysis.families(done)
    if not found:
        return [*lines, rule, "", "Not drawn: the store has no such pair of families."]
    lines += [rule, ""]
    for k, fam in enumerate(found, 1):
        families = (fam.cardinality, fam.width)
        data = [(g["params"], 100 * g["val_mean"], list(g["name"])) for g in families]
        fig = plots.cardinality_vs_width(*data, title=f"Cardinality vs width: {fam.label}")
        lines += [_figure(out, f"cardinality-vs-width-{k}", fig, "cardinality vs width"), ""]
        rows = [
            [which, f"`{r.name}`", integer(r.cardinality), integer(r.bottleneck_width),
             integer(r.params), pct(r.val_mean, r.val_std, r.val_n)]
            for which, g in (("more cardinality", fam.cardinality), ("more width", fam.width))
            for r in g.itertuples()
        ]  # fmt: skip
        header = ["family", "candidate", "C", "d", "params", "val error (%)"]
        lines += [
            f"{fam.label}; baseline `{fam.baseline}`.",
            "",
            md_table(header, rows, right=[2, 3, 4]),
            "",
        ]
    return lines[:-1]


def _edf_section(out: Path, settings: pd.DataFrame) -> list[str]:
    lines = ["## Error EDF", ""]
    groups = analysis.edf_groups(settings)
    if not groups:
        return [
            *lines,
            f"Not drawn: needs at least {analysis.EDF_MIN_CANDIDATES} finished "
            "candidates of one design space (template and dataset) at one budget.",
        ]
    weighted = [(g, analysis.complexity_weights(g.macs)) for g in groups]
    fig = plots.edf_figure([(g.label, 100 * g.errors, w) for g, w in weighted])
    lines += [
        "EDF(e) = fraction of candidates with mean validation error below e (Radosavovic et al. "
        "2019). The normalised EDF weights each candidate 1/(candidates in its MACs bin)/(bins), "
        "with 5 log-spaced bins, so a space is not judged by where its samples crowd.",
        "",
        _figure(out, "edf", fig, "error EDF"),
        "",
    ]
    rows = [
        [cell(g.label), str(len(g.errors)), f"{100 * g.errors.min():.2f}",
         f"{100 * np.median(g.errors):.2f}"]
        for g in groups
    ]  # fmt: skip
    lines.append(md_table(["design space", "n", "best (%)", "median (%)"], rows, right=[1, 2, 3]))
    pairs = [(a, b) for i, a in enumerate(weighted) for b in weighted[i + 1 :]]
    if pairs:
        rows = [
            [cell(a.label), cell(b.label), f"{analysis.ks_statistic(a.errors, b.errors):.3f}",
             f"{analysis.ks_statistic(a.errors, b.errors, wa, wb):.3f}"]
            for (a, wa), (b, wb) in pairs
        ]  # fmt: skip
        lines += ["", md_table(["space A", "space B", "KS", "KS (normalised)"], rows, [2, 3])]
    return lines


def _ranking_section(out: Path, settings: pd.DataFrame) -> list[str]:
    lines = ["## Short vs long budget", ""]
    agreement = analysis.rank_agreement(settings)
    if agreement.empty:
        return [
            *lines,
            f"Not computed: needs at least {analysis.RANK_MIN_CANDIDATES} candidates "
            "with finished runs at two budgets.",
        ]
    rows = [
        [r.short, r.long, str(r.n), f"{r.kendall_tau:.3f}", f"{r.spearman_rho:.3f}"]
        for r in agreement.itertuples()
    ]
    lines += [
        "Does the short run rank candidates like the long one? Kendall τ and Spearman ρ of the "
        "mean validation errors of the candidates finished at both budgets (1 = same order).",
        "",
        md_table(RANK_HEADER, rows, right=[2, 3, 4]),
    ]
    for k, r in enumerate(agreement.head(MAX_SCATTERS).itertuples(), 1):
        fig = plots.budget_scatter(
            100 * np.asarray(r.short_errors), 100 * np.asarray(r.long_errors), list(r.names),
            xlabel=f"validation error (%), {r.short}", ylabel=f"validation error (%), {r.long}",
            title=f"Short vs long budget (Kendall τ = {r.kendall_tau:.3f})",
        )  # fmt: skip
        lines += ["", _figure(out, f"budget-ranking-{k}", fig, "short vs long budget errors")]
    return lines


# --------------------------------------------------------------------------- entry point


def load(store_path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The store's results (with a ``dataset`` column from each run's config) and epochs."""
    with Store(store_path, create=False) as store:
        results = store.results_frame()
        epochs = store.epochs_frame()
        datasets = {r.id: _dataset(r.config_json) for r in store.runs()}
    results["dataset"] = [datasets.get(int(i)) for i in results["run_id"]]
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
    show_rung = bool((results["rung"] != 0).any())
    settings = analysis.settings_frame(results)
    table = analysis.candidate_results(results)
    done = table[table["val_n"] > 0]
    sections = [
        _candidates_section(table, show_rung),
        _failures_section(results, show_rung),
        _complexity_section(out_dir, done),
        _curves_section(out_dir, analysis.mean_curves(results, epochs, done)),
        _families_section(out_dir, done),
        _edf_section(out_dir, settings),
        _ranking_section(out_dir, settings),
    ]
    for section in sections:
        lines += ["", *section]
    return "\n".join(lines) + "\n"


def write_report(
    store_path: str | Path, out_dir: str | Path, *, command: str, title: str = "archlab report"
) -> Path:
    """Write ``out_dir``/report.md and its figures (PNG and SVG) for a results store."""
    results, epochs = load(store_path)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ArchlabError(f"--out {str(out)!r} is a file, not a directory")
    figures = out / FIGURES
    path = out / "report.md"
    try:
        if figures.is_dir():
            for stale in figures.iterdir():
                if _OURS.match(stale.name):
                    stale.unlink()
        out.mkdir(parents=True, exist_ok=True)
        text = render(results, epochs, out, command=command, title=title)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ArchlabError(f"cannot write the report to {str(out)!r}: {exc.strerror}") from None
    return path

"""`archlab report`: one markdown page, with figures, of what a results store holds.

The markdown is deterministic for a given store: rows are sorted, numbers have fixed formats,
and the date is the newest ``finished_at`` of a finished run, never the wall clock. Candidates
are compared only within a comparison group (one dataset, rung, epoch budget and config; see
:mod:`archlab.report.analysis`). The rules that
decide which runs are averaged live in :mod:`archlab.report.analysis`; the figures in
:mod:`archlab.report.plots`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import archlab
from archlab.errors import ArchlabError
from archlab.report import analysis, edf, plots, verdict_section
from archlab.space import spec_from_dict
from archlab.store import Store

FIGURES = "figures"
CURVES_PER_FIGURE = 6  # more lines than this on one axes stop being readable
MAX_SCATTERS = 3
# Files this module writes under figures/; stale ones from an earlier report are removed.
_OURS = re.compile(
    r"^(error-vs-(macs|params)(-\d+)?|curves(-\d+){1,2}|cardinality-vs-width(-\d+){1,2}|"
    r"edf(-\d+)?|budget-ranking-\d+)\.(png|svg)$"
)
DASH = "—"
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


def _suffix(index: int, count: int) -> str:
    """A figure stem's per-group suffix: none when there is one group, so stems stay stable."""
    return "" if count == 1 else f"-{index}"


@dataclass(frozen=True)
class _Show:
    """Which optional columns and label parts this store needs."""

    rung: bool  # some run is past rung 0
    dataset: bool  # the store has several datasets
    config: bool  # the store has several config keys


# --------------------------------------------------------------------------- sections


def _header(title: str, command: str, results: pd.DataFrame) -> list[str]:
    lines = [f"# {title}", "", f"Regenerate with: `{command}`", ""]
    if results.empty:
        return [*lines, f"- archlab: {archlab.__version__}", "", "No runs yet: the store is empty."]
    show_rung = analysis.shows_rung(results)
    budgets = sorted(
        {(int(r), b) for r, b in zip(results["rung"], results["budget_epochs"], strict=True)},
        key=lambda rb: analysis.budget_sort_key(*rb),
    )
    n_cand = results["candidate_id"].nunique()
    return [
        *lines,
        f"- archlab: {archlab.__version__} (this report); runs by archlab "
        f"{_distinct(results['archlab_version'])} at git commit "
        f"{_distinct(results['git_commit'], width=12)}",
        f"- torch: {_distinct(results['torch_version'])}; device: {_distinct(results['device'])}",
        f"- dataset: {_distinct(results['dataset'])}; budget: "
        + ", ".join(analysis.budget_label(r, b, show_rung=show_rung) for r, b in budgets),
        f"- date: {_date(results)}",
        f"- runs: {len(results)} ({analysis.status_text(results['status'])}) of {n_cand} "
        f"candidate{'s' * (n_cand != 1)}",
    ]


def _candidates_section(table: pd.DataFrame, show: _Show) -> list[str]:
    header = ["candidate", *["dataset"] * show.dataset, "C", "d", "depth", "group width",
              "MACs (M)", "params", "acts", "images/s", "budget", *["config"] * show.config,
              "val error (%)", "test error (%)", "runs"]  # fmt: skip
    rows = [
        [f"`{r.name}`", *[cell(r.dataset)] * show.dataset, integer(r.cardinality),
         integer(r.bottleneck_width), integer(r.depth), integer(r.group_width), millions(r.macs),
         integer(r.params), integer(r.acts),
         DASH if pd.isna(r.images_per_s) else f"{r.images_per_s:,.0f}",
         analysis.budget_label(r.rung, r.budget_epochs, show_rung=show.rung),
         *[f"`{r.config_key}`"] * show.config, pct(r.val_mean, r.val_std, r.val_n),
         pct(r.test_mean, r.test_std, r.test_n), r.runs]
        for r in table.itertuples()
    ]  # fmt: skip
    first = 1 + show.dataset
    return [
        "## Candidates",
        "",
        "One row per candidate and comparison group (the runs of one dataset, rung, epoch "
        "budget and training config), so a candidate trained at several budgets has a row "
        "for each. Errors are the last epoch's, in percent: mean ± sample std over the row's "
        "finished seeds (n). d and the group width (C·d) are the first stage's; images/s is "
        "the median training throughput; runs counts the row's runs by status.",
        "",
        md_table(header, rows, right=range(first, first + 8)),
    ]


def _failures_section(results: pd.DataFrame, show: _Show) -> list[str]:
    bad = results[results["status"].isin(["diverged", "failed", "interrupted"])]
    lines = ["## Failed, diverged and interrupted runs", ""]
    if bad.empty:
        return [*lines, "None."]
    keys = ["name", "dataset", "rung", "budget_epochs", "seed", "run_id"]
    bad = bad.sort_values(keys, kind="mergesort")
    rows = [
        [f"`{r.name}`", *[cell(r.dataset)] * show.dataset, str(r.seed),
         analysis.budget_label(r.rung, r.budget_epochs, show_rung=show.rung), r.status,
         str(r.epochs), cell(r.reason)]
        for r in bad.itertuples()
    ]  # fmt: skip
    header = ["candidate", *["dataset"] * show.dataset, "seed", "budget", "status",
              "epochs done", "reason"]  # fmt: skip
    return [*lines, md_table(header, rows, right=[1 + show.dataset, 4 + show.dataset])]


def _figure(out: Path, stem: str, fig: Any, alt: str) -> str:
    plots.save(fig, out / FIGURES / stem)
    return f"![{alt}]({FIGURES}/{stem}.png) ([SVG]({FIGURES}/{stem}.svg))"


def _complexity_section(
    out: Path, groups: list[analysis.ComparisonGroup], show: _Show
) -> list[str]:
    lines = ["## Error vs complexity", ""]
    if not groups:
        return [
            *lines,
            f"Not drawn: no comparison group (one dataset, budget and config) has "
            f"{analysis.COMPARE_MIN_CANDIDATES} candidates with a finished run and stored "
            "complexity.",
        ]
    lines += [
        "Candidates are compared only with others trained alike: one comparison group is one "
        "dataset, rung, epoch budget and training config. Each group with at least "
        f"{analysis.COMPARE_MIN_CANDIDATES} finished candidates gets its figures and its "
        "Pareto front.",
        "",
    ]
    for g, group in enumerate(groups, 1):
        done, suffix = group.candidates, _suffix(g, len(groups))
        front = analysis.pareto_mask(done["macs"], done["val_mean"])
        err, std, names = 100 * done["val_mean"], 100 * done["val_std"], list(done["name"])
        lines += [f"### {group.label}", ""]
        for column, what, scale, kwargs in (
            ("macs", "MACs", "MACs", {"front": front}),
            ("params", "params", "parameters", {}),
        ):
            fig = plots.error_vs_complexity(
                done[column] / 1e6, err, std, names, xlabel=f"{scale} (millions, log scale)",
                title=f"Validation error vs {scale}: {group.label}", **kwargs,
            )  # fmt: skip
            alt = f"validation error vs {scale}, {group.label}"
            lines += [_figure(out, f"error-vs-{what.lower()}{suffix}", fig, alt), ""]
        on_front = done[front].sort_values(["macs", "val_mean", "name"], kind="mergesort")
        rows = [
            [f"`{r.name}`", analysis.budget_label(r.rung, r.budget_epochs, show_rung=show.rung),
             millions(r.macs), integer(r.params), pct(r.val_mean, r.val_std, r.val_n)]
            for r in on_front.itertuples()
        ]  # fmt: skip
        lines += [
            "#### Pareto front: validation error vs MACs",
            "",
            "The candidates of this group that no other candidate of the group beats on both "
            "MACs and mean validation error (circled in the first figure), by MACs:",
            "",
            md_table(["candidate", "budget", "MACs (M)", "params", "val error (%)"], rows, [2, 3]),
            "",
        ]
    return lines[:-1]


def _curves_section(out: Path, settings: pd.DataFrame, epochs: pd.DataFrame) -> list[str]:
    lines = ["## Training curves", ""]
    # One curve per candidate, at its largest budget, within one dataset (one figure set each).
    chosen = analysis.pick_settings(settings, ["candidate_id", "dataset"])
    per_dataset = []
    for dataset in sorted({cell(d) for d in chosen["dataset"]}):
        mine = chosen[[cell(d) == dataset for d in chosen["dataset"]]]
        curves = analysis.mean_curves(epochs, mine)
        if curves:
            per_dataset.append((dataset if dataset != DASH else "dataset not stored", curves))
    if not per_dataset:
        return [*lines, "Not drawn: no finished run has stored epochs."]
    lines += [
        "Train (dashed) and validation (solid) error per epoch, mean over the finished "
        "seeds, for each candidate at its largest budget with a finished run on that dataset "
        "(the paper's Fig. 5 view).",
        "",
    ]
    for g, (dataset, curves) in enumerate(per_dataset, 1):
        if len(per_dataset) > 1:
            lines += [f"### {dataset}", ""]
        n = CURVES_PER_FIGURE
        chunks = [curves[i : i + n] for i in range(0, len(curves), n)]
        for k, chunk in enumerate(chunks, 1):
            part = f" ({k} of {len(chunks)})" if len(chunks) > 1 else ""
            data = [(c.name, c.epochs, 100 * c.train_error, 100 * c.val_error) for c in chunk]
            fig = plots.training_curves(data, title=f"Training curves on {dataset}{part}")
            stem = f"curves{_suffix(g, len(per_dataset))}-{k}"
            lines += [_figure(out, stem, fig, f"training curves on {dataset}{part}"), ""]
    return lines[:-1]


def _families_section(out: Path, groups: list[analysis.ComparisonGroup]) -> list[str]:
    lines = ["## Cardinality vs width", ""]
    rule = (
        "Families come from the data (Fig. 7), within one comparison group: per template, "
        "depth, width multiplier, classes and input size (every spec property but C and d), "
        'the baseline is the C = 1 candidate with the smallest d; "more cardinality" is every '
        'candidate with the baseline\'s d, "more width" every C = 1 candidate. Drawn when both '
        "families have at least 2 finished members."
    )
    found = [(g, group, analysis.families(group.candidates)) for g, group in enumerate(groups, 1)]
    found = [f for f in found if f[2]]
    if not found:
        return [*lines, rule, "", "Not drawn: the store has no such pair of families."]
    lines += [rule, ""]
    for g, group, fams in found:
        lines += [f"### {group.label}", ""]
        for k, fam in enumerate(fams, 1):
            data = [(f["params"], 100 * f["val_mean"], list(f["name"]))
                    for f in (fam.cardinality, fam.width)]  # fmt: skip
            fig = plots.cardinality_vs_width(*data, title=f"{fam.label}; {group.label}")
            stem = f"cardinality-vs-width{_suffix(g, len(groups))}-{k}"
            alt = f"cardinality vs width, {group.label}"
            lines += [_figure(out, stem, fig, alt), ""]
            rows = [
                [which, f"`{r.name}`", integer(r.cardinality), integer(r.bottleneck_width),
                 integer(r.params), pct(r.val_mean, r.val_std, r.val_n)]
                for which, f in (("more cardinality", fam.cardinality), ("more width", fam.width))
                for r in f.itertuples()
            ]  # fmt: skip
            header = ["family", "candidate", "C", "d", "params", "val error (%)"]
            lines += [
                f"{fam.label}; baseline `{fam.baseline}`.",
                "",
                md_table(header, rows, right=[2, 3, 4]),
                "",
            ]
    return lines[:-1]


def _ks(a: analysis.EdfGroup, b: analysis.EdfGroup) -> list[str]:
    """KS of two spaces' EDFs, plain and normalised on MACs bins shared by the pair."""
    wa, wb = edf.shared_complexity_weights(a.macs, b.macs)
    ks = (
        edf.ks_statistic(a.errors, b.errors),
        edf.ks_statistic(a.errors, b.errors, wa, wb),
    )
    return [f"{k:.3f}" for k in ks]


def _edf_section(out: Path, settings: pd.DataFrame) -> list[str]:
    lines = ["## Error EDF", ""]
    groups = analysis.edf_groups(settings)
    if not groups:
        return [
            *lines,
            f"Not drawn: needs at least {analysis.EDF_MIN_CANDIDATES} finished "
            "candidates of one design space (template) in one comparison group (dataset, "
            "budget and config).",
        ]
    lines += [
        "EDF(e) = fraction of candidates with mean validation error at most e (Radosavovic et "
        "al. 2019), drawn as steps that rise at each candidate's error. The normalised EDF "
        "weights each candidate 1/(its space's candidates in its MACs bin)/(bins its space "
        f"fills), on {edf.NORMALISATION_BINS} log-spaced bins shared by the spaces "
        "compared, so a space is not judged by where its samples crowd. KS compares two spaces "
        "of one comparison group, binned on the edges that pair shares (as compare-spaces does).",
        "",
    ]
    comparisons = list(dict.fromkeys(g.comparison for g in groups))
    for c, comparison in enumerate(comparisons, 1):
        members = [g for g in groups if g.comparison == comparison]
        weights = edf.shared_complexity_weights(*(g.macs for g in members))
        data = [(g.label, 100 * g.errors, w) for g, w in zip(members, weights, strict=True)]
        fig = plots.edf_figure(data)
        stem = f"edf{_suffix(c, len(comparisons))}"
        lines += [f"### {comparison}", "", _figure(out, stem, fig, f"error EDF, {comparison}"),
                  ""]  # fmt: skip
        rows = [
            [cell(g.label), str(len(g.errors)), f"{100 * g.errors.min():.2f}",
             f"{100 * np.median(g.errors):.2f}"]
            for g in members
        ]  # fmt: skip
        header = ["design space", "n", "best (%)", "median (%)"]
        lines += [md_table(header, rows, right=[1, 2, 3]), ""]
        pairs = [(a, b) for i, a in enumerate(members) for b in members[i + 1 :]]
        if pairs:
            rows = [[cell(a.label), cell(b.label), *_ks(a, b)] for a, b in pairs]
            lines += [md_table(["space A", "space B", "KS", "KS (normalised)"], rows, [2, 3]), ""]
    return lines[:-1]


def _rank_text(value: float, constant: bool) -> str:
    return f"{DASH} (constant errors)" if constant else f"{value:.3f}"


def _ranking_section(out: Path, settings: pd.DataFrame, show: _Show) -> list[str]:
    lines = ["## Short vs long budget", ""]
    agreement = analysis.rank_agreement(settings)
    if agreement.empty:
        return [
            *lines,
            f"Not computed: needs at least {analysis.RANK_MIN_CANDIDATES} candidates "
            "with finished runs at two budgets on one dataset.",
        ]
    rows = [
        [*[cell(r.dataset)] * show.dataset, r.short, r.long, str(r.n),
         _rank_text(r.kendall_tau, r.constant), _rank_text(r.spearman_rho, r.constant)]
        for r in agreement.itertuples()
    ]  # fmt: skip
    header = [*["dataset"] * show.dataset, *RANK_HEADER]
    lines += [
        "Does the short run rank candidates like the long one? Kendall τ and Spearman ρ of the "
        "mean validation errors of the candidates finished at both budgets, on one dataset "
        "(1 = same order; undefined when every candidate has the same error at a budget).",
        "",
        md_table(header, rows, right=[i + show.dataset for i in (2, 3, 4)]),
    ]
    for k, r in enumerate(agreement.head(MAX_SCATTERS).itertuples(), 1):
        where = f" on {r.dataset}" if show.dataset else ""
        tau = "constant errors" if r.constant else f"Kendall τ = {r.kendall_tau:.3f}"
        fig = plots.budget_scatter(
            100 * np.asarray(r.short_errors), 100 * np.asarray(r.long_errors), list(r.names),
            xlabel=f"validation error (%), {r.short}", ylabel=f"validation error (%), {r.long}",
            title=f"Short vs long budget{where} ({tau})",
        )  # fmt: skip
        lines += ["", _figure(out, f"budget-ranking-{k}", fig, "short vs long budget errors")]
    return lines


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
        out[int(cid)] = (spec["num_classes"], spec["input_size"], analysis.family_key(spec))
    return out


def load(store_path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The store's results, with each run's dataset and each candidate's spec facts, and epochs."""
    with Store(store_path, create=False) as store:
        results = store.results_frame()
        epochs = store.epochs_frame()
        datasets = {r.id: _dataset(r.config_json) for r in store.runs()}
        specs = _spec_columns(store)
    results["dataset"] = [datasets.get(int(i)) for i in results["run_id"]]
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
    show = _Show(
        rung=analysis.shows_rung(results),
        dataset=results["dataset"].map(cell).nunique() > 1,
        config=analysis.shows_config(results),
    )
    settings = analysis.settings_frame(results)
    groups = analysis.comparison_groups(settings)
    sections = [
        _candidates_section(analysis.candidate_results(results), show),
        _failures_section(results, show),
        _complexity_section(out_dir, groups, show),
        _curves_section(out_dir, settings, epochs),
        _families_section(out_dir, groups),
        _edf_section(out_dir, settings),
        _ranking_section(out_dir, settings, show),
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
        text = verdict_section.with_verdict(text, store_path, out)  # studies open the report
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ArchlabError(f"cannot write the report to {str(out)!r}: {exc.strerror}") from None
    return path

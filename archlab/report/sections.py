"""The sections of the run report: candidates, failures, error vs complexity, training curves,
Fig. 7 families, EDFs and budget rankings, each a list of markdown lines (figures saved beside).

Which runs are averaged and compared is decided in :mod:`archlab.report.analysis`; this module
only words and draws it. :mod:`archlab.report.markdown` puts the sections together.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from archlab.report import analysis, edf, families, plots, rankings
from archlab.report.formats import DASH, cell, integer, md_table, millions, pct

FIGURES = "figures"
CURVES_PER_FIGURE = 6  # more lines than this on one axes stop being readable
MAX_SCATTERS = 3
RANK_HEADER = ("short budget", "long budget", "candidates", "Kendall τ", "Spearman ρ")


def _suffix(index: int, count: int) -> str:
    """A figure stem's per-group suffix: none when there is one group, so stems stay stable."""
    return "" if count == 1 else f"-{index}"


@dataclass(frozen=True)
class Show:
    """Which optional columns and label parts this store needs."""

    rung: bool  # some run is past rung 0
    dataset: bool  # the store has several datasets
    config: bool  # the store has several config keys


def candidates_section(table: pd.DataFrame, show: Show) -> list[str]:
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


def failures_section(results: pd.DataFrame, show: Show) -> list[str]:
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


def complexity_section(out: Path, groups: list[analysis.ComparisonGroup], show: Show) -> list[str]:
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


def curves_section(out: Path, settings: pd.DataFrame, epochs: pd.DataFrame) -> list[str]:
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


def families_section(out: Path, groups: list[analysis.ComparisonGroup]) -> list[str]:
    lines = ["## Cardinality vs width", ""]
    rule = (
        "Families come from the data (Fig. 7), within one comparison group: per template, "
        "depth, width multiplier, classes and input size (every spec property but C and d), "
        'the baseline is the C = 1 candidate with the smallest d; "more cardinality" is every '
        'candidate with the baseline\'s d, "more width" every C = 1 candidate. Drawn when both '
        "families have at least 2 finished members."
    )
    found = [(g, group, families.families(group.candidates)) for g, group in enumerate(groups, 1)]
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


def edf_section(out: Path, settings: pd.DataFrame) -> list[str]:
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
        "EDF(e) = fraction of candidates with mean validation error below e (Radosavovic et "
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


def ranking_section(out: Path, settings: pd.DataFrame, show: Show) -> list[str]:
    lines = ["## Short vs long budget", ""]
    agreement = rankings.rank_agreement(settings)
    if agreement.empty:
        return [
            *lines,
            f"Not computed: needs at least {rankings.RANK_MIN_CANDIDATES} candidates "
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

"""Design-space comparison (Radosavovic et al., "On Network Design Spaces", 2019; pycls).

Sample K candidates from each of two spaces inside one complexity band, train them all with the
same recipe, and compare the spaces by their error EDFs: EDF(e) is the fraction of a space's
candidates with validation error below e, and the Kolmogorov–Smirnov statistic sup |EDF_A − EDF_B|
says how far apart they are. The complexity-normalised variant bins both spaces' candidates by
MACs on one shared set of log-spaced bins and weights each 1/(its space's candidates in the
bin)/(bins that space fills), so neither space wins by where its samples crowd.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from archlab.errors import ArchlabError
from archlab.report import edf, plots
from archlab.report.markdown import FIGURES, md_table
from archlab.report.output import atomic_output_dir
from archlab.search.ranges import Bound
from archlab.search.sampling import DesignSpace, SampleResult, sample_space
from archlab.store import Store


@dataclass(frozen=True)
class SpaceErrors:
    """One space's finished candidates: names, mean final validation errors and MACs."""

    label: str
    names: tuple[str, ...]
    errors: np.ndarray  # fraction
    macs: np.ndarray
    unfinished: tuple[str, ...]  # sampled candidates with no finished run


@dataclass(frozen=True)
class Comparison:
    """Both spaces' EDF inputs and the KS statistics between them."""

    a: SpaceErrors
    b: SpaceErrors
    ks: float
    ks_normalised: float


def sample_both(
    a: DesignSpace,
    b: DesignSpace,
    *,
    samples: int,
    seed: int,
    macs: Bound | None = None,
    params: Bound | None = None,
    acts: Bound | None = None,
) -> tuple[SampleResult, SampleResult]:
    """K specs from each space in one band: the given bounds replace both files' bounds."""
    a = a.with_band(macs=macs, params=params, acts=acts)
    b = b.with_band(macs=macs, params=params, acts=acts)
    if a.band != b.band:
        raise ArchlabError(
            "the two spaces have different complexity bands; give macs, params or acts bounds "
            "so both are sampled in the same band"
        )
    return sample_space(a, samples, seed), sample_space(b, samples, seed)


def _space_errors(label: str, names: list[str], finished: pd.DataFrame) -> SpaceErrors:
    # A finished run without a validation error (NaN) tells nothing about the space.
    scored = finished[finished["name"].isin(names) & finished["val_error"].notna()]
    per = scored.groupby("name", sort=True)
    errors = per["val_error"].mean()
    macs = per["macs"].first()
    done = tuple(errors.index)
    return SpaceErrors(
        label=label,
        names=done,
        errors=errors.to_numpy(dtype=float),
        macs=macs.to_numpy(dtype=float),
        unfinished=tuple(sorted(set(names) - set(done))),
    )


def compare_from_store(
    store_path: str | Path,
    labels: tuple[str, str],
    names: tuple[list[str], list[str]],
    config_key: str,
) -> Comparison:
    """The comparison of two sampled candidate lists from the runs stored under ``config_key``."""
    with Store(store_path, create=False) as store:
        results = store.results_frame()
    runs = results[(results["config_key"] == config_key) & (results["status"] == "finished")]
    a = _space_errors(labels[0], names[0], runs)
    b = _space_errors(labels[1], names[1], runs)
    if a.errors.size == 0 or b.errors.size == 0:
        raise ArchlabError("no finished runs in one of the spaces: nothing to compare")
    wa, wb = edf.shared_complexity_weights(a.macs, b.macs, bins=edf.NORMALISATION_BINS)
    return Comparison(
        a=a,
        b=b,
        ks=edf.ks_statistic(a.errors, b.errors),
        ks_normalised=edf.ks_statistic(a.errors, b.errors, wa, wb),
    )


def render_comparison(c: Comparison, out_dir: Path, *, command: str) -> str:
    """compare.md's text; draws the EDF figure under ``out_dir``/figures."""
    wa, wb = edf.shared_complexity_weights(c.a.macs, c.b.macs, bins=edf.NORMALISATION_BINS)
    fig = plots.edf_figure([(c.a.label, 100 * c.a.errors, wa), (c.b.label, 100 * c.b.errors, wb)])
    plots.save(fig, out_dir / FIGURES / "edf-compare")
    rows = [
        [
            f"`{s.label}`",
            str(s.errors.size),
            str(len(s.unfinished)),
            f"{100 * s.errors.min():.2f}",
            f"{100 * np.median(s.errors):.2f}",
            f"{np.median(s.macs) / 1e6:.2f}",
        ]
        for s in (c.a, c.b)
    ]
    lines = [
        "# Design-space comparison",
        "",
        f"Regenerate with: `{command}`",
        "",
        "EDF(e) = fraction of a space's candidates with validation error below e (mean over "
        "seeds of the last epoch). The complexity-normalised EDF bins both spaces' candidates on "
        f"{edf.NORMALISATION_BINS} shared log-spaced MACs bins and weights each 1/(its space's "
        "candidates in the bin)/(bins that space fills).",
        "",
        f"![error EDFs of both spaces]({FIGURES}/edf-compare.png) "
        f"([SVG]({FIGURES}/edf-compare.svg))",
        "",
        md_table(
            [
                "space",
                "finished",
                "unfinished",
                "best val error (%)",
                "median val error (%)",
                "median MACs (M)",
            ],
            rows,
            right=[1, 2, 3, 4, 5],
        ),
        "",
        f"Kolmogorov–Smirnov statistic: {c.ks:.3f} (EDF), {c.ks_normalised:.3f} "
        "(complexity-normalised EDF).",
    ]
    return "\n".join(lines) + "\n"


def write_comparison(c: Comparison, out_dir: str | Path, *, command: str) -> Path:
    """Write ``out_dir``/compare.md and its figure, swapped in whole when both are written."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ArchlabError(f"comparison folder {str(out)!r} is a file, not a directory")
    # Staged beside out: a comparison killed half-way leaves the old compare.md and figure. Only
    # the EDF figure of the old figures folder is replaced (a report may share the folder).
    ours = re.compile(r"edf-compare\.(png|svg|pdf)$")
    try:
        with atomic_output_dir(out, replaces=lambda p: bool(ours.match(p.name))) as staging:
            text = render_comparison(c, staging, command=command)
            (staging / "compare.md").write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ArchlabError(f"cannot write to {str(out)!r}: {exc.strerror}") from None
    return out / "compare.md"

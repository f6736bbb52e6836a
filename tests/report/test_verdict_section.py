"""The report's Verdict section on a hand-made study: settings in the header, P(best) and seeds
needed explained, intervals clipped to [0, 100] and the figure's axis set by the data."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from archlab.report.verdict_section import data_limits, study_figure, study_lines
from archlab.stats.best import prob_best
from archlab.stats.sequential import FUTILITY, sequential_state
from archlab.stats.study import SeedErrors, StudyOutcome, mean_ci

# A 2-seed study of wildly spread errors, as a new user's first depth-width-cardinality try.
VAL = {"deeper": [2.0, 95.0], "wider": [10.0, 80.0], "C=32": [1.0, 3.0]}


def _arm(label: str) -> dict[str, Any]:
    return {"label": label, "role": label, "matched": True, "cardinality": 1,
            "bottleneck_width": 4, "depth": 29, "value": 1000, "relative_error": 0.01}  # fmt: skip


def _outcome(**extra: Any) -> StudyOutcome:
    definition = {
        "question": "deeper, wider or more cardinality?", "match": "macs", "target": 1000,
        "alpha": 0.05, "rope": 0.5, "seeds": 2, "max_seeds": 10,
        "arms": [_arm(label) for label in VAL], **extra,
    }  # fmt: skip
    state = sequential_state(VAL, n0=2, n_max=10)
    errors = SeedErrors(VAL, {k: list(v) for k, v in VAL.items()}, 1.0, {})
    return StudyOutcome("try", definition, errors, state, prob_best(VAL), None, "time budget")


def test_header_names_test_pairing_and_futility_and_text_explains(tmp_path: Path) -> None:
    text = "\n".join(study_lines(_outcome(), tmp_path))
    assert "alpha 0.05, rope 0.5 points; seeds 2 to 10;" in text
    assert "Hsu" in text and "floored at one validation image" in text
    # A study's seeds are paired unless its definition says otherwise; the split is named.
    assert "Pairing: paired seed differences" in text
    assert "one fixed validation split); validation split: fixed." in text
    assert "corr |" in text and "measured correlation" in text
    assert f"below {FUTILITY:.0%} stops" in text
    # Stopped on time at 2 seeds per arm: 6 runs of the 30 a 10-seed fixed design trains.
    assert "Compute: 6 runs of the tested arms, of the 30 a fixed design of 10 seeds" in text
    assert "(20%)" in text
    assert "P(best) is the probability" in text and "Seeds needed" in text
    # Undecided at 2 seeds: no P(best) of 1.00 beside it, and seeds needed both ways.
    assert "| 1.00 |" not in text
    assert "undecided" in text and " / " in text.split("| A | B |", 1)[1]
    # No look spends alpha at 2 seeds: the interval is shown as —, never as inf or +-100.
    rows = text.split("| A | B |", 1)[1].split("\n\n", 1)[0]
    assert "inf" not in text and "100.00" not in rows and "| — |" in rows
    assert "could not bound it" in text


def test_intervals_are_clipped_and_the_axis_follows_the_data(tmp_path: Path) -> None:
    m, lo, hi = mean_ci(VAL["deeper"])
    assert lo == 0.0 and hi == 100.0 and m == pytest.approx(48.5)
    assert data_limits([1.0, 3.0]) == (0.5, 3.5)
    assert data_limits([0.0, 95.0]) == (0.0, 100.0)
    png = study_figure(_outcome(), tmp_path / "verdict")
    assert png.is_file()


def test_mean_ci_of_one_seed_has_no_interval() -> None:
    m, lo, hi = mean_ci([4.0])
    assert m == 4.0 and math.isnan(lo) and math.isnan(hi)


def test_json_has_no_nan_when_p_best_is_none() -> None:
    import json

    one = {"deeper": [2.0], "wider": [10.0, 80.0], "C=32": [1.0, 3.0]}
    outcome = _outcome()
    outcome = StudyOutcome(
        "try", outcome.definition, outcome.errors, outcome.state, prob_best(one), None, None
    )
    d = outcome.to_dict()
    assert all(a["prob_best"] is None for a in d["arms"])
    json.dumps(d, allow_nan=False)  # a NaN would raise: --json stays valid JSON
    assert d["settings"]["futility"] == FUTILITY and d["settings"]["paired"] is True
    assert all("correlation" in p for p in d["pairs"])  # None at 2 seeds: too few to measure


def test_header_names_an_unpaired_study_and_a_per_seed_split(tmp_path: Path) -> None:
    text = "\n".join(study_lines(_outcome(paired=False), tmp_path))
    assert "Pairing: unpaired" in text
    text = "\n".join(study_lines(_outcome(train={"split": "per-seed"}), tmp_path))
    assert "a per-seed validation split); validation split: per-seed." in text


def test_an_interval_is_clipped_to_the_range_of_a_difference() -> None:
    from archlab.report.verdict_section import _interval

    assert _interval(-234.0, 321.0) == "[-100.00, 100.00]"  # issue 19's [-234, 321]
    assert _interval(-1.5, 2.25) == "[-1.50, 2.25]"
    assert _interval(None, None) == "—"

"""Design-space comparison: shared-bin weights, KS against scipy, and the command end to end."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from archlab.errors import ArchlabError
from archlab.report.compare import sample_both
from archlab.report.edf import shared_complexity_weights
from archlab.search.space_file import parse_space
from archlab.store import Store

Cli = Callable[..., tuple[int, str, str]]

SPACE_A = """
template = "cifar"
depth = 11
cardinality = 1
width_multiplier = 0.25
[bottleneck_width]
sampler = "uniform"
low = 2
high = 24
"""
SPACE_B = """
template = "cifar"
depth = 11
width_multiplier = 0.25
[cardinality]
sampler = "pow2"
low = 2
high = 8
[bottleneck_width]
sampler = "uniform"
low = 1
high = 12
"""


def test_shared_bin_weights_sum_to_one_per_space() -> None:
    a = np.array([1e6, 1.1e6, 5e6, 9e6])
    b = np.array([1e6, 2e6])
    wa, wb = shared_complexity_weights(a, b, bins=2)
    assert wa.sum() == pytest.approx(1) and wb.sum() == pytest.approx(1)
    # a: two models in the low bin, two in the high bin -> 1/2/2 each.
    assert np.allclose(wa, [0.25, 0.25, 0.25, 0.25])
    assert np.allclose(wb, [0.5, 0.5])  # b fills only the low bin, with both its models


def test_sample_both_needs_one_band() -> None:
    a = parse_space(SPACE_A + "\n[band]\nmacs = [1e5, 1e7]\n")
    b = parse_space(SPACE_B)
    with pytest.raises(ArchlabError, match="different complexity bands"):
        sample_both(a, b, samples=2, seed=0)
    ra, rb = sample_both(a, b, samples=3, seed=0, macs=(1e5, 1e7))
    assert len(ra.specs) == len(rb.specs) == 3


def test_compare_spaces_end_to_end(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(SPACE_A)
    (tmp_path / "b.toml").write_text(SPACE_B)
    store, out = tmp_path / "c.db", tmp_path / "cmp"
    code, _, err = cli(
        "compare-spaces", str(tmp_path / "a.toml"), str(tmp_path / "b.toml"), "--samples", "5",
        "--macs", "1e5:2e7", "--epochs", "1", "--limit", "200", "--store", str(store),
        "--out", str(out), "--quiet",
    )  # fmt: skip
    assert code == 0, err
    text = (out / "compare.md").read_text()
    assert (out / "figures" / "edf-compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    frame = Store(store, create=False).results_frame()
    assert len(frame) == 10 and set(frame.status) == {"finished"}
    errors = {name: err for name, err in zip(frame.name, frame.val_error, strict=True)}
    a_err = [errors[n] for n in frame.name if n.startswith("resnext11_1x")]
    b_err = [errors[n] for n in frame.name if not n.startswith("resnext11_1x")]
    ks = stats.ks_2samp(a_err, b_err).statistic
    reported = re.search(r"statistic: ([0-9.]+) \(EDF\)", text)
    assert reported is not None and float(reported.group(1)) == pytest.approx(ks, abs=5e-4)
    assert "--macs 1e5:2e7" in text and "--epochs 1" in text


def test_compare_spaces_bad_input(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(SPACE_A)
    (tmp_path / "bad.toml").write_text("template = [")
    code, _, err = cli("compare-spaces", str(tmp_path / "a.toml"), str(tmp_path / "bad.toml"))
    assert code == 2 and "bad.toml" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("compare-spaces", str(tmp_path / "a.toml"), str(tmp_path / "a.toml"),
                       "--samples", "0")  # fmt: skip
    assert code == 2 and "--samples" in err


def test_nan_errors_count_as_unfinished() -> None:
    import pandas as pd

    from archlab.report.compare import _space_errors

    runs = pd.DataFrame(
        {"name": ["a", "b", "c"], "val_error": [0.1, float("nan"), 0.3], "macs": [1e6, 2e6, 3e6]}
    )
    errors = _space_errors("A", ["a", "b", "c"], runs)
    assert errors.names == ("a", "c") and errors.unfinished == ("b",)
    assert list(errors.errors) == [0.1, 0.3]


def test_compare_spaces_is_a_library_call(tmp_path: Path) -> None:
    import archlab
    from archlab.train.data import load_dataset
    from archlab.workflows.compare_spaces import compare_plan

    for name, text in (("a", SPACE_A), ("b", SPACE_B)):  # narrower, to train in seconds
        (tmp_path / f"{name}.toml").write_text(text.replace("0.25", "0.0625"))
    plan = compare_plan(overrides={
        "compare.space_a": str(tmp_path / "a.toml"), "compare.space_b": str(tmp_path / "b.toml"),
        "compare.samples": 2, "compare.macs": [1e4, 2e7], "compare.out": str(tmp_path / "cmp"),
        "budget.epochs": 1, "data.limit": 100, "output.store": str(tmp_path / "c.db"),
        "execution.device": "cpu", "execution.threads": 1,
    })  # fmt: skip
    result = archlab.compare_spaces(
        plan, command="compare_spaces(test)", data=load_dataset("digits", limit=100)
    )
    assert [r.status for r in result.summary.runs] == ["finished"] * 4
    assert result.comparison.a.errors.size == result.comparison.b.errors.size == 2
    assert 0 <= result.comparison.ks <= 1
    assert "Regenerate with: `compare_spaces(test)`" in result.report.read_text()
    with pytest.raises(ArchlabError, match="samples must be at least 1"):
        compare_plan(
            overrides={"compare.samples": 0, "compare.space_a": "a", "compare.space_b": "b"}
        )


def test_compare_plan_round_trips_and_takes_the_training_options(cli: Cli, tmp_path: Path) -> None:
    args = ["compare-spaces", "a.toml", "b.toml", "--samples", "3", "--macs", "1e5:",
            "--threads", "1", "--workers", "2", "--seeds", "0,1"]  # fmt: skip
    code, printed, err = cli(*args, "--print-config")
    assert code == 0, err
    assert "[compare]" in printed and "threads = 1" in printed and "workers = 2" in printed
    assert "epochs = 4" in printed and 'store = "archlab-runs/compare.db"' in printed
    path = tmp_path / "compare.toml"
    path.write_text(printed)
    code, again, err = cli("compare-spaces", "--config", str(path), "--print-config")
    assert code == 0 and again == printed, err

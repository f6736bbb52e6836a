"""Absurd values refused before any work, naming the bound (issue 12, class 4)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

Cli = Callable[..., tuple[int, str, str]]
TRAIN = ["train-candidates", "--cardinalities", "1", "--depth", "11", "--width-multiplier",
         "0.125"]  # fmt: skip
HUGE = "99999999999999999999"  # above SQLite's 64-bit integers


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("option", "value", "bound"),
    [
        ("--epochs", HUGE, "10,000"),
        ("--epochs", "10001", "10,000"),
        ("--threads", "100000", "1,024"),
        ("--workers", "5000", "1,024"),
        ("--batch-size", "1000000", "65,536"),
        ("--limit", HUGE, "1,000,000,000"),
        ("--run-time-budget", "1e12", "31,622,400"),
        ("--seeds", ",".join(map(str, range(1001))), "1,000"),
    ],
)
def test_train_options_above_their_bound_are_refused(
    cli: Cli, tmp_path: Path, option: str, value: str, bound: str
) -> None:
    store = tmp_path / "runs.db"
    code, _, err = cli(*TRAIN, option, value, "--store", str(store))
    assert code == 2 and f"at most {bound}" in _one_line(err), err
    assert not store.exists() and not (tmp_path / "runs-work").exists()  # before any work


def test_a_toml_plan_is_bounded_the_same(cli: Cli, tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(
        "[budget]\nepochs = 99999999\n[execution]\nthreads = 4\n"
        '[select]\ncardinalities = [1]\ndepth = 11\ntemplate = "cifar"\nwidth_multiplier = 0.125\n'
    )
    code, _, err = cli("train-candidates", "--config", str(plan), "--store", str(tmp_path / "s.db"))
    assert code == 2 and "epochs must be at most 10,000" in _one_line(err), err
    plan.write_text(plan.read_text().replace("epochs = 99999999", "epochs = 1").replace(
        "threads = 4", "threads = 100000"))  # fmt: skip
    code, _, err = cli("train-candidates", "--config", str(plan), "--store", str(tmp_path / "s.db"))
    assert code == 2 and "at most 1,024" in _one_line(err), err


def test_halving_max_epochs_is_bounded(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli(*TRAIN, "--strategy", "halving", "--max-epochs", HUGE,
                       "--store", str(tmp_path / "s.db"))  # fmt: skip
    assert code == 2 and "at most 10,000" in _one_line(err), err


def test_space_sample_is_bounded(cli: Cli) -> None:
    code, _, err = cli("space", "--template", "cifar", "--depth", "11", "--sample", "100000000")
    assert code == 2 and "at most 100,000" in _one_line(err), err


@pytest.mark.parametrize(
    ("args", "bound"),
    [(["--max-seeds", "100000"], "1,000"), (["--epochs", "100000"], "10,000"),
     (["--study-time-budget", "1e12"], "31,622,400"),
     (["--run-time-budget", "1e12"], "31,622,400")],
)  # fmt: skip
def test_study_options_are_bounded(cli: Cli, tmp_path: Path, args: list[str], bound: str) -> None:
    store = tmp_path / "study.db"
    code, _, err = cli("study", "--preset", "cardinality", *args, "--store", str(store))
    assert code == 2 and f"at most {bound}" in _one_line(err), err
    assert not store.exists()

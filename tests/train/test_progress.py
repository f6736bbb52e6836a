"""Progress reporters: bars on a terminal, plain lines off one (a file, a pipe, CI)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from archlab.complexity import totals
from archlab.train.progress import (
    LogReporter,
    NullReporter,
    RichReporter,
    epoch_line,
    make_reporter,
    plain_output,
    plan_lines,
)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")


@pytest.mark.usefixtures("clean_env")
def test_plain_output_off_a_terminal_or_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert plain_output((_Tty(), _Tty())) is False
    assert plain_output((_Tty(), io.StringIO())) is True  # stderr to a file
    assert plain_output((io.StringIO(), _Tty())) is True  # stdout to a file
    monkeypatch.setenv("NO_COLOR", "1")
    assert plain_output((_Tty(), _Tty())) is True
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert plain_output((_Tty(), _Tty())) is True


@pytest.mark.usefixtures("clean_env")
def test_make_reporter_picks_bars_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", _Tty())
    monkeypatch.setattr(sys, "stderr", _Tty())
    assert isinstance(make_reporter(), RichReporter)
    assert isinstance(make_reporter(quiet=True), LogReporter)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert isinstance(make_reporter(), LogReporter)


_METRICS = {
    "epoch": 3,
    "budget_epochs": 12,
    "train_loss": 0.5,
    "train_error": 0.125,
    "val_error": 0.25,
    "test_error": 0.5,
    "images_per_s": 1234.4,
    "wall_s": 2.25,
}

# One finished epoch as epoch_line writes it; a wrapped line would fail to match.
EPOCH_RE = re.compile(
    r"^(?P<label>\S+ seed \d+) epoch (?P<e>\d+)/(?P<n>\d+): loss \d+\.\d{4} "
    r"train err \d+\.\d\d% val err \d+\.\d\d% test err \d+\.\d\d% \d+ img/s \d+\.\ds$"
)


def test_epoch_line_is_one_parseable_line() -> None:
    line = epoch_line("resnext29_2x5d_w0.125 seed 0", _METRICS)
    assert "\n" not in line
    match = EPOCH_RE.match(line)
    assert match is not None and match["e"] == "3" and match["n"] == "12"


def test_log_reporter_writes_one_line_per_epoch_and_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    reporter = LogReporter()
    reporter.start(2)
    reporter.epoch("a seed 0", _METRICS)
    reporter.run_finished("a seed 0", "finished", None)
    reporter.run_finished("b seed 0", "failed", "diverged")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and EPOCH_RE.match(err[0])
    assert err[1:] == ["[1/2] a seed 0: finished", "[2/2] b seed 0: failed (diverged)"]


def test_train_candidates_into_a_file_gives_plain_lines(tmp_path: Path) -> None:
    """The CLI as in `archlab train-candidates ... > log 2>&1`: no bar frames, no wrapping."""
    out_path, err_path = tmp_path / "out.txt", tmp_path / "err.txt"
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS")}
    env["TERM"] = "xterm-256color"  # plain because of the files alone, not the environment
    with out_path.open("w") as out, err_path.open("w") as err:
        code = subprocess.run(
            [sys.executable, "-m", "archlab.cli.main", "train-candidates",
             "--cardinalities", "2", "--width-multiplier", "0.125", "--dataset", "digits",
             "--epochs", "2", "--limit", "120", "--threads", "1",
             "--store", str(tmp_path / "s.db"), "--workdir", str(tmp_path / "wd")],
            stdout=out, stderr=err, env=env, timeout=300, check=False,
        ).returncode  # fmt: skip
    stdout, stderr = out_path.read_text(), err_path.read_text()
    assert code == 0, stderr
    for text in (stdout, stderr):
        assert "\r" not in text and "\x1b" not in text  # no redraws, no colour codes
    assert "━" not in stderr  # no progress-bar frame
    lines = stderr.splitlines()
    # The plan comes first (issue 18): the candidate, seeds, recipe, device and threads, then
    # what the data set holds (docs/data.md).
    plan_end = next(i for i, line in enumerate(lines) if line.startswith("data: digits, ")) + 1
    assert lines[0] == "plan: 1 candidate(s), seeds 0" and "C=2 d=5" in lines[1]
    lines = lines[plan_end:]
    epochs = [m for m in map(EPOCH_RE.match, lines) if m]
    assert [(m["e"], m["n"]) for m in epochs] == [("1", "2"), ("2", "2")]
    assert lines == [m.string for m in epochs[:2]] + [f"[1/1] {epochs[0]['label']}: finished"]
    table = [line for line in stdout.splitlines() if line[:1] in "┏┃┡│└"]
    assert len(table) >= 5 and len({len(line) for line in table}) == 1  # one fixed width
    assert epochs[0]["label"].split()[0] in stdout


def test_rich_reporter_draws_bars_on_a_terminal() -> None:
    from rich.console import Console

    screen = _Tty()
    reporter = RichReporter(Console(file=screen, force_terminal=True, width=160))
    reporter.start(1)
    reporter.run_started("a seed 0", 12, 4, 0)
    for step in range(4):
        reporter.step(0, step, 0.5)
    reporter.epoch("a seed 0", _METRICS)
    reporter.run_finished("a seed 0", "finished", None)
    reporter.close()
    text = screen.getvalue()
    assert "━" in text and "a seed 0 epoch 3/12: loss 0.5000" in text
    assert "a seed 0: finished" in text


def _counters(text: str) -> list[tuple[int, int]]:
    return [(int(d), int(n)) for d, n in re.findall(r"^\[(\d+)/(\d+)\] ", text, re.MULTILINE)]


def test_the_run_counter_spans_batches(capsys: pytest.CaptureFixture[str]) -> None:
    """A study gives one reporter a batch per round: the total grows, done never passes it."""
    reporter = LogReporter()
    for batch in (2, 3):
        reporter.start(batch)
        for i in range(batch):
            reporter.run_finished(f"net seed {i}", "finished", None)
        reporter.close()
    assert _counters(capsys.readouterr().err) == [(1, 2), (2, 2), (3, 5), (4, 5), (5, 5)]


def test_the_bars_count_every_batch() -> None:
    out = io.StringIO()
    reporter = RichReporter(Console(file=out, force_terminal=True, width=100))
    for batch in (2, 3):
        reporter.start(batch)
        for i in range(batch):
            reporter.run_finished(f"net seed {i}", "finished", None)
        reporter.close()
    assert "5/5" in out.getvalue() and "3/2" not in out.getvalue()
    overall = reporter._progress.tasks[0]
    assert (overall.completed, overall.total) == (5, 5) and len(reporter._progress.tasks) == 1


def test_a_study_counts_its_runs_round_after_round(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from archlab.stats import sequential
    from archlab.workflows.study import run_study
    from archlab.workflows.study_plan import resolve_study_plan

    # This tiny study must reach a second round: futility would stop its pair after the first.
    monkeypatch.setattr(sequential, "FUTILITY", 0.0)

    plan = resolve_study_plan(overrides={
        "study.preset": "cardinality", "study.width_multiplier": 0.125, "study.depth": 11,
        "study.cardinalities": [2], "study.min_seeds": 2, "study.max_seeds": 3,
        "budget.epochs": 1, "data.limit": 150, "execution.device": "cpu",
        "execution.threads": 1, "output.store": str(tmp_path / "s.db"),
    })  # fmt: skip
    result = run_study(plan, reporter=LogReporter())
    counters = _counters(capsys.readouterr().err)
    assert [d for d, _ in counters] == list(range(1, len(counters) + 1))
    assert all(done <= total for done, total in counters)
    assert counters[-1] == (result.trained_now, result.trained_now)
    assert len({total for _, total in counters}) >= 2  # more than one round was counted


def test_the_plan_is_its_own_event(capsys: pytest.CaptureFixture[str]) -> None:
    from archlab.space import make_spec
    from archlab.train.config import TrainConfig

    spec = make_spec("cifar", 11, 2, 4, width_multiplier=0.125)
    lines = plan_lines([("C=2", spec)], seeds="0,1", config=TrainConfig(epochs=2),
                       device="cpu", executor="local", threads=1)  # fmt: skip
    assert lines[0] == "plan: 1 candidate(s), seeds 0,1"
    assert lines[1].startswith("  C=2: C=2 d=4 depth 11 MACs ")
    assert lines[-1] == "device cpu, executor local, 1 torch thread(s) per run"
    NullReporter().plan(lines)  # says nothing: reporters that only count messages see none
    LogReporter().plan(lines)
    assert capsys.readouterr().err.splitlines() == lines


def test_the_plan_speaks_plainly_of_one_epoch_and_names_each_spec_once() -> None:
    from archlab.space import make_spec
    from archlab.train.config import TrainConfig

    spec = make_spec("cifar", 11, 2, 4, width_multiplier=0.125)
    lines = plan_lines([(spec.name, spec), ("C=2", spec)], seeds="0", config=TrainConfig(epochs=1),
                       device="cpu", executor="local", threads=1)  # fmt: skip
    assert lines[1] == f"  {spec.name}: C=2 d=4 depth 11 MACs {totals(spec)[0]:,}"
    assert lines[2].endswith(f" ({spec.name})")  # a study's label, then the name it stands for
    assert ", 1 epoch per run," in lines[3]
    more = plan_lines([(spec.name, spec)], seeds="0", config=TrainConfig(epochs=2),
                      device="cpu", executor="local", threads=1)  # fmt: skip
    assert ", 2 epochs per run," in more[2]

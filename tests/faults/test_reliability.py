"""Issue 22's eleven failures, each end to end through the CLI: one line on stderr, exit 2.

A data file never runs code; a plan is typed strictly whether it comes from flags or a file; a
user's model module cannot take over ``count``; SIGTERM says what SIGINT says; a study refuses
what can never decide and names options as the user typed them.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

Cli = Callable[..., tuple[int, str, str]]
TINY = ["--cardinalities", "1,2", "--depth", "11", "--width-multiplier", "0.125", "--limit", "200"]
STUDY = ["--template", "cifar", "--width-multiplier", "0.125", "--depth", "11"]


def _one_line(code: int, out: str, err: str) -> str:
    assert code == 2, (out, err)
    assert "Traceback" not in out + err
    assert len(err.strip().splitlines()) == 1, err
    return err


# --------------------------------------------------------------------------- 1. data files


class _Touch:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.target}",))


def test_a_cifar_batch_that_runs_a_command_is_refused_before_it_runs(
    cli: Cli, tmp_path: Path
) -> None:
    root, victim = tmp_path / "cifar", tmp_path / "pwned"
    root.mkdir()
    batch = {b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 3]}
    for name in ("data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"):
        (root / name).write_bytes(pickle.dumps(batch))
    (root / "data_batch_1").write_bytes(pickle.dumps({**batch, b"data": _Touch(victim)}))
    store = tmp_path / "s.db"
    args = ["--dataset", f"cifar10:{root}", "--epochs", "1", "--store", str(store)]
    err = _one_line(*cli("train-candidates", *TINY, *args))
    assert not victim.exists()
    assert str(root / "data_batch_1") in err and "not a plain CIFAR pickle" in err
    assert not store.exists()


# --------------------------------------------------------------------------- 2. plan types


def _plan_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "plan.toml"
    path.write_text('seeds = [0]\n[select]\nmodels = ["resnext29_8x3d_w0.25"]\n' + body)
    return path


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('[recipe]\namp = "yes"\n', "recipe.amp must be true or false, got 'yes'"),
        ("[budget]\nepochs = 1.5\n", "--epochs must be an integer >= 1"),
        ("[recipe]\nstep_milestones = [2.0]\n", "recipe.step_milestones"),
    ],
)
def test_mistyped_plan_values_are_refused(
    cli: Cli, tmp_path: Path, body: str, fragment: str
) -> None:
    store = tmp_path / "s.db"
    path = _plan_file(tmp_path, body)
    for extra in (["--print-config"], ["--store", str(store)]):
        err = _one_line(*cli("train-candidates", "--config", str(path), *extra))
        assert fragment in err
    assert not store.exists()


def test_an_unknown_key_in_candidates_is_refused(cli: Cli, tmp_path: Path) -> None:
    code, printed, _ = cli("train-candidates", *TINY, "--print-config")
    assert code == 0
    path = tmp_path / "plan.toml"
    path.write_text(printed.replace("[[candidates]]\n", '[[candidates]]\ncolour = "red"\n', 1))
    err = _one_line(*cli("train-candidates", "--config", str(path), "--print-config"))
    assert "unknown key 'colour' in candidates[0]" in err


def test_print_config_refuses_what_training_would(cli: Cli, tmp_path: Path) -> None:
    err = _one_line(*cli("train-candidates", *TINY, "--val-fraction", "0.9", "--print-config"))
    assert "--val-fraction must be a number in (0, 0.5], got 0.9" in err


# --------------------------------------------------------------------------- 3. count --model

MODEL = """
import sys
import torch


class M(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x):  # (N, 4)
        {forward}
        return self.fc(x)
"""


def _model(tmp_path: Path, *, top: str = "", forward: str = "pass") -> str:
    path = tmp_path / "user_model.py"
    path.write_text(top + MODEL.format(forward=forward))
    return f"{path}:M"


@pytest.mark.parametrize(
    ("top", "forward", "fragment"),
    [
        ("import sys\nsys.exit(7)\n", "pass", "called sys.exit(7)"),
        ("", "sys.exit(3)", "its forward called sys.exit(3)"),
        ("raise KeyboardInterrupt\n", "pass", "raised KeyboardInterrupt without an interrupt"),
        ("", "raise KeyboardInterrupt", "raised KeyboardInterrupt"),
    ],
)
def test_a_model_cannot_exit_or_interrupt_count(
    cli: Cli, tmp_path: Path, top: str, forward: str, fragment: str
) -> None:
    ref = _model(tmp_path, top=top, forward=forward)
    err = _one_line(*cli("count", "--model", ref, "--input-shape", "1,4", "--json"))
    assert fragment in err and "user_model.py" in err
    assert "finished epochs" not in err  # a count trains nothing


def test_a_models_prints_go_to_stderr_and_json_stays_valid(cli: Cli, tmp_path: Path) -> None:
    ref = _model(tmp_path, top="print('hello from import')\n", forward="print('in forward')")
    code, out, err = cli("count", "--model", ref, "--input-shape", "1,4", "--json")
    assert code == 0, err
    assert json.loads(out)["name"] == "M"
    assert "hello from import" in err and "in forward" in err and "hello" not in out


def test_an_empty_input_shape_is_refused(cli: Cli, tmp_path: Path) -> None:
    err = _one_line(*cli("count", "--model", _model(tmp_path), "--input-shape", ""))
    assert "--input-shape" in err


# --------------------------------------------------------------------------- 4. the smaller ones


def _epochs_in(store: Path) -> int:
    if not store.exists():
        return 0
    with sqlite3.connect(store, timeout=10) as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM epochs").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def test_sigterm_says_one_line_and_the_rerun_resumes(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    cmd = [sys.executable, "-m", "archlab.cli.main", "train-candidates", "--cardinalities", "1",
           "--depth", "11", "--width-multiplier", "0.125", "--epochs", "6", "--limit", "200",
           "--threads", "1", "--device", "cpu", "--quiet", "--store", str(store)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while _epochs_in(store) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be terminated"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGTERM  # it still dies of SIGTERM (143 in a shell)
    assert err.strip().splitlines()[-1] == (
        "archlab: terminated (SIGTERM); finished epochs are stored, rerun the same command "
        "to resume"
    )
    assert "Traceback" not in err
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        epochs = [e for (e,) in db.execute("SELECT epoch FROM epochs ORDER BY epoch")]
    assert epochs == [1, 2, 3, 4, 5, 6]


def test_a_study_that_can_never_decide_is_refused(cli: Cli, tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    args = [*STUDY, "--preset", "cardinality", "--min-seeds", "1", "--max-seeds", "1"]
    err = _one_line(*cli("study", *args, "--store", str(store)))
    assert "--max-seeds must be at least 2" in err and "two seeds per arm" in err
    assert not store.exists()


# Arms files are matched to the template's default depth (29 for cifar): space solves d there.
SPACE = ["space", "--template", "cifar", "--width-multiplier", "0.125", "--cardinalities", "1,2"]


def _names_file(cli: Cli, tmp_path: Path, *, wrapped: bool) -> Path:
    code, out, _ = cli(*SPACE, "--json")
    assert code == 0
    names = [row["name"] for row in json.loads(out)]
    path = tmp_path / "arms.json"
    path.write_text(json.dumps({"arms": names} if wrapped else names))
    return path


def test_preset_and_arms_together_name_the_options(cli: Cli, tmp_path: Path) -> None:
    arms = _names_file(cli, tmp_path, wrapped=False)
    args = ["--preset", "cardinality", "--arms", str(arms), "--store", str(tmp_path / "s.db")]
    err = _one_line(*cli("study", *args))
    assert "--preset or --arms" in err and "arms_file" not in err


@pytest.mark.parametrize("wrapped", [False, True])
def test_an_arms_file_may_list_names(cli: Cli, tmp_path: Path, wrapped: bool) -> None:
    from archlab.search.arms import file_arms

    by_name = file_arms(_names_file(cli, tmp_path, wrapped=wrapped))
    code, out, _ = cli(*SPACE, "--json")
    assert code == 0
    rows = tmp_path / "rows.json"
    rows.write_text(out)
    assert by_name == file_arms(rows)
    assert [arm.spec.cardinality for arm in by_name.arms] == [1, 2]

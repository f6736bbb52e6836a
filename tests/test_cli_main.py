"""The entry point itself: --version, and inputs that would otherwise end in a traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import pytest

import archlab

Cli = Callable[..., tuple[int, str, str]]


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_names_archlab_and_torch(cli: Cli, flag: str) -> None:
    code, out, err = cli(flag)
    assert code == 0 and err == ""
    assert out.strip() == f"archlab {archlab.__version__} (torch {version('torch')})"
    assert re.fullmatch(r"archlab \d+\.\d+\.\d+ \(torch \S+\)", out.strip())


def test_version_does_not_import_torch() -> None:
    probe = (
        "import sys; from archlab.cli.main import run; code = run(['--version']); "
        "print(code, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "0 False"


def test_version_is_listed_in_help(cli: Cli) -> None:
    code, out, _ = cli("--help")
    assert code == 0 and "--version" in out


def _one_line_exit_2(result: tuple[int, str, str]) -> str:
    code, out, err = result
    assert code == 2, err
    assert "Traceback" not in out + err and len(err.strip().splitlines()) == 1
    return err


def test_deeply_nested_candidates_json_is_one_line(cli: Cli, tmp_path: Path) -> None:
    """json.loads raises RecursionError here; the entry point's last resort turns it into a line."""
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    err = _one_line_exit_2(cli("train-candidates", "--candidates", str(path), "--epochs", "1"))
    assert "nested too deeply" in err
    spec = '{"a": ' * 50_000 + "1" + "}" * 50_000
    path.write_text(f'[{{"spec": {spec}}}]')
    _one_line_exit_2(cli("train-candidates", "--candidates", str(path), "--epochs", "1"))


def test_memory_error_is_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    def exhausted(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr("archlab.workflows.space.enumerate_space", exhausted)
    err = _one_line_exit_2(cli("space", "--cardinalities", "1,2"))
    assert "too large" in err

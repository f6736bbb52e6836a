"""`archlab compare-spaces`: its positional paths (the command's training is tested end to end)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

Cli = Callable[..., tuple[int, str, str]]


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["", "b.toml"], "space_a"),
        (["a.toml", ""], "space_b"),
        (["a.toml", "  "], "space_b"),
        (["", "", "--print-config"], "space_a"),
    ],
)
def test_an_empty_positional_path_is_refused_naming_the_argument(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], name: str
) -> None:
    """Path('') is '.': the line said "cannot read space file '.'" where nothing was typed."""
    monkeypatch.chdir(tmp_path)
    value = argv[0] if name == "space_a" else argv[1]
    code, out, err = cli("compare-spaces", *argv)
    assert (code, out) == (2, "")
    assert err == (
        f"archlab compare-spaces: error: Invalid value for '{name}': the path is empty, "
        f"got {value!r}\n"
    )
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_a_typed_path_arrives_as_typed_and_the_help_still_reads_path(
    cli: Cli, tmp_path: Path
) -> None:
    code, printed, err = cli("compare-spaces", "a.toml", str(tmp_path / "b.toml"), "--print-config")
    assert code == 0, err
    assert f'space_a = "a.toml"\nspace_b = "{tmp_path / "b.toml"}"' in printed
    code, printed, _ = cli("compare-spaces", "--help")
    assert code == 0
    assert "[OPTIONS] [space_a] [space_b]" in printed
    rows = [line for line in printed.splitlines() if re.search(r"\bspace_[ab]\s+<", line)]
    assert [re.findall(r"space_[ab]\s+(<\w+>)", row) for row in rows] == [["<path>"], ["<path>"]]

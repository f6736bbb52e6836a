"""Space files that would exhaust the TOML reader: one ArchlabError, one CLI line, exit 2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from archlab.errors import ArchlabError
from archlab.search.space_file import MAX_SPACE_FILE_BYTES, load_space, parse_space

Cli = Callable[..., tuple[int, str, str]]

_HEAD = 'template = "cifar"\ndepth = 29\nbottleneck_width = 4\n'
NESTED = {
    "arrays": _HEAD + "cardinality = " + "[" * 5000 + "]" * 5000 + "\n",
    "inline tables": _HEAD + "cardinality = " + "{ a = " * 5000 + "1" + " }" * 5000 + "\n",
    "values": _HEAD + "[cardinality]\nvalues = " + "[" * 5000 + "1" + "]" * 5000 + "\n",
}


@pytest.mark.parametrize("case", sorted(NESTED))
def test_deep_nesting_is_an_archlab_error(case: str) -> None:
    with pytest.raises(ArchlabError, match="nested too deeply"):
        parse_space(NESTED[case], "deep.toml")


def test_huge_text_is_refused_before_parsing() -> None:
    text = _HEAD + "cardinality = [" + ", ".join(["1"] * MAX_SPACE_FILE_BYTES) + "]\n"
    with pytest.raises(ArchlabError, match="at most 65,536"):
        parse_space(text, "huge.toml")


def test_huge_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.toml"
    with path.open("w") as f:  # 4 MB of valid TOML comments
        f.write(_HEAD + "cardinality = 1\n")
        f.write(("# " + "x" * 98 + "\n") * 40_000)
    with pytest.raises(ArchlabError, match="bytes; a space file holds at most"):
        load_space(path)


def test_an_ordinary_space_file_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text(_HEAD + "cardinality = [1, 2, 4]\n")
    assert load_space(path).cardinality is not None


@pytest.mark.parametrize("case", [*sorted(NESTED), "huge"])
def test_cli_deep_or_huge_space_file_is_one_line_exit_2(
    cli: Cli, tmp_path: Path, case: str
) -> None:
    path = tmp_path / "space.toml"
    path.write_text(NESTED.get(case) or _HEAD + "x = [" + "1, " * 100_000 + "]\n")
    for args in (
        ("space", "--sample", "3", "--space", str(path)),
        ("compare-spaces", str(path), str(path), "--samples", "2"),
    ):
        code, out, err = cli(*args)
        assert code == 2 and "Traceback" not in out + err
        assert len(err.strip().splitlines()) == 1 and str(path) in err

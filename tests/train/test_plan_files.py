"""Candidates and arms files: contradictions, binary and deeply nested files (issue 12, class 3)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

Cli = Callable[..., tuple[int, str, str]]
SPACE = ["space", "--template", "cifar", "--depth", "11", "--cardinalities", "2,4",
         "--width-multiplier", "0.125", "--json"]  # fmt: skip


@pytest.fixture
def rows(cli: Cli) -> list[dict[str, object]]:
    code, out, err = cli(*SPACE)
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def _train(cli: Cli, path: Path, tmp_path: Path) -> tuple[int, str]:
    store = tmp_path / "runs.db"
    code, _, err = cli("train-candidates", "--candidates", str(path), "--epochs", "1",
                       "--limit", "64", "--store", str(store))  # fmt: skip
    assert not store.exists()  # refused before anything was stored
    return code, err


def _study(cli: Cli, path: Path, tmp_path: Path) -> tuple[int, str]:
    store = tmp_path / "study.db"
    code, _, err = cli("study", "--arms", str(path), "--epochs", "1", "--limit", "64",
                       "--store", str(store))  # fmt: skip
    assert not store.exists()
    return code, err


RUNNERS = [_train, _study]


@pytest.mark.parametrize("run", RUNNERS)
@pytest.mark.parametrize(
    ("field", "value"),
    [("cardinality", 99), ("bottleneck_width", 99), ("depth", 50), ("name", "resnext50_32x4d"),
     ("template", "imagenet"), ("width_multiplier", 1.0), ("group_width", True)],
)  # fmt: skip
def test_a_summary_field_contradicting_the_spec_is_refused_naming_it(
    cli: Cli, tmp_path: Path, rows: list[dict[str, object]], run: Callable[..., tuple[int, str]],
    field: str, value: object,
) -> None:  # fmt: skip
    rows[1][field] = value
    path = tmp_path / "c.json"
    path.write_text(json.dumps(rows))
    code, err = run(cli, path, tmp_path)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"entry 1: {field} is {value!r} but its spec has" in err


@pytest.mark.parametrize("run", RUNNERS)
def test_an_entry_that_is_no_spec_names_the_file_the_entry_and_the_key(
    cli: Cli, tmp_path: Path, run: Callable[..., tuple[int, str]]
) -> None:
    # A name alone is no spec: the line once read "not a valid spec dict: 'stages'".
    path = tmp_path / "c.json"
    path.write_text(json.dumps([{"name": "resnext29_2x5d_w0.125"}]))
    code, err = run(cli, path, tmp_path)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"file '{path}': entry 0: not a valid spec dict: missing key 'stages' (an entry" in err


@pytest.mark.parametrize("run", RUNNERS)
def test_a_binary_file_is_one_line(
    cli: Cli, tmp_path: Path, run: Callable[..., tuple[int, str]]
) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe" + bytes(range(256)))
    code, err = run(cli, path, tmp_path)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert str(path) in err and "not a text file" in err


@pytest.mark.parametrize("run", RUNNERS)
def test_a_deeply_nested_file_is_one_line_naming_it(
    cli: Cli, tmp_path: Path, run: Callable[..., tuple[int, str]]
) -> None:
    path = tmp_path / "c.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    code, err = run(cli, path, tmp_path)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert str(path) in err and "nested too deeply" in err


def test_a_file_that_agrees_with_its_specs_is_accepted(
    tmp_path: Path, rows: list[dict[str, object]]
) -> None:
    from archlab.train.plan import read_candidates

    path = tmp_path / "c.json"
    path.write_text(json.dumps(rows))
    assert [s.name for s in read_candidates(path)] == [r["name"] for r in rows]

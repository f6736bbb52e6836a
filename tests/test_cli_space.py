"""`archlab match-flops` and `archlab space` through the real entry point."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

Cli = Callable[..., tuple[int, str, str]]


def test_match_flops_table(cli: Cli) -> None:
    code, out, err = cli("match-flops", "--cardinality", "32")
    assert code == 0, err
    assert "resnext50_32x4d" in out and "70,144" in out and "69,632" in out


def test_match_flops_json(cli: Cli) -> None:
    code, out, _ = cli(
        "match-flops", "--cardinality", "64", "--depth", "101", "--complexity", "2", "--json"
    )
    data = json.loads(out)
    assert code == 0
    assert (data["cardinality"], data["bottleneck_width"]) == (64, 4)
    assert data["name"] == "resnext101_64x4d"
    assert data["network"]["params"] == 83_455_272


def test_match_flops_inverse(cli: Cli) -> None:
    code, out, _ = cli("match-flops", "--bottleneck-width", "4", "--json")
    assert code == 0 and json.loads(out)["cardinality"] == 32


def test_space_json_and_csv(cli: Cli) -> None:
    code, out, _ = cli("space", "--depth", "50", "--cardinalities", "1,2,4,8,32", "--json")
    rows = json.loads(out)
    assert code == 0
    assert [r["bottleneck_width"] for r in rows] == [64, 40, 24, 14, 4]
    assert rows[0]["spec"]["stages"][0]["w_out"] == 256
    code, out, _ = cli("space", "--depth", "50,101", "--cardinalities", "1,32", "--csv")
    lines = out.strip().splitlines()
    assert code == 0 and lines[0].startswith("name,") and len(lines) == 5


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("match-flops", "--cardinality", "0"), "cardinality"),
        (("match-flops", "--cardinality", "-3"), "cardinality"),
        (("match-flops", "--cardinality", "abc"), "--cardinality"),
        (("match-flops", "--cardinality", "4", "--depth", "51"), "depth 51"),
        (("match-flops", "--cardinality", "4", "--template", "cifar", "--depth", "30"), "9n+2"),
        (("match-flops", "--cardinality", "100000"), "cannot reach"),
        (("match-flops", "--cardinality", "4", "--complexity", "0"), "complexity"),
        (("match-flops",), "exactly one"),
        (("space", "--cardinalities", ""), "--cardinalities"),
        (("space", "--cardinalities", "1,,2"), "--cardinalities"),
        (("space", "--cardinalities", "1,x"), "--cardinalities"),
        (("space", "--macs", "5e9"), "--macs"),
    ],
)
def test_bad_input_is_one_line_exit_2(cli: Cli, args: tuple[str, ...], fragment: str) -> None:
    code, out, err = cli(*args)
    assert code == 2
    assert "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1
    assert fragment in err

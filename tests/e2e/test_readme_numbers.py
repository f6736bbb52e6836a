"""The counter figures of docs/counting.md (once the README's), read from that page and held
against what archlab prints.

The analytic figures are checked on every run; the other tools' figures need full-size models
(ResNet-50 and ResNeXt-50 at 224x224, ResNeXt-29 8x64d with a backward pass), about 15-20 s of
CPU each, so those are ``slow`` (`make test-slow`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from archlab.complexity import complexity
from archlab.measure.speed import training_step_macs
from archlab.presets import get_spec

# The counter figures moved from the README to docs/counting.md (issue 18); the checks did not.
COUNTING = (Path(__file__).parents[2] / "docs" / "counting.md").read_text(encoding="utf-8")
# The counter table's first column, and the key of each tool in `archlab count --json`.
TOOLS = {
    "analytic": "analytic",
    "fvcore `FlopCountAnalysis`": "fvcore",
    "ptflops `backend='aten'`": "ptflops_aten",
    "ptflops `backend='pytorch'`": "ptflops_pytorch",
    "`torch.utils.flop_counter.FlopCounterMode`": "torch",
}
MODELS = ("resnet50", "resnext50_32x4d")  # the table's two number columns, in order


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def counter_table() -> dict[str, dict[str, int]]:
    """``{json key: {model: its own number}}`` from docs/counting.md's counter table."""
    start = COUNTING.index("| counter | its own number, ResNet-50 | its own number, ResNeXt-50")
    table: dict[str, dict[str, int]] = {}
    for line in COUNTING[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        table[TOOLS[cells[0]]] = {m: _number(v) for m, v in zip(MODELS, cells[1:3], strict=True)}
    return table


def training_paragraph() -> dict[str, float]:
    """The figures of docs/counting.md's ``--training`` paragraph on resnext29_8x64d."""
    start = COUNTING.index("`--training` counts one training step")
    text = " ".join(COUNTING[start : COUNTING.index("`--measure`", start)].split())
    raw = re.search(r"forward\+backward = ([\d.]+)×", text)
    corrected = re.search(r"corrected one \(([\d.]+)×, exactly the analytic ([\d,]+) MACs", text)
    assert raw and corrected, text
    return {
        "torch_raw_ratio": float(raw.group(1)),
        "torch_corrected_ratio": float(corrected.group(1)),
        "step_macs": _number(corrected.group(2)),
    }


def test_the_table_lists_every_counter() -> None:
    assert set(counter_table()) == set(TOOLS.values())


@pytest.mark.parametrize("name", MODELS)
def test_readme_analytic_figures(name: str) -> None:
    result = complexity(get_spec(name))
    assert counter_table()["analytic"][name] == result.macs
    params = re.search(r"Parameters agree exactly \(([\d,]+) and ([\d,]+)\)", COUNTING)
    assert params is not None
    assert _number(params.group(MODELS.index(name) + 1)) == result.params


def test_readme_training_step_figure() -> None:
    assert (
        training_paragraph()["step_macs"]
        == training_step_macs(get_spec("resnext29_8x64d")).step_macs
    )


def _count_json(cli: Callable[..., tuple[int, str, str]], *args: str) -> dict:  # type: ignore[type-arg]
    code, out, err = cli("count", *args, "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_readme_counter_table(cli: Callable[..., tuple[int, str, str]], name: str) -> None:
    """Each tool's own number and its conversion, as `archlab count NAME --json` prints them."""
    printed = _count_json(cli, name)
    for tool, numbers in counter_table().items():
        assert printed[tool]["raw"] == numbers[name], tool
        assert printed[tool]["macs"] == printed["analytic"]["macs"], tool  # the last column


@pytest.mark.slow
def test_readme_training_figures(cli: Callable[..., tuple[int, str, str]]) -> None:
    """`archlab count resnext29_8x64d --training --json`, against docs/counting.md's paragraph."""
    printed = _count_json(cli, "resnext29_8x64d", "--training")["training"]
    expected = training_paragraph()
    assert round(printed["torch_raw_ratio"], 2) == expected["torch_raw_ratio"]
    assert printed["torch_corrected_ratio"] == expected["torch_corrected_ratio"]
    assert printed["step_macs"] == printed["torch_corrected_macs"] == expected["step_macs"]

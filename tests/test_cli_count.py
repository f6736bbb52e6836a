"""`archlab count`: exit codes, key output, failure paths."""

from __future__ import annotations

import json

import pytest
import torch
from archlab.cli import count_cmd
from archlab.cli import main as climain

from archlab.measure import counters

if "count" not in {c.name for c in climain.app.registered_commands}:
    count_cmd.register(climain.app)

SMALL = ["-C", "32", "-d", "4", "--width-multiplier", "0.25", "--input-size", "64"]
TINY = ["--template", "cifar", "--depth", "11", "-C", "4", "-d", "4", "--width-multiplier", "0.125"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = climain.run(["count", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_preset_analytic(capsys) -> None:
    code, out, err = run(capsys, "resnext50_32x4d", "--json", "--counters", "analytic")
    assert code == 0 and err == ""
    d = json.loads(out)
    assert d["analytic"]["macs"] == 4_230_480_872 and d["analytic"]["params"] == 25_028_904
    assert (d["name"], d["input_size"], d["mode"]) == ("resnext50_32x4d", 224, "eval")


def test_json_all_counters(capsys) -> None:
    code, out, _ = run(capsys, *SMALL, "--json")
    assert code == 0
    d = json.loads(out)
    keys = {"macs", "params", "acts", "raw", "convention", "skipped", "error"}
    for name in ("analytic", "fvcore", "ptflops_aten", "ptflops_pytorch", "torch"):
        assert set(d[name]) == keys
        assert d[name]["macs"] == d["analytic"]["macs"]
    assert d["name"] == "resnext50_32x1d_w0.25" and d["input_size"] == 64


def test_human_table_training_and_per_layer(capsys) -> None:
    code, out, _ = run(capsys, *TINY, "--counters", "analytic,torch", "--training", "--per-layer")
    assert code == 0
    assert "counted in eval mode" in out
    assert "torch_corrected_macs" in out and "FlopCounterMode counts 2 FLOPs" in out
    assert "layer1.0.conv2" in out and "(other)" in out


def test_json_training_per_layer_and_measure(capsys) -> None:
    args = [*TINY, "--counters", "ptflops", "--training", "--per-layer", "--json"]
    code, out, _ = run(capsys, *args, "--measure", "--device", "cpu", "--batch-size", "2")
    assert code == 0
    d = json.loads(out)
    assert d["training"]["torch_corrected_macs"] == d["training"]["step_macs"]
    assert d["per_layer"][0]["path"] == "conv1" and "ptflops_pytorch" in d["per_layer"][0]
    assert d["speed"]["device"] == "cpu" and d["speed"]["forward_ms"] > 0
    assert "analytic" not in d and "ptflops_aten" in d


def test_failing_counter_reported_in_its_row(capsys, monkeypatch) -> None:
    def boom(ctx):
        raise RuntimeError("boom")

    monkeypatch.setitem(counters.ADAPTERS, "fvcore", boom)
    code, out, _ = run(capsys, *TINY, "--counters", "analytic,fvcore,torch")
    assert code == 0
    assert "RuntimeError: boom" in out and "torch" in out and "analytic" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["resnext51_32x4d"], "unknown model 'resnext51_32x4d'; valid: "),
        (["resnext50_32x4d", "--input-size", "0"], "input_size must be a positive integer"),
        (["resnext50_32x4d", "--input-size", "16"], "input too small"),
        (["resnext50_32x4d", "--counters", "analytic,thop"], "unknown counter 'thop'"),
        (["resnext50_32x4d", "--cardinality", "8"], "not both"),
        ([], "give a preset NAME"),
        (["resnext50_32x4d", "--num-classes", "0"], "num_classes must be a positive integer"),
    ],
)
def test_bad_input_one_line_exit_2(capsys, argv, message) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("archlab: error") and message in err


def test_collapsing_input_fails_before_any_tool(capsys, monkeypatch) -> None:
    def never(*args, **kwargs):
        raise AssertionError("a tool ran")

    monkeypatch.setattr(counters, "build_model", never)
    code, _, err = run(capsys, *SMALL[:-1], "16")
    assert code == 2 and "input too small" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_measure_cuda_without_cuda(capsys) -> None:
    code, _, err = run(capsys, *TINY, "--counters", "analytic", "--measure", "--device", "cuda")
    assert code == 2 and "no CUDA" in err

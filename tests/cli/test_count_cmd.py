"""`archlab count`: exit codes, key output, failure paths."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
import torch
from archlab.cli import count_cmd
from archlab.cli import main as climain

from archlab.measure import counters, registry

if "count" not in {c.name for c in climain.app.registered_commands}:
    count_cmd.register(climain.app)

SMALL = ["-C", "32", "-d", "1", "--width-multiplier", "0.25", "--input-size", "64"]
TINY = ["--template", "cifar", "--depth", "11", "-C", "4", "-d", "1", "--width-multiplier", "0.125"]


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
    keys = {"macs", "params", "acts", "raw", "convention", "skipped", "error", "conversion"}
    keys |= {"difference", "flag"}
    for name in ("analytic", "fvcore", "ptflops_aten", "ptflops_pytorch", "torch"):
        assert set(d[name]) == keys
        assert d[name]["macs"] == d["analytic"]["macs"]
        assert d[name]["difference"] == 0.0 and d[name]["flag"] is None
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
    # the key's device name (SpeedMeter's); it was "cpu" before count --measure used SpeedMeter
    assert d["speed"]["device"].startswith("cpu:") and d["speed"]["forward_ms"] > 0
    low, high = d["speed"]["step_ms_ci"]
    assert low <= d["speed"]["step_ms_per_image"] <= high and d["speed"]["reused"] is False
    assert "analytic" not in d and "ptflops_aten" in d


def test_failing_counter_reported_in_its_row(capsys, monkeypatch) -> None:
    def boom(ctx):
        raise RuntimeError("boom")

    fvcore = dataclasses.replace(registry.COUNTERS["fvcore"], adapter=boom)
    monkeypatch.setitem(registry.COUNTERS, "fvcore", fvcore)
    code, out, _ = run(capsys, *TINY, "--counters", "analytic,fvcore,torch")
    assert code == 0
    assert "RuntimeError: boom" in out and "torch" in out and "analytic" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["resnext51_32x4d"], "unknown model 'resnext51_32x4d' (depth 51 is neither"),
        (["resnext50_32x4d", "--input-size", "0"], "--input-size must be a positive integer"),
        (["resnext50_32x4d", "--input-size", "16"], "input too small"),
        # --input-sizes names itself, not --input-size (which the user did not type)
        (
            ["resnext50_32x4d", "--input-sizes", "32,0"],
            "--input-sizes must be positive integers, got [32, 0]",
        ),
        (["resnext50_32x4d", "--counters", "analytic,thop"], "unknown counter 'thop'"),
        (["resnext50_32x4d", "--cardinality", "8"], "not both"),
        ([], "give a model NAME"),
        (["resnext50_32x4d", "--num-classes", "0"], "--num-classes must be a positive integer"),
    ],
)
def test_bad_input_one_line_exit_2(capsys, argv, message) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("archlab count: error: ") and message in err


def test_collapsing_input_fails_before_any_tool(capsys, monkeypatch) -> None:
    def never(*args, **kwargs):
        raise AssertionError("a tool ran")

    monkeypatch.setattr(counters, "build_model", never)
    code, _, err = run(capsys, *SMALL[:-1], "16")
    assert code == 2 and "input too small" in err


def test_measure_store_says_reused(capsys, tmp_path) -> None:
    args = [*TINY, "--counters", "analytic", "--measure", "--device", "cpu", "--batch-size", "2",
            "--repeats", "1", "--store", str(tmp_path / "s.db")]  # fmt: skip
    code, out, err = run(capsys, *args)
    assert code == 0, err
    assert "train step, ms per image" in out and "reused from" not in out and "kept in" in out
    code, out, err = run(capsys, *args)
    assert code == 0 and "reused from" in out and "float32" in out


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_measure_cuda_without_cuda(capsys) -> None:
    code, _, err = run(capsys, *TINY, "--counters", "analytic", "--measure", "--device", "cuda")
    assert code == 2 and "no CUDA" in err


# --------------------------------------------------------------------------- any model

ZOO = "tests/helpers/zoo_models.py"


def test_model_per_layer_reconciliation_has_a_reason_on_every_differing_row(capsys) -> None:
    args = ["--model", f"{ZOO}:SmallNet", "--input-shape", "1,3,32,32", "--per-layer"]
    code, out, err = run(capsys, *args, "--json")
    assert code == 0 and err == ""
    d = json.loads(out)
    assert d["name"] == "SmallNet" and d["input_shape"] == [1, 3, 32, 32] and "analytic" not in d
    assert set(d["traced"]) >= {"macs", "params", "acts", "skipped"}
    tools = ["fvcore", "ptflops_aten", "ptflops_pytorch", "torch"]
    for row in d["per_layer"]:
        differs = any(row[t] is not None and row[t] != row["traced"] for t in tools)
        assert bool(row["reason"]) == differs, row
    for t in tools:  # each tool converted to the traced convention agrees on this model
        assert d[t]["macs"] == d["traced"]["macs"], t
    code, out, _ = run(capsys, *args)
    assert code == 0
    assert "fvcore counts no bias: one per output element (8,192) fewer MACs" in out
    assert "depthwise" in out and "ConvTranspose2d" in out and "(other)" in out


def test_model_by_module_name_with_kwargs_and_training(capsys) -> None:
    kwargs = '{"in_features": 4, "out_features": 2}'
    code, out, _ = run(capsys, "--model", "torch.nn:Linear", "--model-kwargs", kwargs,
                       "--input-shape", "3,4", "--counters", "traced,torch", "--training",
                       "--json")  # fmt: skip
    assert code == 0
    d = json.loads(out)
    assert d["traced"]["macs"] == 3 * 4 * 2 + 3 * 2 and d["traced"]["params"] == 10
    assert d["torch"]["raw"] == 2 * 3 * 4 * 2
    # a step: forward, weight gradient (no data gradient: the input is the data), bias gradient
    assert d["training"]["step_macs"] == 2 * 3 * 4 * 2 + 2 * 3 * 2
    assert d["training"]["torch_corrected_macs"] == d["training"]["step_macs"]


def test_input_sizes_of_a_preset_need_no_model(capsys, monkeypatch) -> None:
    def never(*args, **kwargs):
        raise AssertionError("a model was built")

    monkeypatch.setattr(counters, "build_model", never)
    code, out, _ = run(capsys, "resnext50_32x4d", "--input-sizes", "64,224", "--json")
    assert code == 0
    rows = json.loads(out)["sizes"]
    assert [r["input_shape"] for r in rows] == [[1, 3, 64, 64], [1, 3, 224, 224]]
    assert rows[1]["macs"] == rows[1]["analytic"] == 4_230_480_872
    assert rows[1]["params"] == rows[0]["params"] == 25_028_904


def test_input_sizes_of_a_model(capsys) -> None:
    args = ["--model", f"{ZOO}:make_net", "--model-kwargs", '{"width": 4}', "--input-shape",
            "1,3,8,8", "--input-sizes", "16,32", "--counters", "traced,torch"]  # fmt: skip
    code, out, _ = run(capsys, *args)
    assert code == 0 and "1x3x16x16" in out and "1x3x32x32" in out and "torch MACs" in out
    code, out, _ = run(capsys, *args, "--json")
    rows = json.loads(out)["sizes"]
    assert all(r["traced"] == r["torch"] == r["macs"] for r in rows)
    assert rows[1]["macs"] > 3 * rows[0]["macs"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "tests/nowhere.py:Net"], "no file 'tests/nowhere.py'"),
        (["--model", "tests/helpers:Net"], "'tests/helpers' is a folder; give a .py file in it"),
        (["--model", "archlab_no_such_pkg.models:Net"], "No module named 'archlab_no_such_pkg'"),
        (["--model", f"{ZOO}:Nope"], "has no attribute 'Nope'"),
        (["--model", f"{ZOO}:NOT_CALLABLE"], "is an int, not callable"),
        (["--model", f"{ZOO}:not_a_module"], "returned an int, not a torch.nn.Module"),
        (["--model", f"{ZOO}"], "PACKAGE.MODULE:CALLABLE"),
        (["--model", f"{ZOO}:SmallNet", "--input-shape", "1,5,32,32"],
         "fails on --input-shape [1, 5, 32, 32]"),
        (["--model", f"{ZOO}:SmallNet", "--input-shape", "1,3,x"], "--input-shape needs"),
        (["--model", f"{ZOO}:SmallNet", "--input-shape", "1,3,0,8"], "--input-shape must be"),
        (["--model", f"{ZOO}:make_net", "--model-kwargs", "{width: 4}"], "--model-kwargs must be"),
        (["--model", f"{ZOO}:make_net", "--model-kwargs", "[4]"], "--model-kwargs must be"),
        (["--model", f"{ZOO}:make_net", "--model-kwargs", '{"depth": 4}'], "unexpected keyword"),
        (["--model", f"{ZOO}:SmallNet", "--counters", "analytic"], "unknown counter 'analytic'"),
        (["resnext50_32x4d", "--model", f"{ZOO}:SmallNet"], "not both"),
        (["resnext50_32x4d", "--input-shape", "1,3,8,8"], "needs --model"),
        (["--model", f"{ZOO}:SmallNet", "--input-sizes", "8", "--per-layer"], "single input"),
        (["resnext50_32x4d", "--input-size", "100000"], "GiB to run"),
        (["--model", f"{ZOO}:SmallNet", "--input-shape", "64,3,60000,60000"], "GiB to run"),
        (["--model", f"{ZOO}:SmallNet", "--input-shape", ""], "--input-shape needs"),
        (["--model", f"{ZOO}:SmallNet", "--depth", "50"], "--model counts any module and --depth"),
        (["resnext50_32x4d", "--device", "cpu"], "--device goes with --measure"),
        (["resnext50_32x4d", "--roofline", "--dtype", "float16"], "--dtype goes with --measure"),
        (["resnext50_32x4d", "--measure", "--dtype", "int8"], "dtype must be one of float32"),
        (["resnext50_32x4d", "--measure", "--repeats", "0"], "repeats must be an integer >= 1"),
        (["resnext50_32x4d", "--measure", "--batch-size", "0"], "--batch-size must be an integer"),
        (["resnext50_32x4d", "--input-sizes", "64", "--input-size", "64"],
         "--input-sizes gives one row per size; --input-size needs a single input"),
        (["--width-multiplier", "0.25", "--counters", ""], "unknown counter ''"),
        ([], "give a model NAME (e.g. resnext50_32x4d), spec options such as --cardinality"),
    ],
)  # fmt: skip
def test_model_bad_input_one_line_exit_2(capsys, argv, message) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("archlab count: error: ") and message in err


def test_model_file_imports_its_siblings_and_import_errors_are_one_line(capsys, tmp_path) -> None:
    (tmp_path / "blocks_sibling.py").write_text("from torch import nn\nWIDTH = 2\n")
    (tmp_path / "net.py").write_text(
        "from blocks_sibling import WIDTH, nn\n\ndef make():\n    return nn.Linear(3, WIDTH)\n"
    )
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom at import')\n")
    code, out, _ = run(capsys, "--model", f"{tmp_path}/net.py:make", "--input-shape", "1,3",
                       "--counters", "traced", "--json")  # fmt: skip
    assert code == 0 and json.loads(out)["traced"]["macs"] == 3 * 2 + 2
    code, out, err = run(capsys, "--model", f"{tmp_path}/broken.py:make")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "RuntimeError: boom at import" in err


# --------------------------------------------------------------------------- roofline, any model

ZOO = "tests/helpers/zoo_models.py"


def test_roofline_json(capsys, tmp_path) -> None:
    fig = tmp_path / "roof"
    code, out, err = run(
        capsys,
        "resnext29_8x16d_w0.25",
        "--roofline",
        "--json",
        "--repeats",
        "1",
        "--batch-size",
        "1",
        "--counters",
        "analytic",
        "--figure",
        str(fig),
    )
    assert code == 0, err
    d = json.loads(out)
    assert d["peak_macs_per_s"] > 0 and d["bandwidth_bytes_per_s"] > 0
    keys = {"name", "kind", "macs", "bytes", "intensity", "ms", "fraction_of_roof"}
    assert d["layers"] and all(keys <= set(x) for x in d["layers"])
    assert {x["kind"] for x in d["layers"]} >= {"stem", "grouped 3x3", "dense 1x1", "fc"}
    assert all(x["intensity"] == x["macs"] / x["bytes"] for x in d["layers"])
    assert (tmp_path / "roof.png").stat().st_size > 0 and (tmp_path / "roof.svg").exists()
    # the measured ceilings (forward, at the input's batch) and each layer's own
    assert [(c["kind"], c["group_width"]) for c in d["ceilings"]][:3] == [
        ("dense 1x1", 128), ("dense 3x3", 128), ("grouped 3x3", 1)]  # fmt: skip
    assert d["ceiling_shape"].endswith("batch 1") and all(
        c["macs_per_s"] > 0 for c in d["ceilings"]
    )
    rates = {(c["kind"], c["group_width"]): c["macs_per_s"] for c in d["ceilings"]}
    by_name = {x["name"]: x for x in d["layers"]}
    assert by_name["layer3.0.conv2"]["ceiling_macs_per_s"] == rates[("grouped 3x3", 64)]
    assert by_name["layer1.0.conv1"]["ceiling_macs_per_s"] == rates[("dense 1x1", 128)]
    assert by_name["fc"]["ceiling_macs_per_s"] == d["peak_macs_per_s"]
    assert all(x["fraction_of_ceiling"] > 0 for x in d["layers"])


@pytest.mark.parametrize(
    ("model", "shape", "extra"),
    [("TinyViT", ["1,3,32,32"], []), ("LSTMNet", ["1,5,8"], []),
     ("TokenNet", ["2,7"], ["--input-dtype", "long"])],
)  # fmt: skip
def test_model_difference_and_flag(capsys, model, shape, extra) -> None:
    args = [a for s in shape for a in ("--input-shape", s)]
    code, out, err = run(capsys, "--model", f"{ZOO}:{model}", *args, *extra, "--json")
    assert code == 0, err
    d = json.loads(out)
    ref = d["traced"]["macs"]
    assert d["traced"]["difference"] == 0.0 and d["traced"]["flag"] is None
    for tool in ("fvcore", "ptflops_aten", "ptflops_pytorch", "torch"):
        e = d[tool]
        assert {"raw", "macs", "conversion", "difference", "flag"} <= set(e)
        if e["macs"] is None:
            continue
        assert e["difference"] == pytest.approx((e["macs"] - ref) / ref, abs=1e-6)
        assert (e["flag"] is None) == (e["macs"] == ref)


def test_lstm_tools_own_numbers_kept(capsys) -> None:
    _, out, _ = run(capsys, "--model", f"{ZOO}:LSTMNet", "--input-shape", "1,5,8", "--json")
    d = json.loads(out)
    # fvcore skips aten::lstm: its converted count adds only the biases of the layers it counted
    assert d["fvcore"]["macs"] - d["fvcore"]["raw"] == 10  # the fc's bias, not the LSTM's
    assert "aten::lstm" in d["fvcore"]["flag"]
    assert "LSTM at its own formula" in d["ptflops_pytorch"]["conversion"]
    assert d["ptflops_pytorch"]["macs"] > 10 * d["ptflops_aten"]["macs"]


def test_model_measure_roofline_two_inputs(capsys, tmp_path) -> None:
    code, out, err = run(capsys, "--model", f"{ZOO}:TwoInputs", "--input-shape", "2,3,8,8",
                         "--input-shape", "2,5", "--measure", "--roofline", "--repeats", "1",
                         "--figure", str(tmp_path / "two.png"), "--json")  # fmt: skip
    assert code == 0, err
    d = json.loads(out)
    assert d["input_shapes"] == [[2, 3, 8, 8], [2, 5]] and d["speed"]["forward_ms"] > 0
    assert d["speed"]["batch"] == 2 and d["speed"]["key"]["shapes"] == [[2, 3, 8, 8], [2, 5]]
    low, high = d["speed"]["latency_ms_ci"]
    assert low <= d["speed"]["latency_ms"] <= high and d["speed"]["train_macs_per_s"] > 0
    for tool in ("fvcore", "ptflops_aten", "ptflops_pytorch", "torch"):  # ptflops takes kwargs
        assert d[tool]["error"] is None and d[tool]["macs"] == d["traced"]["macs"], tool
    assert [x["name"] for x in d["layers"]] == ["conv", "fc"]
    assert (tmp_path / "two.png").exists()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [(["resnext29_8x16d_w0.25", "--roofline", "--repeats", "0"], "repeats"),
     (["resnext29_8x16d_w0.25", "--roofline", "--batch-size", "0"], "--batch-size must"),
     (["--model", f"{ZOO}:TokenNet", "--input-shape", "2,7", "--input-dtype", "long7"],
      "--input-dtype 'long7'"),
     (["--model", f"{ZOO}:SmallNet", "--input-shape", "100000,3,10000,10000", "--measure"],
      "--input-shape"),
     (["resnext29_8x16d_w0.25", "--figure", "x.png"], "--roofline"),
     # a file where the figure's folder would go: one line before any timing (was a traceback)
     (["resnext29_8x16d_w0.25", "--roofline", "--figure", f"{__file__}/fig"],
      f"figure folder '{__file__}' is not a folder")],
)  # fmt: skip
def test_roofline_bad_input(capsys, argv, needle) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and needle in err and len(err.strip().splitlines()) == 1


def test_roofline_human_table(capsys, tmp_path) -> None:
    code, out, err = run(capsys, "--model", f"{ZOO}:TokenNet", "--input-shape", "2,7",
                         "--input-dtype", "long", "--roofline", "--repeats", "1",
                         "--counters", "traced", "--figure", str(tmp_path / "tok"))  # fmt: skip
    assert code == 0, err
    assert "roofline: peak" in out and "fraction of roof" in out and "tok.png" in out
    assert "fraction of ceiling" in out and "measured ceilings" not in out  # no conv: none


def test_roofline_human_table_shows_the_grouped_ceilings(capsys, tmp_path) -> None:
    code, out, err = run(capsys, "resnext29_4x1d_w0.0625", "--roofline", "--repeats", "1",
                         "--batch-size", "1", "--counters", "analytic",
                         "--figure", str(tmp_path / "r"))  # fmt: skip
    assert code == 0, err
    title = "measured ceilings (forward, 128 channels in and out, 16x16 map, batch 1)"
    assert title in " ".join(out.split())  # rich wraps a title to its table's width
    assert re.search(r"grouped 3x3 +│ +64 │", out) and "fraction of peak" in out


def _option_help(command: str, option: str) -> str:
    """The help text typer gives ``archlab COMMAND --OPTION``, as --help prints it."""
    import typer

    group = typer.main.get_command(climain.app)
    params = group.commands[command].params  # type: ignore[attr-defined]
    (param,) = [p for p in params if f"--{option}" in p.opts]
    return str(param.help)


def test_counters_help_lists_exactly_the_registry() -> None:
    text = _option_help("count", "counters")
    listed = re.search(r"Comma list of: ([^;]+);", text)
    assert listed is not None, text
    assert listed.group(1).split(", ") == list(registry.COUNTERS)
    assert "ptflops = ptflops_aten + ptflops_pytorch" in text  # the family name, from the table
    assert "all but analytic" in text  # the spec-only counters, from the table


def test_a_new_counter_shows_up_in_the_help(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = dataclasses.replace(registry.COUNTERS["torch"], name="tripler", alias=None)
    monkeypatch.setitem(registry.COUNTERS, "tripler", entry)
    listed = re.search(r"Comma list of: ([^;]+);", count_cmd.counters_help())
    assert listed is not None and listed.group(1).split(", ")[-1] == "tripler"

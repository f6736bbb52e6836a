"""Counter adapters against the analytic count: exact numbers, reasons, failures, training step."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from archlab.complexity import complexity
from archlab.errors import ArchlabError, SpecError
from archlab.measure import counters, registry
from archlab.measure.counters import count_all
from archlab.measure.reconcile import per_layer_table
from archlab.measure.registry import resolve_counters, spec_counters
from archlab.measure.speed import (
    conv_backward_flop_corrected,
    count_training_step,
    training_step_macs,
)
from archlab.space import make_spec

# ResNeXt-50 32x4d shrunk to a quarter of the widths (C = 32 kept, so conv2 stays grouped).
SMALL = make_spec("imagenet", 50, 32, 1, width_multiplier=0.25)
SMALL_SIZE = 64
# ResNeXt-11 4x4d at an eighth of the widths: one block per stage, CIFAR stem (no max pool).
TINY_CIFAR = make_spec("cifar", 11, 4, 1, width_multiplier=0.125, num_classes=10)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def small_report() -> counters.CountReport:
    return count_all(SMALL, input_size=SMALL_SIZE)


@pytest.fixture(scope="module")
def small_layers() -> tuple:
    return complexity(SMALL, SMALL_SIZE).layers


def _elements(layers: tuple, kind: str, side: str = "out") -> int:
    """Batch-1 elements at the output (or input) of every layer of a kind."""
    if side == "out":
        return sum(r.c_out * r.h_out**2 for r in layers if r.kind == kind)
    return sum(r.c_in * r.h_in**2 for r in layers if r.kind == kind)


# --------------------------------------------------------------------------- totals


def test_every_counter_agrees_with_analytic_macs(small_report, small_layers) -> None:
    a = small_report.result("analytic")
    assert a.macs == sum(r.macs for r in small_layers)
    for r in small_report.results:
        assert r.error is None, r
        assert r.macs == a.macs, r.counter


def test_fvcore_raw_is_conv_linear_plus_bn_and_avgpool(small_report, small_layers) -> None:
    fv, a = small_report.result("fvcore"), small_report.result("analytic")
    k = SMALL.num_classes
    bn, pool = _elements(small_layers, "bn"), _elements(small_layers, "avgpool", "in")
    assert fv.raw == a.macs - k + 2 * bn + pool  # eval mode: BN = 2 x elements, no fc bias
    assert fv.params == a.params
    maxpool_acts = _elements(small_layers, "maxpool")
    assert fv.acts == a.acts - maxpool_acts  # fvcore's acts: conv and fc outputs only
    assert fv.skipped == ("aten::add x16", "aten::max_pool2d x1")  # 16 residual adds


def test_ptflops_and_torch_exact(small_report) -> None:
    a = small_report.result("analytic")
    aten, pt, fc = (small_report.result(c) for c in ("ptflops_aten", "ptflops_pytorch", "torch"))
    assert aten.raw == a.macs and aten.params == a.params
    assert pt.params == a.params and pt.raw > a.macs  # adds BN, ReLU and pooling
    assert fc.raw == 2 * (a.macs - SMALL.num_classes)
    assert "aten.native_batch_norm x53" in fc.skipped and "aten.relu_ x49" in fc.skipped
    assert not any(s.startswith(("aten.view", "aten.t ", "aten.empty")) for s in fc.skipped)


def test_to_dict_keys(small_report) -> None:
    d = small_report.to_dict()
    assert list(d)[:3] == ["name", "input_size", "mode"]
    assert d["mode"] == "eval" and d["input_size"] == SMALL_SIZE
    for name in spec_counters():
        assert set(d[name]) == {"macs", "params", "acts", "raw", "convention", "skipped", "error",
                                "conversion", "difference", "flag"}  # fmt: skip
    assert "training" not in d


# --------------------------------------------------------------------------- per layer


def test_per_layer_reasons_only_where_numbers_differ(small_report) -> None:
    frame = per_layer_table(small_report)
    tools = [c for c in spec_counters() if c != "analytic"]
    assert list(frame.columns) == ["path", "kind", "analytic", *tools, "reason"]
    for row in frame.to_dict(orient="records"):
        differs = any(row[t] is not None and row[t] != row["analytic"] for t in tools)
        assert bool(row["reason"]) == differs, row
    # every tool's column sums to its own headline number
    for t in tools:
        assert sum(frame[t]) == small_report.result(t).raw, t


def test_per_layer_reason_texts(small_report) -> None:
    rows = {r["path"]: r for r in per_layer_table(small_report).to_dict(orient="records")}
    assert rows["layer1.0.conv2"]["reason"] == "FlopCounterMode counts 2 FLOPs per multiply-add"
    assert "fvcore counts BN as 2 x output elements in eval mode" in rows["bn1"]["reason"]
    fc = rows["fc"]["reason"]
    assert "fvcore counts no bias: out_features (1,000) fewer MACs" in fc
    assert "ptflops (aten" not in fc  # its fc number equals the analytic one
    assert rows["maxpool"]["reason"].startswith("ptflops (pytorch backend) counts maxpool")
    assert rows["(other)"]["reason"].startswith("ptflops (pytorch backend) counts ReLU modules")
    assert rows["(other)"]["fvcore"] == 0 and rows["(other)"]["torch"] == 0


def test_fvcore_counts_bn_five_times_in_train_mode() -> None:
    report = count_all(SMALL, input_size=SMALL_SIZE, counters=["fvcore"], train_mode=True)
    assert report.mode == "train"
    bn1 = next(r for r in complexity(SMALL, SMALL_SIZE).layers if r.path == "bn1")
    assert report.result("fvcore").per_layer["bn1"] == 5 * bn1.c_out * bn1.h_out**2
    row = per_layer_table(report).set_index("path").loc["bn1"]
    assert "5 x output elements in train mode" in row["reason"]


def test_cifar_identity_pool_is_reported_skipped() -> None:
    report = count_all(TINY_CIFAR, counters=["analytic", "ptflops", "torch"], per_layer=False)
    a = report.result("analytic").macs
    assert all(r.macs == a for r in report.results)
    assert report.result("ptflops_pytorch").skipped == ("Identity x1",)
    assert report.result("ptflops_aten").per_layer == {}  # per_layer=False skips its extra pass


# --------------------------------------------------------------------------- failures


def test_resolve_counters_aliases_and_unknown() -> None:
    assert resolve_counters(["ptflops", "torch", "ptflops_aten"]) == (
        "ptflops_aten",
        "ptflops_pytorch",
        "torch",
    )
    with pytest.raises(
        ArchlabError, match=r"unknown counter 'flops'; valid: analytic, traced, fvcore"
    ):
        count_all(SMALL, counters=["flops"])
    with pytest.raises(ArchlabError, match="no counters"):
        resolve_counters([])


def test_collapsing_input_raises_before_any_tool(monkeypatch) -> None:
    def never(*args, **kwargs):
        raise AssertionError("a tool ran")

    monkeypatch.setattr(counters, "build_model", never)
    for name, entry in registry.COUNTERS.items():
        monkeypatch.setitem(registry.COUNTERS, name, dataclasses.replace(entry, adapter=never))
    with pytest.raises(SpecError, match="input too small"):
        count_all(SMALL, input_size=16)


def test_a_failing_library_is_reported_in_its_row(monkeypatch) -> None:
    def boom(ctx):
        raise RuntimeError("boom\nsecond line")

    fvcore = dataclasses.replace(registry.COUNTERS["fvcore"], adapter=boom)
    monkeypatch.setitem(registry.COUNTERS, "fvcore", fvcore)
    report = count_all(TINY_CIFAR, counters=["analytic", "fvcore", "torch"], per_layer=False)
    fv = report.result("fvcore")
    assert fv.error == "RuntimeError: boom" and fv.macs is None and fv.convention
    assert report.result("torch").macs == report.result("analytic").macs


def test_train_mode_bn_on_a_1x1_map_fails_in_its_row() -> None:
    # ImageNet template at 32: stage 4 is 1x1, and BN cannot train on one value per channel.
    report = count_all(SMALL, input_size=32, counters=["analytic", "fvcore"], train_mode=True)
    assert report.result("analytic").error is None
    assert "Expected more than 1 value per channel" in report.result("fvcore").error


# --------------------------------------------------------------------------- training step


def _conv_ratio(groups: int, corrected: bool) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    conv = nn.Conv2d(128, 128, 3, padding=1, groups=groups, bias=False)
    x = torch.randn(1, 128, 8, 8, requires_grad=True)
    mapping = {torch.ops.aten.convolution_backward: conv_backward_flop_corrected}
    with FlopCounterMode(display=False, custom_mapping=mapping if corrected else None) as fc:
        conv(x).sum().backward()
    ops = fc.get_flop_counts()["Global"]
    return ops[torch.ops.aten.convolution_backward] / ops[torch.ops.aten.convolution]


def test_flop_counter_mode_overcounts_grouped_weight_gradient() -> None:
    # The trap, on this torch: backward / forward is 2 at groups=1 but 1 + groups at groups=32.
    assert _conv_ratio(1, corrected=False) == 2
    assert _conv_ratio(32, corrected=False) == 33
    assert _conv_ratio(1, corrected=True) == 2
    assert _conv_ratio(32, corrected=True) == 2


def test_training_step_analytic_formula() -> None:
    layers = complexity(TINY_CIFAR).layers
    k = TINY_CIFAR.num_classes
    forward = sum(r.macs for r in layers)
    step = training_step_macs(TINY_CIFAR)
    assert step.forward_macs == forward
    # 3x the bias-free conv/fc MACs, no data gradient for the stem conv, bias forward + gradient
    assert step.step_macs == 3 * (forward - k) - layers[0].macs + 2 * k


@pytest.mark.parametrize("spec", [TINY_CIFAR, SMALL], ids=["cifar-4x", "imagenet-32x"])
def test_corrected_training_count_equals_analytic(spec) -> None:
    size = SMALL_SIZE if spec is SMALL else None
    report = count_all(spec, input_size=size, counters=["analytic"], training_step=True)
    t = report.training
    assert t is not None and t.error is None
    assert t.torch_corrected_macs == t.step_macs
    assert t.torch_forward_flops == 2 * (t.forward_macs - spec.num_classes)
    assert t.torch_raw_flops > t.torch_corrected_flops  # grouped convs overcounted
    assert report.to_dict()["training"]["torch_raw_ratio"] > 3


def test_training_step_failure_is_reported() -> None:
    class Broken(nn.Module):
        def forward(self, x):
            raise RuntimeError("no backward today")

    step = count_training_step(Broken(), torch.zeros(1, 3, 8, 8), training_step_macs(TINY_CIFAR))
    assert step.error == "RuntimeError: no backward today" and step.torch_raw_flops is None


# --------------------------------------------------------------------------- full size, once


def test_resnext50_32x4d_at_224_matches_the_paper_table() -> None:
    # docs/counting.md, "What each counter counts" (torchvision's model, identical structure).
    report = count_all("resnext50_32x4d", per_layer=False)
    raw = {r.counter: r.raw for r in report.results}
    assert raw == {
        "analytic": 4_230_480_872,
        "traced": 4_230_480_872,
        "fvcore": 4_259_381_248,
        "ptflops_aten": 4_230_480_872,
        "ptflops_pytorch": 4_286_878_696,
        "torch": 8_460_959_744,
    }
    assert {r.macs for r in report.results} == {4_230_480_872}
    assert report.result("ptflops_aten").params == 25_028_904


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    ["resnet50", "resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d", "resnext29_16x64d"],
)
def test_full_size_presets_agree_with_ptflops_and_fvcore(name: str) -> None:
    """At their native input size (224 or 32), on real models: `make test-slow`."""
    report = count_all(name, counters=("analytic", "ptflops_aten", "fvcore"), per_layer=False)
    rows = {r.counter: r for r in report.results}
    assert rows["ptflops_aten"].macs == rows["analytic"].macs
    assert rows["fvcore"].macs == rows["analytic"].macs
    assert rows["ptflops_aten"].params == rows["analytic"].params

"""The speed-predictor benchmark: its round-robin timing (fake clock), its goal, its plan and a
tiny real run that writes nothing (times are never asserted)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))  # the scripts import each other as top-level modules

import bench_speed_predictors as bench  # noqa: E402

from archlab.presets import PRESETS  # noqa: E402


def test_round_robin_rotates_the_order_and_drops_the_warmup() -> None:
    order: list[str] = []
    now = [0.0]
    cost = {"a": 1.0, "b": 2.0, "c": 4.0}

    def step(label: str) -> None:
        order.append(label)
        now[0] += cost[label] + len(order) / 1000  # a drift: later visits cost a little more

    steps = {label: (lambda label=label: step(label)) for label in cost}
    times = bench.round_robin(steps, warmup=1, repeats=2, clock=lambda: now[0])
    assert order == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert {k: len(v) for k, v in times.items()} == {"a": 2, "b": 2, "c": 2}
    assert times["a"] == pytest.approx([1.006, 1.008])  # visits 6 and 8; the warm-up's dropped
    assert times["c"] == pytest.approx([4.005, 4.007])


def test_a_visit_repeats_a_cheap_step_until_min_time_and_keeps_the_mean() -> None:
    now, calls = [0.0], {"cheap": 0, "dear": 0}

    def step(label: str, cost: float) -> None:
        calls[label] += 1
        now[0] += cost

    steps = {"cheap": lambda: step("cheap", 0.1), "dear": lambda: step("dear", 1.0)}
    times = bench.round_robin(steps, warmup=0, repeats=2, min_time=0.25, clock=lambda: now[0])
    assert calls == {"cheap": 6, "dear": 2}  # 3 calls reach 0.25 s; one dear call does
    assert times == {"cheap": pytest.approx([0.1, 0.1]), "dear": pytest.approx([1.0, 1.0])}


def _row(label: str, group: str, macs: float, roof: float, ms: float) -> bench.Row:
    spec = PRESETS["resnet50"]
    values = dict.fromkeys(bench.PREDICTORS, 1.0) | {"MACs": macs, "roofline time": roof}
    return bench.Row(bench.Model(group, label, spec), values, [ms])


def test_goal_is_met_only_when_the_roofline_ranks_better_in_every_family() -> None:
    rows = [_row(str(i), "CIFAR", macs=10 - i, roof=i, ms=i) for i in range(4)]
    assert "**met**" in bench.goal_lines({"CIFAR": rows})[0]
    assert bench.rho(rows, "roofline time") == pytest.approx((1.0, 0.0))
    tie = [_row(str(i), "ImageNet", macs=i, roof=i, ms=i) for i in range(4)]
    line = bench.goal_lines({"CIFAR": rows, "ImageNet": tie})[0]
    assert "**not met**" in line and "ImageNet: roofline +1.00 (p 0) vs MACs +1.00 (p 0)" in line
    assert bench.rho(rows[:2], "MACs") is None
    assert "fewer than 3" in bench.goal_lines({"CIFAR": rows[:2]})[0]


def test_default_plan_is_the_issues() -> None:
    args = bench.parse_args([])
    cifar, skipped = bench.cifar_family([1, 2, 4, 8, 16, 32, 64], args.cifar_width)
    assert [m.spec.cardinality for m in cifar] == [1, 2, 4, 8, 16, 32]
    assert all(m.spec.width_multiplier == 0.25 and m.spec.input_size == 32 for m in cifar)
    assert len(skipped) == 1 and skipped[0].startswith("C = 64: ")
    names = bench._names(args.presets)
    assert names == [n for n, s in PRESETS.items() if s.template == "imagenet"] and len(names) > 10
    assert args.input_size == 64 and args.cardinalities == "1,2,4,8,16,32,64"


@pytest.mark.parametrize("bad", [["--repeats", "0"], ["--batch", "0"], ["--presets", "nope"]])
def test_bad_options_exit_2(bad: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        bench.parse_args(bad)
    assert exc.value.code == 2


def test_no_cuda_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(SystemExit) as exc:
        bench.main(["--device", "cuda", "--no-write"])
    assert exc.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_ridge_line_counts_memory_bound_layers() -> None:
    rows = [bench.Row(bench.Model("CIFAR", "a", PRESETS["resnet50"]), {}, [1.0], (0, 5))]
    assert "0 of the 5 conv and fc layers" in bench.ridge_line(rows, 1.5)
    assert "ranks as the MACs do" in bench.ridge_line(rows, 1.5)
    rows.append(bench.Row(bench.Model("CIFAR", "b", PRESETS["resnet50"]), {}, [1.0], (2, 5)))
    assert "2 of the 10" in (line := bench.ridge_line(rows, 1.5)) and "ranks as" not in line


def test_tiny_run_prints_its_section_and_writes_nothing(one_torch_thread: None) -> None:
    before = bench.BENCHMARKS_MD.read_bytes()
    body = bench.main(
        ["--cardinalities", "1,2,4,64", "--cifar-width", "0.0625", "--presets", "resnet50",
         "--input-size", "32", "--batch", "2", "--repeats", "1", "--warmup", "0", "--no-write"]
    )  # fmt: skip
    assert bench.BENCHMARKS_MD.read_bytes() == before
    assert "Command: `main()`" in body and "Skipped: C = 64: " in body
    table = dict(re.findall(r"^\| ([\w .]+) \| ([^|]+) \| - \| [^|]+ \|$", body, flags=re.M))
    assert set(table) == set(bench.PREDICTORS)  # CIFAR rho (n = 3), ImageNet "-" (n = 1)
    # the three have one group width C x d = 4, so equal activations: no ranking, said so
    assert table.pop("activations") == "equal in all"
    assert all(re.fullmatch(r"[+-]\d\.\d\d \(p .+\)", cell) for cell in table.values())
    rows = re.findall(r"^\| (resnext29_[\w.]+|resnet50@32) \| (CIFAR|ImageNet) \|(.*)$", body, re.M)
    assert [r[0] for r in rows] == [
        "resnext29_1x4d_w0.0625", "resnext29_2x2d_w0.0625", "resnext29_4x1d_w0.0625",
        "resnet50@32",
    ]  # fmt: skip
    for _, _, rest in rows:
        cells = [c.strip() for c in rest.strip(" |").split("|")]
        predicted, measured = float(cells[6]), float(cells[7])
        assert predicted > 0 and measured > 0
    assert "Goal: the roofline prediction ranks speed better than MACs do" in body
    assert re.search(r"Ridge: [\d.]+ MACs per byte; \d+ of the \d+ conv and fc layers", body)

"""The speed-predictor benchmark and its tables: its round-robin timing (fake clock), its goal
for each roofline, the ceilings table, its plan and a tiny real run that writes nothing (times
are never asserted)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))  # the scripts import each other as top-level modules

import _predictor_tables as tables  # noqa: E402
import bench_speed_predictors as bench  # noqa: E402

from archlab.measure.ceilings import ceiling_shapes  # noqa: E402
from archlab.measure.predict import Ceiling, Ceilings  # noqa: E402
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


def _row(
    label: str, group: str, macs: float, roof: float, ms: float, ceilings: float = 1.0
) -> tables.Row:
    spec = PRESETS["resnet50"]
    values = dict.fromkeys(tables.PREDICTORS, 1.0)
    values |= {"MACs": macs, tables.ONE_ROOF: roof, tables.CEILINGS: ceilings}
    return tables.Row(tables.Model(group, label, spec), values, [ms])


def test_goal_is_met_only_when_the_roofline_ranks_better_in_every_family() -> None:
    rows = [_row(str(i), "CIFAR", macs=10 - i, roof=i, ms=i) for i in range(4)]
    one_roof, ceilings = tables.goal_lines({"CIFAR": rows})
    assert one_roof.startswith("Goal, one roof") and "**met**" in one_roof
    assert ceilings.startswith("Goal, measured ceilings") and "**not met**" in ceilings
    assert "equal in all" in ceilings  # the ceilings' prediction is the constant 1.0 here
    assert tables.rho(rows, tables.ONE_ROOF) == pytest.approx((1.0, 0.0))
    tie = [_row(str(i), "ImageNet", macs=i, roof=i, ms=i) for i in range(4)]
    line = tables.goal_lines({"CIFAR": rows, "ImageNet": tie})[0]
    assert "**not met**" in line and "ImageNet: roofline +1.00 (p 0) vs MACs +1.00 (p 0)" in line
    assert tables.rho(rows[:2], "MACs") is None
    assert "fewer than 3" in tables.goal_lines({"CIFAR": rows[:2]})[0]


def test_each_roofline_is_judged_on_its_own_row() -> None:
    # MACs rank the times backwards; the ceilings rank them right, the one roof as MACs do.
    rows = [_row(str(i), "CIFAR", macs=-i, roof=-i, ms=i, ceilings=i) for i in range(4)]
    one_roof, ceilings = tables.goal_lines({"CIFAR": rows})
    assert "**not met**" in one_roof and "roofline -1.00" in one_roof
    assert "**met**" in ceilings and "roofline +1.00" in ceilings


def test_ceilings_table_gives_each_kinds_rate_and_fraction_of_peak() -> None:
    shapes = ceiling_shapes(channels=4, map_size=2, batch_size=1)
    rates = Ceilings(tuple(Ceiling(s.kind, s.group_width, 1e9 * (i + 1))
                           for i, s in enumerate(shapes)))  # fmt: skip
    lines = tables.ceilings_table(shapes, rates, peak=4e9)
    assert lines[2:] == [
        "| dense 1x1 | 4 | 1 | 0.0 | 1.00 | 0.250 |",
        "| dense 3x3 | 4 | 1 | 0.0 | 2.00 | 0.500 |",
        "| grouped 3x3 | 1 | 4 | 0.0 | 3.00 | 0.750 |",
        "| grouped 3x3 | 2 | 2 | 0.0 | 4.00 | 1.000 |",
    ]


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
    rows = [tables.Row(tables.Model("CIFAR", "a", PRESETS["resnet50"]), {}, [1.0], (0, 5), 1)]
    assert "0 of the 5 conv and fc layers" in tables.ridge_line(rows, 1.5)
    assert "ranks as the MACs do" in tables.ridge_line(rows, 1.5)
    rows.append(tables.Row(tables.Model("CIFAR", "b", PRESETS["resnet50"]), {}, [1.0], (2, 5), 3))
    assert "2 of the 10" in (line := tables.ridge_line(rows, 1.5)) and "ranks as" not in line
    assert line.endswith("Under their own measured ceilings, 4 of them are memory-bound.")


def test_tiny_run_prints_its_section_and_writes_nothing(one_torch_thread: None) -> None:
    before = bench.BENCHMARKS_MD.read_bytes()
    body = bench.main(
        ["--cardinalities", "1,2,4,64", "--cifar-width", "0.0625", "--presets", "resnet50",
         "--input-size", "32", "--batch", "2", "--repeats", "1", "--warmup", "0", "--no-write"]
    )  # fmt: skip
    assert bench.BENCHMARKS_MD.read_bytes() == before
    assert "Command: `main()`" in body and "Skipped: C = 64: " in body
    table = dict(re.findall(r"^\| ([\w .()]+) \| ([^|]+) \| - \| [^|]+ \|$", body, flags=re.M))
    assert set(table) == set(tables.PREDICTORS)  # CIFAR rho (n = 3), ImageNet "-" (n = 1)
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
        one_roof, ceilings, measured = float(cells[6]), float(cells[7]), float(cells[8])
        assert measured > 0 and ceilings > 0 and one_roof > 0
    goal = "the roofline prediction ranks speed better than MACs do in each family: **"
    assert f"Goal, one roof (the issue's roofline prediction): {goal}" in body
    assert f"Goal, measured ceilings: {goal}" in body
    kinds = re.findall(r"^\| (dense 1x1|dense 3x3|grouped 3x3) \| (\d+) \| (\d+) \|", body, re.M)
    assert kinds == [("dense 1x1", "128", "1"), ("dense 3x3", "128", "1")] + [
        ("grouped 3x3", str(2**i), str(128 // 2**i)) for i in range(7)
    ]
    assert re.search(r"Ridge: [\d.]+ MACs per byte; \d+ of the \d+ conv and fc layers", body)

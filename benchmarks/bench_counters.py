"""Time the analytic count against fvcore, ptflops (aten) and torch's FlopCounterMode.

Run by hand (never timed in tests):

    .venv/bin/python benchmarks/bench_counters.py

For each spec: the median seconds of one count by each tool, on a model built beforehand (the
build time is its own column), against the analytic walk, which needs no model at all. Goal:
analytic >= 1,000x faster than fvcore per spec. The result replaces this script's block in
reports/benchmarks.md (between the bench_counters markers), leaving other scripts' sections alone.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from _sections import BENCHMARKS_MD, command, machine_line, write_section

from archlab.complexity import clear_block_cache, complexity
from archlab.models import build_model
from archlab.presets import get_spec
from archlab.space import NetSpec, make_spec

GOAL = 1000.0  # analytic at least this many times faster than fvcore


def default_specs() -> list[tuple[str, NetSpec]]:
    """A CIFAR model, a small ImageNet one and the paper's two ~4 GFLOP models at 224."""
    small = make_spec("imagenet", 50, 32, 4, width_multiplier=0.25, input_size=64)
    return [
        ("resnext29_8x64d@32", get_spec("resnext29_8x64d")),
        ("resnext50_32x4d_w0.25@64", small),
        ("resnet50@224", get_spec("resnet50")),
        ("resnext50_32x4d@224", get_spec("resnext50_32x4d")),
    ]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """The tools print and warn; keep the benchmark's output to its table."""
    sink = io.StringIO()
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
    ):
        warnings.simplefilter("ignore")
        yield


def median_seconds(fn: Callable[[], object], repeats: int, min_time: float = 0.0) -> float:
    """Median over ``repeats`` of the mean time per call (calls looped until ``min_time``)."""
    fn()  # warm-up: imports, allocator, oneDNN kernel choice
    samples = []
    for _ in range(repeats):
        n, t0 = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= min_time:
                break
        samples.append(elapsed / n)
    return statistics.median(samples)


def median_tool_seconds(
    tool: Callable[[torch.nn.Module], object], spec: NetSpec, repeats: int
) -> float:
    """Median seconds of ``tool`` on a freshly built model each time (build not timed).

    ptflops leaves hooks on the model it counts; a fresh model keeps repeats independent.
    """
    samples = []
    for i in range(repeats + 1):  # the first call is a warm-up
        model = build_model(spec).eval()
        t0 = time.perf_counter()
        tool(model)
        if i:
            samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def tools(size: int) -> dict[str, Callable[[torch.nn.Module], object]]:
    """Each tool's plain total on a (1, 3, size, size) input, as a user would call it."""
    from fvcore.nn import FlopCountAnalysis
    from ptflops import get_model_complexity_info
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.zeros(1, 3, size, size)

    def fvcore(model: torch.nn.Module) -> object:
        fa = FlopCountAnalysis(model, x).unsupported_ops_warnings(False)
        return fa.uncalled_modules_warnings(False).total()

    def ptflops_aten(model: torch.nn.Module) -> object:
        return get_model_complexity_info(
            model, (3, size, size), print_per_layer_stat=False, as_strings=False, backend="aten"
        )

    def flop_counter_mode(model: torch.nn.Module) -> object:
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            model(x)
        return fc.get_total_flops()

    return {"fvcore": fvcore, "ptflops_aten": ptflops_aten, "torch": flop_counter_mode}


@dataclass(frozen=True)
class Row:
    """One spec's timings, in seconds per count."""

    spec: str
    macs: int
    analytic_s: float
    build_s: float
    tool_s: dict[str, float]

    def ratio(self, tool: str, *, with_build: bool = False) -> float:
        """How many times faster the analytic walk is than ``tool``."""
        return (self.tool_s[tool] + (self.build_s if with_build else 0.0)) / self.analytic_s


def cold_complexity(spec: NetSpec) -> object:
    """The analytic count from an empty block cache: no count of this spec is reused."""
    clear_block_cache()
    return complexity(spec)


def bench(label: str, spec: NetSpec, repeats: int) -> Row:
    """Seconds per count for each tool and the analytic walk on one spec."""
    analytic = median_seconds(lambda: cold_complexity(spec), repeats, min_time=0.05)
    build = median_seconds(lambda: build_model(spec), 1)
    with quiet():
        times = {
            name: median_tool_seconds(tool, spec, repeats)
            for name, tool in tools(spec.input_size).items()
        }
    return Row(label, complexity(spec).macs, analytic, build, times)


def render(rows: list[Row], command: str) -> str:
    """The markdown block between the markers; numbers in fixed formats."""
    lines = [
        "## Counters: analytic vs fvcore, ptflops (aten), FlopCounterMode",
        "",
        f"Command: `{command}`  ",
        f"Run: {machine_line()}, {torch.get_num_threads()} torch thread(s)",
        "",
        "Seconds per count (median), batch 1; tools count a model built beforehand (build time "
        "apart), the analytic walk needs none and starts from an empty block cache each time "
        "(clearing it timed too). Ratio = tool time / analytic time.",
        "",
        "| spec | MACs | analytic | build | fvcore | ptflops aten | FlopCounterMode "
        "| fvcore / analytic | (fvcore + build) / analytic | ptflops / analytic "
        "| torch / analytic | fvcore >= 1,000x |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        fv, fv_build = r.ratio("fvcore"), r.ratio("fvcore", with_build=True)
        ok = "yes" if fv >= GOAL else f"no ({'yes' if fv_build >= GOAL else 'no'} with build)"
        t = r.tool_s
        lines.append(
            f"| {r.spec} | {r.macs:,} | {r.analytic_s:.2e} | {r.build_s:.3f} | {t['fvcore']:.3f} "
            f"| {t['ptflops_aten']:.3f} | {t['torch']:.3f} | {fv:,.0f}x | {fv_build:,.0f}x "
            f"| {r.ratio('ptflops_aten'):,.0f}x | {r.ratio('torch'):,.0f}x | {ok} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Benchmark the default specs and update reports/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per tool (median)")
    parser.add_argument("--out", type=Path, default=BENCHMARKS_MD)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads; 1 keeps the tools' forward passes free of OpenMP stalls when the "
        "machine is shared (two 2-thread jobs on 2 cores stall each forward by ~1.5 s)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    command_line = command() if argv is None else "main()"
    rows = []
    for label, spec in default_specs():
        row = bench(label, spec, args.repeats)
        print(
            f"{label}: analytic {row.analytic_s:.2e} s, fvcore {row.tool_s['fvcore']:.3f} s "
            f"({row.ratio('fvcore'):,.0f}x)",
            flush=True,
        )
        rows.append(row)
    block = render(rows, command_line)
    write_section("bench_counters", block, args.out)
    print(f"wrote the bench_counters section of {args.out}")


if __name__ == "__main__":
    main()

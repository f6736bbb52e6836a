"""GPU check: archlab's training loop against a bare loop, its MAC rate, grouped-conv efficiency.

    bash benchmarks/gpu.sh                              # on a GPU machine (README: GPU check)
    .venv/bin/python benchmarks/bench_gpu.py --tiny     # the same code path on the CPU, seconds

Same model, data, batch size and settings in both loops: bf16 autocast, channels_last, images
resident on the device, augmentation off, so the ratio measures what archlab's loop adds
(schedule, bookkeeping, evaluation hooks). Each loop runs one warm-up epoch (cuDNN autotuning,
compilation) and then ``--rounds`` timed epochs; medians are compared. Goal: ratio >= 0.97.

The achieved MAC rate is archlab's analytic training-step MACs (forward + data gradient +
weight gradient, :func:`archlab.measure.speed.training_step_macs`) times images/s; the peak is
measured in the same run by a large bf16 matmul. ``--tiny`` runs every step at toy sizes in
float32 on the CPU without compilation and never writes reports/benchmarks-gpu.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from _sections import ROOT, command, machine_line, write_section
from bench_train_loop import archlab_rates, bare_epoch
from torch import nn

import archlab
from archlab.measure.speed import training_step_macs
from archlab.space import NetSpec, with_overrides
from archlab.train.config import TrainConfig
from archlab.train.data import DatasetSplits
from archlab.train.loop import make_optimizer, prepare_model

GOAL = 0.97
REPORT = ROOT / "reports" / "benchmarks-gpu.md"
SECTION = "bench_gpu"


@dataclass(frozen=True)
class Plan:
    """Sizes of one run: the full GPU check or the CPU smoke run (``--tiny``)."""

    tiny: bool
    models: tuple[tuple[str, NetSpec], ...]
    steps_per_epoch: int
    batch_size: int
    n_eval: int
    rounds: int
    compile: bool
    matmul_n: int
    conv_width: int
    conv_batch: int
    conv_size: int
    conv_groups: tuple[int, ...] = (1, 8, 32, 64)


def make_plan(tiny: bool, *, family: tuple[int, ...], rounds: int, batch_size: int) -> Plan:
    """The full plan (resnext29_8x64d and a width-0.25 family at 32x32) or its toy version."""
    if tiny:
        spec = archlab.match_flops(2, 29, "cifar", width_multiplier=0.0625).spec
        spec = with_overrides(spec, input_size=8)
        return Plan(True, ((spec.name, spec),), 2, 8, 8, 1, False, 128, 64, 2, 8)
    models = [("resnext29_8x64d", archlab.get_spec("resnext29_8x64d"))]
    for c in family:
        spec = archlab.match_flops(c, 29, "cifar", width_multiplier=0.25).spec
        models.append((spec.name, spec))
    # ResNeXt-29 8x64d's first stage: a 3x3 grouped conv over 512 channels at 32x32 (Table 7's
    # CIFAR model); the same total width split into C groups of 512 / C.
    return Plan(False, tuple(models), 48, batch_size, 1024, rounds, True, 8192, 512, 128, 32)


def timed(
    fn: Callable[[], object], device: torch.device, *, inner: int, outer: int, warmup: int = 2
) -> float:
    """Median seconds per call of ``fn`` over ``outer`` groups of ``inner`` calls, after
    ``warmup`` untimed calls (algorithm choice; clocks ramping up from idle)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(outer):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(inner):
                fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3 / inner)
        else:
            t0 = time.perf_counter()
            for _ in range(inner):
                fn()
            times.append((time.perf_counter() - t0) / inner)
    return statistics.median(times)


def compute_dtype(device: torch.device) -> torch.dtype:
    """bf16 on CUDA (what training runs in); float32 on the CPU, where bf16 is emulated."""
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def matmul_peak(n: int, device: torch.device) -> float:
    """Dense MAC/s of an n x n x n matmul: the ceiling the training rate is compared to."""
    gen = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, dtype=compute_dtype(device), generator=gen)
    b = torch.randn(n, n, device=device, dtype=compute_dtype(device), generator=gen)
    return n**3 / timed(lambda: a @ b, device, inner=10, outer=5, warmup=20)


def conv_rate(plan: Plan, device: torch.device, groups: int) -> tuple[int, float, float]:
    """(C, forward MAC/s, forward + backward MAC/s) of one 3x3 conv split into C groups."""
    dtype, w, hw = compute_dtype(device), plan.conv_width, plan.conv_size
    conv = nn.Conv2d(w, w, 3, padding=1, groups=groups, bias=False)
    conv = conv.to(device=device, dtype=dtype, memory_format=torch.channels_last)  # type: ignore[call-overload]
    x = torch.randn(plan.conv_batch, w, hw, hw, device=device, dtype=dtype)
    x = x.contiguous(memory_format=torch.channels_last).requires_grad_(True)
    grad = torch.randn_like(conv(x))
    macs = plan.conv_batch * hw * hw * w * (w // groups) * 9  # conv_macs of complexity.py

    def forward() -> None:
        with torch.no_grad():
            conv(x)

    def step() -> None:
        x.grad = conv.weight.grad = None  # no accumulation adds in the timing
        conv(x).backward(grad)  # data and weight gradient: 2x the forward MACs

    inner = 2 if plan.tiny else 20
    fwd = macs / timed(forward, device, inner=inner, outer=3)
    both = 3 * macs / timed(step, device, inner=inner, outer=3)
    return groups, fwd, both


def conv_rates(plan: Plan, device: torch.device) -> list[tuple[int, float, float]]:
    """Grouped against dense: :func:`conv_rate` at every C of the plan, C = 1 first."""
    return [conv_rate(plan, device, groups) for groups in plan.conv_groups]


def resident_data(plan: Plan, spec: NetSpec, device: torch.device) -> DatasetSplits:
    """Random uint8 images already on the device; a whole number of batches (no recompiles)."""
    gen = torch.Generator().manual_seed(0)
    size, n = spec.input_size, plan.steps_per_epoch * plan.batch_size

    def images(count: int) -> torch.Tensor:
        return torch.randint(0, 256, (count, 3, size, size), dtype=torch.uint8, generator=gen)

    def labels(count: int) -> torch.Tensor:
        return torch.randint(0, spec.num_classes, (count,), generator=gen)

    splits = DatasetSplits(
        f"random{size}", images(n), labels(n), images(plan.n_eval), labels(plan.n_eval),
        images(plan.n_eval), labels(plan.n_eval), spec.num_classes, (0.5,) * 3, (0.29,) * 3,
        flip=True,
    )  # fmt: skip
    return splits.to(device)


@dataclass(frozen=True)
class LoopRow:
    """archlab's loop against the bare loop for one model and mode."""

    label: str
    compiled: bool
    ours: float | None  # images/s, median of the timed epochs; None when not measured
    bare: float | None
    step_macs: int
    note: str = ""


def loop_pair(
    label: str, spec: NetSpec, plan: Plan, device: torch.device, *, compiled: bool
) -> LoopRow:
    """Median images/s of archlab's train_run and of the bare loop, warm-up epoch dropped."""
    data = resident_data(plan, spec, device)
    config = TrainConfig(
        epochs=1 + plan.rounds, batch_size=plan.batch_size, augment="none", warmup_epochs=0,
        channels_last=True, amp=True, compile=compiled,
    )  # fmt: skip
    ours = statistics.median(archlab_rates(data, config, spec, 0, device)[1:])
    model = prepare_model(spec, config, 0, device)
    optimizer = make_optimizer(model, config)
    step_model: nn.Module = torch.compile(model) if compiled else model  # type: ignore[assignment]
    epochs = range(1 + plan.rounds)
    rates = [bare_epoch(step_model, data, config, epoch, optimizer) for epoch in epochs]
    macs = training_step_macs(spec).step_macs
    return LoopRow(label, compiled, ours, statistics.median(rates[1:]), macs)


def measure_loops(
    plan: Plan,
    device: torch.device,
    deadline: float,
    on_row: Callable[[list[LoopRow]], None] = lambda rows: None,
) -> list[LoopRow]:
    """Eager rows for every model, then compiled ones while the budget lasts.

    ``on_row`` sees the full table after each row (rows still to come marked so), so a run cut
    short by a timeout leaves what it measured; a row that raises is recorded, not fatal.
    """
    planned = [(label, spec, compiled) for compiled in (False, True) for label, spec in plan.models]
    rows = [
        LoopRow(label, compiled, None, None, training_step_macs(spec).step_macs, "not reached")
        for label, spec, compiled in planned
    ]
    for i, (label, spec, compiled) in enumerate(planned):
        if compiled and not plan.compile:
            rows[i] = replace(rows[i], note="not run (--tiny)")
        elif time.monotonic() > deadline:
            rows[i] = replace(rows[i], note="time budget spent")
        else:
            print(f"  {label} ({'compiled' if compiled else 'eager'}) ...", flush=True)
            try:
                rows[i] = loop_pair(label, spec, plan, device, compiled=compiled)
            except Exception as exc:  # one broken row (OOM, compiler) must not lose the rest
                traceback.print_exc()
                first = " ".join(str(exc).split())[:120]
                rows[i] = replace(rows[i], note=f"failed: {type(exc).__name__}: {first}")
        on_row(rows)
    return rows


def device_lines(device: torch.device) -> list[str]:
    """Device name, torch, CUDA and cuDNN versions."""
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        memory = props.total_memory / 2**30
        name = f"{props.name} ({props.multi_processor_count} SMs, {memory:.0f} GiB)"
    else:
        name = "CPU (--tiny smoke run: no GPU figures)"
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return [
        f"Device: {name}",
        f"torch {torch.__version__}, CUDA {torch.version.cuda or 'none'}, cuDNN {cudnn or 'none'}",
    ]


def _rate(value: float | None, scale: float = 1.0, fmt: str = ",.0f") -> str:
    return "-" if value is None else format(value / scale, fmt)


def loop_table(rows: list[LoopRow], peak: float) -> list[str]:
    """The markdown table of the loop comparison, with MAC rate and fraction of the peak."""
    lines = [
        "| model | mode | archlab img/s | bare img/s | ratio | goal met | step GMACs/img "
        "| archlab TMAC/s | of peak |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        mode = "compiled" if r.compiled else "eager"
        if r.ours is None or r.bare is None:
            lines.append(f"| {r.label} | {mode} | - | - | - | {r.note} | - | - | - |")
            continue
        ratio, achieved = r.ours / r.bare, r.ours * r.step_macs
        lines.append(
            f"| {r.label} | {mode} | {r.ours:,.0f} | {r.bare:,.0f} | {ratio:.3f} | "
            f"{'yes' if ratio >= GOAL else 'no'} | {r.step_macs / 1e9:.3f} | "
            f"{achieved / 1e12:.2f} | {achieved / peak:.1%} |"
        )
    return lines


def conv_table(rows: list[tuple[int, float, float]], plan: Plan, dtype: torch.dtype) -> list[str]:
    """Grouped against dense 3x3 conv: MAC/s and the fraction of the dense (C = 1) rate."""
    dense_f, dense_b = rows[0][1], rows[0][2]
    lines = [
        f"3x3 conv, {plan.conv_width} -> {plan.conv_width} channels split into C groups, "
        f"batch {plan.conv_batch}, {plan.conv_size}x{plan.conv_size}, {dtype}, channels_last:",
        "",
        "| C | group width | forward TMAC/s | of dense | fwd+bwd TMAC/s | of dense |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for c, fwd, both in rows:
        lines.append(
            f"| {c} | {plan.conv_width // c} | {fwd / 1e12:.3f} | {fwd / dense_f:.1%} | "
            f"{both / 1e12:.3f} | {both / dense_b:.1%} |"
        )
    return lines


def report_body(
    plan: Plan, device: torch.device, peak: float, loops: list[LoopRow], convs: list, run_s: float
) -> str:
    """The section of reports/benchmarks-gpu.md."""
    dtype = compute_dtype(device)
    shown = os.environ.get("ARCHLAB_GPU_COMMAND") or command()
    return "\n".join(
        [
            "## GPU check: training loop, MAC rate, grouped convolutions",
            "",
            f"Command: `{shown}`",
            *device_lines(device),
            f"Run: {machine_line()}; {run_s:.0f} s",
            "",
            f"Peak: {plan.matmul_n}x{plan.matmul_n}x{plan.matmul_n} {dtype} matmul, "
            f"{peak / 1e12:.1f} TMAC/s ({2 * peak / 1e12:.1f} TFLOP/s), measured in this run.",
            "",
            f"Training loop: batch {plan.batch_size}, {plan.steps_per_epoch} steps per epoch, "
            f"bf16 autocast on CUDA, channels_last, data resident on the device, no augmentation; "
            f"median of {plan.rounds} epochs after one warm-up epoch, archlab's loop first. "
            f"MAC rate = analytic training-step MACs x images/s. Goal: ratio >= {GOAL}.",
            "",
            *loop_table(loops, peak),
            "",
            *conv_table(convs, plan, dtype),
        ]
    )


def summary(device: torch.device, peak: float, loops: list[LoopRow], convs: list) -> str:
    """A one-screen summary for the terminal."""
    lines = [*device_lines(device), f"peak (matmul): {peak / 1e12:.2f} TMAC/s"]
    for r in loops:
        mode = "compiled" if r.compiled else "eager"
        if r.ours is None or r.bare is None:
            lines.append(f"{r.label:<26} {mode:<8} {r.note}")
            continue
        lines.append(
            f"{r.label:<26} {mode:<8} archlab {r.ours:>9,.0f} img/s  bare {r.bare:>9,.0f}  "
            f"ratio {r.ours / r.bare:.3f}  {r.ours * r.step_macs / peak:6.1%} of peak"
        )
    dense = convs[0][1]
    lines.append(
        "3x3 conv fwd vs dense: " + "  ".join(f"C={c} {fwd / dense:.0%}" for c, fwd, _ in convs)
    )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="CPU smoke run at toy sizes")
    parser.add_argument("--out", type=Path, help="report file (default: reports/benchmarks-gpu.md; "
                        "with --tiny a temporary file)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, help="timed epochs per loop")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--family", default="1,2,4,8", help="cardinalities of the w0.25 family")
    parser.add_argument(
        "--budget", type=float, default=210.0, help="seconds; loop rows not started by then are "
        "marked, not run",
    )  # fmt: skip
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Measure, write the report section and print the summary; 1 when a row failed, 2 when
    there is no CUDA device (without --tiny)."""
    args = parse_args(argv)
    started = time.monotonic()
    device = torch.device("cpu" if args.tiny else "cuda")
    if not args.tiny and not torch.cuda.is_available():
        print("bench_gpu: torch sees no CUDA device; run with --tiny on the CPU, or see the "
              "README's GPU check", file=sys.stderr)  # fmt: skip
        return 2
    out = args.out
    if args.tiny and (out is None or out.resolve() == REPORT.resolve()):
        out = Path(tempfile.mkdtemp(prefix="bench-gpu-tiny-")) / "benchmarks-gpu.md"
    out = out or REPORT
    family = tuple(int(c) for c in args.family.split(",") if c.strip())
    plan = make_plan(args.tiny, family=family, rounds=args.rounds, batch_size=args.batch_size)
    torch.manual_seed(0)
    print("peak matmul ...", flush=True)
    peak = matmul_peak(plan.matmul_n, device)
    print("grouped convolutions ...", flush=True)
    convs = conv_rates(plan, device)
    print("training loops ...", flush=True)

    def write(rows: list[LoopRow]) -> None:
        body = report_body(plan, device, peak, rows, convs, time.monotonic() - started)
        write_section(SECTION, body, out)

    loops = measure_loops(plan, device, started + args.budget, on_row=write)
    print(summary(device, peak, loops, convs))
    print(f"section written to {out}")
    return 1 if any(r.note.startswith("failed") for r in loops) else 0


if __name__ == "__main__":
    sys.exit(main())

"""Which number predicts speed? Spearman rho of measured train-step time against each count.

    .venv/bin/python benchmarks/bench_speed_predictors.py [--repeats 5 --batch 8 --input-size 64]

Models: the CIFAR ResNeXt-29 family at width 1/4 (C = 1, 2, 4, ..., 64, d solved by
:func:`archlab.match_flops` to the C = 1 baseline's whole-network MACs; a C no integer d can match
is skipped with the solver's reason) at 32x32, and every ImageNet preset of archlab/presets.py at
``--input-size`` (64 by default, so the benchmark runs on 2 CPU cores), full width.

Measured: one training step (forward, loss = out.sum(), backward; no optimizer step) per model
per round, at ``--batch``, after ``--warmup`` untimed rounds; ``--repeats`` timed rounds taken
round-robin over the models (each round starting one model further on), so a change of machine
load hits every model alike; a visit repeats a step for ``--min-time`` seconds and keeps the mean;
the median per model, per image. The peak MAC rate and the memory bandwidth
(archlab/measure/roofline.py: a dense 1024 x 1024 matmul and a 64 MiB copy, each call a median
of 3 after its own warm-up) are measured in every round too, and their medians used.

Predictors: forward MACs, training-step MACs, params, activations (archlab.complexity), bytes
moved (the roofline module's per-layer bytes of the convs and the fc, summed, per image at the
batch) and the roofline-predicted step time (:func:`archlab.measure.predict.predict_step_time`:
per layer max(MACs / peak, bytes / bandwidth), three passes per layer, two for the stem).
Goal: the roofline prediction ranks speed better than MACs do (a higher rho in each family).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from _sections import BENCHMARKS_MD, command, machine_line, write_section
from scipy.stats import spearmanr

from archlab.complexity import complexity
from archlab.errors import ArchlabError
from archlab.measure.predict import predict_step_time
from archlab.measure.roofline import bandwidth_bytes_per_s, peak_macs_per_s
from archlab.measure.speed import training_step_macs
from archlab.models import build_model
from archlab.presets import PRESETS
from archlab.search.solver import match_flops
from archlab.space import NetSpec, with_overrides

SECTION = "bench_speed_predictors"
CARDINALITIES = "1,2,4,8,16,32,64"
PREDICTORS = ("MACs", "step MACs", "params", "activations", "bytes moved", "roofline time")
GOAL = "the roofline prediction ranks speed better than MACs do"


@dataclass(frozen=True)
class Model:
    """One model of the comparison: its family, label and spec (input size set)."""

    group: str  # "CIFAR" or "ImageNet"
    label: str
    spec: NetSpec
    mac_error: float | None = None  # MACs / the C = 1 baseline's MACs - 1


def cifar_family(cardinalities: Sequence[int], width: float) -> tuple[list[Model], list[str]]:
    """ResNeXt-29 at ``width`` with d matched to C = 1's network MACs; skipped C with reasons."""
    models, skipped = [], []
    for c in cardinalities:
        try:
            m = match_flops(c, 29, "cifar", width_multiplier=width, scope="network")
        except ArchlabError as exc:
            skipped.append(f"C = {c}: {exc}")
            continue
        models.append(Model("CIFAR", m.spec.name, m.spec, m.value / m.target - 1))
    return models, skipped


def imagenet_presets(names: Sequence[str], input_size: int) -> list[Model]:
    """The named ImageNet presets at ``input_size``."""
    return [
        Model("ImageNet", f"{n}@{input_size}", with_overrides(PRESETS[n], input_size=input_size))
        for n in names
    ]


def round_robin(
    steps: dict[str, Callable[[], None]],
    *,
    warmup: int,
    repeats: int,
    min_time: float = 0.0,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Seconds per call of each step, ``repeats`` rounds after ``warmup``; round r starts at
    model r. A visit calls its step until ``min_time`` has passed (a cheap model's mean over
    several calls: less noise) and records the mean.

    Every round visits every model once, so slow drift of the machine's load reaches all alike.
    """
    labels = list(steps)
    times: dict[str, list[float]] = {label: [] for label in labels}
    for r in range(warmup + repeats):
        for i in range(len(labels)):
            label = labels[(r + i) % len(labels)]
            n, t0 = 0, clock()
            while True:
                steps[label]()
                n += 1
                elapsed = clock() - t0
                if elapsed >= min_time:
                    break
            if r >= warmup:
                times[label].append(elapsed / n)
    return times


def train_step(spec: NetSpec, batch: int, device: torch.device) -> Callable[[], None]:
    """One forward + backward of a freshly built ``spec`` (synchronised on CUDA)."""
    model = build_model(spec).to(device).train()
    x = torch.randn(batch, 3, spec.input_size, spec.input_size, device=device)

    def step() -> None:
        model(x).float().sum().backward()
        if device.type == "cuda":
            torch.cuda.synchronize()
        model.zero_grad(set_to_none=True)  # no gradient memory held between visits

    return step


@dataclass(frozen=True)
class Row:
    """One model's predictors and its measured step time per image."""

    model: Model
    values: dict[str, float]  # by PREDICTORS
    measured_ms: list[float]  # per image, one per timed round
    memory_bound: tuple[int, int] = (0, 0)  # layers below the ridge, of all conv and fc layers

    @property
    def median_ms(self) -> float:
        """Median measured train-step milliseconds per image."""
        return statistics.median(self.measured_ms)


def make_row(
    model: Model, batch: int, peak: float, bandwidth: float, measured_ms: list[float]
) -> Row:
    """Every predictor of one model at ``batch`` (per image where it scales with the batch)."""
    cx = complexity(model.spec)
    pred = predict_step_time(
        model.spec, peak_macs_per_s=peak, bandwidth_bytes_per_s=bandwidth, batch_size=batch
    )
    values = {
        "MACs": cx.macs,
        "step MACs": training_step_macs(model.spec).step_macs,
        "params": cx.params,
        "activations": cx.acts,
        "bytes moved": pred.forward_bytes_per_image,
        "roofline time": pred.ms_per_image,
    }
    below = sum(1 for r in pred.layers if r.macs / r.bytes < peak / bandwidth)
    return Row(model, values, measured_ms, (below, len(pred.layers)))


def rho(rows: Sequence[Row], key: str) -> tuple[float, float] | None:
    """Spearman rho (and its p) of predictor ``key`` against the median time; None below n = 3."""
    if len(rows) < 3:
        return None
    x, y = [r.values[key] for r in rows], [r.median_ms for r in rows]
    if len(set(x)) == 1 or len(set(y)) == 1:
        return math.nan, math.nan  # a constant ranks nothing (spearmanr warns and says nan)
    result = spearmanr(x, y)
    return float(result.statistic), float(result.pvalue)


def _cell(value: tuple[float, float] | None) -> str:
    if value is None:
        return "-"
    return "equal in all" if math.isnan(value[0]) else f"{value[0]:+.2f} (p {value[1]:.2g})"


def rho_table(groups: dict[str, list[Row]]) -> list[str]:
    """Rho per predictor (rows) and group (columns), with n."""
    head = " | ".join(f"{g} (n = {len(rows)})" for g, rows in groups.items())
    lines = [f"| predictor | {head} |", "|---|" + "---:|" * len(groups)]
    for key in PREDICTORS:
        cells = " | ".join(_cell(rho(rows, key)) for rows in groups.values())
        lines.append(f"| {key} | {cells} |")
    return lines


def model_table(rows: Sequence[Row]) -> list[str]:
    """Per-model numbers: the predictors, the prediction and the measured time."""
    lines = [
        "| model | family | MACs | step MACs | params | acts | bytes/img | MAC error "
        "| predicted ms/img | measured ms/img | min-max | measured / predicted |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        v, err = r.values, r.model.mac_error
        lines.append(
            f"| {r.model.label} | {r.model.group} | {v['MACs']:,.0f} | {v['step MACs']:,.0f} "
            f"| {v['params']:,.0f} | {v['activations']:,.0f} | {v['bytes moved']:,.0f} "
            f"| {'-' if err is None else f'{err:+.1%}'} | {v['roofline time']:.3f} "
            f"| {r.median_ms:.3f} | {min(r.measured_ms):.3f}-{max(r.measured_ms):.3f} "
            f"| {r.median_ms / v['roofline time']:.1f} |"
        )
    return lines


def goal_lines(groups: dict[str, list[Row]]) -> list[str]:
    """Whether the roofline's rho beats the MACs' in every family, said per family."""
    verdicts = []
    for g, rows in groups.items():
        roof, macs = rho(rows, "roofline time"), rho(rows, "MACs")
        if roof is None or macs is None:
            verdicts.append((g, None, "fewer than 3 models"))
            continue
        better = roof[0] > macs[0] or (math.isnan(macs[0]) and not math.isnan(roof[0]))
        verdicts.append((g, better, f"roofline {_cell(roof)} vs MACs {_cell(macs)}"))
    met = bool(verdicts) and all(b for _, b, _ in verdicts)
    said = "; ".join(f"{g}: {why}" for g, _, why in verdicts)
    return [f"Goal: {GOAL} in each family: **{'met' if met else 'not met'}** ({said})."]


def pooled_note(groups: dict[str, list[Row]]) -> str:
    """What the pooled rho can and cannot say, from the measured numbers."""
    cifar, imagenet = groups.get("CIFAR", []), groups.get("ImageNet", [])
    note = (
        "Pooled mixes input sizes (32 and the ImageNet size) and heads (10 and 1,000 classes): "
        "per-image MACs, activations, bytes and the prediction account for both, params do not "
        "(a weight count does not grow with the input), so pooled params is no test."
    )
    if cifar and imagenet and max(r.median_ms for r in cifar) < min(r.median_ms for r in imagenet):
        note += (
            " Every CIFAR model trains faster than every ImageNet model here, so much of a "
            "pooled rho is the gap between the families; the per-family columns are the test."
        )
    return note


def ridge_line(rows: Sequence[Row], ridge: float) -> str:
    """How many layers the measured roof puts below its ridge (memory-bound)."""
    below = sum(r.memory_bound[0] for r in rows)
    total = sum(r.memory_bound[1] for r in rows)
    line = (
        f"Ridge: {ridge:.1f} MACs per byte; {below} of the {total} conv and fc layers of these "
        "models lie below it (memory-bound), the rest are predicted at the peak."
    )
    if below == 0:
        line += " So the prediction is MACs / peak, layer by layer, and ranks as the MACs do."
    return line


def render(
    rows: Sequence[Row],
    skipped: Sequence[str],
    args: argparse.Namespace,
    peaks: tuple[float, float],
    wall_s: float,
    command_line: str,
) -> str:
    """The section of reports/benchmarks.md."""
    groups = {g: [r for r in rows if r.model.group == g] for g in ("CIFAR", "ImageNet")}
    groups = {g: rs for g, rs in groups.items() if rs}
    if len(groups) > 1:
        groups["pooled"] = list(rows)
    peak, bandwidth = peaks
    skips = "".join(f" Skipped: {s}." for s in skipped)
    return "\n".join([
        "## Which number predicts speed? Spearman rho against measured train-step time",
        "",
        f"Command: `{command_line}`  ",
        f"Run: {machine_line()}; {args.device}, {torch.get_num_threads()} torch thread(s), "
        f"float32; {wall_s:.0f} s",
        "",
        f"Models: ResNeXt-29 at width {args.cifar_width:g}, 32x32, C in {args.cardinalities} "
        f"with d solved to C = 1's network MACs (`match_flops(..., scope='network')`; the MAC "
        f"error column is each one's distance from it).{skips} ImageNet presets at "
        f"{args.input_size}x{args.input_size}, full width. One training step (forward, "
        f"loss = sum, backward; no optimizer step) at batch {args.batch}, {args.warmup} warm-up "
        f"round(s), then {args.repeats} timed rounds round-robin over all models (each round "
        f"starting one model further on; a visit repeats a step for at least {args.min_time:g} "
        "s and keeps the mean); medians per image.",
        "",
        f"Roof, measured in every round (medians): peak {peak / 1e9:.1f} GMAC/s (1024x1024 "
        f"matmul), bandwidth {bandwidth / 1e9:.1f} GB/s (64 MiB copy). Predicted step = per conv "
        "and fc layer max(MACs / peak, bytes / bandwidth), x3 for forward, data gradient and "
        "weight gradient, x2 for the stem (no data gradient for the image); BN, ReLU, pooling, "
        "adds free (docs/counting.md, \"Roofline\"). Bytes moved = that formula's forward bytes "
        "per image at this batch.",
        "",
        ridge_line(rows, peak / bandwidth),
        "",
        "Spearman rho of each predictor against the measured time (p in brackets):",
        "",
        *rho_table(groups),
        "",
        *goal_lines({g: rs for g, rs in groups.items() if g != "pooled"}),
        "",
        pooled_note(groups),
        "",
        *model_table(rows),
    ])  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options; the defaults run in a few minutes on 2 CPU cores."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    imagenet = ",".join(n for n, s in PRESETS.items() if s.template == "imagenet")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (median)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument(
        "--min-time", type=float, default=0.25, help="seconds per visit: cheaper steps repeated"
    )
    parser.add_argument("--batch", type=int, default=8, help="images per training step")
    parser.add_argument("--input-size", type=int, default=64, help="ImageNet presets' input")
    parser.add_argument("--cifar-width", type=float, default=0.25)
    parser.add_argument("--cardinalities", default=CARDINALITIES, help="of the CIFAR family")
    parser.add_argument("--presets", default=imagenet, help="ImageNet presets, comma-separated "
                        "('' for none)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=1, help="torch threads (CPU)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--out", type=Path, default=BENCHMARKS_MD)
    parser.add_argument("--no-write", action="store_true", help="print the section only")
    args = parser.parse_args(argv)
    for key in ("repeats", "batch", "input_size", "threads"):
        if getattr(args, key) < 1:
            parser.error(f"--{key.replace('_', '-')} must be >= 1, got {getattr(args, key)}")
    if args.warmup < 0:
        parser.error(f"--warmup must be >= 0, got {args.warmup}")
    unknown = [n for n in _names(args.presets) if n not in PRESETS]
    if unknown:
        parser.error(f"unknown presets {unknown}; known: {', '.join(PRESETS)}")
    return args


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def main(argv: list[str] | None = None) -> str:
    """Measure every model round-robin, rank the predictors, write (or print) the section."""
    args = parse_args(argv)
    start = time.perf_counter()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            print("bench_speed_predictors: torch sees no CUDA device; use --device cpu",
                  file=sys.stderr)  # fmt: skip
            raise SystemExit(2)
        torch.backends.cudnn.allow_tf32 = False  # float32 convs, as the float32 matmul peak
    cifar, skipped = cifar_family([int(c) for c in _names(args.cardinalities)], args.cifar_width)
    models = cifar + imagenet_presets(_names(args.presets), args.input_size)
    steps: dict[str, Callable[[], None]] = {
        m.label: train_step(m.spec, args.batch, device) for m in models
    }
    roof: dict[str, list[float]] = {"peak": [], "bandwidth": []}
    steps["peak"] = lambda: roof["peak"].append(peak_macs_per_s(device, torch.float32, repeats=3))
    steps["bandwidth"] = lambda: roof["bandwidth"].append(bandwidth_bytes_per_s(device, repeats=3))
    print(f"{len(models)} models, {args.warmup} + {args.repeats} rounds ...", flush=True)
    times = round_robin(steps, warmup=args.warmup, repeats=args.repeats, min_time=args.min_time)
    peak, bandwidth = statistics.median(roof["peak"]), statistics.median(roof["bandwidth"])
    rows = [
        make_row(m, args.batch, peak, bandwidth, [t * 1e3 / args.batch for t in times[m.label]])
        for m in models
    ]
    command_line = command() if argv is None else "main()"
    body = render(rows, skipped, args, (peak, bandwidth), time.perf_counter() - start,
                  command_line)  # fmt: skip
    print(body)
    if not args.no_write:
        write_section("bench_speed_predictors", body, args.out)
        print(f"wrote the {SECTION} section of {args.out}")
    return body


if __name__ == "__main__":
    main()

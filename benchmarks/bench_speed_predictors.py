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
of 3 after its own warm-up) are measured in every round too, and their medians used; so are
the measured ceilings (archlab/measure/ceilings.py: one forward + backward of a dense 1x1, a
dense 3x3 and a grouped 3x3 conv at each power-of-two group width, 128 channels, a 16 x 16 map,
at ``--batch``), each a model of the round-robin.

Predictors: forward MACs, training-step MACs, params, activations (archlab.complexity), bytes
moved (the roofline module's per-layer bytes of the convs and the fc, summed, per image at the
batch) and the roofline-predicted step time (:func:`archlab.measure.predict.predict_step_time`:
per layer max(MACs / peak, bytes / bandwidth), three passes per layer, two for the stem), with
one roof and with the measured ceilings (per layer max(MACs / its kind's ceiling, bytes /
bandwidth)). Goal: the roofline prediction ranks speed better than MACs do (a higher rho in each
family); the issue's roofline is the one-roof row, judged apart from the ceilings row.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import torch
from _predictor_tables import (
    CEILINGS,
    ONE_ROOF,
    Model,
    Row,
    ceilings_table,
    goal_lines,
    model_table,
    pooled_note,
    rho_table,
    ridge_line,
)
from _sections import BENCHMARKS_MD, command, machine_line, write_section

from archlab.complexity import complexity
from archlab.errors import ArchlabError
from archlab.measure.ceilings import CeilingShape, ceiling_shapes, ceilings_from_times, conv_step
from archlab.measure.predict import Ceilings, predict_step_time
from archlab.measure.roofline import bandwidth_bytes_per_s, peak_macs_per_s
from archlab.measure.speed import training_step_macs
from archlab.models import build_model
from archlab.presets import PRESETS
from archlab.search.solver import match_flops
from archlab.space import NetSpec, with_overrides

SECTION = "bench_speed_predictors"
CARDINALITIES = "1,2,4,8,16,32,64"


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


def make_row(
    model: Model,
    batch: int,
    roof: tuple[float, float, Ceilings],
    measured_ms: list[float],
) -> Row:
    """Every predictor of one model at ``batch`` (per image where it scales with the batch);
    ``roof`` is the peak, the bandwidth and the measured ceilings."""
    peak, bandwidth, ceilings = roof
    cx = complexity(model.spec)
    predict = partial(predict_step_time, model.spec, peak_macs_per_s=peak,
                      bandwidth_bytes_per_s=bandwidth, batch_size=batch)  # fmt: skip
    pred, ceiled = predict(), predict(ceilings=ceilings)
    values = {
        "MACs": cx.macs,
        "step MACs": training_step_macs(model.spec).step_macs,
        "params": cx.params,
        "activations": cx.acts,
        "bytes moved": pred.forward_bytes_per_image,
        ONE_ROOF: pred.ms_per_image,
        CEILINGS: ceiled.ms_per_image,
    }
    below = sum(r.memory_bound for r in pred.layers)
    below_ceilings = sum(r.memory_bound for r in ceiled.layers)
    return Row(model, values, measured_ms, (below, len(pred.layers)), below_ceilings)


def render(
    rows: Sequence[Row],
    skipped: Sequence[str],
    args: argparse.Namespace,
    roof: tuple[float, float, Ceilings],
    shapes: Sequence[CeilingShape],
    wall_s: float,
    command_line: str,
) -> str:
    """The section of reports/benchmarks.md; ``roof``: peak, bandwidth, measured ceilings."""
    groups = {g: [r for r in rows if r.model.group == g] for g in ("CIFAR", "ImageNet")}
    groups = {g: rs for g, rs in groups.items() if rs}
    if len(groups) > 1:
        groups["pooled"] = list(rows)
    peak, bandwidth, ceilings = roof
    shape = shapes[0]  # every ceiling's shape but its kind and group width
    where = (
        f"{shape.channels} channels in and out, {shape.map_size}x{shape.map_size} map, "
        f"stride 1, batch {shape.batch_size}"
    )
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
        "Measured ceilings (Williams et al. 2009's in-core ceilings; archlab/measure/ceilings.py), "
        "timed in the same rounds as the models: one forward + backward of each conv kind at "
        f"{where}, attained rate = 3 x forward MACs / median step. With ceilings, a layer takes "
        "max(MACs / its kind's ceiling, bytes / bandwidth) per pass: dense 1x1 and dense 3x3 "
        "their own; a grouped 3x3 by its group width g (channels per group), log-log "
        "interpolated between the measured widths, the dense 3x3 standing for g = the channels, "
        "clamped beyond; the stem and the fc at the peak.",
        "",
        *ceilings_table(shapes, ceilings, peak),
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
    shapes = ceiling_shapes(batch_size=args.batch)
    steps |= {s.label: conv_step(s, device, torch.float32) for s in shapes}
    print(f"{len(models)} models, {args.warmup} + {args.repeats} rounds ...", flush=True)
    times = round_robin(steps, warmup=args.warmup, repeats=args.repeats, min_time=args.min_time)
    peak, bandwidth = statistics.median(roof["peak"]), statistics.median(roof["bandwidth"])
    roofs = (peak, bandwidth, ceilings_from_times(shapes, {s: times[s.label] for s in shapes}))
    per_image = {label: [t * 1e3 / args.batch for t in ts] for label, ts in times.items()}
    rows = [make_row(m, args.batch, roofs, per_image[m.label]) for m in models]
    command_line = command() if argv is None else "main()"
    body = render(rows, skipped, args, roofs, shapes,
                  time.perf_counter() - start, command_line)  # fmt: skip
    print(body)
    if not args.no_write:
        write_section("bench_speed_predictors", body, args.out)
        print(f"wrote the {SECTION} section of {args.out}")
    return body


if __name__ == "__main__":
    main()

"""`archlab count`: one model counted by the analytic walk and by fvcore, ptflops and torch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from archlab.errors import ArchlabError
from archlab.presets import get_spec
from archlab.space import NetSpec, make_spec, with_overrides

from ._common import console, print_json, table

if TYPE_CHECKING:
    from archlab.measure.counters import CountReport
    from archlab.measure.speed import SpeedResult

DEFAULT_DEPTH = {"imagenet": 50, "cifar": 29}


def count_cmd(
    name: Annotated[
        str | None, typer.Argument(help="Preset, e.g. resnext50_32x4d; or use the spec options.")
    ] = None,
    cardinality: Annotated[
        int | None, typer.Option("--cardinality", "-C", help="C (spec option; default 1).")
    ] = None,
    bottleneck_width: Annotated[
        int | None, typer.Option("--bottleneck-width", "-d", help="d (spec option; default 64).")
    ] = None,
    depth: Annotated[
        int | None, typer.Option("--depth", help="Depth (spec option; 50, or 29 for cifar).")
    ] = None,
    template: Annotated[
        str | None, typer.Option("--template", help="imagenet or cifar (spec option).")
    ] = None,
    width_multiplier: Annotated[
        float | None, typer.Option("--width-multiplier", help="Scale every width (spec option).")
    ] = None,
    input_size: Annotated[
        int | None,
        typer.Option("--input-size", help="Input N for (1, 3, N, N); default: the spec's."),
    ] = None,
    num_classes: Annotated[int | None, typer.Option("--num-classes", help="fc outputs.")] = None,
    counters: Annotated[
        str, typer.Option("--counters", help="Comma list: analytic, fvcore, ptflops (both), torch.")
    ] = "analytic,fvcore,ptflops,torch",
    per_layer: Annotated[
        bool, typer.Option("--per-layer", help="Per-layer table with reasons.")
    ] = False,
    train_mode: Annotated[
        bool, typer.Option("--train-mode", help="Count with BN in train mode.")
    ] = False,
    training: Annotated[
        bool, typer.Option("--training", help="Also count one training step.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    measure: Annotated[
        bool, typer.Option("--measure", help="Also time forward and backward.")
    ] = False,
    device: Annotated[
        str, typer.Option("--device", help="auto, cpu or cuda (with --measure).")
    ] = "auto",
    batch_size: Annotated[int, typer.Option("--batch-size", help="Batch for --measure.")] = 8,
    channels_last: Annotated[
        bool, typer.Option("--channels-last", help="channels_last memory format for --measure.")
    ] = False,
) -> None:
    """Count MACs, params and activations of one model with every counter, side by side."""
    from archlab.measure.counters import count_all, per_layer_table
    from archlab.measure.speed import measure_speed

    spec = _resolve_spec(name, cardinality, bottleneck_width, depth, template, width_multiplier)
    spec = with_overrides(spec, num_classes=num_classes)
    names = [c.strip() for c in counters.split(",") if c.strip()]
    report = count_all(spec, input_size=input_size, counters=names, train_mode=train_mode,
                       training_step=training, per_layer=per_layer)  # fmt: skip
    frame = per_layer_table(report) if per_layer else None
    speed = None
    if measure:
        speed = measure_speed(spec, device=device, batch_size=batch_size, input_size=input_size,
                              channels_last=channels_last)  # fmt: skip
    if as_json:
        out = report.to_dict()
        if frame is not None:
            out["per_layer"] = frame.to_dict(orient="records")
        if speed is not None:
            out["speed"] = speed.to_dict()
        print_json(out)
    else:
        _print(report, frame, speed)


def _resolve_spec(
    name: str | None,
    cardinality: int | None,
    bottleneck_width: int | None,
    depth: int | None,
    template: str | None,
    width_multiplier: float | None,
) -> NetSpec:
    """A preset by name, or a template spec from the options; never both."""
    options = {
        "--cardinality": cardinality,
        "--bottleneck-width": bottleneck_width,
        "--depth": depth,
        "--template": template,
        "--width-multiplier": width_multiplier,
    }
    given = [flag for flag, value in options.items() if value is not None]
    if name is not None and given:
        raise ArchlabError(
            f"give a preset NAME or spec options, not both (got {name!r} and {', '.join(given)})"
        )
    if name is not None:
        return get_spec(name)
    if not given:
        raise ArchlabError(
            "give a preset NAME (e.g. resnext50_32x4d) or spec options such as --cardinality"
        )
    tmpl = template or "imagenet"
    return make_spec(
        tmpl,
        depth if depth is not None else DEFAULT_DEPTH.get(tmpl, 50),
        cardinality if cardinality is not None else 1,
        bottleneck_width if bottleneck_width is not None else 64,
        width_multiplier=width_multiplier if width_multiplier is not None else 1.0,
    )


def _print(report: CountReport, frame: Any, speed: SpeedResult | None) -> None:
    out = console()
    rows = [[r.counter, r.macs, r.params, r.acts, r.raw, r.convention, ", ".join(r.skipped) or None,
             r.error] for r in report.results]  # fmt: skip
    cols = ["counter", "MACs (analytic convention)", "params", "acts", "raw", "convention",
            "skipped", "error"]  # fmt: skip
    out.print(
        table(f"{report.name} at {report.input_size}x{report.input_size}, batch 1", cols, rows)
    )
    bn = "BN uses batch statistics" if report.mode == "train" else "BN uses running statistics"
    ptflops = any(r.counter.startswith("ptflops") for r in report.results)
    note = (
        "; ptflops switches the model to eval mode itself"
        if ptflops and report.mode == "train"
        else ""
    )
    out.print(f"counted in {report.mode} mode ({bn}){note}")
    if report.training is not None:
        t = report.training.to_dict()
        keys = [k for k in t if k != "note"]
        out.print(table("one training step (forward + backward)", ["quantity", "value"],
                        [[k, t[k]] for k in keys]))  # fmt: skip
        out.print(t["note"])
    if frame is not None:
        records = frame.to_dict(orient="records")
        out.print(table("per layer (each tool's own number)", list(frame.columns),
                        [list(r.values()) for r in records]))  # fmt: skip
    if speed is not None:
        s = speed.to_dict()
        keys = ["device", "batch_size", "channels_last", "forward_ms", "forward_images_per_s",
                "forward_macs_per_s", "train_ms", "train_images_per_s", "train_macs_per_s",
                "torch_version", "threads"]  # fmt: skip
        out.print(table(f"speed (median of {speed.iters} after {speed.warmup} warm-up)",
                        ["quantity", "value"], [[k, s[k]] for k in keys]))  # fmt: skip


def register(app: typer.Typer) -> None:
    """Attach this command to the app."""
    app.command("count")(count_cmd)

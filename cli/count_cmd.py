"""`archlab count`: a spec or any model counted by archlab, fvcore, ptflops and torch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from archlab.measure.registry import aliases, model_counters, spec_counters

from ._common import PATH_TEXT, console, given, parse_int_list, print_json, table
from .options import (
    BottleneckWidthOpt,
    CardinalityOpt,
    CountDtypeOpt,
    CountStoreOpt,
    DepthOpt,
    InputSizeOpt,
    JsonOpt,
    MeasureDeviceOpt,
    TemplateOpt,
    WidthMultiplierOpt,
)

if TYPE_CHECKING:
    from archlab.measure.count_speed import CountSpeed
    from archlab.measure.counters import CountReport
    from archlab.measure.roofline import Roofline
    from archlab.measure.summary import SizeRow


def counters_help() -> str:
    """--counters' help, read from the counters' registry (a new counter shows up here)."""
    families = "; ".join(f"{a} = {' + '.join(names)}" for a, names in aliases().items())
    spec_only = ", ".join(n for n in spec_counters() if n not in model_counters())
    return (
        f"Comma list of: {', '.join(spec_counters())}; {families}. Default: all "
        f"(a model: all but {spec_only}; --input-sizes of a spec: analytic)."
    )


def count_cmd(
    name: Annotated[
        str | None,
        typer.Argument(
            help="A model name archlab prints, e.g. resnext50_32x4d or resnext29_8x3d_w0.25; "
            "or use the spec options."
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Any model: PACKAGE.MODULE:CALLABLE or file.py:CALLABLE."),
    ] = None,
    model_kwargs: Annotated[
        str | None, typer.Option("--model-kwargs", help="JSON object of the callable's kwargs.")
    ] = None,
    input_shape: Annotated[
        list[str] | None,
        typer.Option(
            "--input-shape",
            help="Input of --model (default 1,3,224,224); repeat it "
            "for a forward taking several inputs.",
        ),
    ] = None,
    input_dtype: Annotated[
        str | None,
        typer.Option(
            "--input-dtype",
            help="dtype of --model's inputs, e.g. long for token ids "
            "(default: the model's float dtype).",
        ),
    ] = None,
    input_sizes: Annotated[
        str | None,
        typer.Option("--input-sizes", help="One row per size, e.g. 32,64,128,224."),
    ] = None,
    cardinality: CardinalityOpt = None,
    bottleneck_width: BottleneckWidthOpt = None,
    depth: DepthOpt = None,
    template: TemplateOpt = None,
    width_multiplier: WidthMultiplierOpt = None,
    input_size: InputSizeOpt = None,
    num_classes: Annotated[
        int | None, typer.Option("--num-classes", help="fc outputs (default: 1000, or cifar's 10).")
    ] = None,
    counters: Annotated[
        str | None,
        typer.Option(
            "--counters",
            help=counters_help(),
        ),
    ] = None,
    per_layer: Annotated[
        bool, typer.Option("--per-layer", help="Per-layer table with reasons.")
    ] = False,
    train_mode: Annotated[
        bool, typer.Option("--train-mode", help="Count with BN in train mode (default: eval mode).")
    ] = False,
    training: Annotated[
        bool, typer.Option("--training", help="Also count one training step.")
    ] = False,
    as_json: JsonOpt = False,
    measure: Annotated[
        bool,
        typer.Option(
            "--measure", help="Also time train step and inference latency, with 95% intervals."
        ),
    ] = False,
    device: MeasureDeviceOpt = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="Batch for --measure (default 8).")
    ] = None,
    channels_last: Annotated[
        bool | None,
        typer.Option("--channels-last", help="NHWC memory layout for --measure (default off)."),
    ] = None,
    roofline: Annotated[
        bool, typer.Option("--roofline", help="Per layer: bytes, intensity, time, roof fraction.")
    ] = False,
    repeats: Annotated[
        int | None, typer.Option("--repeats", help="Timed repeats of --measure (default 10).")
    ] = None,
    figure: Annotated[
        str | None,
        typer.Option(
            "--figure",
            help="Roofline figure path (default archlab-runs/roofline/NAME).",
            **PATH_TEXT,
        ),
    ] = None,
    dtype: CountDtypeOpt = None,
    store: CountStoreOpt = None,
) -> None:
    """Count MACs, params and activations of a named spec or any model with every counter."""
    from archlab.workflows.count import run_count

    shapes = [parse_int_list(s, "--input-shape") for s in input_shape or ()]
    out = run_count(
        input_shape=(shapes[0] if len(shapes) == 1 else shapes) or None,
        input_sizes=None if input_sizes is None else parse_int_list(input_sizes, "--input-sizes"),
        counters=None if counters is None else [c.strip() for c in counters.split(",")],
        **given(locals(), "name", "model", "model_kwargs", "cardinality", "bottleneck_width",
                "depth", "template", "width_multiplier", "input_size", "num_classes", "per_layer",
                "train_mode", "training", "measure", "device", "batch_size", "channels_last",
                "input_dtype", "roofline", "repeats", "figure", "dtype", "store"),
    )  # fmt: skip
    if as_json:
        print_json(out.to_dict())
    elif out.sweep:
        _print_sweep(out.sweep)
    else:
        assert out.report is not None
        _print(out.report, out.per_layer, out.speed)
        if out.roofline is not None:
            _print_roofline(out.roofline, out.figure)


def _print(report: CountReport, frame: Any, speed: CountSpeed | None) -> None:
    out = console()
    rows = [[r.counter, r.macs, r.params, r.acts, r.raw, r.conversion or None,
             None if r.difference is None else f"{r.difference:+.2%}", r.flag, r.convention,
             ", ".join(r.skipped) or None, r.error] for r in report.results]  # fmt: skip
    cols = ["counter", "MACs (archlab convention)", "params", "acts", "raw", "converted by",
            "difference", "flag", "convention", "skipped", "error"]  # fmt: skip
    shape = "x".join(map(str, report.input_shape))
    out.print(table(f"{report.name} on an input of {shape}", cols, rows))
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
        m = speed.measurement
        out.print(table(f"speed: {m.name}, median of {m.key['repeats']} [{m.step.level:.1%} "
                        "interval]", ["quantity", "value"], speed.rows()))  # fmt: skip


def _print_roofline(roof: Roofline, figure: tuple[Any, ...]) -> None:
    out = console()
    rows = [[x.name, x.kind, x.macs, x.bytes, f"{x.intensity:.2f}", f"{x.ms:.3f}",
             f"{x.attained_macs_per_s:.3g}", f"{x.fraction_of_roof:.3g}",
             f"{x.ceiling_macs_per_s:.3g}", f"{x.fraction_of_ceiling:.3g}"]
            for x in roof.layers]  # fmt: skip
    cols = ["layer", "kind", "MACs", "bytes", "MACs/byte", "ms", "MACs/s", "fraction of roof",
            "ceiling MACs/s", "fraction of ceiling"]  # fmt: skip
    out.print(table(f"roofline: peak {roof.peak_macs_per_s:.3g} MACs/s, bandwidth "
                    f"{roof.bandwidth_bytes_per_s:.3g} B/s on {roof.device} ({roof.dtype}, "
                    f"{roof.threads} threads)", cols, rows))  # fmt: skip
    if roof.ceilings:  # docs/counting.md, "Roofline": the measured ceilings' shape
        out.print(table(f"measured ceilings ({roof.ceiling_shape})",
                        ["kind", "group width", "MACs/s", "fraction of peak"],
                        [[c.kind, c.group_width, f"{c.macs_per_s:.3g}",
                          f"{c.macs_per_s / roof.peak_macs_per_s:.3g}"]
                         for c in roof.ceilings]))  # fmt: skip
    out.print("figure: " + ", ".join(map(str, figure)))


def _print_sweep(rows: tuple[SizeRow, ...]) -> None:
    names = list(rows[0].counters)
    cols = ["input shape", "MACs", "params", "acts", *(f"{n} MACs" for n in names)]
    body = [["x".join(map(str, r.input_shape)), r.macs, r.params, r.acts,
             *(r.counters[n] for n in names)] for r in rows]  # fmt: skip
    console().print(table("complexity against input size", cols, body))


def register(app: typer.Typer) -> None:
    """Attach this command to the app."""
    app.command("count")(count_cmd)

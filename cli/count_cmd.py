"""`archlab count`: a spec or any model counted by archlab, fvcore, ptflops and torch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from archlab.errors import ArchlabError
from archlab.presets import get_spec
from archlab.space import DEFAULT_DEPTHS, NetSpec, make_spec, with_overrides

from ._common import console, parse_int_list, print_json, table

if TYPE_CHECKING:
    from archlab.measure.counters import CountReport
    from archlab.measure.speed import SpeedResult
    from archlab.measure.summary import SizeRow


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
        str | None,
        typer.Option("--input-shape", help="Input of --model (default 1,3,224,224)."),
    ] = None,
    input_sizes: Annotated[
        str | None,
        typer.Option("--input-sizes", help="One row per size, e.g. 32,64,128,224."),
    ] = None,
    cardinality: Annotated[
        int | None, typer.Option("--cardinality", "-C", help="C (spec option; default 1).")
    ] = None,
    bottleneck_width: Annotated[
        int | None,
        typer.Option(
            "--bottleneck-width",
            "-d",
            help="First-stage d, the network's own as in its name (spec option; default: the "
            "ResNet's, 64 x --width-multiplier).",
        ),
    ] = None,
    depth: Annotated[
        int | None, typer.Option("--depth", help="Depth (spec option; 50, or 29 for cifar).")
    ] = None,
    template: Annotated[
        str | None, typer.Option("--template", help="imagenet or cifar (spec option).")
    ] = None,
    width_multiplier: Annotated[
        float | None,
        typer.Option(
            "--width-multiplier", help="Scale the stem and stage widths, not d (spec option)."
        ),
    ] = None,
    input_size: Annotated[
        int | None,
        typer.Option("--input-size", help="Input N for (1, 3, N, N); default: the spec's."),
    ] = None,
    num_classes: Annotated[int | None, typer.Option("--num-classes", help="fc outputs.")] = None,
    counters: Annotated[
        str | None,
        typer.Option(
            "--counters",
            help="Comma list: analytic, traced, fvcore, ptflops (both), torch. Default: all "
            "(a model: all but analytic; --input-sizes of a spec: analytic).",
        ),
    ] = None,
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
    """Count MACs, params and activations of a named spec or any model with every counter."""
    from archlab.measure.summary import run_count

    spec_options = (cardinality, bottleneck_width, depth, template, width_multiplier)
    if model is not None and (name is not None or any(v is not None for v in spec_options)):
        raise ArchlabError("give --model or a model NAME / spec options, not both")
    if model is not None and (input_size is not None or num_classes is not None):
        raise ArchlabError(
            "--input-size and --num-classes are for a NAME or spec options; use --input-shape"
        )
    if model is None and (input_shape is not None or model_kwargs is not None):
        raise ArchlabError("--input-shape and --model-kwargs need --model")
    spec = None if model is not None else _resolve_spec(name, *spec_options)
    target = with_overrides(spec, num_classes=num_classes) if spec is not None else None
    shape: tuple[int, ...] = (1, 3, 224, 224)  # '' is refused below, never this default
    if input_shape is not None:
        shape = tuple(parse_int_list(input_shape, "--input-shape"))
    out = run_count(
        target, model=model, model_kwargs=model_kwargs, input_shape=shape,
        input_sizes=parse_int_list(input_sizes, "--input-sizes") if input_sizes else None,
        counters=[c.strip() for c in counters.split(",") if c.strip()] if counters else None,
        input_size=input_size, per_layer=per_layer, train_mode=train_mode, training=training,
        measure=measure, device=device, batch_size=batch_size, channels_last=channels_last,
    )  # fmt: skip
    if as_json:
        print_json(out.to_dict())
    elif out.sweep:
        _print_sweep(out.sweep)
    else:
        assert out.report is not None
        _print(out.report, out.per_layer, out.speed)


def _resolve_spec(
    name: str | None,
    cardinality: int | None,
    bottleneck_width: int | None,
    depth: int | None,
    template: str | None,
    width_multiplier: float | None,
) -> NetSpec:
    """A spec by name (a preset or any printed name), or from the options; never both."""
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
            f"give a model NAME or spec options, not both (got {name!r} and {', '.join(given)})"
        )
    if name is not None:
        return get_spec(name)
    if not given:
        raise ArchlabError(
            "give a model NAME (e.g. resnext50_32x4d) or spec options such as --cardinality"
        )
    tmpl = template or "imagenet"
    return make_spec(
        tmpl,
        depth if depth is not None else DEFAULT_DEPTHS.get(tmpl, DEFAULT_DEPTHS["imagenet"]),
        cardinality if cardinality is not None else 1,
        bottleneck_width,  # None: the ResNet baseline's d at this width
        width_multiplier=width_multiplier if width_multiplier is not None else 1.0,
    )


def _print(report: CountReport, frame: Any, speed: SpeedResult | None) -> None:
    out = console()
    rows = [[r.counter, r.macs, r.params, r.acts, r.raw, r.convention, ", ".join(r.skipped) or None,
             r.error] for r in report.results]  # fmt: skip
    cols = ["counter", "MACs (archlab convention)", "params", "acts", "raw", "convention",
            "skipped", "error"]  # fmt: skip
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
        s = speed.to_dict()
        keys = ["device", "batch_size", "channels_last", "forward_ms", "forward_images_per_s",
                "forward_macs_per_s", "train_ms", "train_images_per_s", "train_macs_per_s",
                "torch_version", "threads"]  # fmt: skip
        out.print(table(f"speed (median of {speed.iters} after {speed.warmup} warm-up)",
                        ["quantity", "value"], [[k, s[k]] for k in keys]))  # fmt: skip


def _print_sweep(rows: tuple[SizeRow, ...]) -> None:
    names = list(rows[0].counters)
    cols = ["input shape", "MACs", "params", "acts", *(f"{n} MACs" for n in names)]
    body = [["x".join(map(str, r.input_shape)), r.macs, r.params, r.acts,
             *(r.counters[n] for n in names)] for r in rows]  # fmt: skip
    console().print(table("complexity against input size", cols, body))


def register(app: typer.Typer) -> None:
    """Attach this command to the app."""
    app.command("count")(count_cmd)

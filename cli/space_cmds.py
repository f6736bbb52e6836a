"""`archlab match-flops` and `archlab space`: parse, call the workflow, print."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ._common import (
    PATH,
    given,
    int_tuple,
    parse_band,
    print_json,
    print_match,
    print_table,
    warn,
)
from .options import (
    ActsBandOpt,
    BottleneckWidthOpt,
    BottleneckWidthsOpt,
    CardinalitiesOpt,
    CardinalityOpt,
    ComplexityOpt,
    DepthOpt,
    DepthsOpt,
    InputSizeOpt,
    JsonOpt,
    MacsBandOpt,
    MatchOpt,
    ParamsBandOpt,
    RepeatsOpt,
    ScopeOpt,
    SpeedBatchOpt,
    SpeedDeviceOpt,
    SpeedStoreOpt,
    TemplateOpt,
    ToleranceOpt,
    WidthMultiplierOpt,
)


def match_flops_cmd(
    cardinality: CardinalityOpt = None,
    bottleneck_width: BottleneckWidthOpt = None,
    depth: DepthOpt = None,
    template: TemplateOpt = None,
    complexity: ComplexityOpt = None,
    scope: ScopeOpt = None,
    width_multiplier: WidthMultiplierOpt = None,
    input_size: InputSizeOpt = None,
    tolerance: ToleranceOpt = None,
    match: MatchOpt = None,
    batch: SpeedBatchOpt = None,
    repeats: RepeatsOpt = None,
    device: SpeedDeviceOpt = None,
    store: SpeedStoreOpt = None,
    as_json: JsonOpt = False,
    solve: Annotated[
        str | None,
        typer.Option(
            "--solve", help="depth: solve the depth for -C/-d (--depth is the baseline's)."
        ),
    ] = None,
) -> None:
    """Find d for a cardinality C (or C for a d) that matches the ResNet baseline's complexity."""
    from archlab.workflows.match import run_match

    result = run_match(**given(locals(), "cardinality", "bottleneck_width", "solve", "depth",
                               "template", "complexity", "scope", "width_multiplier",
                               "input_size", "tolerance", "match", "batch", "repeats", "device",
                               "store"))  # fmt: skip
    warn(result.warnings)
    if result.note:
        print(result.note, file=sys.stderr)
    print_json(result.to_dict()) if as_json else print_match(result.match, result.speed)


def space_cmd(
    depth: DepthsOpt = None,
    cardinalities: CardinalitiesOpt = None,
    bottleneck_widths: BottleneckWidthsOpt = None,
    template: TemplateOpt = None,
    complexity: ComplexityOpt = None,
    scope: ScopeOpt = None,
    width_multiplier: WidthMultiplierOpt = None,
    input_size: InputSizeOpt = None,
    tolerance: ToleranceOpt = None,
    match: MatchOpt = None,
    batch: SpeedBatchOpt = None,
    repeats: RepeatsOpt = None,
    device: SpeedDeviceOpt = None,
    store: SpeedStoreOpt = None,
    macs: MacsBandOpt = None,
    params: ParamsBandOpt = None,
    acts: ActsBandOpt = None,
    sample: Annotated[
        int | None,
        typer.Option("--sample", min=1, help="Draw N distinct specs inside the band at random."),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Seed of --sample (default 0): same seed, same candidates."),
    ] = None,
    space_file: Annotated[
        Path | None,
        typer.Option(
            "--space",
            help="TOML design space for --sample (format: archlab.search.sampling).",
            **PATH,
        ),
    ] = None,
    as_json: JsonOpt = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout.")] = False,
) -> None:
    """Enumerate candidates over depth x cardinality, or sample them from a space (--sample N).

    The grid solves d for each C (--cardinalities, default 1,2,4,8,32) unless
    --bottleneck-widths gives d; --sample draws C as powers of two 1..64 and d log-uniform from
    1 to 64 x --width-multiplier unless the lists say otherwise.
    """
    from archlab.workflows.space import run_space

    if as_json and as_csv:
        raise typer.BadParameter("--json and --csv are two formats for one output; give one")
    result = run_space(
        depths=int_tuple(depth, "--depth"),
        cardinalities=int_tuple(cardinalities, "--cardinalities"),
        bottleneck_widths=int_tuple(bottleneck_widths, "--bottleneck-widths"),
        macs=parse_band(macs, "--macs"), params=parse_band(params, "--params"),
        acts=parse_band(acts, "--acts"), **given(locals(), "template", "complexity", "scope",
        "width_multiplier", "input_size", "tolerance", "sample", "seed", "space_file", "match",
        "batch", "repeats", "device", "store"),
    )  # fmt: skip
    if result.note:
        print(result.note, file=sys.stderr)
    warn(result.warnings)
    print_table(result, as_json=as_json, as_csv=as_csv)


def register(app: typer.Typer) -> None:
    """Attach these commands to the app."""
    app.command("match-flops")(match_flops_cmd)
    app.command("space")(space_cmd)

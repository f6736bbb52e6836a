"""`archlab match-flops` and `archlab space`."""

from __future__ import annotations

from typing import Annotated

import typer

import archlab
from archlab.solver import Match

from ._common import console, fmt, parse_band, parse_int_list, print_json, table

TemplateOpt = Annotated[
    str, typer.Option("--template", help="imagenet (Table 1) or cifar (Sec. 5.3).")
]
ComplexityOpt = Annotated[
    float,
    typer.Option("--complexity", help="Target as a multiple of the ResNet baseline (2 = Table 4)."),
]
ScopeOpt = Annotated[
    str, typer.Option("--scope", help="block: Eq. 4 conv2-block params; network: total MACs.")
]
MultOpt = Annotated[
    float, typer.Option("--width-multiplier", help="Scale every width (tiny CPU variants).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def match_flops_cmd(
    cardinality: Annotated[
        int | None, typer.Option("--cardinality", "-C", help="C; solve for the bottleneck width d.")
    ] = None,
    bottleneck_width: Annotated[
        int | None, typer.Option("--bottleneck-width", "-d", help="d; solve for the cardinality C.")
    ] = None,
    depth: Annotated[
        int, typer.Option("--depth", help="Network depth (50, 101, ...; CIFAR 9n+2).")
    ] = 50,
    template: TemplateOpt = "imagenet",
    complexity: ComplexityOpt = 1.0,
    scope: ScopeOpt = "block",
    width_multiplier: MultOpt = 1.0,
    as_json: JsonOpt = False,
) -> None:
    """Find d for a cardinality C (or C for a d) that matches the ResNet baseline's complexity."""
    if (cardinality is None) == (bottleneck_width is None):
        raise typer.BadParameter("give exactly one of --cardinality or --bottleneck-width")
    kw = dict(
        depth=depth,
        template=template,
        complexity=complexity,
        scope=scope,
        width_multiplier=width_multiplier,
    )
    if cardinality is not None:
        match = archlab.match_flops(cardinality, **kw)  # type: ignore[arg-type]
    else:
        match = archlab.match_cardinality(bottleneck_width, **kw)  # type: ignore[arg-type]
    if as_json:
        print_json(match.to_dict())
    else:
        _print_match(match)


def _print_match(match: Match) -> None:
    d = match.to_dict()
    unit = "conv2-block params (Eq. 4)" if match.scope == "block" else "network MACs"
    rows = [
        [
            d["baseline_name"],
            1,
            match.baseline.bottleneck_width,
            match.baseline.group_width,
            d["baseline_block_params"],
            *d["baseline_network"].values(),
        ],
        [
            d["name"],
            d["cardinality"],
            d["bottleneck_width"],
            d["group_width"],
            d["block_params"],
            *d["network"].values(),
        ],
    ]
    out = console()
    out.print(
        table(
            f"{d['template']} depth {d['depth']}, input {d['input_size']}: "
            f"matched on {unit} at {d['complexity']:g}x the baseline",
            ["model", "C", "d", "group width", "block params", "MACs", "params", "acts"],
            rows,
        )
    )
    out.print(
        f"target {fmt(round(d['target']))}, got {fmt(d['value'])}: "
        f"relative error {d['relative_error']:.2%}"
    )


def space_cmd(
    depth: Annotated[str, typer.Option("--depth", help="Depth or comma list, e.g. 50,101.")] = "50",
    cardinalities: Annotated[
        str, typer.Option("--cardinalities", help="Comma list of C, e.g. 1,2,4,8,32.")
    ] = "1,2,4,8,32",
    bottleneck_widths: Annotated[
        str | None,
        typer.Option("--bottleneck-widths", help="Comma list of d (a grid); default: solve d."),
    ] = None,
    template: TemplateOpt = "imagenet",
    complexity: ComplexityOpt = 1.0,
    scope: ScopeOpt = "block",
    width_multiplier: MultOpt = 1.0,
    macs: Annotated[str | None, typer.Option("--macs", help="Keep MACs in MIN:MAX.")] = None,
    params: Annotated[str | None, typer.Option("--params", help="Keep params in MIN:MAX.")] = None,
    as_json: JsonOpt = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout.")] = False,
) -> None:
    """Enumerate candidates over depth x cardinality with matched (or given) bottleneck widths."""
    frame = archlab.enumerate_space(
        depths=parse_int_list(depth, "--depth"),
        cardinalities=parse_int_list(cardinalities, "--cardinalities"),
        bottleneck_widths=(
            parse_int_list(bottleneck_widths, "--bottleneck-widths") if bottleneck_widths else None
        ),
        template=template,
        complexity=complexity,
        scope=scope,
        width_multiplier=width_multiplier,
        macs_band=parse_band(macs, "--macs"),
        params_band=parse_band(params, "--params"),
    )
    if as_json:
        print_json(frame.to_dict(orient="records"))
    elif as_csv:
        print(frame.drop(columns="spec").to_csv(index=False), end="")
    else:
        cols = [
            "name",
            "depth",
            "cardinality",
            "bottleneck_width",
            "group_width",
            "block_params",
            "macs",
            "params",
            "acts",
            "relative_error",
        ]
        rows = [[_native(v) for v in r] for r in frame[cols].itertuples(index=False)]
        console().print(table(f"{len(frame)} candidates", cols, rows))


def _native(value: object) -> object:
    """numpy scalars -> Python numbers, NaN -> None, for printing."""
    if hasattr(value, "item"):
        value = value.item()  # type: ignore[union-attr]
    if isinstance(value, float) and value != value:
        return None
    return value


def register(app: typer.Typer) -> None:
    """Attach these commands to the app."""
    app.command("match-flops")(match_flops_cmd)
    app.command("space")(space_cmd)

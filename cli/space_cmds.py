"""`archlab match-flops` and `archlab space`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

import archlab
from archlab.search.solver import Match
from archlab.space import default_depth

from ._common import console, fmt, given, parse_band, parse_int_list, print_json, table

if TYPE_CHECKING:
    from archlab.workflows.space import CandidateTable

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
    float,
    typer.Option(
        "--width-multiplier", help="Scale the stem and stage widths, not d (tiny CPU variants)."
    ),
]
InputSizeOpt = Annotated[
    int | None,
    typer.Option("--input-size", help="Input N (N x N) the MACs are for (default 224; cifar 32)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def match_flops_cmd(
    cardinality: Annotated[
        int | None, typer.Option("--cardinality", "-C", help="C; solve for the bottleneck width d.")
    ] = None,
    bottleneck_width: Annotated[
        int | None,
        typer.Option(
            "--bottleneck-width",
            "-d",
            help="First-stage d, the network's own as in its name; solve for the cardinality C.",
        ),
    ] = None,
    depth: Annotated[
        int | None,
        typer.Option("--depth", help="Network depth (default 50; cifar: 29, i.e. 9n+2)."),
    ] = None,
    template: TemplateOpt = "imagenet",
    complexity: ComplexityOpt = 1.0,
    scope: ScopeOpt = "block",
    width_multiplier: MultOpt = 1.0,
    input_size: InputSizeOpt = None,
    as_json: JsonOpt = False,
    solve: Annotated[
        str | None,
        typer.Option("--solve", help="depth: solve the depth for -C/-d (network MACs or params)."),
    ] = None,
) -> None:
    """Find d for a cardinality C (or C for a d) that matches the ResNet baseline's complexity."""
    if solve not in (None, "depth"):
        raise typer.BadParameter(f"--solve takes depth, got {solve!r}")
    if solve is None and (cardinality is None) == (bottleneck_width is None):
        raise typer.BadParameter("give exactly one of --cardinality or --bottleneck-width")
    if solve == "depth":
        match = archlab.match_depth(
            cardinality or 1, bottleneck_width, template, complexity,
            "network" if scope == "block" else scope, width_multiplier=width_multiplier,
            baseline_depth=depth, input_size=input_size,
        )  # fmt: skip
    else:
        kw = dict(
            depth=depth if depth is not None else default_depth(template),
            template=template,
            complexity=complexity,
            scope=scope,
            width_multiplier=width_multiplier,
            input_size=input_size,
        )
        if cardinality is not None:
            match = archlab.match_flops(cardinality, **kw)  # type: ignore[arg-type]
        else:
            match = archlab.match_cardinality(bottleneck_width, **kw)  # type: ignore[arg-type]
    if as_json:
        print_json(match.to_dict())
    else:
        print_match(match)


def print_match(match: Match) -> None:
    """The matched spec beside its baseline, and how close the match is."""
    d = match.to_dict()
    unit = {"block": "conv2-block params (Eq. 4)", "params": "network params"}.get(
        match.scope, "network MACs"
    )
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
    ctx: typer.Context,
    depth: Annotated[
        str | None,
        typer.Option("--depth", help="Depth or comma list, e.g. 50,101 (default 50; cifar: 29)."),
    ] = None,
    cardinalities: Annotated[
        str | None,
        typer.Option(
            "--cardinalities",
            help="Comma list of C (default 1,2,4,8,32; --sample: powers of two 1..64).",
        ),
    ] = None,
    bottleneck_widths: Annotated[
        str | None,
        typer.Option(
            "--bottleneck-widths",
            help="Comma list of d, the networks' own (a grid); default: solve d (--sample: "
            "log-uniform 1..64 x --width-multiplier).",
        ),
    ] = None,
    template: Annotated[
        str | None,
        typer.Option("--template", help="imagenet (Table 1, the default) or cifar (Sec. 5.3)."),
    ] = None,
    complexity: Annotated[
        float | None,
        typer.Option(
            "--complexity", help="Target as a multiple of the ResNet baseline (default 1)."
        ),
    ] = None,
    scope: Annotated[
        str | None,
        typer.Option("--scope", help="block (default): Eq. 4 conv2-block params; network: MACs."),
    ] = None,
    width_multiplier: Annotated[
        float | None,
        typer.Option("--width-multiplier", help="Scale stem and stage widths, not d (default 1)."),
    ] = None,
    input_size: InputSizeOpt = None,
    macs: Annotated[str | None, typer.Option("--macs", help="Keep MACs in MIN:MAX.")] = None,
    params: Annotated[str | None, typer.Option("--params", help="Keep params in MIN:MAX.")] = None,
    acts: Annotated[str | None, typer.Option("--acts", help="Keep activations in MIN:MAX.")] = None,
    sample: Annotated[
        int | None,
        typer.Option("--sample", min=1, help="Draw N distinct specs inside the band at random."),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Seed of --sample (default 0): same seed, same specs."),
    ] = None,
    space_file: Annotated[
        Path | None,
        typer.Option(
            "--space", help="TOML design space for --sample (format: archlab.search.sampling)."
        ),
    ] = None,
    as_json: JsonOpt = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout.")] = False,
) -> None:
    """Enumerate candidates over depth x cardinality, or sample them from a space (--sample N)."""
    from archlab.workflows.space import Draw, Grid, band_of, space_candidates

    band = band_of(parse_band(macs, "--macs"), parse_band(params, "--params"),
                   parse_band(acts, "--acts"))  # fmt: skip
    if as_json and as_csv:
        raise typer.BadParameter("--json and --csv are two formats for one output; give one")
    p = ctx.params
    shape: dict[str, Any] = {
        "template": template,
        "depths": _int_tuple(depth, "--depth"),
        "cardinalities": _int_tuple(cardinalities, "--cardinalities"),
        "bottleneck_widths": _int_tuple(bottleneck_widths, "--bottleneck-widths"),
        "width_multiplier": width_multiplier,
        "input_size": input_size,
    }
    request: Grid | Draw
    if sample is None:
        _refuse("needs --sample N", p, "seed", "space_file")
        if bottleneck_widths:
            _refuse("does not apply with --bottleneck-widths (d is given, not solved)", p,
                    "complexity", "scope")  # fmt: skip
        chosen = {k: v for k, v in shape.items() if v is not None}
        request = Grid(**chosen, **given(p, "complexity", "scope"), band=band)
    else:
        _refuse("does not apply to --sample (d is drawn, not solved)", p, "complexity", "scope")
        if space_file is not None:
            why = "does not apply with --space (the file describes the space)"
            _refuse(why, p, "depth", "cardinalities", "template", *_WIDTHS)
        chosen = {k: v for k, v in shape.items() if v is not None}
        request = Draw(sample, **given(p, "seed", "space_file"), **chosen, band=band)
    result = space_candidates(request)
    if result.note:
        print(result.note, file=sys.stderr)
    print_table(result, as_json=as_json, as_csv=as_csv)


_FLAGS = {"space_file": "--space", "depth": "--depth"}
_WIDTHS = ("bottleneck_widths", "width_multiplier")


def _refuse(why: str, params: dict[str, object], *names: str) -> None:
    """A usage error for the first named option that was given but does not apply."""
    for name in names:
        if params.get(name) is not None:
            flag = _FLAGS.get(name, "--" + name.replace("_", "-"))
            raise typer.BadParameter(f"{flag} {why}")


def _int_tuple(text: str | None, option: str) -> tuple[int, ...] | None:
    return None if text is None else tuple(parse_int_list(text, option))


def print_table(result: CandidateTable, *, as_json: bool, as_csv: bool) -> None:
    """Candidates as JSON, CSV or a table."""
    frame = result.frame
    if as_json:
        print_json(frame.to_dict(orient="records"))
    elif as_csv:
        print(frame.drop(columns="spec").to_csv(index=False), end="")
    else:
        cols = ["name", "depth", "cardinality", "bottleneck_width", "group_width",
                "block_params", "macs", "params", "acts"]  # fmt: skip
        if not result.sampled:
            cols.append("relative_error")
        rows = [[_native(v) for v in r] for r in frame[cols].itertuples(index=False)]
        console().print(table(result.title, cols, rows))


def _native(value: object) -> object:
    """numpy scalars -> Python numbers, NaN -> None, for printing."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def register(app: typer.Typer) -> None:
    """Attach these commands to the app."""
    app.command("match-flops")(match_flops_cmd)
    app.command("space")(space_cmd)

"""Spec and output options shared by several commands, each declared once.

Every default is None, "not given": the plan file or the library decides. The names are the
ones every command uses (the training commands' own options live in plan_options.py).
"""

from __future__ import annotations

from typing import Annotated

import typer

TemplateOpt = Annotated[str | None, typer.Option("--template", help="imagenet or cifar (default).")]
DepthOpt = Annotated[
    int | None,
    typer.Option("--depth", help="The baseline's depth (default: 29 cifar, 50 imagenet)."),
]
CardinalitiesOpt = Annotated[
    str | None, typer.Option("--cardinalities", help="Comma list of C; d is solved for each.")
]
WidthMultiplierOpt = Annotated[
    float | None,
    typer.Option(
        "--width-multiplier", help="Scale stem and stage widths (d is solved, not scaled)."
    ),
]
ComplexityOpt = Annotated[
    float | None, typer.Option("--complexity", help="Target as a multiple of the baseline.")
]
MatchOpt = Annotated[str | None, typer.Option("--match", help="Match arms on macs or params.")]
ToleranceOpt = Annotated[
    float | None, typer.Option("--tolerance", help="Largest relative match error (0.05 = 5%).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]

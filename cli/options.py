"""The options commands share, each declared once with one help text.

Every alias defaults to None, "not given": the library holds each default once, and a command
passes only what was typed (:func:`archlab.cli._common.given`). A match error is a fraction in
every option and JSON value (``--tolerance 0.05``, ``relative_error``); tables show it as
"match err %".
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path
from typing import Annotated

import typer

from archlab.train.defaults import DEFAULT_STORE

from ._common import PATH, PATH_TEXT

TemplateOpt = Annotated[
    str | None,
    typer.Option("--template", help="imagenet (Table 1, the default) or cifar (Sec. 5.3)."),
]
TrainTemplateOpt = Annotated[
    str | None,
    typer.Option("--template", help="cifar (Sec. 5.3, the default) or imagenet (Table 1)."),
]
DepthOpt = Annotated[
    int | None,
    typer.Option("--depth", help="Network depth (default: the template's, 50 or cifar's 29)."),
]
DepthsOpt = Annotated[
    str | None,
    typer.Option("--depth", help="Depth or comma list, e.g. 50,101 (default: the template's)."),
]
CardinalityOpt = Annotated[
    int | None, typer.Option("--cardinality", "-C", help="Cardinality C, the number of groups.")
]
CardinalitiesOpt = Annotated[
    str | None,
    typer.Option("--cardinalities", help="Comma list of cardinalities C, e.g. 1,2,4,8,32."),
]
BottleneckWidthOpt = Annotated[
    int | None,
    typer.Option(
        "--bottleneck-width",
        "-d",
        help="First-stage d, the network's own as in its name (after --width-multiplier).",
    ),
]
BottleneckWidthsOpt = Annotated[
    str | None,
    typer.Option(
        "--bottleneck-widths", help="Comma list of first-stage d, the networks' own (a grid)."
    ),
]
_WIDTH = "Scale the stem and stage widths, not d"
WidthMultiplierOpt = Annotated[
    float | None, typer.Option("--width-multiplier", help=f"{_WIDTH} (default 1).")
]
# A study's default depends on the device (archlab.workflows.study_plan.DEFAULT_WIDTH); the
# demo's plan sets 1/8 (see its --print-config).
StudyWidthMultiplierOpt = Annotated[
    float | None,
    typer.Option("--width-multiplier", help=f"{_WIDTH} (default: 1/8 on a CPU, 1 on CUDA)."),
]
DemoWidthMultiplierOpt = Annotated[
    float | None, typer.Option("--width-multiplier", help=f"{_WIDTH} (default 1/8, the demo's).")
]
ComplexityOpt = Annotated[
    float | None,
    typer.Option(
        "--complexity", help="Target as a multiple of the ResNet baseline (default 1; 2 = Table 4)."
    ),
]
InputSizeOpt = Annotated[
    int | None,
    typer.Option(
        "--input-size", help="Input N (N x N) the MACs are for (default: 224, or cifar's 32)."
    ),
]
ScopeOpt = Annotated[
    str | None,
    typer.Option(
        "--scope",
        help="What is matched: block (Eq. 4 conv2-block params; the default for d and C), "
        "network (MACs; the default for depth) or params.",
    ),
]
_MATCHED = (
    "What is matched: macs, params, speed (measured train-step time per image on this device) "
    "or latency (measured inference at the batch)"
)
MatchOpt = Annotated[
    str | None,
    typer.Option("--match", help=f"{_MATCHED} (default: what --scope says, block params)."),
]
StudyMatchOpt = Annotated[str | None, typer.Option("--match", help=f"{_MATCHED} (default macs).")]
SpeedBatchOpt = Annotated[
    int | None,
    typer.Option(
        "--batch",
        "--batch-size",  # what count and the training commands call the same thing
        help="Batch timed by --match speed or latency (default 32).",
    ),
]
RepeatsOpt = Annotated[
    int | None,
    typer.Option(
        "--repeats",
        help="Round-robin rounds a --match speed run starts with, each timing every candidate "
        "and the baseline once (default 7); rounds are added, up to 4x, while a deciding "
        "ratio's interval is wider than --tolerance.",
    ),
]


def device_help(what: str) -> str:
    """--device's help, one wording in every command that picks a device."""
    return f"auto (the default: cuda where torch sees one), cpu or cuda: {what}."


SpeedDeviceOpt = Annotated[
    str | None, typer.Option("--device", help=device_help("where --match speed times"))
]
MeasureDeviceOpt = Annotated[
    str | None, typer.Option("--device", help=device_help("where --measure times"))
]
SpeedStoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Results store keeping --match speed measurements, reused when asked again "
        f"(default {DEFAULT_STORE}).",
        **PATH_TEXT,
    ),
]
CountDtypeOpt = Annotated[
    str | None,
    typer.Option("--dtype", help="float32 (the default), float16 or bfloat16: --measure's dtype."),
]
CountStoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Results store keeping --measure's measurement, reused when asked again "
        "(default: none, nothing written).",
        **PATH_TEXT,
    ),
]
ToleranceOpt = Annotated[
    float | None,
    typer.Option(
        "--tolerance",
        help="Largest match error as a fraction (default 0.05, i.e. 5%): match-flops and space "
        "warn on stderr beyond it.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output (JSON only).")]


def _band(what: str) -> str:
    return f"Keep candidates whose {what} lie in MIN:MAX (either side may be empty)."


# space and compare-spaces: the complexity band candidates are kept in.
MacsBandOpt = Annotated[str | None, typer.Option("--macs", help=_band("MACs"))]
ParamsBandOpt = Annotated[str | None, typer.Option("--params", help=_band("parameters"))]
ActsBandOpt = Annotated[str | None, typer.Option("--acts", help=_band("activations"))]
# results, export and watch: a store to read, given or the default (typer prints it).
ReadStoreOpt = Annotated[
    Path, typer.Option("--store", help="The results store to read (never written).", **PATH)
]
# Library keywords whose CLI flag is not ``--`` plus the keyword with dashes.
_FLAGS = {
    "space_file": "--space",
    "depths": "--depth",
    "name": "NAME",
    "sample": "--sample",
    "run_id": "--run",
}


def flag(keyword: str) -> str:
    """The CLI flag of a library keyword (``space_file`` -> ``--space``)."""
    return _FLAGS.get(keyword, "--" + keyword.replace("_", "-"))


# The sections of a run plan (archlab.train.plan): a plan key is ``section.field``.
_PLAN_SECTIONS = ("data", "recipe", "budget", "strategy", "execution", "output", "select")
_PLAN_KEY = re.compile(rf"(?<![\w/.-])(?:{'|'.join(_PLAN_SECTIONS)})\.[a-z_]+\b(?!\.\w)")
# Plan keys whose flag is not ``--field``.
_PLAN_FLAGS = {"data.name": "--dataset", "select.files": "--candidates",
               "strategy.name": "--strategy"}  # fmt: skip


def plan_words(message: str, flags: Collection[str]) -> str:
    """A library message with its plan keys (``strategy.max_epochs``) as the CLI's ``flags``.

    A key becomes ``--field`` only where some command has that flag, so a key no option sets
    (one that only a plan file holds) stays as the file spells it.
    """

    def word(m: re.Match[str]) -> str:
        key = m.group(0)
        option = _PLAN_FLAGS.get(key, "--" + key.partition(".")[2].replace("_", "-"))
        return option if option in flags else key

    return _PLAN_KEY.sub(word, message)

"""`archlab demo`: the README's main job on the built-in default data set.

Match-flops and space on the paper's ImageNet template, then a matched-complexity CIFAR-template
family (C = 1, 2, 4, 8 at a small width multiplier) trained briefly on scikit-learn's digits,
then the report. Rerunning it resumes from the store, so a finished demo only redraws the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import archlab

from ._common import command_line, console, default_store_dir, parse_int_list
from .space_cmds import match_flops_cmd, space_cmd
from .train_cmd import print_summary

DEMO_CARDINALITIES = "1,2,4,8"
DEFAULT_DEMO_STORE = Path("archlab-runs/demo.db")
DEFAULT_DEMO_OUT = Path("reports/demo")


def demo_cmd(
    out: Annotated[Path, typer.Option("--out", help="Report folder.")] = DEFAULT_DEMO_OUT,
    store: Annotated[Path, typer.Option("--store", help="Results store.")] = DEFAULT_DEMO_STORE,
    epochs: Annotated[int, typer.Option("--epochs", help="Epochs per run.")] = 12,
    seeds: Annotated[str, typer.Option("--seeds", help="Comma list of seeds.")] = "0,1",
    width_multiplier: Annotated[
        float, typer.Option("--width-multiplier", help="Width of the trained family.")
    ] = 0.25,
    device: Annotated[str, typer.Option("--device", help="auto | cpu | cuda.")] = "auto",
    quiet: Annotated[bool, typer.Option("--quiet", help="Log lines instead of bars.")] = False,
) -> int:
    """Run the main job on the built-in default: match, enumerate, train on digits, report."""
    from archlab.report.markdown import write_report
    from archlab.train.driver import train_candidates
    from archlab.train.loop import TrainConfig
    from archlab.train.progress import make_reporter

    out_console = console()
    out_console.rule("1. match-flops: d for C=32 at ResNet-50's complexity (Table 2)")
    match_flops_cmd(cardinality=32)
    out_console.rule("2. space: the complexity-matched ResNeXt-50 family (Table 3)")
    space_cmd()
    out_console.rule(f"3. train-candidates: ResNeXt-29 C={DEMO_CARDINALITIES} on digits")
    specs = [
        archlab.match_flops(c, 29, "cifar", width_multiplier=width_multiplier).spec
        for c in parse_int_list(DEMO_CARDINALITIES, "--cardinalities")
    ]
    config = TrainConfig(dataset="digits", epochs=epochs, batch_size=64)
    default_store_dir(store, DEFAULT_DEMO_STORE)
    summary = train_candidates(
        specs,
        config=config,
        seeds=parse_int_list(seeds, "--seeds"),
        device=device,
        store_path=store,
        reporter=make_reporter(quiet=quiet),
    )
    print_summary(summary)
    out_console.rule("4. report")
    command = command_line(
        "demo",
        [],
        [
            ("--out", out, DEFAULT_DEMO_OUT),
            ("--store", store, DEFAULT_DEMO_STORE),
            ("--epochs", epochs, 12),
            ("--seeds", seeds, "0,1"),
            ("--width-multiplier", width_multiplier, 0.25),
        ],
    )
    path = write_report(store, out, command=command)
    out_console.print(f"report written to {path}")
    return 1 if summary.any_failed else 0


def register(app: typer.Typer) -> None:
    """Attach the command to the app."""
    app.command("demo")(demo_cmd)

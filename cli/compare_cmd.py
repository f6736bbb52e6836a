"""`archlab compare-spaces A.toml B.toml`: sample, train and compare two design spaces."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import command_line, console, given, parse_band, seeds_given


def compare_spaces_cmd(
    ctx: typer.Context,
    space_a: Annotated[Path, typer.Argument(help="First design space (TOML).")],
    space_b: Annotated[Path, typer.Argument(help="Second design space (TOML).")],
    samples: Annotated[
        int | None, typer.Option("--samples", min=1, help="Candidates per space (16).")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Sampling seed (0).")] = None,
    macs: Annotated[str | None, typer.Option("--macs", help="Band MIN:MAX for both.")] = None,
    params: Annotated[str | None, typer.Option("--params", help="Band MIN:MAX.")] = None,
    acts: Annotated[str | None, typer.Option("--acts", help="Band MIN:MAX.")] = None,
    dataset: Annotated[str | None, typer.Option(help="Data set, as train-candidates.")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", help="Epochs per run (4).")] = None,
    seeds: Annotated[str | None, typer.Option("--seeds", help="Comma list of seeds.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Images per step.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Training images cap.")] = None,
    device: Annotated[str | None, typer.Option("--device", help="auto | cpu | cuda.")] = None,
    executor: Annotated[str | None, typer.Option("--executor", help="local or ray.")] = None,
    ray_address: Annotated[str | None, typer.Option(help="auto or HOST:PORT.")] = None,
    store: Annotated[
        Path | None, typer.Option("--store", help="Results store (archlab-runs/compare.db).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Where compare.md goes (archlab-runs/compare).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="Log lines instead of bars.")] = False,
) -> int:
    """Sample K candidates from each space in one complexity band, train them, compare EDFs."""
    from archlab.train.plan import ExecutionOptions
    from archlab.train.progress import make_reporter
    from archlab.workflows.compare_spaces import compare_config, compare_spaces

    from .train_cmd import print_summary

    p = ctx.params
    result = compare_spaces(
        space_a,
        space_b,
        **given(p, "samples", "seed", "store", "out"),
        macs=parse_band(macs, "--macs"),
        params=parse_band(params, "--params"),
        acts=parse_band(acts, "--acts"),
        **seeds_given(seeds),
        config=compare_config(**given(p, "dataset", "epochs", "batch_size", "limit")),
        execution=ExecutionOptions(**given(p, "device", "executor", "ray_address")),
        command=command_line(ctx),
        reporter=make_reporter(quiet=quiet),
    )
    print_summary(result.summary)
    c = result.comparison
    console().print(
        f"KS statistic {c.ks:.3f} (normalised {c.ks_normalised:.3f}); "
        f"comparison written to {result.report}"
    )
    return 1 if result.summary.any_failed else 0


def register(app: typer.Typer) -> None:
    """Attach the command to the app."""
    app.command("compare-spaces")(compare_spaces_cmd)

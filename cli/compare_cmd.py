"""`archlab compare-spaces A.toml B.toml`: sample, train and compare two design spaces."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from archlab.search.space_file import load_space

from ._common import command_line, console, default_store_dir, parse_band, parse_int_list
from .train_cmd import print_summary

DEFAULT_STORE = Path("archlab-runs/compare.db")
DEFAULT_OUT = Path("archlab-runs/compare")


def compare_spaces_cmd(
    space_a: Annotated[Path, typer.Argument(help="First design space (TOML).")],
    space_b: Annotated[Path, typer.Argument(help="Second design space (TOML).")],
    samples: Annotated[int, typer.Option("--samples", help="Candidates per space.")] = 16,
    seed: Annotated[int, typer.Option("--seed", help="Sampling seed.")] = 0,
    macs: Annotated[str | None, typer.Option("--macs", help="Band MIN:MAX for both.")] = None,
    params: Annotated[str | None, typer.Option("--params", help="Band MIN:MAX.")] = None,
    acts: Annotated[str | None, typer.Option("--acts", help="Band MIN:MAX.")] = None,
    dataset: Annotated[str, typer.Option("--dataset", help="Data set, as train-candidates.")] = (
        "digits"
    ),
    epochs: Annotated[int, typer.Option("--epochs", help="Epochs per run.")] = 4,
    seeds: Annotated[str, typer.Option("--seeds", help="Comma list of seeds.")] = "0",
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per step.")] = 128,
    limit: Annotated[int | None, typer.Option("--limit", help="Training images cap.")] = None,
    device: Annotated[str, typer.Option("--device", help="auto | cpu | cuda.")] = "auto",
    executor: Annotated[str, typer.Option("--executor", help="local or ray.")] = "local",
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="auto or HOST:PORT.")
    ] = None,
    store: Annotated[Path, typer.Option("--store", help="Results store.")] = DEFAULT_STORE,
    out: Annotated[Path, typer.Option("--out", help="Where compare.md goes.")] = DEFAULT_OUT,
    quiet: Annotated[bool, typer.Option("--quiet", help="Log lines instead of bars.")] = False,
) -> int:
    """Sample K candidates from each space in one complexity band, train them, compare EDFs."""
    from archlab.report.compare import compare_from_store, sample_both, write_comparison
    from archlab.train.driver import train_candidates
    from archlab.train.executors import ExecutionOptions
    from archlab.train.loop import TrainConfig
    from archlab.train.progress import make_reporter

    if samples < 1:
        raise typer.BadParameter(f"--samples must be at least 1, got {samples}")
    a, b = sample_both(
        load_space(space_a),
        load_space(space_b),
        samples=samples,
        seed=seed,
        macs=parse_band(macs, "--macs"),
        params=parse_band(params, "--params"),
        acts=parse_band(acts, "--acts"),
    )
    config = TrainConfig(dataset=dataset, epochs=epochs, batch_size=batch_size, limit=limit)
    default_store_dir(store, DEFAULT_STORE)
    summary = train_candidates(
        [*a.specs, *b.specs],
        config=config,
        seeds=parse_int_list(seeds, "--seeds"),
        device=device,
        store_path=store,
        reporter=make_reporter(quiet=quiet),
        execution=ExecutionOptions(executor=executor, ray_address=ray_address),
    )
    print_summary(summary)
    names = ([s.name for s in a.specs], [s.name for s in b.specs])
    labels = (
        (space_a.stem, space_b.stem)
        if space_a.stem != space_b.stem
        else (str(space_a), str(space_b))
    )
    comparison = compare_from_store(store, labels, names, config.key())
    command = command_line(
        "compare-spaces",
        [str(space_a), str(space_b)],
        [
            ("--samples", samples, 16),
            ("--seed", seed, 0),
            ("--macs", macs, None),
            ("--params", params, None),
            ("--acts", acts, None),
            ("--dataset", dataset, "digits"),
            ("--epochs", epochs, 4),
            ("--seeds", seeds, "0"),
            ("--batch-size", batch_size, 128),
            ("--limit", limit, None),
            ("--store", store, DEFAULT_STORE),
            ("--out", out, DEFAULT_OUT),
            ("--device", device, "auto"),
            ("--executor", executor, "local"),
            ("--ray-address", ray_address, None),
        ],
    )
    path = write_comparison(comparison, out, command=command)
    console().print(
        f"KS statistic {comparison.ks:.3f} (normalised {comparison.ks_normalised:.3f}); "
        f"comparison written to {path}"
    )
    return 1 if summary.any_failed else 0


def register(app: typer.Typer) -> None:
    """Attach the command to the app."""
    app.command("compare-spaces")(compare_spaces_cmd)

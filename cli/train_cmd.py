"""`archlab train-candidates`: short training runs of candidates, stored and resumable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from archlab.errors import ArchlabError
from archlab.presets import get_spec
from archlab.search.solver import match_flops
from archlab.space import NetSpec, spec_from_dict

if TYPE_CHECKING:  # torch-heavy modules load inside the command, keeping start-up quick
    from archlab.train.driver import Halving, Summary

from ._common import console, default_store_dir, parse_int_list, print_json, table

DEFAULT_STORE = "archlab-runs/store.db"


def select_candidates(
    *,
    cardinalities: str | None,
    models: str | None,
    candidates_file: Path | None,
    depth: int,
    template: str,
    width_multiplier: float,
    complexity: float,
    scope: str,
) -> list[NetSpec]:
    """Candidates from solved cardinalities, preset names and/or a ``space --json`` file."""
    specs: list[NetSpec] = []
    if cardinalities is not None:
        for c in parse_int_list(cardinalities, "--cardinalities"):
            specs.append(
                match_flops(
                    c, depth, template, complexity, scope, width_multiplier=width_multiplier
                ).spec
            )
    if models is not None:
        names = [m.strip() for m in models.split(",") if m.strip()]
        if not names:
            raise typer.BadParameter(f"--models needs comma-separated preset names, got {models!r}")
        specs += [get_spec(name) for name in names]
    if candidates_file is not None:
        specs += read_candidates(candidates_file)
    if not specs:
        raise ArchlabError("no candidates: give --cardinalities, --models or --candidates FILE")
    return specs


def read_candidates(path: Path) -> list[NetSpec]:
    """Specs from the JSON list that ``archlab space --json`` prints (or a list of spec dicts)."""
    try:
        rows = json.loads(path.read_text())
    except OSError as exc:
        raise ArchlabError(f"cannot read candidates file {str(path)!r}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ArchlabError(f"candidates file {str(path)!r} is not JSON: {exc}") from None
    if not isinstance(rows, list) or not rows:
        raise ArchlabError(f"candidates file {str(path)!r} must hold a non-empty JSON list")
    specs = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ArchlabError(f"candidates file {str(path)!r}: entry {i} is not an object")
        specs.append(spec_from_dict(row.get("spec", row)))
    return specs


def train_candidates_cmd(
    cardinalities: Annotated[
        str | None,
        typer.Option(
            "--cardinalities", help="Comma list of C; d is solved for matched complexity."
        ),
    ] = None,
    models: Annotated[
        str | None,
        typer.Option("--models", help="Comma list of preset names, e.g. resnext29_8x64d."),
    ] = None,
    candidates: Annotated[
        Path | None,
        typer.Option("--candidates", help="JSON file written by `archlab space --json`."),
    ] = None,
    depth: Annotated[int, typer.Option("--depth", help="Depth for --cardinalities.")] = 29,
    template: Annotated[str, typer.Option("--template", help="imagenet or cifar.")] = "cifar",
    width_multiplier: Annotated[
        float, typer.Option("--width-multiplier", help="Scale every width (tiny CPU variants).")
    ] = 1.0,
    complexity: Annotated[
        float, typer.Option("--complexity", help="Target as a multiple of the baseline.")
    ] = 1.0,
    scope: Annotated[str, typer.Option("--scope", help="block or network.")] = "block",
    dataset: Annotated[
        str,
        typer.Option(
            "--dataset", help="digits | cifar10:PATH | cifar100:PATH | folder:PATH | npz:PATH"
        ),
    ] = "digits",
    epochs: Annotated[int | None, typer.Option("--epochs", help="Epochs per run.")] = None,
    time_budget: Annotated[
        float | None, typer.Option("--time-budget", help="Seconds per run (instead of --epochs).")
    ] = None,
    seeds: Annotated[str, typer.Option("--seeds", help="Comma list of seeds.")] = "0",
    device: Annotated[str, typer.Option("--device", help="auto | cpu | cuda.")] = "auto",
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per step.")] = 128,
    lr: Annotated[float, typer.Option("--lr", help="Peak learning rate.")] = 0.1,
    weight_decay: Annotated[
        float, typer.Option("--weight-decay", help="5e-4 for CIFAR-like data, 1e-4 ImageNet-like.")
    ] = 5e-4,
    momentum: Annotated[float, typer.Option("--momentum", help="SGD momentum.")] = 0.9,
    schedule: Annotated[str, typer.Option("--schedule", help="cosine or step.")] = "cosine",
    warmup_epochs: Annotated[int, typer.Option("--warmup-epochs", help="Linear warm-up.")] = 1,
    label_smoothing: Annotated[
        float, typer.Option("--label-smoothing", help="Cross-entropy label smoothing.")
    ] = 0.0,
    augment: Annotated[
        bool, typer.Option("--augment/--no-augment", help="Pad-and-crop (and flips where valid).")
    ] = True,
    channels_last: Annotated[
        bool, typer.Option("--channels-last/--no-channels-last", help="NHWC memory layout.")
    ] = True,
    compile_model: Annotated[
        bool, typer.Option("--compile", help="torch.compile the model.")
    ] = False,
    form: Annotated[str, typer.Option("--form", help="Block form a, b or c.")] = "c",
    limit: Annotated[
        int | None,
        typer.Option("--limit", help="Use only this many training images (quick checks)."),
    ] = None,
    val_fraction: Annotated[
        float,
        typer.Option("--val-fraction", help="Share of training data held out for validation."),
    ] = 0.1,
    store: Annotated[Path, typer.Option("--store", help="SQLite results store.")] = Path(
        DEFAULT_STORE
    ),
    workdir: Annotated[
        Path | None,
        typer.Option("--workdir", help="Checkpoints and logs (default: beside the store)."),
    ] = None,
    strategy: Annotated[
        str, typer.Option("--strategy", help="grid (all at one budget) or halving.")
    ] = "grid",
    eta: Annotated[int, typer.Option("--eta", help="Halving: keep the best 1/eta per rung.")] = 2,
    min_epochs: Annotated[int, typer.Option("--min-epochs", help="Halving: first rung.")] = 1,
    max_epochs: Annotated[int, typer.Option("--max-epochs", help="Halving: last rung.")] = 8,
    executor: Annotated[str, typer.Option("--executor", help="local or ray.")] = "local",
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="Local worker processes (default: one per GPU, else 1)."),
    ] = None,
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="auto or HOST:PORT of a Ray cluster.")
    ] = None,
    gpus_per_run: Annotated[
        float | None, typer.Option("--gpus-per-run", help="Ray: GPUs per run (default 1 on CUDA).")
    ] = None,
    threads: Annotated[
        int | None, typer.Option("--threads", help="torch CPU threads per run (default: all).")
    ] = None,
    reclaim: Annotated[
        bool,
        typer.Option(
            "--reclaim",
            help="Resume runs left 'running' by another machine (only if it no longer runs them).",
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="Log lines instead of bars.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Summary as JSON.")] = False,
) -> int:
    """Train candidates briefly on real data; rerun the same command to resume."""
    from archlab.train.driver import train_candidates
    from archlab.train.executors import ExecutionOptions
    from archlab.train.loop import TrainConfig
    from archlab.train.progress import make_reporter

    specs = select_candidates(
        cardinalities=cardinalities,
        models=models,
        candidates_file=candidates,
        depth=depth,
        template=template,
        width_multiplier=width_multiplier,
        complexity=complexity,
        scope=scope,
    )
    halving = _halving(strategy, eta, min_epochs, max_epochs, epochs, time_budget)
    config = TrainConfig(
        dataset=dataset,
        epochs=(
            halving.max_epochs
            if halving
            else epochs
            if epochs is not None or time_budget is not None
            else 10
        ),
        time_budget=time_budget,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        momentum=momentum,
        schedule=schedule,
        warmup_epochs=warmup_epochs,
        label_smoothing=label_smoothing,
        augment=augment,
        channels_last=channels_last,
        compile=compile_model,
        form=form,
        limit=limit,
        val_fraction=val_fraction,
    )
    default_store_dir(store, Path(DEFAULT_STORE))
    reporter = make_reporter(quiet=quiet or as_json)
    summary = train_candidates(
        specs,
        config=config,
        seeds=parse_int_list(seeds, "--seeds"),
        device=device,
        store_path=store,
        workdir=workdir,
        reporter=reporter,
        halving=halving,
        reclaim=reclaim,
        execution=ExecutionOptions(
            executor=executor,
            workers=workers,
            ray_address=ray_address,
            gpus_per_run=gpus_per_run,
            threads=threads,
        ),
    )
    if as_json:
        print_json(_summary_dict(summary))
    else:
        print_summary(summary)
    return 1 if summary.any_failed else 0


def _halving(
    strategy: str,
    eta: int,
    min_epochs: int,
    max_epochs: int,
    epochs: int | None,
    time_budget: float | None,
) -> Halving | None:
    """The halving plan, or None for a grid; budgets belong to one strategy or the other."""
    from archlab.train.driver import STRATEGIES, Halving

    if strategy == "grid":
        return None
    if strategy != "halving":
        raise ArchlabError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if epochs is not None or time_budget is not None:
        raise ArchlabError("--strategy halving takes --min-epochs/--max-epochs, not --epochs")
    return Halving(eta=eta, min_epochs=min_epochs, max_epochs=max_epochs)


def _summary_dict(summary: Summary) -> dict[str, Any]:
    return {
        "store": summary.store,
        "workdir": summary.workdir,
        "runs": [r.__dict__ for r in summary.results],
    }


def print_summary(summary: Summary) -> None:
    """The runs table and where results went."""
    rows = [
        [
            r.name,
            r.seed,
            r.rung,
            r.status + (" (stored)" if r.skipped else ""),
            r.epochs,
            r.val_error,
            r.test_error,
            r.reason or "",
        ]
        for r in summary.results
    ]
    out = console()
    out.print(
        table(
            "runs",
            ["candidate", "seed", "rung", "status", "epochs", "val error", "test error", "reason"],
            rows,
        )
    )
    out.print(f"store: {summary.store}   checkpoints and logs: {summary.workdir}")
    failed = summary.count("failed")
    if failed:
        out.print(f"{failed} run(s) failed; rerun the same command to retry them")


def register(app: typer.Typer) -> None:
    """Attach the command to the app."""
    app.command("train-candidates")(train_candidates_cmd)

"""`archlab train-candidates`: short training runs of candidates, stored and resumable.

Every option left out keeps the plan file's value (``--config``) or the library's default; the
defaults live in :mod:`archlab.train.plan` and :class:`archlab.train.config.TrainConfig` only.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

import typer

from ._common import console, parse_int_list, print_json, table

if TYPE_CHECKING:  # torch-heavy modules load inside the command, keeping start-up quick
    from archlab.workflows.train_candidates import InvocationSummary


def _names(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip()]
    if not names:
        raise typer.BadParameter(f"--models needs comma-separated model names, got {text!r}")
    return names


# option -> (plan key, how its text becomes the plan's value); main.py maps keys back to flags.
PLAN_OPTIONS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "cardinalities": ("select.cardinalities", lambda v: parse_int_list(v, "--cardinalities")),
    "models": ("select.models", _names),
    "candidates": ("select.files", lambda v: [str(v)]),
    "depth": ("select.depth", int),
    "template": ("select.template", str),
    "width_multiplier": ("select.width_multiplier", float),
    "complexity": ("select.complexity", float),
    "scope": ("select.scope", str),
    "dataset": ("data.name", str),
    "limit": ("data.limit", int),
    "val_fraction": ("data.val_fraction", float),
    "epochs": ("budget.epochs", int),
    "time_budget": ("budget.time_budget", float),
    "seeds": ("seeds", lambda v: parse_int_list(v, "--seeds")),
    "batch_size": ("recipe.batch_size", int),
    "lr": ("recipe.lr", float),
    "weight_decay": ("recipe.weight_decay", float),
    "momentum": ("recipe.momentum", float),
    "schedule": ("recipe.schedule", str),
    "warmup_epochs": ("recipe.warmup_epochs", int),
    "label_smoothing": ("recipe.label_smoothing", float),
    "augment": ("recipe.augment", str),
    "channels_last": ("recipe.channels_last", bool),
    "compile_model": ("recipe.compile", bool),
    "form": ("recipe.form", str),
    "strategy": ("strategy.name", str),
    "eta": ("strategy.eta", int),
    "min_epochs": ("strategy.min_epochs", int),
    "max_epochs": ("strategy.max_epochs", int),
    "store": ("output.store", str),
    "workdir": ("output.workdir", str),
    "keep": ("output.keep", int),
    "executor": ("execution.executor", str),
    "workers": ("execution.workers", int),
    "ray_address": ("execution.ray_address", str),
    "gpus_per_run": ("execution.gpus_per_run", float),
    "threads": ("execution.threads", int),
    "device": ("execution.device", str),
    "reclaim": ("execution.reclaim", bool),
}
# Every option's default is None, 'not given': the plan file or the library decides.
S: TypeAlias = str | None
N: TypeAlias = int | None
F: TypeAlias = float | None
B: TypeAlias = bool | None


def train_candidates_cmd(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option("--config", help="TOML run plan.")] = None,
    print_config: Annotated[
        bool, typer.Option("--print-config", help="Print the resolved plan as TOML and exit.")
    ] = False,
    cardinalities: Annotated[
        S, typer.Option(help="Comma list of C; d is solved for matched complexity.")
    ] = None,
    models: Annotated[
        S, typer.Option(help="Comma list of model names, e.g. resnext29_8x3d_w0.25.")
    ] = None,
    candidates: Annotated[
        Path | None, typer.Option(help="JSON file written by `archlab space --json`.")
    ] = None,
    depth: Annotated[N, typer.Option(help="Depth for --cardinalities (default: 29 cifar).")] = None,
    template: Annotated[S, typer.Option(help="imagenet or cifar (default).")] = None,
    width_multiplier: Annotated[F, typer.Option(help="Scale stem, stage widths.")] = None,
    complexity: Annotated[F, typer.Option(help="Target as a multiple of the baseline.")] = None,
    scope: Annotated[S, typer.Option(help="block or network.")] = None,
    dataset: Annotated[
        S, typer.Option(help="digits | cifar10:PATH | cifar100:PATH | folder:PATH | npz:PATH")
    ] = None,
    epochs: Annotated[N, typer.Option(help="Epochs per run (default 10).")] = None,
    time_budget: Annotated[F, typer.Option(help="Seconds per run (instead of --epochs).")] = None,
    seeds: Annotated[S, typer.Option(help="Comma list of seeds.")] = None,
    device: Annotated[S, typer.Option(help="auto | cpu | cuda.")] = None,
    batch_size: Annotated[N, typer.Option(help="Images per step.")] = None,
    lr: Annotated[
        F, typer.Option(help="Peak learning rate [default: 0.1 x batch size / 128].")
    ] = None,
    weight_decay: Annotated[F, typer.Option(help="SGD weight decay.")] = None,
    momentum: Annotated[F, typer.Option(help="SGD momentum.")] = None,
    schedule: Annotated[S, typer.Option(help="cosine or step.")] = None,
    warmup_epochs: Annotated[N, typer.Option(help="Linear warm-up epochs.")] = None,
    label_smoothing: Annotated[F, typer.Option(help="Cross-entropy label smoothing.")] = None,
    augment: Annotated[
        S, typer.Option(help="auto (crop; flip where data allow) | crop,flip | crop | flip | none.")
    ] = None,
    channels_last: Annotated[
        B, typer.Option("--channels-last/--no-channels-last", help="NHWC memory layout.")
    ] = None,
    compile_model: Annotated[B, typer.Option("--compile", help="torch.compile the model.")] = None,
    form: Annotated[S, typer.Option(help="Block form a, b or c.")] = None,
    limit: Annotated[N, typer.Option(help="Use only this many training images.")] = None,
    val_fraction: Annotated[F, typer.Option(help="Share of training data held out.")] = None,
    store: Annotated[
        Path | None, typer.Option(help="SQLite results store (default archlab-runs/store.db).")
    ] = None,
    workdir: Annotated[
        Path | None, typer.Option(help="Checkpoints and logs (default: beside the store).")
    ] = None,
    keep: Annotated[
        N, typer.Option(help="Newest checkpoints kept per run, besides the best (default 1).")
    ] = None,
    strategy: Annotated[S, typer.Option(help="grid (all at one budget) or halving.")] = None,
    eta: Annotated[N, typer.Option(help="Halving: keep the best 1/eta per rung.")] = None,
    min_epochs: Annotated[N, typer.Option(help="Halving: first rung.")] = None,
    max_epochs: Annotated[N, typer.Option(help="Halving: last rung.")] = None,
    executor: Annotated[S, typer.Option(help="local or ray.")] = None,
    workers: Annotated[N, typer.Option(help="Local worker processes (default: 1 per GPU).")] = None,
    ray_address: Annotated[S, typer.Option(help="auto or HOST:PORT of a Ray cluster.")] = None,
    gpus_per_run: Annotated[F, typer.Option(help="Ray: GPUs per run (1 on CUDA).")] = None,
    threads: Annotated[N, typer.Option(help="torch CPU threads per run (default: all).")] = None,
    reclaim: Annotated[
        B, typer.Option("--reclaim", help="Resume runs left 'running' by another machine.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="Log lines instead of bars.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Summary as JSON.")] = False,
) -> int:
    """Train candidates briefly on real data; rerun the same command to resume."""
    from archlab.train.plan import resolve_plan
    from archlab.train.progress import make_reporter
    from archlab.workflows.train_candidates import train_candidates

    plan = resolve_plan(config, plan_overrides(ctx.params))
    if print_config:
        sys.stdout.write(plan.to_toml())
        return 0
    reporter = make_reporter(quiet=quiet or as_json)
    summary = train_candidates(plan, reporter=reporter)
    if as_json:
        print_json(summary_dict(summary))
    else:
        print_summary(summary)
    return 1 if summary.any_failed else 0


def plan_overrides(params: dict[str, Any]) -> dict[str, Any]:
    """The plan keys of the options given on the command line, their text parsed."""
    return {
        key: parse(params[name])
        for name, (key, parse) in PLAN_OPTIONS.items()
        if params.get(name) is not None
    }


def summary_dict(summary: InvocationSummary) -> dict[str, Any]:
    """The summary as JSON-ready data."""
    return {
        "store": summary.store,
        "workdir": summary.workdir,
        "config_key": summary.config_key,
        "runs": [r.__dict__ for r in summary.runs],
    }


def print_summary(summary: InvocationSummary) -> None:
    """The runs table and where results went."""
    rows = [
        [r.name, r.seed, r.rung, r.status + (" (stored)" if r.skipped else ""), r.epochs,
         r.val_error, r.test_error, r.reason or ""]
        for r in summary.runs
    ]  # fmt: skip
    columns = ["candidate", "seed", "rung", "status", "epochs", "val error", "test error", "reason"]
    out = console()
    out.print(table("runs", columns, rows))
    out.print(f"store: {summary.store}   checkpoints and logs: {summary.workdir}")
    failed = summary.count("failed")
    if failed:
        out.print(f"{failed} run(s) failed; rerun the same command to retry them")


def register(app: typer.Typer) -> None:
    """Attach the command to the app."""
    app.command("train-candidates")(train_candidates_cmd)

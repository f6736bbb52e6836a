"""`archlab train-candidates`: short training runs of candidates, stored and resumable.

Every option left out keeps the plan file's value (``--config``) or the library's default; the
options are declared once in plan_options.py, the defaults in the library only.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from . import plan_options as po
from ._common import PATH, print_json
from ._train_output import print_summary, summary_dict
from .options import (
    CardinalitiesOpt,
    ComplexityOpt,
    DepthOpt,
    JsonOpt,
    TrainTemplateOpt,
    WidthMultiplierOpt,
)

PLAN_OPTIONS = po.RUN  # option -> (plan key, parser); kept under this name for the entry point


def train_candidates_cmd(
    ctx: typer.Context,
    config: po.ConfigOpt = None,
    print_config: po.PrintConfigOpt = False,
    cardinalities: CardinalitiesOpt = None,
    models: Annotated[
        po.S, typer.Option(help="Comma list of model names, e.g. resnext29_8x3d_w0.25.")
    ] = None,
    candidates: Annotated[
        Path | None, typer.Option(help="JSON file written by `archlab space --json`.", **PATH)
    ] = None,
    depth: DepthOpt = None,
    template: TrainTemplateOpt = None,
    width_multiplier: WidthMultiplierOpt = None,
    complexity: ComplexityOpt = None,
    scope: Annotated[
        po.S,
        typer.Option(
            help="What --cardinalities match: block (Eq. 4 conv2-block params, the default), "
            "network (MACs) or params."
        ),
    ] = None,
    seeds: po.SeedsOpt = None,
    strategy: Annotated[
        po.S, typer.Option(help="grid (the default: all at one budget) or halving.")
    ] = None,
    eta: Annotated[
        po.N, typer.Option(help="Halving: keep the best 1/eta per rung (default 2).")
    ] = None,
    min_epochs: Annotated[
        po.N, typer.Option(help="Halving: first rung, in epochs (default 1).")
    ] = None,
    max_epochs: Annotated[
        po.N, typer.Option(help="Halving: last rung, in epochs (default 8).")
    ] = None,
    dataset: po.DatasetOpt = None,
    limit: po.LimitOpt = None,
    val_fraction: po.ValFractionOpt = None,
    split: po.SplitOpt = None,
    stratify: po.StratifyOpt = None,
    epochs: po.EpochsOpt = None,
    run_time_budget: po.RunTimeBudgetOpt = None,
    batch_size: po.BatchSizeOpt = None,
    lr: po.LrOpt = None,
    weight_decay: po.WeightDecayOpt = None,
    momentum: po.MomentumOpt = None,
    schedule: po.ScheduleOpt = None,
    warmup_epochs: po.WarmupEpochsOpt = None,
    label_smoothing: po.LabelSmoothingOpt = None,
    augment: po.AugmentOpt = None,
    channels_last: po.ChannelsLastOpt = None,
    compile_model: po.CompileOpt = None,
    form: po.FormOpt = None,
    store: po.StoreOpt = None,
    workdir: po.WorkdirOpt = None,
    keep: po.KeepOpt = None,
    mlflow: po.MlflowOpt = None,
    tensorboard: po.TensorboardOpt = None,
    executor: po.ExecutorOpt = None,
    workers: po.WorkersOpt = None,
    ray_address: po.RayAddressOpt = None,
    gpus_per_run: po.GpusPerRunOpt = None,
    threads: po.ThreadsOpt = None,
    device: po.DeviceOpt = None,
    reclaim: po.ReclaimOpt = None,
    time_budget: po.OldTimeBudgetOpt = None,
    quiet: po.QuietOpt = False,
    as_json: JsonOpt = False,
) -> int:
    """Train candidates briefly on real data; rerun the same command to resume."""
    from archlab.train.plan import resolve_plan
    from archlab.train.progress import make_reporter
    from archlab.workflows.train_candidates import train_candidates

    with po.deprecations(ctx.params, po.RUN):
        plan = resolve_plan(config, po.plan_overrides(ctx.params, po.RUN))
        if print_config:
            sys.stdout.write(plan.to_toml())
            return 0
        summary = train_candidates(plan, reporter=make_reporter(quiet=quiet or as_json))
        print_json(summary_dict(summary)) if as_json else print_summary(summary)
        return 1 if summary.any_failed else 0


def register(app: typer.Typer) -> None:
    """Attach the command to the app."""
    app.command("train-candidates")(train_candidates_cmd)

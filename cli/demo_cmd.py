"""`archlab demo`: the quick start on the built-in default data set (archlab.workflows.demo).

It takes every training option a study takes; what it sets beyond the library's defaults (6
epochs, width 1/8, 3 to 10 seeds, its own store) is the demo's plan, shown by --print-config.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from archlab.train.defaults import DEMO_OUT

from . import plan_options as po
from ._common import PATH, command_line
from ._train_output import print_demo_step
from .options import DemoWidthMultiplierOpt


def demo_cmd(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option(help=f"Folder for the report (default {DEMO_OUT}).", **PATH)
    ] = None,
    config: po.ConfigOpt = None,
    print_config: po.PrintConfigOpt = False,
    width_multiplier: DemoWidthMultiplierOpt = None,
    min_seeds: po.MinSeedsOpt = None,
    max_seeds: po.MaxSeedsOpt = None,
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
    seed_count: po.OldSeedCountOpt = None,
    quiet: po.QuietOpt = False,
) -> int:
    """Run the quick start: match-flops, space, then a study on digits and its report."""
    from archlab.train.progress import make_reporter
    from archlab.workflows.demo import demo, demo_plan

    with po.deprecations(ctx.params, po.DEMO):
        plan = demo_plan(config, po.plan_overrides(ctx.params, po.DEMO))
        if print_config:
            sys.stdout.write(plan.to_toml())
            return 0
        result = demo(
            plan, out=out if out is not None else DEMO_OUT, command=command_line(ctx),
            reporter=make_reporter(quiet=quiet), show=print_demo_step,
        )  # fmt: skip
        return 1 if result.study.any_failed else 0


def register(app: typer.Typer) -> None:
    """Attach the command to the app."""
    app.command("demo")(demo_cmd)

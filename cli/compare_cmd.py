"""`archlab compare-spaces A.toml B.toml`: sample, train and compare two design spaces."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from archlab.train.defaults import COMPARE_OUT

from . import plan_options as po
from ._common import PATH, PATH_ARGUMENT, command_line, console
from ._train_output import print_summary
from .options import ActsBandOpt, MacsBandOpt, ParamsBandOpt


def compare_spaces_cmd(
    ctx: typer.Context,
    space_a: Annotated[
        Path | None, typer.Argument(help="First design space (TOML).", **PATH_ARGUMENT)
    ] = None,
    space_b: Annotated[
        Path | None, typer.Argument(help="Second design space (TOML).", **PATH_ARGUMENT)
    ] = None,
    config: po.ConfigOpt = None,
    print_config: po.PrintConfigOpt = False,
    samples: Annotated[po.N, typer.Option(help="Candidates per space (default 16).")] = None,
    seed: Annotated[
        po.N, typer.Option(help="Sampling seed (default 0): same seed, same candidates.")
    ] = None,
    macs: MacsBandOpt = None,
    params: ParamsBandOpt = None,
    acts: ActsBandOpt = None,
    seeds: po.SeedsOpt = None,
    out: Annotated[
        po.P, typer.Option(help=f"Folder for compare.md (default {COMPARE_OUT}).", **PATH)
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
    quiet: po.QuietOpt = False,
) -> int:
    """Sample --samples candidates from each space in one band, train them, compare error EDFs."""
    from archlab.train.progress import make_reporter
    from archlab.workflows.compare_spaces import compare_plan, compare_spaces

    plan = compare_plan(config, po.plan_overrides(ctx.params, po.COMPARE))
    if print_config:
        sys.stdout.write(plan.to_toml())
        return 0
    result = compare_spaces(plan, command=command_line(ctx), reporter=make_reporter(quiet=quiet))
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

"""`archlab study`: the paper's question on your data, as a plan of its own (see plan_options)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from archlab.search.presets import STUDY_PRESETS

from . import plan_options as po
from ._common import PATH, print_json
from ._train_output import print_study
from .options import (
    CardinalitiesOpt,
    ComplexityOpt,
    DepthOpt,
    JsonOpt,
    StudyMatchOpt,
    StudyWidthMultiplierOpt,
    TrainTemplateOpt,
)

PRESET_HELP = f"{' | '.join(STUDY_PRESETS)} (or give --arms)."  # read from the presets' registry


def study_cmd(
    ctx: typer.Context,
    config: po.ConfigOpt = None,
    print_config: po.PrintConfigOpt = False,
    preset: Annotated[po.S, typer.Option(help=PRESET_HELP)] = None,
    arms: Annotated[
        Path | None,
        typer.Option(help="JSON from `archlab space --json` (or give --preset).", **PATH),
    ] = None,
    name: Annotated[
        po.S, typer.Option(help="The study's name in the store (default study).")
    ] = None,
    cardinalities: CardinalitiesOpt = None,
    template: TrainTemplateOpt = None,
    depth: DepthOpt = None,
    width_multiplier: StudyWidthMultiplierOpt = None,
    complexity: ComplexityOpt = None,
    match: StudyMatchOpt = None,
    tolerance: Annotated[
        po.F,
        typer.Option(
            "--tolerance",
            help="Largest match error of an arm as a fraction (default 0.05): a preset's default "
            "arm beyond it is left out, one named by --cardinalities refused.",
        ),
    ] = None,
    alpha: Annotated[po.F, typer.Option(help="Family-wise error rate (default 0.05).")] = None,
    rope: Annotated[po.F, typer.Option(help="Negligible difference, points (default 0.5).")] = None,
    min_seeds: po.MinSeedsOpt = None,
    max_seeds: po.MaxSeedsOpt = None,
    study_time_budget: po.StudyTimeBudgetOpt = None,
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
    seed_count: po.OldSeedCountOpt = None,
    quiet: po.QuietOpt = False,
    as_json: JsonOpt = False,
) -> int:
    """Answer the paper's question on your data: matched arms, a verdict, seeds until decided."""
    from archlab.train.progress import make_reporter
    from archlab.workflows.study import run_study
    from archlab.workflows.study_plan import resolve_study_plan

    with po.deprecations(ctx.params, po.STUDY):
        plan = resolve_study_plan(config, po.plan_overrides(ctx.params, po.STUDY))
        if print_config:
            sys.stdout.write(plan.to_toml())
            return 0
        result = run_study(plan, reporter=make_reporter(quiet=quiet or as_json))
        print_json(result.to_dict()) if as_json else print_study(result)
        return 1 if result.any_failed else 0


def register(app: typer.Typer) -> None:
    """Attach the command to the app."""
    app.command("study")(study_cmd)

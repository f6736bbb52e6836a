"""The options of every command that trains, each declared once and meaning one thing everywhere.

train-candidates, study, demo and compare-spaces share the training options (data, recipe,
budget, execution, output, ``--config``, ``--print-config``, ``--quiet``); each command adds its
question's options. An option's value becomes a plan key (``section.field``) through the
command's table below; every default is None, "not given", so the plan file or the library
decides, and no default is written here.

Spellings: ``--seeds 0,1`` is always a list of seeds; a study's seed count is ``--min-seeds N``
(every arm's seeds before the first look) with ``--max-seeds N``. ``--run-time-budget`` is
seconds per run, ``--study-time-budget`` seconds for a whole study. The earlier spellings
(``--seeds N`` in study and demo, ``--time-budget`` in both meanings) work for one more release,
with a one-line notice on stderr once the command has done its work (:func:`deprecations`): bad
input gets one line, the error's, never the notice beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeAlias

import typer

from archlab.errors import print_warning
from archlab.train.config import DEFAULT_KEEP, TrainConfig
from archlab.train.defaults import COMPARE_STORE, DEFAULT_STORE, DEMO_STORE
from archlab.train.sources import SOURCES

from ._common import PATH, parse_band, parse_int_list
from .options import device_help

S: TypeAlias = str | None
N: TypeAlias = int | None
F: TypeAlias = float | None
B: TypeAlias = bool | None
P: TypeAlias = Path | None
Parse: TypeAlias = Callable[[Any], Any]


def default(field: str) -> str:
    """`` (default X)`` for a recipe field, read from TrainConfig so the help cannot drift."""
    return f" (default {getattr(TrainConfig, field)})"


def dataset_help() -> str:
    """--dataset's help, read from the data sources' registry (a new source shows up here)."""
    forms = (f"{s.form} (the default)" if s.form == TrainConfig.dataset else s.form
             for s in SOURCES.values())  # fmt: skip
    return " | ".join(forms)


ConfigOpt = Annotated[
    P, typer.Option("--config", help="TOML plan file (see --print-config).", **PATH)
]
PrintConfigOpt = Annotated[
    bool,
    typer.Option(
        "--print-config", help="Print the resolved plan, every default filled in, as TOML and exit."
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="Log lines instead of bars.")]
DatasetOpt = Annotated[S, typer.Option(help=dataset_help())]
LimitOpt = Annotated[N, typer.Option(help="Use only this many training images (default: all).")]
ValFractionOpt = Annotated[
    F, typer.Option(help=f"Share of training data held out{default('val_fraction')}.")
]
SplitOpt = Annotated[
    S,
    typer.Option(
        help="Validation split: fixed (by data.split_seed) | per-seed (drawn from each run's "
        "seed, the same for every arm) (default: per-seed in study and demo, else fixed)."
    ),
]
StratifyOpt = Annotated[
    B,
    typer.Option(
        "--stratify/--no-stratify",
        help="Hold out each class's share of the validation images, as sklearn's "
        "train_test_split(stratify=y) does, for fixed and per-seed splits alike (default off).",
    ),
]
EpochsOpt = Annotated[
    N,
    typer.Option(
        help=f"Epochs per run{default('epochs')}; the demo and compare-spaces set their own "
        "(see --print-config)."
    ),
]
RunTimeBudgetOpt = Annotated[
    F, typer.Option(help="Seconds of training per run (instead of --epochs).")
]
BatchSizeOpt = Annotated[N, typer.Option(help=f"Images per step{default('batch_size')}.")]
LrOpt = Annotated[F, typer.Option(help="Peak learning rate (default: 0.1 x batch size / 128).")]
WeightDecayOpt = Annotated[F, typer.Option(help=f"SGD weight decay{default('weight_decay')}.")]
MomentumOpt = Annotated[F, typer.Option(help=f"SGD momentum{default('momentum')}.")]
ScheduleOpt = Annotated[S, typer.Option(help=f"cosine or step{default('schedule')}.")]
WarmupEpochsOpt = Annotated[
    N, typer.Option(help=f"Linear warm-up epochs{default('warmup_epochs')}.")
]
LabelSmoothingOpt = Annotated[
    F, typer.Option(help=f"Cross-entropy label smoothing{default('label_smoothing')}.")
]
AugmentOpt = Annotated[
    S,
    typer.Option(
        help="auto (the default: crop; flip where data allow) | crop,flip | crop | flip | none."
    ),
]
ChannelsLastOpt = Annotated[
    B,
    typer.Option(
        "--channels-last/--no-channels-last",
        help=f"NHWC memory layout (default {'on' if TrainConfig.channels_last else 'off'}).",
    ),
]
CompileOpt = Annotated[B, typer.Option("--compile", help="torch.compile the model.")]
FormOpt = Annotated[S, typer.Option(help=f"Block form a, b or c{default('form')}.")]
StoreOpt = Annotated[
    P,
    typer.Option(
        help=f"SQLite results store (default {DEFAULT_STORE}; demo: {DEMO_STORE}, compare-spaces: "
        f"{COMPARE_STORE}).",
        **PATH,
    ),
]
WorkdirOpt = Annotated[
    P, typer.Option(help="Checkpoints and logs (default: beside the store).", **PATH)
]
KeepOpt = Annotated[
    N,
    typer.Option(
        help=f"Newest checkpoints kept per run, besides the best (default {DEFAULT_KEEP})."
    ),
]
MlflowOpt = Annotated[
    S,
    typer.Option(
        "--mlflow", help="MLflow tracking URI (e.g. sqlite:///mlflow.db); needs archlab\\[mlflow]."
    ),
]
TensorboardOpt = Annotated[
    S, typer.Option("--tensorboard", help="Folder for TensorBoard event files, one per run.")
]
ExecutorOpt = Annotated[S, typer.Option(help="local (the default) or ray.")]
WorkersOpt = Annotated[
    N, typer.Option(help="Local worker processes (default: 1 per visible GPU, else 1).")
]
RayAddressOpt = Annotated[S, typer.Option(help="auto or HOST:PORT of a Ray cluster.")]
GpusPerRunOpt = Annotated[
    F, typer.Option(help="Ray: GPUs per run (default 1 on CUDA, 0 on the CPU).")
]
ThreadsOpt = Annotated[
    N,
    typer.Option(
        help="torch CPU threads per run (default: the cores shared out among the workers, 1 per "
        "Ray task); the same count gives the same numbers."
    ),
]
DeviceOpt = Annotated[S, typer.Option(help=device_help("where the runs train"))]
ReclaimOpt = Annotated[
    B, typer.Option("--reclaim", help="Resume runs left 'running' by another machine.")
]
SeedsOpt = Annotated[
    S, typer.Option("--seeds", help="Comma list of training seeds, e.g. 0,1,2 (default 0).")
]
MinSeedsOpt = Annotated[
    N, typer.Option(help="Seeds every arm trains before the first look (default 3).")
]
MaxSeedsOpt = Annotated[N, typer.Option(help="Seeds per arm at most (default 10).")]
StudyTimeBudgetOpt = Annotated[
    F, typer.Option(help="Seconds of training for the whole study; no round starts after.")
]
# --help groups the training options by the plan section they set, as --print-config writes them
# ([data], [recipe] with [budget], [output], [execution]); a command's own options stay on top.
PANELS: dict[str, tuple[Any, ...]] = {
    "Data": (DatasetOpt, LimitOpt, ValFractionOpt, SplitOpt, StratifyOpt),
    "Recipe and budget": (EpochsOpt, RunTimeBudgetOpt, BatchSizeOpt, LrOpt, WeightDecayOpt,
                          MomentumOpt, ScheduleOpt, WarmupEpochsOpt, LabelSmoothingOpt, AugmentOpt,
                          ChannelsLastOpt, CompileOpt, FormOpt),
    "Output": (StoreOpt, WorkdirOpt, KeepOpt, MlflowOpt, TensorboardOpt),
    "Execution": (ExecutorOpt, WorkersOpt, RayAddressOpt, GpusPerRunOpt, ThreadsOpt, DeviceOpt,
                  ReclaimOpt),
}  # fmt: skip
for _panel, _aliases in PANELS.items():
    for _alias in _aliases:
        _alias.__metadata__[0].rich_help_panel = _panel
# Earlier spellings, hidden from --help; each command's table says what they meant there.
OldTimeBudgetOpt = Annotated[F, typer.Option("--time-budget", hidden=True)]
OldSeedCountOpt = Annotated[S, typer.Option("--seeds", hidden=True)]


def _int_list(flag: str) -> Parse:
    return lambda v: parse_int_list(v, flag)


def _seed_count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise typer.BadParameter(
            f"a study takes a seed count, --min-seeds N (and --max-seeds N), got --seeds {text!r}"
        ) from None


# option -> (plan key, how its text becomes the plan's value)
TRAINING: dict[str, tuple[str, Parse]] = {
    "dataset": ("data.name", str),
    "limit": ("data.limit", int),
    "val_fraction": ("data.val_fraction", float),
    "split": ("data.split", str),
    "stratify": ("data.stratify", bool),
    "epochs": ("budget.epochs", int),
    "run_time_budget": ("budget.time_budget", float),
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
    "store": ("output.store", str),
    "workdir": ("output.workdir", str),
    "keep": ("output.keep", int),
    "mlflow": ("output.mlflow", str),
    "tensorboard": ("output.tensorboard", str),
    "executor": ("execution.executor", str),
    "workers": ("execution.workers", int),
    "ray_address": ("execution.ray_address", str),
    "gpus_per_run": ("execution.gpus_per_run", float),
    "threads": ("execution.threads", int),
    "device": ("execution.device", str),
    "reclaim": ("execution.reclaim", bool),
}
RUN: dict[str, tuple[str, Parse]] = {
    **TRAINING,
    "cardinalities": ("select.cardinalities", _int_list("--cardinalities")),
    "models": ("select.models", lambda v: _names(v)),
    "candidates": ("select.files", lambda v: [str(v)]),
    "depth": ("select.depth", int),
    "template": ("select.template", str),
    "width_multiplier": ("select.width_multiplier", float),
    "complexity": ("select.complexity", float),
    "scope": ("select.scope", str),
    "seeds": ("seeds", _int_list("--seeds")),
    "strategy": ("strategy.name", str),
    "eta": ("strategy.eta", int),
    "min_epochs": ("strategy.min_epochs", int),
    "max_epochs": ("strategy.max_epochs", int),
    "time_budget": ("budget.time_budget", float),  # deprecated: --run-time-budget
}
_SEED_POLICY: dict[str, tuple[str, Parse]] = {
    "min_seeds": ("study.min_seeds", int),
    "max_seeds": ("study.max_seeds", int),
    "width_multiplier": ("study.width_multiplier", float),
    "seed_count": ("study.min_seeds", _seed_count),  # deprecated: --min-seeds
}
STUDY: dict[str, tuple[str, Parse]] = {
    **TRAINING,
    **_SEED_POLICY,
    "preset": ("study.preset", str),
    "arms": ("study.arms", str),
    "name": ("study.name", str),
    "cardinalities": ("study.cardinalities", _int_list("--cardinalities")),
    "template": ("study.template", str),
    "depth": ("study.depth", int),
    "complexity": ("study.complexity", float),
    "match": ("study.match", str),
    "tolerance": ("study.tolerance", float),
    "alpha": ("study.alpha", float),
    "rope": ("study.rope", float),
    "study_time_budget": ("study.time_budget", float),
    "time_budget": ("study.time_budget", float),  # deprecated: --study-time-budget
}
DEMO: dict[str, tuple[str, Parse]] = {**TRAINING, **_SEED_POLICY}
COMPARE: dict[str, tuple[str, Parse]] = {
    **TRAINING,
    "space_a": ("compare.space_a", str),
    "space_b": ("compare.space_b", str),
    "samples": ("compare.samples", int),
    "seed": ("compare.seed", int),
    "macs": ("compare.macs", lambda v: list(parse_band(v, "--macs") or ())),
    "params": ("compare.params", lambda v: list(parse_band(v, "--params") or ())),
    "acts": ("compare.acts", lambda v: list(parse_band(v, "--acts") or ())),
    "seeds": ("compare.seeds", _int_list("--seeds")),
    "out": ("compare.out", str),
}
# An earlier spelling -> what to write now; the notice names both.
DEPRECATED = {
    "time_budget": {
        "budget.time_budget": "--run-time-budget",
        "study.time_budget": "--study-time-budget",
    },
    "seed_count": {"study.min_seeds": "--min-seeds"},
}
# Plan key -> the option that sets it, for messages (archlab.cli.main turns keys into these).
FLAGS = {
    key: "--compile" if name == "compile_model" else "--" + name.replace("_", "-")
    for table in (RUN, STUDY, COMPARE)
    for name, (key, _) in table.items()
    if name not in DEPRECATED and not name.startswith("space_")
}


def _names(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip()]
    if not names:
        raise typer.BadParameter(f"--models needs comma-separated model names, got {text!r}")
    return names


def plan_overrides(
    params: Mapping[str, Any], table: Mapping[str, tuple[str, Parse]]
) -> dict[str, Any]:
    """The plan keys of the options given on the command line, their text parsed.

    An earlier spelling sets what it set before; its notice is :func:`deprecations`' to print.
    """
    return {key: parse(params[name]) for name, (key, parse) in table.items()
            if params.get(name) is not None}  # fmt: skip


def notices(params: Mapping[str, Any], table: Mapping[str, tuple[str, Parse]]) -> list[str]:
    """One line per earlier spelling given: what it was and what to write now."""
    lines = []
    for name, (key, _) in table.items():
        if name in DEPRECATED and params.get(name) is not None:
            old = "--seeds N (a count)" if name == "seed_count" else "--time-budget"
            new = DEPRECATED[name][key]
            lines.append(f"{old} is deprecated, removed in the next release; use {new}")
    return lines


@contextmanager
def deprecations(
    params: Mapping[str, Any], table: Mapping[str, tuple[str, Parse]]
) -> Iterator[None]:
    """Print the notices of the earlier spellings given once the command's body returns.

    Never beside an error: a bad value (of that option or any other, found while the plan
    resolves or while the data loads) raises through here, and the error is the one line.
    """
    yield
    for line in notices(params, table):
        print_warning(line)

"""``archlab study``: matched arms, trained seed by seed until the verdict is decided, all stored.

One library function, :func:`run_study`: resolve the arms for the data's shape, record the study
in the store (refusing a different study under the same name before anything is written), then
round by round train the seeds the sequential rule asks for and replay the rule over the stored
runs. Every decision is derived from the store, so rerunning the same study continues it:
finished seeds are never trained again, and an interrupted round resumes where it stopped.

All training goes through :func:`_train_seeds`, the one place that calls the training driver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archlab.bounds import MAX_SEED_COUNT, MAX_TIME_BUDGET_S, check_at_most
from archlab.errors import ArchlabError
from archlab.search.arms import PRESETS, ArmSet, file_arms, preset_arms
from archlab.space import NetSpec
from archlab.stats.pairwise import all_pairs, check_settings
from archlab.stats.sequential import check_seeds
from archlab.stats.study import StudyOutcome, evaluate_study, seed_errors
from archlab.store import Store
from archlab.store.study import check_study, record_round, save_study, set_status
from archlab.workflows._outputs import check_output_folders

if TYPE_CHECKING:
    from archlab.train.data import DatasetSplits
    from archlab.train.progress import Reporter


@dataclass(frozen=True)
class StudyPlan:
    """Everything that defines a study: arms, statistics, seeds and the training recipe."""

    preset: str | None = "cardinality"
    arms_file: str | None = None
    template: str = "cifar"
    complexity: float | None = None  # the preset's default (1x or 2x) when None
    cardinalities: tuple[int, ...] | None = None
    width_multiplier: float = 1.0
    depth: int | None = None  # the baseline's depth; the template's default (50 or 29) if None
    match: str = "macs"
    tolerance: float = 0.05
    alpha: float = 0.05
    rope: float = 0.5
    seeds: int = 3
    max_seeds: int = 10
    time_budget: float | None = None  # seconds of training for the whole study (not identity)
    # The recipe: TrainConfig fields (dataset, epochs, lr, ...); the rest keep their defaults.
    train: dict[str, Any] = field(default_factory=lambda: {"dataset": "digits", "epochs": 10})

    def check(self) -> None:
        """Refuse bad settings before anything is loaded or stored."""
        if self.preset is not None and self.arms_file is not None:
            raise ArchlabError(
                f"give one of preset or arms, not both (got {self.preset!r} and {self.arms_file!r})"
            )
        if self.preset is None and self.arms_file is None:
            raise ArchlabError(f"give one of preset or arms; presets: {', '.join(PRESETS)}")
        if self.preset is not None and self.preset not in PRESETS:
            raise ArchlabError(f"preset must be one of {', '.join(PRESETS)}, got {self.preset!r}")
        check_settings(self.alpha, self.rope)
        check_seeds(self.seeds, self.max_seeds)
        check_at_most("max_seeds", self.max_seeds, MAX_SEED_COUNT)
        check_at_most("time_budget (seconds)", self.time_budget, MAX_TIME_BUDGET_S)
        if self.time_budget is not None and not self.time_budget > 0:
            raise ArchlabError(f"time_budget must be positive seconds, got {self.time_budget!r}")


@dataclass(frozen=True)
class StudyResult:
    """What one invocation of a study leaves: its outcome and why it stopped."""

    outcome: StudyOutcome
    arms: ArmSet
    stop: str  # decided, futile, max seeds, time budget, runs failed
    trained_now: int  # runs trained by this invocation
    failed: tuple[str, ...] = ()  # "arm seed s" of runs that did not finish in this invocation

    @property
    def any_failed(self) -> bool:
        """Some run of this invocation failed (the CLI exits 1, as train-candidates does)."""
        return bool(self.failed)

    def to_dict(self) -> dict[str, Any]:
        """The ``study --json`` object."""
        return {
            **self.outcome.to_dict(),
            "stop": self.stop,
            "failed": list(self.failed),
            "notes": list(self.arms.notes),
        }


def resolve_arms(plan: StudyPlan, *, num_classes: int, input_size: int) -> ArmSet:
    """The plan's arms, matched for the data's classes and image size."""
    if plan.arms_file is not None:
        return file_arms(
            plan.arms_file,
            complexity=plan.complexity or 1.0,
            match=plan.match,
            tolerance=plan.tolerance,
            num_classes=num_classes,
            input_size=input_size,
        )
    assert plan.preset is not None
    return preset_arms(
        plan.preset,
        template=plan.template,
        complexity=plan.complexity,
        cardinalities=plan.cardinalities,
        width_multiplier=plan.width_multiplier,
        match=plan.match,
        tolerance=plan.tolerance,
        num_classes=num_classes,
        input_size=input_size,
        depth=plan.depth,
    )


def definition(
    plan: StudyPlan, arms: ArmSet, config_key: str, recipe: dict[str, Any]
) -> dict[str, Any]:
    """What makes two invocations the same study (stored; compared on every rerun)."""
    tested = arms.tested
    return {
        **arms.to_dict(),
        "pairs": [list(p) for p in all_pairs(tested)],
        "alpha": plan.alpha,
        "rope": plan.rope,
        "seeds": plan.seeds,
        "max_seeds": plan.max_seeds,
        "config_key": config_key,
        "train": recipe,
    }


def run_study(
    plan: StudyPlan,
    *,
    name: str = "study",
    store_path: str | Path = "archlab-runs/store.db",
    workdir: str | Path | None = None,
    device: str = "auto",
    threads: int | None = None,
    reporter: Reporter | None = None,
    data: DatasetSplits | None = None,
    keep: int = 1,
) -> StudyResult:
    """Run or resume a study until every pair is decided, max seeds, or the time budget.

    ``keep``: newest checkpoints kept per run, besides the best-validation one.
    """
    from archlab.train.config import check_keep

    check_keep(keep)
    check_output_folders(store_path, workdir=workdir)  # before any training (issue 12)
    plan.check()
    config, data = _prepare(plan, data)
    arms = resolve_arms(plan, num_classes=data.num_classes, input_size=data.image_size)
    recipe = {k: v for k, v in config.to_dict().items()}
    study = definition(plan, arms, config.key(), recipe)
    store_file = Path(store_path)
    if store_file.is_file():  # refuse a different study before anything is written
        with Store(store_file, create=False) as store:
            check_study(store, name, study)
    with Store(store_file, create=True) as store:
        record = save_study(store, name, study)
    training = _Training(config, store_file, workdir, device, threads, reporter, data, keep)
    trained_now = 0
    failed: list[str] = []
    for _ in range(plan.max_seeds - plan.seeds + 2):  # n0 seeds, then one seed per look
        with Store(store_file) as store:
            outcome = evaluate_study(store, record, power=False)
            spent = seed_errors(store, study).wall_s
        stop = _stop(outcome, plan, spent)
        if stop is not None:
            break
        todo = _seeds_to_train(outcome, arms, plan.seeds)
        with Store(store_file) as store:  # round r trains the seeds of look r + 1
            record_round(store, name, outcome.state.looks, dict(outcome.state.need))
        trained_now += _train_seeds(
            {arms.arm(a).spec: seeds for a, seeds in todo.items()}, training
        )
        failed = _missing(store_file, study, todo)
        if failed:  # the verdict stands on the runs that finished; a rerun retries the rest
            stop = "runs failed"
            break
    else:  # pragma: no cover - the rule ends by max seeds within the planned looks
        stop = "max seeds"
    with Store(store_file) as store:
        set_status(store, name, stop)
        record = save_study(store, name, study)
        outcome = evaluate_study(store, record)
    return StudyResult(outcome, arms, stop, trained_now, tuple(failed))


def _prepare(plan: StudyPlan, data: DatasetSplits | None) -> tuple[Any, DatasetSplits]:
    """The training recipe and the data (loaded once, shared by every round)."""
    from archlab.train.config import TrainConfig
    from archlab.train.data import load_dataset

    try:
        config = TrainConfig(**plan.train)
    except TypeError as exc:
        raise ArchlabError(f"train recipe: {exc}") from None
    if data is None:
        data = load_dataset(
            config.dataset,
            val_fraction=config.val_fraction,
            seed=config.split_seed,
            limit=config.limit,
        )
    return config.for_data(data), data  # augment 'auto' resolved: the stored key says what ran


def _stop(outcome: StudyOutcome, plan: StudyPlan, spent: float) -> str | None:
    state = outcome.state
    if state.done:
        if not state.undecided:
            return "decided"
        return "futile" if set(state.undecided) <= set(state.futile) else "max seeds"
    if plan.time_budget is not None and spent >= plan.time_budget and state.looks > 0:
        return "time budget"
    return None


def _seeds_to_train(outcome: StudyOutcome, arms: ArmSet, n0: int) -> dict[str, list[int]]:
    """Per arm, the seeds the next look needs that the store does not hold yet."""
    need = dict(outcome.state.need)
    for arm in arms.arms:
        if not arm.matched:  # the reference arm: shown with the first round's seeds
            need[arm.label] = n0
    trained = outcome.errors.trained
    return {
        label: [s for s in range(n) if s not in trained[label]]
        for label, n in need.items()
        if any(s not in trained[label] for s in range(n))
    }


def _missing(store_file: Path, study: dict[str, Any], todo: dict[str, list[int]]) -> list[str]:
    """The asked-for runs the store does not hold finished ("arm seed s")."""
    with Store(store_file) as store:
        trained = seed_errors(store, study).trained
    return [
        f"{label} seed {s}"
        for label, seeds in todo.items()
        for s in seeds
        if s not in trained[label]
    ]


@dataclass(frozen=True)
class _Training:
    """How the study trains: recipe, store, work folder, device, progress and the loaded data."""

    config: Any  # archlab.train.loop.TrainConfig
    store_file: Path
    workdir: str | Path | None
    device: str
    threads: int | None
    reporter: Reporter | None
    data: DatasetSplits
    keep: int


def _train_seeds(runs: dict[NetSpec, list[int]], training: _Training) -> int:
    """Train the given seeds of the given specs into the store: the one call to the driver.

    What it needs from the driver: train these specs for these seeds under the recipe, store
    each run under the recipe's ``config_key`` (with its epochs' val and test errors), skip runs
    already finished and resume interrupted ones. Today's driver trains every spec for every
    seed, so specs asking for the same seeds go in one call. Returns the runs trained now.
    """
    from archlab.train.plan import ExecutionOptions, RunPlan
    from archlab.workflows.train_candidates import train_candidates

    by_seeds: dict[tuple[int, ...], list[NetSpec]] = {}
    for spec, seeds in runs.items():
        by_seeds.setdefault(tuple(seeds), []).append(spec)
    trained = 0
    for seed_group, group in by_seeds.items():
        plan = RunPlan(
            candidates=tuple(group),
            config=training.config,
            seeds=seed_group,
            execution=ExecutionOptions(device=training.device, threads=training.threads),
            store=str(training.store_file),
            workdir=None if training.workdir is None else str(training.workdir),
            keep=training.keep,
        )
        summary = train_candidates(plan, reporter=training.reporter, data=training.data)
        trained += sum(not r.skipped for r in summary.runs)
    return trained

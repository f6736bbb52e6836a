"""``archlab study``: matched arms, trained seed by seed until the verdict is decided, all stored.

One library function, :func:`run_study`: resolve the arms for the data's shape, record the study
in the store (refusing a different study under the same name before anything is written), then
round by round train the seeds the sequential rule asks for and replay the rule over the stored
runs. Every decision is derived from the store, so rerunning the same study continues it:
finished seeds are never trained again, and an interrupted round resumes where it stopped.

All training goes through :func:`_train_seeds`, the one place that calls the training driver.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archlab.search.arms import ArmSet, file_arms, preset_arms
from archlab.search.speed_arms import LOOSE, speed_arms
from archlab.search.speed_match import QUANTITIES
from archlab.space import DEFAULT_DEPTHS, NetSpec, make_spec
from archlab.stats.pairwise import all_pairs
from archlab.stats.study import StudyOutcome, evaluate_study, seed_errors
from archlab.store import Store
from archlab.store.study import (
    check_study,
    load_study,
    note_study,
    record_round,
    save_study,
    set_status,
)
from archlab.train.plan import Training
from archlab.workflows._outputs import check_output_folders
from archlab.workflows.study_plan import StudyPlan
from archlab.workflows.tracking import StudyTracker, open_tracking

if TYPE_CHECKING:
    from archlab.measure.speed_data import SpeedMeter
    from archlab.train.data import DatasetSplits
    from archlab.train.progress import Reporter


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
    """The plan's arms, matched for the data's classes and image size.

    Matched on ``speed`` or ``latency``, the arms are first matched on MACs, then re-solved on
    time measured on the plan's device at its batch and memory format, the measurements kept in
    (and reused from) the plan's store (:mod:`archlab.search.speed_arms`).
    """
    q = plan.question
    timed = q.match in QUANTITIES
    match, tolerance = ("macs", LOOSE) if timed else (q.match, q.tolerance)
    if q.arms is not None:
        arms = file_arms(
            q.arms, complexity=q.complexity or 1.0, match=match, tolerance=tolerance,
            num_classes=num_classes, input_size=input_size,
        )  # fmt: skip
    else:
        assert q.preset is not None  # StudyQuestion holds exactly one of preset and arms
        arms = preset_arms(
            q.preset, template=q.template, complexity=q.complexity, cardinalities=q.cardinalities,
            width_multiplier=plan.width_multiplier, match=match, tolerance=tolerance,
            num_classes=num_classes, input_size=input_size, depth=q.depth,
        )  # fmt: skip
    if not timed:
        return arms
    first = arms.arms[0].spec
    template = q.template if q.arms is None else first.template
    width = plan.width_multiplier if q.arms is None else first.width_multiplier
    depth = q.depth if q.depth is not None and q.arms is None else DEFAULT_DEPTHS[template]
    baseline = make_spec(template, depth, 1, None, width_multiplier=width,
                         num_classes=num_classes, input_size=input_size)  # fmt: skip
    with _meter(plan.training) as meter:
        return speed_arms(arms, baseline, meter, quantity=q.match, tolerance=q.tolerance,
                          strict=q.cardinalities is not None or q.arms is not None)  # fmt: skip


@contextlib.contextmanager
def _meter(training: Training) -> Iterator[SpeedMeter]:
    """A meter timing as the study trains: its batch, device, memory format and threads."""
    from archlab.measure.speed_data import SpeedMeter, SpeedSettings

    cfg, ex = training.config, training.execution
    settings = SpeedSettings(batch=cfg.batch_size, device=ex.device,
                             channels_last=cfg.channels_last, threads=ex.threads)  # fmt: skip
    with Store(training.store, create=True) as store:
        yield SpeedMeter(settings, store=store)


def definition(
    plan: StudyPlan, arms: ArmSet, config_key: str, recipe: dict[str, Any]
) -> dict[str, Any]:
    """What makes two invocations the same study (stored; compared on every rerun)."""
    tested = arms.tested
    q = plan.question
    return {
        **arms.to_dict(),
        "pairs": [list(p) for p in all_pairs(tested)],
        "alpha": q.alpha,
        "rope": q.rope,
        "seeds": q.min_seeds,  # the stored name since the first stores: seeds before a look
        "max_seeds": q.max_seeds,
        "config_key": config_key,
        "train": recipe,
    }


def run_study(
    plan: StudyPlan, *, reporter: Reporter | None = None, data: DatasetSplits | None = None
) -> StudyResult:
    """Run or resume a study until every pair is decided, max seeds, or the time budget.

    Every round trains through the plan's executor (in this process, a worker pool or Ray),
    as ``train-candidates`` does. ``data`` replaces loading the plan's data set (tests).
    Before the first epoch the reporter is told the plan: arms, seeds, recipe, device, threads.
    """
    from archlab.train.progress import NullReporter

    q, training = plan.question, plan.training
    check_output_folders(training.store, workdir=training.workdir)  # before any training
    tracker = open_tracking(training)  # a missing extra, a dead URI: refused before training
    reporter = reporter or NullReporter()
    training, data = _prepare(training, data)
    arms = resolve_arms(plan, num_classes=data.num_classes, input_size=data.image_size)
    study = definition(plan, arms, training.config.key(), training.config.to_dict())
    store_file = Path(training.store)
    if store_file.is_file():  # refuse a different study before anything is written
        with Store(store_file, create=False) as store:
            check_study(store, q.name, study)
    announce = [*_plan_lines(plan, arms, training), data.summary()]  # before the first epoch
    with contextlib.closing(tracker):  # TensorBoard's writers closed on any way out
        with Store(store_file, create=True) as store:
            save_study(store, q.name, study)
            # The verdict's resolution floor: one validation image (docs/statistics.md).
            note_study(store, q.name, val_size=len(data.y_val))
            record = load_study(store, q.name)
            assert record is not None
            tracker.study_started(store.store_id, q.name, study)
        trained_now, failed, stop = 0, [], "max seeds"
        for _ in range(q.max_seeds - q.min_seeds + 2):  # n0 seeds, then one seed per look
            with Store(store_file) as store:
                outcome = evaluate_study(store, record, power=False)
                spent = seed_errors(store, study).wall_s
            found = _stop(outcome, plan, spent)
            if found is not None:
                stop = found
                break
            todo = _seeds_to_train(outcome, arms, q.min_seeds)
            with Store(store_file) as store:  # round r trains the seeds of look r + 1
                record_round(store, q.name, outcome.state.looks, dict(outcome.state.need))
            runs = {arms.arm(a).spec: seeds for a, seeds in todo.items()}
            round_ = _Round(training, reporter, data, tuple(announce), tracker)
            trained_now += _train_seeds(runs, round_)
            announce = []
            failed = _missing(store_file, study, todo)
            if failed:  # the verdict stands on the runs that finished; a rerun retries the rest
                stop = "runs failed"
                break
        with Store(store_file) as store:
            set_status(store, q.name, stop)
            record = save_study(store, q.name, study)
            outcome = evaluate_study(store, record)
        tracker.study_ended(outcome, stop)
    return StudyResult(outcome, arms, stop, trained_now, tuple(failed))


def _prepare(training: Training, data: DatasetSplits | None) -> tuple[Training, DatasetSplits]:
    """The training with its recipe resolved for the data, and the data (loaded once)."""
    from archlab.train.data import load_dataset

    config = training.config
    if data is None:
        data = load_dataset(
            config.dataset, val_fraction=config.val_fraction, seed=config.split_seed,
            limit=config.limit, stratify=config.stratify,
        )  # fmt: skip
    # augment 'auto' resolved: the stored key says what ran
    return dataclasses.replace(training, config=config.for_data(data)), data


def _plan_lines(plan: StudyPlan, arms: ArmSet, training: Training) -> list[str]:
    """The plan as said before the first epoch, on a terminal and off one (issue 18, item 7)."""
    from archlab.device import resolve_device
    from archlab.train.executors import planned_threads
    from archlab.train.progress import plan_lines

    q, device = plan.question, resolve_device(training.execution.device)
    lines = plan_lines(
        [(a.label + ("" if a.matched else " (reference)"), a.spec) for a in arms.arms],
        seeds=f"{q.min_seeds} per arm"
        + ("" if q.max_seeds == q.min_seeds else f" first, one more per look up to {q.max_seeds}"),
        config=training.config,
        device=device.type,
        executor=training.execution.executor,
        threads=planned_threads(training.execution, device),
    )
    return [arms.question, *lines, *arms.notes]


def _stop(outcome: StudyOutcome, plan: StudyPlan, spent: float) -> str | None:
    state, budget = outcome.state, plan.question.time_budget
    if state.done:
        if not state.undecided:
            return "decided"
        return "futile" if set(state.undecided) <= set(state.futile) else "max seeds"
    if budget is not None and spent >= budget and state.looks > 0:
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
class _Round:
    """What every round trains with: the shared training, the progress and the loaded data."""

    training: Training
    reporter: Reporter
    data: DatasetSplits
    announce: tuple[str, ...] = ()  # the study's plan, said before the round's first epoch
    tracker: StudyTracker | None = None  # MLflow / TensorBoard, shared by every round


def _train_seeds(runs: dict[NetSpec, list[int]], round_: _Round) -> int:
    """Train the given seeds of the given specs into the store: the one call to the driver.

    Each group of specs asking for the same seeds is one run plan (the study's training with
    those candidates and seeds), trained by the plan's executor; the driver skips runs already
    finished and resumes interrupted ones. Returns the runs trained now.
    """
    from archlab.workflows.train_candidates import train_candidates

    by_seeds: dict[tuple[int, ...], list[NetSpec]] = {}
    for spec, seeds in runs.items():
        by_seeds.setdefault(tuple(seeds), []).append(spec)
    trained = 0
    announce = round_.announce
    for seed_group, group in by_seeds.items():
        summary = train_candidates(
            round_.training.plan(group, seed_group), reporter=round_.reporter, data=round_.data,
            announce=announce, tracker=round_.tracker,
        )  # fmt: skip
        announce = ()  # said once
        trained += sum(not r.skipped for r in summary.runs)
    return trained

"""The train-candidates workflow: one resolved plan in, every run trained and stored, a summary out.

A library caller builds a :class:`~archlab.train.plan.RunPlan` (directly, or with
:func:`~archlab.train.plan.resolve_plan` from a TOML file and overrides) and calls
:func:`train_candidates`; calling again with the same plan resumes, and a plan whose candidates
or seeds are a subset of an earlier one's trains only what is not stored yet. The rungs, the
runs' bookkeeping and the store writes are :class:`archlab.train.driver.Driver`'s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from archlab.device import resolve_device
from archlab.errors import warning_line
from archlab.space import NetSpec
from archlab.store import Store
from archlab.train.data import DatasetSplits
from archlab.train.driver import Driver, InvocationSummary, RunRow
from archlab.train.executors import make_executor
from archlab.train.liveness import hold_driver_lock
from archlab.train.plan import RunPlan
from archlab.train.progress import NullReporter, Reporter, plan_lines
from archlab.train.tasks import dataset_for
from archlab.train.tracking import GuardedTracker
from archlab.train.workspace import check_store_path, default_workdir, fit_to_data, make_workdir
from archlab.workflows.tracking import open_tracking

__all__ = ["InvocationSummary", "RunPlan", "RunRow", "train_candidates"]


def train_candidates(
    plan: RunPlan,
    *,
    reporter: Reporter | None = None,
    data: DatasetSplits | None = None,
    announce: Sequence[str] | None = None,
    tracker: GuardedTracker | None = None,
) -> InvocationSummary:
    """Train every candidate of the plan for every seed (grid or halving), storing all of it.

    Runs already finished or diverged in the store are skipped (their rows say ``skipped``), so
    calling again with the same plan resumes. ``data`` replaces loading ``plan.config.dataset``
    (tests pass a small split). Nothing is written before the plan's paths, device, data and
    executor have been checked. ``announce``: what the reporter is told before the first epoch;
    by default the plan's candidates, seeds, recipe, device and threads (a study passes its own
    for its first round, and nothing for the others). ``tracker``: the MLflow / TensorBoard sinks
    (a study passes its own); by default those of the plan's output section, opened and checked
    here before any training, and closed at the end.

    Per-run errors: ``summary.runs[i].val_error`` / ``.test_error`` (the last epoch's, fractions;
    ``None`` when a run stored no epoch), keyed by ``name``, ``seed`` and ``rung``; the store at
    ``summary.store`` holds every epoch (``Store.results_frame()`` filtered on
    ``config_key == summary.config_key``).
    """
    store_file = Path(plan.store)
    check_store_path(store_file)
    torch_device = resolve_device(plan.execution.device)
    owned = tracker is None
    if tracker is None:
        tracker = open_tracking(plan.training)
    if data is None:
        data = dataset_for(plan.config)
    candidates = fit_to_data(plan.candidates, data)
    work = Path(plan.workdir) if plan.workdir is not None else default_workdir(store_file)
    make_workdir(work)
    reporter = reporter or NullReporter()
    # augment 'auto' resolved for the data: runs that train alike share one stored config key.
    plan = plan.replace(config=plan.config.for_data(data))
    if "flip" in plan.config.augment.split(",") and not data.flip:
        reporter.message(warning_line(
            f"augment {plan.config.augment}: flipping {data.name} as asked, though it says "
            "horizontal flips change its labels"))  # fmt: skip
    executor, threads = make_executor(
        plan.execution, device=torch_device, data=data, reporter=reporter
    )
    # The thread count is resolved here (results on the CPU depend on it) and stored with runs.
    plan = plan.replace(execution=dataclasses.replace(plan.execution, threads=threads))
    if announce is None:
        announce = [*_plan_lines(plan, candidates, torch_device.type), data.summary()]
    with Store(store_file, create=True) as store, hold_driver_lock(work):
        driver = Driver(plan, store, work, reporter, announce=announce, tracker=tracker)
        recovered = store.recover_stale_runs(other_hosts=plan.execution.reclaim, alive=driver.alive)
        for run in recovered:
            reporter.message(f"run {run.id} ({run.name} seed {run.seed}) was interrupted: resuming")
        reporter.start(driver.planned_runs(len(candidates)))
        try:
            driver.run_rungs(executor, candidates)
        finally:
            reporter.close()
            if owned:
                tracker.close()
    rows = sorted(driver.rows, key=lambda r: (r.rung, r.name, r.seed))
    return InvocationSummary(str(store_file), str(work), plan.config_key, tuple(rows))


def _plan_lines(plan: RunPlan, candidates: Sequence[NetSpec], device: str) -> list[str]:
    """The plan as said before the first epoch, on a terminal and off one (issue 18, item 7)."""
    seeds = ",".join(str(s) for s in plan.seeds)
    if plan.halving is not None:
        seeds += f"; halving over rungs of {', '.join(map(str, plan.halving.rungs))} epochs"
    return plan_lines(
        [(spec.name, spec) for spec in candidates], seeds=seeds, config=plan.config,
        device=device, executor=plan.execution.executor, threads=plan.execution.threads or 1,
    )  # fmt: skip

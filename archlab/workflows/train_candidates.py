"""The train-candidates workflow: one resolved plan in, every run trained and stored, a summary out.

A library caller builds a :class:`~archlab.train.plan.RunPlan` (directly, or with
:func:`~archlab.train.plan.resolve_plan` from a TOML file and overrides) and calls
:func:`train_candidates`; calling again with the same plan resumes, and a plan whose candidates
or seeds are a subset of an earlier one's trains only what is not stored yet.
"""

from __future__ import annotations

from archlab.train.data import DatasetSplits
from archlab.train.driver import InvocationSummary, RunRow
from archlab.train.driver import train_candidates as _drive
from archlab.train.plan import RunPlan
from archlab.train.progress import Reporter

__all__ = ["InvocationSummary", "RunPlan", "RunRow", "train_candidates"]


def train_candidates(
    plan: RunPlan, *, reporter: Reporter | None = None, data: DatasetSplits | None = None
) -> InvocationSummary:
    """Train the plan's (candidate, seed) runs, resuming from the store; one row per run.

    Per-run errors: ``summary.runs[i].val_error`` / ``.test_error`` (the last epoch's, fractions;
    ``None`` when a run stored no epoch), keyed by ``name``, ``seed`` and ``rung``; the store at
    ``summary.store`` holds every epoch (``Store.results_frame()`` filtered on
    ``config_key == summary.config_key``). ``data`` replaces loading the plan's data set.
    """
    return _drive(plan, reporter=reporter, data=data)

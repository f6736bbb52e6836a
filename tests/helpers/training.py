"""Training shorthand for tests: specs through one RunPlan, as the library entry point does."""

from __future__ import annotations


def train_specs(  # type: ignore[no-untyped-def]
    specs,
    *,
    config,
    store_path,
    seeds=(0,),
    device="auto",
    workdir=None,
    halving=None,
    execution=None,
    reclaim=False,
    data=None,
    reporter=None,
):
    """Train specs through one RunPlan, as the library entry point does (tests' shorthand)."""
    import dataclasses

    from archlab.train.plan import ExecutionOptions, RunPlan
    from archlab.workflows.train_candidates import train_candidates

    execution = dataclasses.replace(execution or ExecutionOptions(), device=device, reclaim=reclaim)
    plan = RunPlan(
        candidates=tuple(specs),
        config=config,
        seeds=tuple(seeds),
        halving=halving,
        execution=execution,
        store=str(store_path),
        workdir=None if workdir is None else str(workdir),
    )
    return train_candidates(plan, reporter=reporter, data=data)

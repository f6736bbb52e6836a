"""Per-run scheduling overhead of the Ray executor against the local one, on tiny candidates.

    .venv/bin/python benchmarks/bench_ray.py

The same tiny runs (1 epoch each on 200 digits, one torch thread) go through train-candidates
with --executor local and --executor ray in one process; Ray is started before the clock runs,
so its start-up is reported apart. Ray runs use 2 workers here, so the wall ratio mixes its
overhead with its parallelism; the overhead per run is (Ray wall − local wall / 2) / runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import ray
from _sections import command, machine_line, write_section

from archlab.space import make_spec
from archlab.train.config import TrainConfig
from archlab.train.data import load_dataset
from archlab.train.plan import ExecutionOptions, RunPlan
from archlab.workflows.train_candidates import train_candidates


def timed(executor: str, runs: int, folder: Path) -> float:
    """Wall seconds of ``runs`` tiny runs through the executor."""
    specs = [make_spec("cifar", 11, c, 2, width_multiplier=0.125) for c in (1, 2, 4, 8)]
    seeds = tuple(range(runs // len(specs)))
    config = TrainConfig(epochs=1, batch_size=64, limit=200)
    data = load_dataset("digits", limit=200)
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    plan = RunPlan(
        candidates=tuple(specs),
        config=config,
        seeds=seeds,
        execution=ExecutionOptions(executor=executor, threads=1, device="cpu"),
        store=str(folder / f"{executor}.db"),
        workdir=str(folder / executor),
    )
    train_candidates(plan, data=data)
    return time.perf_counter() - start


def main() -> None:
    """Measure and write the section of reports/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=16, help="a multiple of 4")
    args = parser.parse_args()
    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    startup = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        # Both warm up off the clock: Ray's workers import torch and load the data, and both
        # sides build each model once (first-call kernel set-up is not scheduling overhead).
        timed("ray", args.runs, Path(folder) / "warm")
        timed("local", 4, Path(folder) / "warm")
        local = timed("local", args.runs, Path(folder))
        remote = timed("ray", args.runs, Path(folder))
    ray.shutdown()
    overhead = (remote - local / 2) / args.runs
    body = f"""## Executors: Ray against local, per-run scheduling overhead

Command: `{command()}`
Run: {machine_line()}, Ray {ray.__version__} with 2 CPUs

| measure | value |
|---|---:|
| runs (1 epoch each, 200 digits, 1 torch thread) | {args.runs} |
| local executor, wall | {local:.2f} s ({local / args.runs * 1000:.0f} ms per run) |
| Ray executor (2 workers), wall | {remote:.2f} s ({remote / args.runs * 1000:.0f} ms per run) |
| Ray / local wall ratio | {remote / local:.2f} |
| Ray overhead per run against ideal 2-way parallel local | {overhead * 1000:.0f} ms |
| Ray start-up (once per invocation, not in the walls above) | {startup:.1f} s |
"""
    write_section("bench_ray", body)
    print(body)


if __name__ == "__main__":
    main()

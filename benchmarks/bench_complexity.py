"""Analytic counting of 10,000 enumerated specs: time per spec and memory that does not grow.

    .venv/bin/python benchmarks/bench_complexity.py

Specs are generated lazily from a grid (ImageNet depths 50/101/152 and CIFAR 29, C and d swept),
counted with :func:`archlab.complexity.totals` and dropped, so memory stays flat; tracemalloc's
peak is compared between the first 1,000 and all 10,000 specs. ``totals`` remembers blocks by
shape (bounded, docs/counting.md#how-fast), and the depths of the grid share their blocks, so the
time with the block cache cleared before each spec, the worst case, is reported beside it.
"""

from __future__ import annotations

import argparse
import itertools
import time
import tracemalloc
from collections.abc import Iterator

from _sections import command, machine_line, write_section

from archlab.complexity import BLOCK_CACHE_SIZE, clear_block_cache, totals
from archlab.space import NetSpec, make_spec

GOAL_SECONDS = 1.0


def enumerated_specs(n: int) -> Iterator[NetSpec]:
    """The first ``n`` specs of a depth x C x d grid, made one at a time."""
    grid = itertools.product(
        [("imagenet", 50), ("imagenet", 101), ("imagenet", 152), ("cifar", 29)],
        range(1, 65),
        range(1, 65),
    )
    for (template, depth), c, d in itertools.islice(grid, n):
        yield make_spec(template, depth, c, d)


def count_all(n: int, *, clear: bool = False) -> tuple[float, int, int]:
    """(seconds counting only, peak traced bytes, MACs checksum) over ``n`` specs, the block
    cache emptied first if ``clear``."""
    if clear:
        clear_block_cache()
    tracemalloc.start()
    spent, checksum = 0.0, 0
    for spec in enumerated_specs(n):
        start = time.perf_counter()
        macs, _, _ = totals(spec)
        spent += time.perf_counter() - start
        checksum += macs
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return spent, peak, checksum


def cold_seconds(specs: list[NetSpec]) -> float:
    """Seconds counting only, the block cache cleared before each spec (clearing not timed)."""
    spent = 0.0
    for spec in specs:
        clear_block_cache()
        start = time.perf_counter()
        totals(spec)
        spent += time.perf_counter() - start
    return spent


def main() -> None:
    """Measure and write the section of reports/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", type=int, default=10_000)
    parser.add_argument("--no-write", action="store_true", help="print the section only")
    args = parser.parse_args()
    # Timing runs without tracemalloc, which slows allocation several-fold.
    start = time.perf_counter()
    specs = list(enumerated_specs(args.specs))
    build = time.perf_counter() - start
    start = time.perf_counter()
    for spec in specs:
        totals(spec)
    seconds = time.perf_counter() - start
    # Streaming with the block cache as the run left it: what grows here is the specs' memory.
    # A first traced pass fills CPython's free lists (up to 2,000 tuples of a size, once): apart.
    count_all(args.specs // 10)
    _, peak_small, _ = count_all(args.specs // 10)
    _, peak_all, _ = count_all(args.specs)
    _, peak_cache, _ = count_all(args.specs, clear=True)  # the cache filled from empty
    cold = cold_seconds(specs)
    del specs
    per_spec = f"{seconds / args.specs * 1e6:.1f} µs per spec"
    cold_per_spec = f"{cold / args.specs * 1e6:.1f} µs per spec"
    cache = f"all specs from an empty block cache (at most {BLOCK_CACHE_SIZE:,} blocks)"
    body = f"""## Analytic complexity: {args.specs:,} enumerated specs

Command: `{command()}`
Run: {machine_line()}

| measure | value |
|---|---:|
| specs counted | {args.specs:,} (ImageNet 50/101/152 and CIFAR 29, C and d in 1..64) |
| counting time, all specs | {seconds:.3f} s ({per_spec}) |
| counting time, block cache cleared before each spec | {cold:.3f} s ({cold_per_spec}) |
| making the specs (apart) | {build:.3f} s |
| goal: under {GOAL_SECONDS:g} s | {"met" if seconds < GOAL_SECONDS else "not met"} |
| traced peak memory, first {args.specs // 10:,} specs streamed | {peak_small / 1024:.0f} KiB |
| traced peak memory, all {args.specs:,} specs streamed | {peak_all / 1024:.0f} KiB |
| peak ratio (flat memory is about 1) | {peak_all / max(peak_small, 1):.2f} |
| traced peak memory, {cache} | {peak_cache / 1024:.0f} KiB |
"""
    if args.no_write:
        print(body)
        return
    write_section("bench_complexity", body)
    print(body)


if __name__ == "__main__":
    main()

"""Shared by the benchmark scripts: each owns one marked section of reports/benchmarks.md."""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = ROOT / "reports" / "benchmarks.md"


def markers(name: str) -> tuple[str, str]:
    """The start and end markers of a script's section."""
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def write_section(name: str, body: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace section ``name`` in ``path`` (or append it); other sections stay as they are."""
    start, end = markers(name)
    block = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if start in text and end in text:
        head, _, rest = text.partition(start)
        _, _, tail = rest.partition(end)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def command() -> str:
    """The command that is running, as typed from the repository root."""
    script = Path(sys.argv[0]).resolve()
    with contextlib.suppress(ValueError):
        script = script.relative_to(ROOT)
    return shlex.join([".venv/bin/python", str(script), *sys.argv[1:]])


def machine_line() -> str:
    """Where and when a benchmark ran, in one line."""
    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; torch {torch.__version__}, "
        f"{platform.platform()}, {os.cpu_count()} CPUs, load average {load:.2f} at the end"
    )


def relative(path: Path) -> str:
    """The path from the repository root when it lies inside it, else as given."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def add_store_option(parser: argparse.ArgumentParser, default: Path) -> None:
    """``--store``: a store whose runs are reused (copied, never changed); ``default`` if it is."""
    parser.add_argument(
        "--store",
        type=Path,
        default=default if default.is_file() else None,
        help="Reuse the runs of this store (copied, never changed): runs of the same recipe "
        "and seed are not trained again. Default: the demo's store when it exists.",
    )

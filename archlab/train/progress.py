"""Progress reporting for training runs: rich bars for people, plain lines for logs, or nothing."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from typing import Any, Protocol, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from archlab.complexity import totals
from archlab.space import NetSpec


class Reporter(Protocol):
    """What the executor tells whoever watches a batch of runs."""

    def start(self, total_runs: int) -> None: ...
    def run_started(self, label: str, epochs: int | None, steps: int, first_epoch: int) -> None: ...
    def step(self, epoch: int, step: int, loss: float) -> None: ...
    def epoch(self, label: str, metrics: dict[str, Any]) -> None: ...
    def run_finished(self, label: str, status: str, reason: str | None) -> None: ...
    def message(self, text: str) -> None: ...
    def plan(self, lines: Sequence[str]) -> None: ...
    def close(self) -> None: ...


class NullReporter:
    """Says nothing (library use and tests)."""

    def start(self, total_runs: int) -> None:
        """Nothing."""

    def run_started(self, label: str, epochs: int | None, steps: int, first_epoch: int) -> None:
        """Nothing."""

    def step(self, epoch: int, step: int, loss: float) -> None:
        """Nothing."""

    def epoch(self, label: str, metrics: dict[str, Any]) -> None:
        """Nothing."""

    def run_finished(self, label: str, status: str, reason: str | None) -> None:
        """Nothing."""

    def message(self, text: str) -> None:
        """Nothing."""

    def plan(self, lines: Sequence[str]) -> None:
        """Nothing."""

    def close(self) -> None:
        """Nothing."""


def plan_lines(
    candidates: Sequence[tuple[str, NetSpec]],
    *,
    seeds: str,
    config: Any,
    device: str,
    executor: str,
    threads: int,
) -> list[str]:
    """What is about to train, said before the first epoch (issue 18, item 7): each candidate
    with C, d, depth and MACs, the seeds, the recipe, the device and the threads per run."""
    lines = [f"plan: {len(candidates)} candidate(s), seeds {seeds}"]
    for label, spec in candidates:
        macs = totals(spec)[0]
        name = "" if label == spec.name else f" ({spec.name})"  # a study's label is not a name
        lines.append(
            f"  {label}: C={spec.cardinality} d={spec.bottleneck_width} depth {spec.depth} "
            f"MACs {macs:,}{name}"
        )
    epochs = config.epochs
    plural = "" if epochs == 1 else "s"
    budget = f"{epochs} epoch{plural}" if epochs is not None else f"{config.time_budget:g} s"
    lines.append(
        f"recipe: {config.dataset}, {budget} per run, batch {config.batch_size}, "
        f"lr {config.lr:g}, {config.schedule}, momentum {config.momentum:g}, "
        f"weight decay {config.weight_decay:g}, augment {config.augment}"
    )
    lines.append(f"device {device}, executor {executor}, {threads} torch thread(s) per run")
    return lines


def epoch_line(label: str, m: dict[str, Any]) -> str:
    """One log line for an epoch's metrics."""
    return (
        f"{label} epoch {m['epoch']}/{m['budget_epochs']}: loss {m['train_loss']:.4f} "
        f"train err {m['train_error']:.2%} val err {m['val_error']:.2%} "
        f"test err {m['test_error']:.2%} {m['images_per_s']:.0f} img/s {m['wall_s']:.1f}s"
    )


class LogReporter(NullReporter):
    """Plain lines on stderr (quiet, or off a terminal): one per epoch and per run, no bars.

    The run counter ``[done/total]`` spans every batch this reporter is given: a study hands it
    one batch per round, and each round's runs add to the total (``[5/6]``, never ``[5/2]``).
    """

    def __init__(self) -> None:
        self._done = 0
        self._total = 0

    def start(self, total_runs: int) -> None:
        """Add a batch's runs to the counter's total."""
        self._total += total_runs

    def epoch(self, label: str, metrics: dict[str, Any]) -> None:
        """Print the epoch line."""
        print(epoch_line(label, metrics), file=sys.stderr)

    def run_finished(self, label: str, status: str, reason: str | None) -> None:
        """Print the outcome."""
        self._done += 1
        tail = f" ({reason})" if reason else ""
        print(f"[{self._done}/{self._total}] {label}: {status}{tail}", file=sys.stderr)

    def message(self, text: str) -> None:
        """Print a note."""
        print(text, file=sys.stderr)

    def plan(self, lines: Sequence[str]) -> None:
        """Print what is about to train, before the first epoch."""
        for line in lines:
            print(line, file=sys.stderr)


class RichReporter(NullReporter):
    """Two rich bars: runs done of total, and the current run's steps with loss and images/s."""

    def __init__(self, console: Console | None = None) -> None:
        self._console = console or Console(file=sys.stderr)
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self._console,
        )
        self._overall: TaskID | None = None
        self._run: TaskID | None = None
        self._steps = 1
        self._epochs = 1
        self._rate = ""

    def start(self, total_runs: int) -> None:
        """Show the overall bar; a later batch (a study's next round) adds to its total."""
        self._progress.start()
        if self._overall is None:
            self._overall = self._progress.add_task("runs", total=total_runs, info="")
            return
        if self._run is not None:  # the last batch's finished run
            self._progress.remove_task(self._run)
            self._run = None
        total = next(t.total for t in self._progress.tasks if t.id == self._overall) or 0
        self._progress.update(self._overall, total=total + total_runs)

    def run_started(self, label: str, epochs: int | None, steps: int, first_epoch: int) -> None:
        """A fresh bar for the run's steps over all its epochs."""
        if self._run is not None:
            self._progress.remove_task(self._run)
        self._steps, self._epochs, self._rate = steps, epochs or 1, ""
        self._run = self._progress.add_task(
            label, total=self._steps * self._epochs, completed=first_epoch * steps, info=""
        )

    def step(self, epoch: int, step: int, loss: float) -> None:
        """Advance the run bar."""
        if self._run is None:
            return
        shown = "" if math.isnan(loss) else f"loss {loss:.3f} "
        self._progress.update(
            self._run,
            completed=epoch * self._steps + step + 1,
            info=f"epoch {epoch + 1}/{self._epochs} step {step + 1} {shown}{self._rate}",
        )

    def epoch(self, label: str, metrics: dict[str, Any]) -> None:
        """Print the epoch line above the bars."""
        self._epochs = metrics["budget_epochs"]
        self._rate = f"{metrics['images_per_s']:.0f} img/s"
        if self._run is not None:
            self._progress.update(self._run, total=self._steps * self._epochs)
        self._progress.console.print(epoch_line(label, metrics), highlight=False)

    def run_finished(self, label: str, status: str, reason: str | None) -> None:
        """Advance the overall bar."""
        if self._overall is not None:
            self._progress.advance(self._overall)
        tail = f" ({reason})" if reason else ""
        self._progress.console.print(f"{label}: {status}{tail}", highlight=False)

    def message(self, text: str) -> None:
        """Print a note above the bars."""
        self._progress.console.print(text, highlight=False)

    def plan(self, lines: Sequence[str]) -> None:
        """Print what is about to train above the bars, before the first epoch."""
        for line in lines:
            self._progress.console.print(line, highlight=False)

    def close(self) -> None:
        """Stop drawing."""
        self._progress.stop()


def plain_output(streams: tuple[TextIO, ...] | None = None) -> bool:
    """True when output should be plain lines: a stream is not a terminal (a file, a pipe, CI),
    or ``NO_COLOR`` is set, or ``TERM=dumb``; live bars there leave frames and wrapped lines."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return True
    for stream in streams if streams is not None else (sys.stdout, sys.stderr):
        isatty = getattr(stream, "isatty", None)
        if isatty is None or not isatty():
            return True
    return False


def make_reporter(*, quiet: bool = False) -> Reporter:
    """The reporter for a command: rich bars on an interactive terminal, else plain log lines."""
    if quiet or plain_output():
        return LogReporter()
    return RichReporter()

"""``--match`` for match-flops and space: what a match option means, and matching on speed.

``macs`` and ``params`` name the analytic scopes (network MACs, network params); ``speed`` and
``latency`` solve on measured time (:mod:`archlab.search.speed_match`), measured by a
:class:`~archlab.measure.speed_data.SpeedMeter` whose measurements live in a results store and
are reused (docs/counting.md, "Measured speed"). The timing options (``batch``, ``repeats``,
``device``, ``store``) apply only to those two.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archlab.complexity import totals
from archlab.errors import ArchlabError, OptionError, SolverError
from archlab.search.solver import match_flops, space_row
from archlab.search.speed_match import QUANTITIES, SpeedMatch, match_measured, rounds_note

if TYPE_CHECKING:
    from archlab.measure.speed_data import SpeedMeter

MATCHES = ("macs", "params", *QUANTITIES)
_SCOPES = {"macs": "network", "params": "params"}


@dataclass(frozen=True)
class SpeedOptions:
    """How a speed match times its candidates; None: the library's default."""

    batch: int | None = None
    repeats: int | None = None
    device: str | None = None
    store: str | Path | None = None  # None: the default results store (archlab/train/defaults.py)

    def given(self) -> list[str]:
        """The options given, by keyword."""
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]


def resolve_match(
    match: str | None, scope: str | None, default_scope: str
) -> tuple[str, str | None]:
    """(scope, quantity): the analytic scope to solve, and ``speed``/``latency`` or None."""
    if match is None:
        return scope or default_scope, None
    if match not in MATCHES:
        raise ArchlabError(f"match must be one of {', '.join(MATCHES)}, got {match!r}")
    want = _SCOPES.get(match, "network")  # a speed match starts from the MACs match
    if scope is not None and scope != want:
        raise OptionError("{} " + repr(scope) + " does not apply with {} " + match, "scope",
                          "match")  # fmt: skip
    return want, match if match in QUANTITIES else None


def check_timing(quantity: str | None, options: SpeedOptions) -> None:
    """Timing options need a speed match."""
    for name in options.given():
        if quantity is None:
            raise OptionError("{} needs {} speed or latency", name, "match")


@contextmanager
def speed_meter(options: SpeedOptions) -> Iterator[SpeedMeter]:
    """A meter over the options' store; bad settings and absent CUDA refused before it opens."""
    from archlab.device import resolve_device
    from archlab.measure.speed_data import SpeedMeter, SpeedSettings
    from archlab.store import Store
    from archlab.train.defaults import DEFAULT_STORE

    kw = {k: getattr(options, k) for k in ("batch", "repeats", "device") if k in options.given()}
    settings = SpeedSettings(**kw)
    resolve_device(settings.device)
    with Store(options.store or DEFAULT_STORE, create=True) as store:
        yield SpeedMeter(settings, store=store)


def time_columns(m: SpeedMatch) -> dict[str, Any]:
    """A space row's measured columns: both medians with their intervals, the ratio to the
    baseline timed beside it with its interval."""
    v = m.time.values()
    cols = {key: v[key] for key in ("step_ms_per_image", "step_ms_ci", "latency_ms",
                                    "latency_ms_ci")}  # fmt: skip
    return cols | {"ratio": m.ratio.median, "ratio_ci": [m.ratio.low, m.ratio.high],
                   "measured_on": m.quantity, "rounds": m.rounds}  # fmt: skip


def speed_rows(
    meter: SpeedMeter,
    quantity: str,
    *,
    template: str,
    depths: list[int],
    cardinalities: list[int],
    complexity: float,
    width_multiplier: float,
    input_size: int | None,
    tolerance: float,
) -> tuple[list[dict[str, Any]], tuple[str, ...], str]:
    """Space rows of depth x C with d solved on measured time; warnings; how many were measured.

    A cardinality that no d brings within the tolerance is left out with a warning naming the
    closest, its ratio and interval (as ``space`` on MACs warns rather than refusing the grid);
    when none is left, the grid is refused in one line.
    """
    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    left_out: list[str] = []
    seen: set[Any] = set()
    for depth in depths:
        for c in cardinalities:
            analytic = match_flops(c, depth, template, complexity, "network",
                                   width_multiplier=width_multiplier, input_size=input_size,
                                   max_error=math.inf)  # fmt: skip
            try:
                m = match_measured(analytic, "d", meter, quantity=quantity, tolerance=tolerance)
            except SolverError as exc:
                left_out.append(f"left out C={c} at depth {depth}: {exc}")
                continue
            warnings += [w for w in m.warnings() if w not in warnings]
            if m.spec in seen:
                continue
            seen.add(m.spec)
            rows.append(space_row(m.spec, totals(m.spec), m.relative_error) | time_columns(m))
    if not rows:
        raise SolverError(f"no cardinality lies within {tolerance:.0%} of the target: "
                          + "; ".join(left_out))  # fmt: skip
    note = (
        f"matched on measured {QUANTITIES[quantity]}, side by side with the baseline: "
        f"{meter.sessions} run(s) timed{rounds_note(meter.run_rounds)}, "
        f"{meter.measured} measurement(s) taken, {meter.reused} reused from the store"
    )
    return rows, (*left_out, *warnings), note

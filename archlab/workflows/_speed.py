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
from archlab.errors import ArchlabError, OptionError
from archlab.search.solver import match_flops, space_row
from archlab.search.speed_match import QUANTITIES, SpeedMatch, match_measured

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
                   "measured_on": m.quantity}  # fmt: skip


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
    """Space rows of depth x C with d solved on measured time; warnings; how many were measured."""
    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    seen: set[Any] = set()
    for depth in depths:
        for c in cardinalities:
            analytic = match_flops(c, depth, template, complexity, "network",
                                   width_multiplier=width_multiplier, input_size=input_size,
                                   max_error=math.inf)  # fmt: skip
            m = match_measured(analytic, "d", meter, quantity=quantity, tolerance=tolerance)
            warnings += [w for w in m.warnings() if w not in warnings]
            if m.spec in seen:
                continue
            seen.add(m.spec)
            rows.append(space_row(m.spec, totals(m.spec), m.relative_error) | time_columns(m))
    note = (
        f"matched on measured {QUANTITIES[quantity]}, side by side with the baseline: "
        f"{meter.sessions} run(s) timed, {meter.measured} measurement(s) taken, "
        f"{meter.reused} reused from the store"
    )
    return rows, tuple(warnings), note

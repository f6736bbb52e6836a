"""Matching on measured time with a fake timer: time = a x MACs x a grouped-conv penalty."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from helpers.speed import fake_sampler

from archlab.errors import ArchlabError, SolverError
from archlab.measure.speed_data import SpeedMeter, SpeedSettings
from archlab.search.solver import match_cardinality, match_depth, match_flops
from archlab.search.speed_match import check_quantity, match_measured, solve_measured
from archlab.store import Store


def meter(calls: list[str], store: Store | None = None, penalty: float = 0.25) -> SpeedMeter:
    settings = SpeedSettings(batch=4, repeats=6, device="cpu")
    return SpeedMeter(settings, store=store, sampler=fake_sampler(calls, penalty))


def test_solve_measured_brackets_a_monotone_time_in_few_measurements() -> None:
    seen: list[int] = []

    def time_of(x: int) -> float:
        seen.append(x)
        return 2.0 * x * x  # MACs x^2, time twice that: the line finds it at once

    times = solve_measured(time_of, lambda x: x * x, 10, target=2.0 * 36, tolerance=0.01)
    assert seen == [10, 6] and times[6] == 72.0
    # A target between two integers: the bracket stops the search at its neighbours.
    times = solve_measured(lambda x: 1.0 * x, lambda x: x, 3, target=7.5, tolerance=0.01)
    assert set(times) >= {7, 8} and len(times) <= 3


def test_speed_match_is_slower_per_mac_so_d_comes_down(tmp_path: Path) -> None:
    calls: list[str] = []
    analytic = match_flops(8, 29, "cifar", scope="network", width_multiplier=0.5)
    with Store(tmp_path / "s.db", create=True) as store:
        m = match_measured(
            analytic, "d", meter(calls, store, 0.1), quantity="speed", tolerance=0.05
        )
        # C = 8 runs 1.3x slower per MAC here: fewer MACs, a smaller d than the MACs match.
        assert m.spec.bottleneck_width < analytic.spec.bottleneck_width
        assert m.relative_error <= 0.05
        assert m.measured == len(calls) and 2 <= len(calls) <= 5  # the baseline and a few
        base = m.baseline_time.step.median
        assert m.target_ms == pytest.approx(base)
        d = m.to_dict()
        assert d["baseline"]["name"] == analytic.baseline.name
        assert d["match"]["name"] == m.spec.name == d["name"]
        assert d["block_params"] < d["baseline_block_params"]  # the solved spec's, not the start's
        assert d["spec"] == m.spec.to_dict() and d["analytic_name"] == analytic.spec.name
        assert d["match"]["step_ms_ci"][0] <= d["match"]["step_ms_per_image"]
        assert d["relative_error"] == pytest.approx(
            abs(d["match"]["step_ms_per_image"] - base) / base
        )
        assert d["macs_relative_error"] > 0.05  # at equal speed the MACs differ
        # Asked again: every measurement read back, none taken.
        again = match_measured(analytic, "d", meter(calls, store, 0.1), tolerance=0.05)
        assert again.spec == m.spec and again.measured == 0 and again.reused == m.measured
        assert len(calls) == m.measured


def test_latency_and_the_other_free_integers() -> None:
    calls: list[str] = []
    by_c = match_cardinality(4, 29, "cifar", scope="network", width_multiplier=0.25)
    m = match_measured(by_c, "C", meter(calls, penalty=0.1), quantity="latency", tolerance=0.1)
    assert m.relative_error <= 0.1 and m.spec.bottleneck_width == 4
    deeper = match_depth(4, 4, "cifar", scope="network", width_multiplier=0.25)
    m = match_measured(deeper, "depth", meter(calls), tolerance=0.1)
    assert m.spec.depth < deeper.spec.depth and m.relative_error <= 0.1


def test_no_integer_within_tolerance_is_refused_naming_the_closest() -> None:
    calls: list[str] = []
    analytic = match_flops(8, 29, "cifar", scope="network", width_multiplier=0.125)
    with pytest.raises(SolverError, match=r"the closest, d=\d+ \(resnext29_8x\d+d_w0.125\), "
                       r"measures .* off \(\d candidate\(s\) measured\)"):  # fmt: skip
        match_measured(analytic, "d", meter(calls), tolerance=0.001)
    # C = 64 at d = 1 is already slower than the baseline: d = 1 is the closest.
    analytic = match_flops(
        64, 29, "cifar", scope="network", width_multiplier=0.125, max_error=math.inf
    )
    with pytest.raises(SolverError, match=r"the closest, d=1 "):
        match_measured(analytic, "d", meter(calls, penalty=20.0), tolerance=0.05)


def test_an_unknown_quantity_is_refused() -> None:
    with pytest.raises(ArchlabError, match="match must be one of speed, latency, got 'fast'"):
        check_quantity("fast")


def test_intervals_wider_than_the_tolerance_are_warned_of() -> None:
    def noisy(target, settings):  # type: ignore[no-untyped-def]
        steps = [0.01 * (1 + 0.2 * i) for i in range(settings.repeats)]  # spread of ±50%
        return steps, steps

    settings = SpeedSettings(batch=4, repeats=6, device="cpu")
    analytic = match_flops(1, 29, "cifar", scope="network", width_multiplier=0.125)
    m = match_measured(analytic, "d", SpeedMeter(settings, sampler=noisy), tolerance=0.05)
    assert m.relative_error == 0.0  # equal samples: the baseline matches itself
    (line,) = m.warnings()
    assert "wider than the tolerance 5%" in line and "within measurement noise" in line

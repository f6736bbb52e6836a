"""Matching on measured time with a fake timer: time = a x MACs x a grouped-conv penalty."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from helpers.speed import FakeMachine, fake_prepare

from archlab.errors import ArchlabError, SolverError
from archlab.measure._rounds import Interval, Runner
from archlab.measure.speed_data import SpeedMeter, SpeedSettings, SpeedTarget
from archlab.search.solver import match_cardinality, match_depth, match_flops
from archlab.search.speed_match import (
    check_quantity,
    match_measured,
    narrow_enough,
    solve_side_by_side,
)
from archlab.space import make_spec
from archlab.store import Store


def meter(calls: list[str], store: Store | None = None, penalty: float = 0.25) -> SpeedMeter:
    settings = SpeedSettings(batch=4, repeats=6, device="cpu")
    return SpeedMeter(settings, store=store, prepare=fake_prepare(calls, penalty))


def test_solve_side_by_side_times_three_then_widens_once() -> None:
    runs: list[list[int]] = []

    def ratios_of(xs: list[int]) -> dict[int, float]:
        runs.append(xs)
        return {x: x / 6 for x in xs}  # ratio proportional to x: x = 6 is the target 1.0

    # The prediction and its neighbours hold the target: one run of three.
    assert solve_side_by_side(ratios_of, lambda x: x, 6, 1.0, 0.01) == {5: 5 / 6, 6: 1.0, 7: 7 / 6}
    assert runs == [[5, 6, 7]]
    # Too fast all three: one more run, where the line through them puts the target.
    runs.clear()
    ratios = solve_side_by_side(ratios_of, lambda x: x, 2, 1.0, 0.01)
    assert runs == [[1, 2, 3], [5, 6, 7]] and ratios[6] == 1.0
    # Too slow all three, the target far below: widened once, then the closest stays.
    runs.clear()
    ratios = solve_side_by_side(ratios_of, lambda x: x * x, 30, 1.0, 0.01)
    assert len(runs) == 2 and max(runs[1]) < 29 and len(ratios) <= 6
    # The target between two timed neighbours: no widening, the bracket settles it.
    runs.clear()
    solve_side_by_side(lambda xs: {x: x / 6.5 for x in xs}, lambda x: x, 6, 1.0, 0.01)
    assert solve_side_by_side(lambda xs: {x: x / 6.5 for x in xs}, lambda x: x, 6, 1.0, 0.01)
    assert runs == []


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
        # d = 6, 7, 8 around the MACs match are all too slow: one more run of three below them,
        # each run timing the baseline beside its candidates.
        assert m.measured == len(calls) == 8 and m.runs == 2 and len(m.tried) == 6
        assert calls.count(analytic.baseline.name) == 2
        base = m.baseline_time.step.median
        assert m.target_ms == pytest.approx(base)
        assert m.baseline_time.session == m.time.session
        d = m.to_dict()
        assert d["baseline"]["name"] == analytic.baseline.name
        assert d["match"]["name"] == m.spec.name == d["name"]
        assert d["block_params"] < d["baseline_block_params"]  # the solved spec's, not the start's
        assert d["spec"] == m.spec.to_dict() and d["analytic_name"] == analytic.spec.name
        assert d["match"]["step_ms_ci"][0] <= d["match"]["step_ms_per_image"]
        assert d["relative_error"] == pytest.approx(abs(d["ratio"] - 1.0))
        assert d["ratio"] == pytest.approx(d["match"]["step_ms_per_image"] / base)
        assert d["ratio_ci"][0] <= d["ratio"] <= d["ratio_ci"][1] and d["ratio"] == d["step_ratio"]
        assert d["latency_ratio_ci"][0] <= d["latency_ratio"] <= d["latency_ratio_ci"][1]
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
    closest = (
        r"the closest, d=\d+ \(resnext29_8x\d+d_w0.125\), measures .*x \[.*\], .* off "
        r"\(\d candidate\(s\) timed side by side with the baseline in \d run\(s\)\)"
    )
    with pytest.raises(SolverError, match=closest):
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


def test_only_the_ratio_interval_wider_than_the_tolerance_is_warned_of() -> None:
    def noisy(target: SpeedTarget, settings: SpeedSettings) -> Runner:
        rounds = itertools.count()  # a load that swings ±50% over the rounds, for every target
        return lambda kind: 0.01 * (1 + 0.2 * (next(rounds) // 2))

    settings = SpeedSettings(batch=4, repeats=6, device="cpu")
    analytic = match_flops(1, 29, "cifar", scope="network", width_multiplier=0.125)
    m = match_measured(analytic, "d", SpeedMeter(settings, prepare=noisy), tolerance=0.05)
    assert m.relative_error == 0.0 and m.ratio.low == m.ratio.high == 1.0
    assert m.time.step.half_width > 0.05  # each time is noisy, their ratio is not: no warning
    assert m.warnings() == ()
    wide = replace(m, ratios={**m.ratios, "speed": Interval(1.0, 0.7, 1.3, 0.97)})
    (line,) = wide.warnings()
    assert "wider than the tolerance 5%" in line and "within measurement noise" in line


# ------------------------------------------------------------------ adaptive rounds
# A fake machine whose candidates (never the baseline) are slowed by noise of their own, so no
# ratio cancels it; repeats 6: a run starts at 6 rounds and may grow to 24 (4x).
HALF = match_flops(8, 29, "cifar", scope="network", width_multiplier=0.5)


def _noisy(jitter: Callable[[str, int], float]) -> tuple[SpeedMeter, FakeMachine]:
    base = HALF.baseline.name
    machine = FakeMachine(0.1, jitter=lambda name, r: 1.0 if name == base else jitter(name, r))
    settings = SpeedSettings(batch=4, repeats=6, device="cpu")
    return SpeedMeter(settings, prepare=machine.prepare), machine


def test_a_quiet_machine_stops_at_the_starting_rounds() -> None:
    m = match_measured(HALF, "d", _noisy(lambda name, r: 1.0)[0], tolerance=0.05)
    assert m.run_rounds == (6, 6) and m.rounds == 6 and m.warnings() == ()
    assert m.to_dict()["run_rounds"] == [6, 6] and m.to_dict()["rounds"] == 6
    assert all(t["rounds"] == 6 for t in m.to_dict()["tried"])
    assert "2 run(s) timed (6 + 6 rounds)" in m.note() and "judged on 6 rounds" in m.note()


def test_a_noisy_machine_adds_rounds_until_the_interval_is_narrow() -> None:
    quiet = match_measured(HALF, "d", _noisy(lambda name, r: 1.0)[0], tolerance=0.05)
    # Each candidate's first 6 rounds swing +-30% (3 up, 3 down): [min, max] at 6 rounds,
    # [x(2), x(9)] at 10 and [x(3), x(12)] at 14 still reach a swing; at 18, [x(5), x(14)] holds
    # only quiet rounds.
    meter, machine = _noisy(lambda name, r: (1.3, 0.7)[r % 2] if r < 6 else 1.0)
    m = match_measured(HALF, "d", meter, tolerance=0.05)
    assert m.run_rounds == (18, 18) and m.rounds == 18
    assert m.ratio.half_width <= 0.05 and m.warnings() == ()
    assert m.spec == quiet.spec and m.ratio.median == pytest.approx(quiet.ratio.median)
    assert len(machine.calls) == 2 * 4 * 2 * 18  # 2 runs of 4 targets, a step and a forward
    assert "(18 + 18 rounds)" in m.note()


def test_the_cap_holds_and_the_match_then_warns_of_its_wide_interval() -> None:
    # Noise that never settles: +-30% in a cycle of five, every round.
    meter, machine = _noisy(lambda name, r: (0.7, 0.85, 1.0, 1.15, 1.3)[r % 5])
    m = match_measured(HALF, "d", meter, tolerance=0.05)
    assert m.run_rounds == (24, 24) and m.rounds == 24 == 4 * meter.settings.repeats
    assert len(machine.calls) == 2 * 4 * 2 * 24
    (line,) = m.warnings()
    assert "wider than the tolerance 5%" in line and "within measurement noise" in line


def test_only_a_candidate_that_could_decide_the_match_adds_rounds() -> None:
    base = make_spec("cifar", 29, 1, None, width_multiplier=0.125)
    far = make_spec("cifar", 29, 1, 16, width_multiplier=0.125)  # about 2.3x the MACs
    machine = FakeMachine(0.0, jitter=lambda name, r: (0.7, 1.3)[r % 2] if name == far.name
                          else 1.0)  # fmt: skip
    meter = SpeedMeter(SpeedSettings(batch=4, repeats=6, device="cpu"), prepare=machine.prepare)
    # The baseline itself (ratio 1, exact) decides a target of 1; the far one's wide interval
    # lies outside 1 +- 5% and cannot: the run stops at its 6 rounds.
    cmp = meter.specs(base, [base, far], narrow_enough("speed", 1.0, 0.05))
    assert cmp.rounds == 6 and cmp.ratio(cmp.candidates[1], "speed").half_width > 0.05
    # At a target of 2.3 the far one is the closest: rounds are added, up to the cap.
    cmp = meter.specs(base, [base, far], narrow_enough("speed", 2.3, 0.05))
    assert cmp.rounds == 24 and meter.run_rounds == [6, 24]

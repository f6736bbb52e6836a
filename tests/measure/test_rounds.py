"""Side-by-side timing on a fake machine: round-robin order, ratios, sessions, drift cancelled."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.speed import FakeMachine

from archlab.errors import ArchlabError
from archlab.measure._rounds import (
    MAX_ROUNDS_FACTOR,
    MORE_ROUNDS,
    Runner,
    Samples,
    adaptive_rounds,
    median_interval,
    ratio_interval,
    rotation,
    round_robin,
)
from archlab.measure.speed_data import SpeedMeter, SpeedSettings, SpeedTarget
from archlab.search.solver import match_flops
from archlab.search.speed_match import match_measured
from archlab.space import make_spec
from archlab.store import Store
from archlab.store.speed import speed_rows

BASE = make_spec("cifar", 29, 1, None, width_multiplier=0.125)
A = make_spec("cifar", 29, 2, 4, width_multiplier=0.125)
B = make_spec("cifar", 29, 4, 2, width_multiplier=0.125)


def _meter(machine: FakeMachine, store: Store | None = None, repeats: int = 6) -> SpeedMeter:
    return SpeedMeter(SpeedSettings(batch=4, repeats=repeats, device="cpu"), store=store,
                      prepare=machine.prepare)  # fmt: skip


def test_each_round_times_every_target_once_the_order_rotated() -> None:
    assert [rotation(3, r) for r in range(4)] == [[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 1, 2]]
    machine = FakeMachine()
    built_before_timing: list[bool] = []

    def prepare(target: SpeedTarget, settings: SpeedSettings):  # type: ignore[no-untyped-def]
        built_before_timing.append(machine.calls == [])
        return machine.prepare(target, settings)

    meter = SpeedMeter(SpeedSettings(batch=4, repeats=3, device="cpu"), prepare=prepare)
    cmp = meter.specs(BASE, [A, B])
    assert machine.built == [BASE.name, A.name, B.name] and all(built_before_timing)
    names = [n for n, kind in machine.calls if kind == "step"]
    assert names == [BASE.name, A.name, B.name, A.name, B.name, BASE.name,
                     B.name, BASE.name, A.name]  # fmt: skip
    assert [k for _, k in machine.calls[:2]] == ["step", "forward"]  # a step, then a forward
    assert len(cmp.baseline.samples[0]) == 3  # type: ignore[index]
    assert cmp.baseline.session == cmp.candidates[0].session == cmp.session


def test_round_robin_and_ratio_intervals() -> None:
    ticks = itertools.count(1)
    samples = round_robin([lambda kind: float(next(ticks)), lambda kind: 1.0], repeats=2)
    # Round 0: target 0 (step 1, forward 2), target 1; round 1: target 1 first, then target 0.
    assert samples == [([1.0, 3.0], [2.0, 4.0]), ([1.0, 1.0], [1.0, 1.0])]
    ratio = ratio_interval([2.0, 4.0, 6.0, 8.0, 10.0, 12.0], [1.0, 2.0, 3.0, 4.0, 5.0, 10.0])
    assert ratio.median == 2.0 and (ratio.low, ratio.high) == (1.2, 2.0)  # [x(1), x(6)] at n = 6
    assert ratio == median_interval([2, 2, 2, 2, 2, 1.2])
    with pytest.raises(ArchlabError, match="samples of the same rounds: 2 and 3"):
        ratio_interval([1.0, 2.0], [1.0, 2.0, 3.0])


def test_ratios_are_candidate_over_baseline_per_round() -> None:
    cmp = _meter(FakeMachine(penalty=0.0)).specs(BASE, [A, BASE])
    a, same = cmp.candidates
    from archlab.complexity import totals

    expected = totals(A)[0] / totals(BASE)[0]  # the fake times MACs: the ratio of MACs
    assert cmp.ratio(a, "speed").median == pytest.approx(expected)
    assert cmp.ratio(a, "latency").median == pytest.approx(expected)
    assert same is cmp.baseline and cmp.ratio(same, "speed").median == 1.0  # timed once


def test_a_comparison_is_reused_only_from_one_session(tmp_path: Path) -> None:
    machine = FakeMachine()
    with Store(tmp_path / "s.db", create=True) as store:
        meter = _meter(machine, store)
        first = meter.specs(BASE, [A])
        again = meter.specs(BASE, [A])
        assert (
            again.reused and again.session == first.session and machine.built == [BASE.name, A.name]
        )
        assert again.ratio(again.candidates[0], "speed") == first.ratio(first.candidates[0],
                                                                         "speed")  # fmt: skip
        other = meter.specs(BASE, [B])  # B never beside the baseline: the baseline timed again
        assert not other.reused and other.session != first.session
        assert machine.built[2:] == [BASE.name, B.name]
        both = meter.specs(BASE, [A, B])  # no one session holds all three: timed together
        assert not both.reused and machine.built[4:] == [BASE.name, A.name, B.name]
        newest = meter.specs(BASE, [A])  # two sessions hold the pair: the newer is read back
        assert newest.reused and newest.session == both.session
        assert (meter.measured, meter.reused, meter.sessions) == (7, 4, 3)


def test_load_drift_moves_times_alone_but_not_ratios_side_by_side() -> None:
    # Every target runs twice as slow once the machine has timed 12 calls (another job starts).
    def drift(n: int) -> float:
        return 1.0 if n <= 12 else 2.0

    alone = _meter(FakeMachine(penalty=0.0, load=drift))
    base_ms, a_ms = alone.spec(BASE).step.median, alone.spec(A).step.median  # the old design
    side = _meter(FakeMachine(penalty=0.0, load=drift), repeats=6)
    cmp = side.specs(BASE, [A])
    from archlab.complexity import totals

    truth = totals(A)[0] / totals(BASE)[0]
    assert a_ms / base_ms == pytest.approx(2 * truth)  # timed apart: off by the drift
    assert cmp.ratio(cmp.candidates[0], "speed").median == pytest.approx(truth)


def test_drift_does_not_change_the_solved_answer() -> None:
    analytic = match_flops(8, 29, "cifar", scope="network", width_multiplier=0.5)
    quiet = match_measured(analytic, "d", _meter(FakeMachine(penalty=0.1)), tolerance=0.05)

    def ramp(n: int) -> float:
        return 2.0 ** (n // 40)  # twice as slow every 40 timed calls, within runs and between

    loud = match_measured(analytic, "d", _meter(FakeMachine(penalty=0.1, load=ramp)),
                          tolerance=0.05)  # fmt: skip
    assert loud.spec == quiet.spec and loud.ratio.median == pytest.approx(quiet.ratio.median)
    assert loud.time.step.median > 1.5 * quiet.time.step.median  # the times themselves moved


def test_adaptive_rounds_add_four_at_a_time_the_rotation_going_on_up_to_the_cap() -> None:
    order: list[int] = []
    asked: list[int] = []

    def runner(i: int) -> Runner:
        def run(kind: str) -> float:
            order.append(i)
            return 1.0

        return run

    def wide_until(n: int) -> Callable[[list[Samples]], bool]:
        def more(samples: list[Samples]) -> bool:
            asked.append(len(samples[0][0]))
            return len(samples[0][0]) < n

        return more

    runners = [runner(i) for i in range(3)]
    more = wide_until(15)

    samples = adaptive_rounds(runners, 7, more, cap=28)
    assert MORE_ROUNDS == 4 and asked == [7, 11, 15] and len(samples[1][1]) == 15
    # Each round times every target once, rotated by the round's number across the batches.
    steps = order[::2]  # a step then a forward per target
    assert [steps[3 * r : 3 * r + 3] for r in (6, 7, 8)] == [rotation(3, r) for r in (6, 7, 8)]
    # Never past the cap, the last batch cut short to reach it exactly.
    asked.clear()
    capped = adaptive_rounds(runners, 7, wide_until(10**6), cap=28)
    assert asked == [7, 11, 15, 19, 23, 27] and len(capped[0][0]) == 28
    assert SpeedSettings(repeats=7).max_rounds == MAX_ROUNDS_FACTOR * 7 == 28
    # Nothing asked for: the fixed run.
    assert len(adaptive_rounds(runners, 7, lambda s: False, cap=28)[2][0]) == 7


def test_a_longer_run_stores_more_samples_and_is_reused_as_it_is(tmp_path: Path) -> None:
    machine = FakeMachine()
    with Store(tmp_path / "s.db", create=True) as store:
        meter = _meter(machine, store)
        wanted: list[int] = []

        def enough(cmp) -> bool:  # type: ignore[no-untyped-def]
            wanted.append(cmp.rounds)
            return cmp.rounds >= 10  # the candidates' intervals narrow at 10 rounds

        cmp = meter.specs(BASE, [A], enough)
        assert wanted == [6, 10] and cmp.rounds == 10 and meter.run_rounds == [10]
        assert len(machine.calls) == 2 * 2 * 10  # 2 targets, a step and a forward, 10 rounds
        rows = speed_rows(store)  # one row per target, each with all 10 rounds' raw samples
        assert [len(r["samples"]["step_s"]) for r in rows] == [10, 10]
        assert {r["key"]["repeats"] for r in rows} == {6}  # the key: the starting repeats
        # Read back from its one session as it is: no rounds can be added to a past run.
        again = meter.specs(BASE, [A], lambda c: False)
        assert again.reused and again.rounds == 10 and len(machine.calls) == 40
        assert meter.run_rounds == [10]

"""The FLOP counters are one table: a counter registered in a test shows up everywhere."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from archlab.errors import ArchlabError
from archlab.measure import registry
from archlab.measure.counters import count_all
from archlab.measure.reconcile import per_layer_table
from archlab.measure.registry import Counter, model_counters, resolve_counters, spec_counters
from archlab.measure.results import CountContext, CounterResult
from archlab.measure.summary import run_count, size_sweep
from archlab.space import make_spec

TINY = make_spec("cifar", 11, 4, 1, width_multiplier=0.125, num_classes=10)
FAKE_CONVENTION = "3 x the traced multiply-adds (a test's counter)"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _triple(ctx: CountContext) -> CounterResult:
    """A tool whose own unit is a third of a MAC: raw = 3 x MACs, converted back."""
    assert ctx.traced is not None
    t = ctx.traced
    per_layer = {path: 3 * macs for path, macs in t.per_layer.items()}
    return CounterResult("ignored", t.macs, t.params, None, 3 * t.macs, per_layer=per_layer)


@pytest.fixture
def fake() -> Iterator[Counter]:
    """Register the fake counter; the table is restored in place afterwards."""
    saved = dict(registry.COUNTERS)
    entry = Counter("triple", "the tripler", FAKE_CONVENTION, _triple, alias="fakes")
    registry.COUNTERS[entry.name] = entry
    yield entry
    registry.COUNTERS.clear()
    registry.COUNTERS.update(saved)


def test_a_registered_counter_runs_by_default_and_is_converted(fake) -> None:
    assert spec_counters()[-1] == "triple" and "triple" in model_counters()
    report = count_all(TINY, input_size=32, counters=["analytic", "triple"])
    row, analytic = report.result("triple"), report.result("analytic")
    assert row.counter == "triple" and row.convention == FAKE_CONVENTION  # filled from the table
    assert row.macs == analytic.macs and row.raw == 3 * analytic.macs
    assert report.to_dict()["triple"]["raw"] == 3 * analytic.macs


def test_a_registered_counter_shows_in_the_summary_and_the_reconciliation(fake) -> None:
    out = run_count(TINY, counters=["analytic", "fakes"], input_size=32, per_layer=True)
    assert out.report is not None and [r.counter for r in out.report.results] == [
        "analytic",
        "triple",
    ]
    frame = out.per_layer
    assert frame is not None and list(frame.columns) == ["path", "kind", "analytic", "triple",
                                                         "reason"]  # fmt: skip
    conv1 = frame[frame["path"] == "conv1"].iloc[0]
    assert conv1["triple"] == 3 * conv1["analytic"]
    assert "the tripler counts 3 x the analytic MACs" in conv1["reason"]
    rows = size_sweep(TINY, [32, 16], counters=["analytic", "triple"])
    assert all(r.counters["triple"] == r.macs for r in rows)


def test_per_layer_table_names_the_counter_by_its_label(fake) -> None:
    report = count_all(TINY, input_size=32, counters=["analytic", "triple"])
    reasons = " ".join(per_layer_table(report)["reason"])
    assert "the tripler" in reasons and "triple counts" not in reasons


def test_unknown_names_list_the_registered_counters(fake) -> None:
    with pytest.raises(ArchlabError, match=r"unknown counter 'thop'; valid: .*triple.*fakes"):
        resolve_counters(["thop"])


def test_the_table_is_restored_after_a_test() -> None:
    assert "triple" not in registry.COUNTERS
    assert resolve_counters(["ptflops"]) == ("ptflops_aten", "ptflops_pytorch")

"""The measured ceilings: their shapes and MACs by hand, the timing loop on a fake clock and fake
steps (no time asserted), and one real step's structure."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from archlab.errors import ArchlabError
from archlab.measure.ceilings import (
    CeilingShape,
    ceiling_shapes,
    ceilings_from_times,
    conv_step,
    measure_ceilings,
)
from archlab.measure.predict import Ceiling


def test_default_shapes_are_dense_1x1_dense_3x3_and_every_power_of_two_group_width() -> None:
    shapes = ceiling_shapes(batch_size=8)
    assert [(s.kind, s.group_width, s.groups) for s in shapes] == [
        ("dense 1x1", 128, 1),
        ("dense 3x3", 128, 1),
        *[("grouped 3x3", 2**i, 128 // 2**i) for i in range(7)],
    ]
    assert {(s.channels, s.map_size, s.batch_size) for s in shapes} == {(128, 16, 8)}
    # 3 passes x batch 8 x 16 x 16 positions x 128 outputs x (g inputs x k x k) each
    assert shapes[0].step_macs == 3 * 8 * 256 * 128 * 128
    assert shapes[1].step_macs == 3 * 8 * 256 * 128 * 128 * 9
    assert shapes[2].step_macs == 3 * 8 * 256 * 128 * 1 * 9
    assert shapes[2].label == "grouped 3x3, g = 1"


@pytest.mark.parametrize(
    ("kw", "word"),
    [({"channels": 96}, "power of two"), ({"channels": 1}, "power of two"),
     ({"map_size": 0}, "map_size"), ({"batch_size": True}, "batch_size")],
)  # fmt: skip
def test_bad_shapes_are_refused_by_name(kw: dict[str, int], word: str) -> None:
    with pytest.raises(ArchlabError, match=word):
        ceiling_shapes(**kw)


def test_measure_runs_round_robin_and_divides_step_macs_by_the_median() -> None:
    shapes = ceiling_shapes(channels=4, map_size=2, batch_size=1)  # dense 1x1, dense 3x3, g 1, 2
    now, order = [0.0], []
    cost = {s: (i + 1) * 0.5 for i, s in enumerate(shapes)}
    visits = {s: 0 for s in shapes}

    def make_step(s: CeilingShape, device: torch.device, dtype: torch.dtype) -> Callable[[], None]:
        def step() -> None:
            order.append(s.label)
            visits[s] += 1
            now[0] += cost[s] * (3 if visits[s] == 2 else 1)  # one slow visit: the median drops it

        return step

    out = measure_ceilings(shapes, torch.device("cpu"), warmup=1, repeats=3,
                           clock=lambda: now[0], make_step=make_step)  # fmt: skip
    labels = [s.label for s in shapes]
    assert order[:4] == labels and order[4:8] == labels[1:] + labels[:1]  # round r starts at r
    assert len(order) == 4 * 4
    assert out.rows == tuple(Ceiling(s.kind, s.group_width, s.step_macs / cost[s]) for s in shapes)


def test_times_must_be_positive_and_present() -> None:
    shapes = ceiling_shapes(channels=2, map_size=1, batch_size=1)
    with pytest.raises(ArchlabError, match="dense 1x1, g = 2: needs positive step times"):
        ceilings_from_times(shapes, {shapes[0]: [0.0]})
    with pytest.raises(ArchlabError, match="dense 3x3"):
        ceilings_from_times(shapes, {shapes[0]: [1.0]})
    with pytest.raises(ArchlabError, match="repeats must be"):
        measure_ceilings(shapes, torch.device("cpu"), repeats=0)


def test_a_real_step_runs_all_three_passes(one_torch_thread: None) -> None:
    shape = CeilingShape("grouped 3x3", 2, 8, 4, 2)
    step = conv_step(shape, torch.device("cpu"), torch.float32)
    cells = step.__closure__ or ()
    conv, x = (next(c.cell_contents for c in cells if isinstance(c.cell_contents, t))
               for t in (torch.nn.Conv2d, torch.Tensor))  # fmt: skip
    assert conv.groups == 4 and conv.kernel_size == (3, 3) and conv.padding == (1, 1)
    assert x.shape == (2, 8, 4, 4) and x.requires_grad  # so the data gradient is computed too
    seen: list[str] = []
    conv.weight.register_hook(lambda g: seen.append("weight") or None)
    x.register_hook(lambda g: seen.append("input") or None)
    step()
    assert sorted(seen) == ["input", "weight"]
    assert conv.weight.grad is None and x.grad is None  # nothing accumulated between steps
    rows = measure_ceilings([shape], torch.device("cpu"), warmup=0, repeats=1).rows
    assert len(rows) == 1 and rows[0].macs_per_s > 0


def test_a_forward_ceiling_runs_the_forward_alone(one_torch_thread: None) -> None:
    shapes = ceiling_shapes(channels=8, map_size=4, batch_size=2, training=False)
    assert {s.passes for s in shapes} == {1}
    assert shapes[1].step_macs == 2 * 16 * 8 * 8 * 9  # one pass of the dense 3x3
    step = conv_step(shapes[-1], torch.device("cpu"), torch.float32)
    cells = step.__closure__ or ()
    conv = next(c.cell_contents for c in cells if isinstance(c.cell_contents, torch.nn.Conv2d))
    step()
    assert conv.groups == 2 and conv.weight.grad is None  # no backward ran

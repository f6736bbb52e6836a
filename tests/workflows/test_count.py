"""The count workflow: contradictory options refused before anything is counted, and a spec
given by its options counted as its name is."""

from __future__ import annotations

from typing import Any

import pytest

from archlab.errors import OptionError

TINY_CIFAR: dict[str, Any] = {"template": "cifar", "width_multiplier": 0.125}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give a model name (e.g. resnext50_32x4d), spec options such as cardinality"),
        ({"name": "resnet50", "cardinality": 4}, "give a model name or spec options such as"),
        ({"model": "torch.nn:Linear", "name": "resnet50"}, "model counts any module and name"),
        ({"model": "torch.nn:Linear", "depth": 50}, "and depth is for archlab's own specs"),
        ({"model": "torch.nn:Linear", "batch_size": 2}, "and batch_size is for archlab's own"),
        ({"name": "resnet50", "input_dtype": "long"}, "input_dtype needs model"),
        ({"name": "resnet50", "repeats": 3}, "repeats goes with measure or roofline"),
        ({"name": "resnet50", "input_shape": (1, 3, 8, 8)}, "input_shape needs model"),
        ({"name": "resnet50", "model_kwargs": "{}"}, "model_kwargs needs model"),
        ({"name": "resnet50", "input_sizes": (8,), "per_layer": True}, "per_layer needs a sing"),
        ({"name": "resnet50", "input_sizes": (8,), "input_size": 8}, "input_size needs a single"),
        ({"name": "resnet50", "device": "cpu"}, "device goes with measure"),
        ({"name": "resnet50", "batch_size": 2}, "batch_size goes with measure"),
    ],
)
def test_run_count_refuses_contradictions_before_counting(
    kwargs: dict[str, Any], message: str
) -> None:
    from archlab.workflows.count import run_count

    with pytest.raises(OptionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_count(**kwargs)


def test_run_count_from_spec_options_equals_the_name() -> None:
    from archlab.workflows.count import run_count

    by_options = run_count(cardinality=4, bottleneck_width=1, depth=11, counters=["analytic"],
                           **TINY_CIFAR)  # fmt: skip
    by_name = run_count("resnext11_4x1d_w0.125", counters=["analytic"])
    assert by_options.report is not None and by_name.report is not None
    assert by_options.report.name == by_name.report.name == "resnext11_4x1d_w0.125"
    assert by_options.to_dict() == by_name.to_dict()

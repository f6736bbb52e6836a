"""The count workflow: what ``archlab count`` does, as one library call that checks its options.

A network is named (a preset or any name archlab prints), described by the spec options (C, d,
depth, template, width multiplier), or replaced by any model (``module:callable``, see
:mod:`archlab.measure.loader`). Options that belong to another of these, or to a single input
when a sweep over input sizes is asked for, are refused here, in one place, so a Python caller
meets the same rules as the CLI. Counting conventions: docs/counting.md. ``measure`` times the
spec or model with :class:`~archlab.measure.speed_data.SpeedMeter`, as ``--match speed`` does
(docs/counting.md, "Measured speed"); only with ``store`` is the measurement kept and reused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from archlab.complexity import complexity
from archlab.errors import ArchlabError, OptionError
from archlab.measure.count_speed import CountSpeed
from archlab.measure.counters import count_all
from archlab.measure.inputs import check_input_shapes
from archlab.measure.loader import parse_model_kwargs
from archlab.measure.reconcile import per_layer_table
from archlab.measure.roofline import check_positive
from archlab.measure.speed import training_step_macs
from archlab.measure.speed_data import DTYPES
from archlab.measure.summary import CountOutput, count_reference, size_sweep
from archlab.measure.timing import ModelRef, Timer, model_macs
from archlab.presets import get_spec
from archlab.report.output import check_writable_dir
from archlab.report.plots import save
from archlab.report.roofline import roofline_figure
from archlab.space import DEFAULT_DEPTHS, NetSpec, make_spec, with_overrides

SPEC_OPTIONS = ("cardinality", "bottleneck_width", "depth", "template", "width_multiplier")
SINGLE_INPUT = ("per_layer", "training", "measure", "roofline")  # what a sweep cannot do
MEASURE_OPTIONS = ("device", "batch_size", "channels_last", "repeats")  # what only timing uses
SPEED_ONLY = ("dtype", "store")  # what only --measure uses (the roofline times in float32)
COUNT_BATCH, COUNT_REPEATS = 8, 10  # count's timing defaults (a spec's batch; rounds)
SPEC_TIMING = ("batch_size", "channels_last")  # a model's batch is its input_shape's first
ROOFLINE_DIR = Path("archlab-runs/roofline")  # --figure's default folder, one file per name
DEFAULT_INPUT_SHAPE = (1, 3, 224, 224)  # a model's input unless input_shape says otherwise


def run_count(
    name: str | NetSpec | None = None,
    *,
    model: str | None = None,
    model_kwargs: str | Mapping[str, Any] | None = None,
    input_shape: Sequence[int] | Sequence[Sequence[int]] | None = None,
    input_sizes: Sequence[int] | None = None,
    cardinality: int | None = None,
    bottleneck_width: int | None = None,
    depth: int | None = None,
    template: str | None = None,
    width_multiplier: float | None = None,
    input_size: int | None = None,
    num_classes: int | None = None,
    counters: Sequence[str] | None = None,
    per_layer: bool = False,
    train_mode: bool = False,
    training: bool = False,
    measure: bool = False,
    device: str | None = None,
    batch_size: int | None = None,
    channels_last: bool | None = None,
    input_dtype: str | None = None,
    roofline: bool = False,
    repeats: int | None = None,
    figure: str | Path | None = None,
    dtype: str | None = None,
    store: str | Path | None = None,
) -> CountOutput:
    """Count a named network (or a spec), a spec given by its options, or a ``model``.

    None means "not given". ``input_sizes`` gives one row per size instead of one input;
    ``measure`` also times the spec or model (``device`` auto, ``batch_size`` 8, ``channels_last``
    off, ``repeats`` 10, ``dtype`` float32; kept in and reused from the results store ``store``
    only where given, else nothing is written); ``roofline`` places each layer on the measured roof
    and writes its figure to ``figure`` (default ``archlab-runs/roofline/NAME``, .png and .svg).
    """
    given = {k: v for k, v in locals().items() if v is not None and v is not False}
    _check(given)
    if roofline:  # the figure's folder, refused before the measuring it would come after
        check_writable_dir(Path(figure).parent if figure else ROOFLINE_DIR, field="figure folder")
    check_positive(**{k: given[k] for k in ("batch_size", "repeats") if k in given})
    spec = None if model is not None else _spec(name, num_classes, given)
    if input_sizes:
        sweep = size_sweep(spec, input_sizes, model=model, counters=counters,
                           input_shape=input_shape or DEFAULT_INPUT_SHAPE,
                           model_kwargs=model_kwargs)  # fmt: skip
        return CountOutput(sweep=sweep)
    if spec is None:
        report = count_reference(
            model or "", input_shape or DEFAULT_INPUT_SHAPE, model_kwargs=model_kwargs,
            counters=counters, per_layer=per_layer, training=training, train_mode=train_mode,
            input_dtype=input_dtype,
        )  # fmt: skip
    else:
        report = count_all(spec, input_size=input_size, counters=counters or None,
                           train_mode=train_mode, training_step=training,
                           per_layer=per_layer)  # fmt: skip
    speed = _measure(spec, given) if measure else None
    roof = None
    paths: tuple[Path, ...] = ()
    if roofline:
        timer = Timer(device or "auto", repeats or COUNT_REPEATS, batch_size or COUNT_BATCH)
        target = ModelRef(model, model_kwargs) if model is not None else spec
        assert target is not None
        roof = timer.run(target, input_shape or DEFAULT_INPUT_SHAPE, input_dtype, input_size)
    if roof is not None:
        stem = Path(figure or ROOFLINE_DIR / roof.name)
        if stem.suffix in (".png", ".svg"):
            stem = stem.with_suffix("")
        # save() writes stem.png and stem.svg; a name like ..._w0.25 must keep its ".25"
        paths = tuple(save(roofline_figure(roof), stem.with_name(stem.name + ".png")))
    return CountOutput(report, per_layer_table(report) if per_layer else None, (), speed, roof,
                       paths)  # fmt: skip


def _check(given: Mapping[str, Any]) -> None:
    """Refuse options that contradict each other, naming the first one given."""
    spec_given = [k for k in SPEC_OPTIONS if k in given]
    if "model" in given:
        for other in ("name", *spec_given, "input_size", "num_classes", *SPEC_TIMING):
            if other in given:
                raise OptionError("{} counts any module and {} is for archlab's own specs: "
                                  "give one, not both", "model", other)  # fmt: skip
    else:
        for other in ("input_shape", "model_kwargs", "input_dtype"):
            if other in given:
                raise OptionError("{} needs {}", other, "model")
        if "name" in given and spec_given:
            raise OptionError("give a model {} or spec options such as {}, not both", "name",
                              spec_given[0])  # fmt: skip
        if "name" not in given and not spec_given:
            raise OptionError("give a model {} (e.g. resnext50_32x4d), spec options such as {}, "
                              "or {}", "name", "cardinality", "model")  # fmt: skip
    if "input_sizes" in given:
        for other in (*SINGLE_INPUT, "input_size"):
            if other in given:
                raise OptionError("{} gives one row per size; {} needs a single input",
                                  "input_sizes", other)  # fmt: skip
    for other in MEASURE_OPTIONS:
        if other in given and "measure" not in given and "roofline" not in given:
            raise OptionError("{} goes with {} or {}", other, "measure", "roofline")
    for other in SPEED_ONLY:
        if other in given and "measure" not in given:
            raise OptionError("{} goes with {}", other, "measure")
    if given.get("dtype", "float32") not in DTYPES:
        raise ArchlabError(f"dtype must be one of {', '.join(DTYPES)}, got {given['dtype']!r}")
    if "figure" in given and "roofline" not in given:
        raise OptionError("{} goes with {}", "figure", "roofline")


def _spec(name: str | NetSpec | None, num_classes: int | None, given: Mapping[str, Any]) -> NetSpec:
    """The spec a name (or spec) or the spec options describe, with ``num_classes`` where given."""
    if isinstance(name, NetSpec):
        spec = name
    elif name is not None:
        spec = get_spec(name)
    else:
        template = given.get("template", "imagenet")
        depth = given.get("depth", DEFAULT_DEPTHS.get(template, DEFAULT_DEPTHS["imagenet"]))
        spec = make_spec(
            template, depth, given.get("cardinality", 1),
            given.get("bottleneck_width"),  # None: the ResNet baseline's d at this width
            width_multiplier=given.get("width_multiplier", 1.0),
        )  # fmt: skip
    return spec if num_classes is None else with_overrides(spec, num_classes=num_classes)


def _measure(spec: NetSpec | None, given: Mapping[str, Any]) -> CountSpeed:
    """The spec's or model's measurement, kept in and reused from ``given["store"]`` if given."""
    from archlab.measure.speed_data import SpeedMeter, SpeedSettings, model_target, spec_target
    from archlab.store import Store

    size = given.get("input_size")
    if spec is not None:
        batch = given.get("batch_size", COUNT_BATCH)
        target = spec_target(spec, size, batch=batch)
        macs = complexity(spec, size).macs, training_step_macs(spec, size).step_macs
    else:
        ref = ModelRef(given["model"], given.get("model_kwargs"))
        shapes = check_input_shapes(given.get("input_shape", DEFAULT_INPUT_SHAPE))
        macs = model_macs(ref, shapes, given.get("input_dtype"))
        batch = shapes[0][0]
        target = model_target(ref.ref, parse_model_kwargs(ref.kwargs), shapes,
                              given.get("input_dtype"))  # fmt: skip
    settings = SpeedSettings(batch=batch, repeats=given.get("repeats", COUNT_REPEATS),
                             device=given.get("device", "auto"),
                             dtype=given.get("dtype", "float32"),
                             channels_last=bool(given.get("channels_last")))  # fmt: skip
    if "store" not in given:
        return CountSpeed(SpeedMeter(settings)(target), *macs)
    meter = SpeedMeter(settings)  # an absent device refused before the store is opened
    with Store(given["store"], create=True) as st:
        meter.store = st
        return CountSpeed(meter(target), *macs, store=Path(given["store"]))

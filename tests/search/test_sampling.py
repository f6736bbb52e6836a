"""Sampling a design space inside a complexity band, and the TOML space files."""

from __future__ import annotations

import itertools
import math
import random
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archlab.complexity import totals
from archlab.errors import ArchlabError, SpecError
from archlab.search.ranges import Band, ParamRange
from archlab.search.sampling import (
    DesignSpace,
    complexity_bounds,
    default_space,
    sample_frame,
    sample_space,
)
from archlab.search.solver import SPACE_COLUMNS
from archlab.search.space_file import load_space, parse_space, space_to_toml
from archlab.space import make_spec, spec_from_dict

# A small finite space (2 depths x 4 C x 4 d x 2 multipliers = 64 distinct specs: d is scaled
# by the multiplier, so 4..32 at 0.25x and 0.5x stay distinct) to check against brute force.
SMALL = DesignSpace(
    template="cifar",
    depth=ParamRange.choice(11, 20),
    cardinality=ParamRange(1, 8, "pow2"),
    bottleneck_width=ParamRange.choice(4, 8, 16, 32),
    width_multiplier=ParamRange.choice(0.25, 0.5),
)


def _all_small() -> list[tuple[int, int, int]]:
    return [
        totals(make_spec("cifar", depth, c, d, width_multiplier=m))
        for depth, c, d, m in itertools.product((11, 20), (1, 2, 4, 8), (4, 8, 16, 32), (0.25, 0.5))
    ]


EXAMPLE = """
template = "cifar"
input_size = 32
num_classes = 10

[depth]
values = [11, 20, 29]
sampler = "choice"

[cardinality]
low = 1
high = 32
sampler = "pow2"

[bottleneck_width]
low = 1
high = 64
sampler = "log-uniform"

[width_multiplier]
values = [0.125, 0.25]
sampler = "choice"

[band]
macs = [1e6, 5e7]
"""


# --------------------------------------------------------------------------- samplers


def _draws(prange: ParamRange, integer: bool = True, n: int = 2000) -> list[float]:
    rng = random.Random(0)
    return [prange.sample(rng, integer=integer) for _ in range(n)]


def test_pow2_draws_only_powers_of_two_in_range() -> None:
    ints = _draws(ParamRange(3, 100, "pow2"))
    assert set(ints) == {4, 8, 16, 32, 64}
    assert all(isinstance(x, int) for x in ints)
    floats = _draws(ParamRange(0.1, 1.0, "pow2"), integer=False)
    assert set(floats) == {0.125, 0.25, 0.5, 1.0}


def test_log_uniform_stays_in_range_and_favours_small_values() -> None:
    ints = _draws(ParamRange(1, 64, "log-uniform"))
    assert min(ints) >= 1 and max(ints) <= 64 and all(isinstance(x, int) for x in ints)
    assert set(ints) >= {1, 2, 64}
    # Half the log-range lies below 8: about half the draws, far more than uniform's 11%.
    assert 0.35 < sum(x < 8 for x in ints) / len(ints) < 0.6
    floats = _draws(ParamRange(0.1, 2.0, "log-uniform"), integer=False)
    assert min(floats) >= 0.1 and max(floats) <= 2.0


def test_uniform_and_choice() -> None:
    assert set(_draws(ParamRange(2, 5, "uniform"))) == {2, 3, 4, 5}
    floats = _draws(ParamRange(0.5, 1.5, "uniform"), integer=False)
    assert min(floats) >= 0.5 and max(floats) <= 1.5
    assert set(_draws(ParamRange.choice(3, 7, 11))) == {3, 7, 11}
    assert ParamRange.choice(3, 7).bounds() == (3, 7)
    assert ParamRange(3, 100, "pow2").bounds() == (4, 64)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"low": 5, "high": 1}, "low 5 is above high 1"),
        ({"low": 1, "high": 4, "sampler": "normal"}, "sampler must be one of"),
        ({"sampler": "choice"}, "non-empty"),
        ({"sampler": "choice", "values": ()}, "non-empty"),
        ({"sampler": "choice", "values": (1,), "low": 1}, "not low/high"),
        ({"low": 1, "high": 4, "values": (1,)}, "only to the choice"),
        ({"low": 0, "high": 4, "sampler": "log-uniform"}, "low > 0"),
        ({"low": 5, "high": 7, "sampler": "pow2"}, "no power of two"),
        ({"low": "1", "high": 4}, "low must be a finite number"),
        ({"low": 1}, "high must be a finite number"),
    ],
)
def test_bad_ranges(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(SpecError, match=fragment):
        ParamRange(**kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the space


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"template": "mnist"}, "template must be one of"),
        ({"blocks": (ParamRange(1, 2),) * 3}, "exactly one of depth or blocks"),
        ({"depth": None}, "exactly one of depth or blocks"),
        ({"depth": None, "blocks": (ParamRange(1, 2),) * 4}, "3 ranges for the cifar"),
        ({"group_width": ParamRange(1, 2)}, "exactly one of bottleneck_width or group_width"),
        ({"depth": ParamRange(12, 19)}, "no cifar template depth"),
        ({"depth": ParamRange.choice(29.0)}, "depth.values must be integers"),
        ({"cardinality": ParamRange(0, 4)}, "cardinality must be at least 1"),
        ({"cardinality": ParamRange(1.5, 4)}, "cardinality.low must be an integer"),
        ({"width_multiplier": ParamRange.choice(0.0)}, "width_multiplier must lie in"),
        ({"num_classes": 0}, "num_classes must be a positive integer"),
        ({"input_size": "32"}, "input_size must be a positive integer"),
        ({"cardinality": 4}, "cardinality must be a ParamRange"),
    ],
)
def test_space_validation_names_the_field(changes: dict[str, object], fragment: str) -> None:
    fields = {
        "template": "cifar",
        "depth": ParamRange.choice(29),
        "cardinality": ParamRange(1, 8, "pow2"),
        "bottleneck_width": ParamRange(1, 8),
        **changes,
    }
    with pytest.raises(SpecError, match=fragment):
        DesignSpace(**fields)  # type: ignore[arg-type]


def test_band_validation() -> None:
    with pytest.raises(SpecError, match=r"band.macs: min 5 is above max 1, the band is empty"):
        Band(macs=(5, 1))
    with pytest.raises(SpecError, match=r"band\.acts"):
        Band(acts=(1,))  # type: ignore[arg-type]
    band = Band(macs=(1, None)).replaced(acts=(None, 10))
    assert band == Band(macs=(1, None), acts=(None, 10))
    assert band.contains(5, 10**9, 10) and not band.contains(0, 1, 1)
    assert not band.contains(5, 1, 11)


# --------------------------------------------------------------------------- sampling


def test_same_seed_same_specs_other_seed_other_specs() -> None:
    space = default_space("cifar", (11, 20, 29), width_multiplier=0.25, band=Band((None, 5e7)))
    a, b = sample_space(space, 12, seed=7), sample_space(space, 12, seed=7)
    assert a == b
    assert sample_space(space, 12, seed=8).specs != a.specs
    # A longer run of the same seed extends the shorter one.
    assert sample_space(space, 20, seed=7).specs[:12] == a.specs


def test_counts_add_up_and_specs_are_distinct() -> None:
    median = sorted(c[0] for c in _all_small())[32]
    result = sample_space(SMALL.with_band(macs=(None, median)), 10, seed=1)
    assert len(result.specs) == len(set(result.specs)) == 10
    lost = result.rejected + result.duplicates + result.invalid
    assert result.draws == len(result.specs) + lost
    assert result.summary().startswith(f"kept 10 of {result.draws} draws (seed 1): ")
    assert [totals(s) for s in result.specs] == list(result.complexities)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32), q=st.tuples(st.floats(0, 1), st.floats(0, 1)), n=st.integers(1, 6)
)
def test_every_kept_spec_is_inside_the_band(seed: int, q: tuple[float, float], n: int) -> None:
    everything = _all_small()
    name = ("macs", "params", "acts")[seed % 3]
    k = ("macs", "params", "acts").index(name)
    values = sorted(c[k] for c in everything)
    i, j = sorted(round(x * (len(values) - 1)) for x in q)
    if j - i + 1 < n:  # widen the band until it holds n values
        j = min(len(values) - 1, i + n - 1)
        i = j - n + 1
    lo, hi = values[i], values[j]
    space = SMALL.with_band(**{name: (lo, hi)})
    result = sample_space(space, n, seed)
    assert len(result.specs) == n
    for spec in result.specs:
        count = totals(spec)
        assert lo <= count[k] <= hi
        assert space.band.contains(*count)


def test_kept_specs_respect_every_range() -> None:
    space = DesignSpace(
        template="imagenet",
        blocks=(ParamRange(1, 3), ParamRange.choice(2), ParamRange(1, 4, "pow2"), ParamRange(1, 2)),
        cardinality=ParamRange(1, 16, "pow2"),
        group_width=ParamRange(4, 64, "log-uniform"),
        width_multiplier=ParamRange(0.1, 0.5, "pow2"),
        input_size=64,
        band=Band(params=(None, 2e6)),
    )
    result = sample_space(space, 30, seed=3)
    assert result.invalid > 0  # C not dividing the group width
    for spec in result.specs:
        b = spec.blocks
        assert 1 <= b[0] <= 3 and b[1] == 2 and b[2] in (1, 2, 4) and 1 <= b[3] <= 2
        assert spec.cardinality in (1, 2, 4, 8, 16)
        assert spec.width_multiplier in (0.125, 0.25, 0.5)
        assert spec.input_size == 64
    (lo_macs, _, _), (hi_macs, _, _) = complexity_bounds(space)
    assert all(lo_macs <= c[0] <= hi_macs for c in result.complexities)


def test_group_width_is_c_times_d_at_multiplier_one() -> None:
    space = DesignSpace(
        template="cifar",
        depth=ParamRange(11, 29),  # uniform: only 11, 20, 29 are template depths
        cardinality=ParamRange(1, 8, "pow2"),
        group_width=ParamRange.choice(8, 12, 24),
        width_multiplier=ParamRange.choice(0.25),
    )
    result = sample_space(space, 10, seed=0)
    assert result.invalid > 0
    for spec in result.specs:
        assert spec.depth in (11, 20, 29)
    space1 = DesignSpace(
        template="cifar",
        depth=ParamRange.choice(11),
        cardinality=ParamRange(1, 8, "pow2"),
        group_width=ParamRange.choice(8, 12, 24),
    )
    for spec in sample_space(space1, 5, seed=0).specs:
        assert spec.group_width in (8, 12, 24)


def test_empty_band_is_refused_quickly() -> None:
    start = time.perf_counter()
    with pytest.raises(ArchlabError, match="empty band: macs must be >= 1e\\+15"):
        sample_space(default_space("imagenet", (50, 101), band=Band(macs=(1e15, None))), 5, 0)
    with pytest.raises(ArchlabError, match=r"empty band: params must be <= 10, .*fewer than"):
        sample_space(SMALL.with_band(params=(None, 10)), 5, 0)
    # Not empty by the corners, but no spec falls in the gap: the draw limit ends it.
    values = sorted({c[0] for c in _all_small()})
    gap = (values[10] + 1, values[11] - 1)
    with pytest.raises(ArchlabError, match=r"found 0 of 3 specs inside the band in 1,600 draws"):
        sample_space(SMALL.with_band(macs=gap), 3, 0)
    wide = default_space("imagenet", (50, 101), band=Band(macs=(4.0e9, 4.0e9 + 1)))
    with pytest.raises(ArchlabError, match="too narrow"):
        sample_space(wide, 2, 0)
    assert time.perf_counter() - start < 30  # a bound on an endless loop, not a timing


def test_too_small_a_space_and_bad_arguments() -> None:
    with pytest.raises(ArchlabError, match="found 64 of 65"):
        sample_space(SMALL, 65, 0)
    with pytest.raises(ArchlabError, match="n must be a positive integer"):
        sample_space(SMALL, 0, 0)
    with pytest.raises(ArchlabError, match="max_draws"):
        sample_space(SMALL, 1, 0, max_draws=0)
    with pytest.raises(ArchlabError, match="seed"):
        sample_space(SMALL, 1, "0")  # type: ignore[arg-type]


def test_frame_has_the_enumeration_columns() -> None:
    frame = sample_frame(SMALL, 5, seed=2)
    assert list(frame.columns) == list(SPACE_COLUMNS)
    assert frame.relative_error.isna().all()
    specs = sample_space(SMALL, 5, seed=2).specs
    assert [spec_from_dict(d) for d in frame.spec] == list(specs)
    assert list(frame.name) == [s.name for s in specs]


def test_band_filter_on_a_frame() -> None:
    frame = sample_frame(SMALL, 20, seed=0)
    cut = sorted(frame.acts)[9]
    kept = Band(acts=(None, cut)).filter(frame)
    # Specs of one group width C·d share their activations, so ties may keep more than 10.
    assert len(kept) == sum(a <= cut for a in frame.acts) >= 10 and (kept.acts <= cut).all()


# --------------------------------------------------------------------------- TOML


def test_example_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "space.toml"
    path.write_text(EXAMPLE)
    space = load_space(path)
    assert space == DesignSpace(
        template="cifar",
        input_size=32,
        num_classes=10,
        depth=ParamRange.choice(11, 20, 29),
        cardinality=ParamRange(1, 32, "pow2"),
        bottleneck_width=ParamRange(1, 64, "log-uniform"),
        width_multiplier=ParamRange.choice(0.125, 0.25),
        band=Band(macs=(1e6, 5e7)),
    )
    assert len(sample_space(space, 4, 0).specs) == 4


def test_toml_round_trip() -> None:
    spaces = [
        parse_space(EXAMPLE),
        SMALL,
        DesignSpace(
            template="imagenet",
            blocks=(
                ParamRange(1, 3),
                ParamRange.choice(2),
                ParamRange(1, 4, "pow2"),
                ParamRange(1, 9),
            ),
            cardinality=ParamRange.choice(32),
            group_width=ParamRange(4, 4096, "log-uniform"),
            width_multiplier=ParamRange(0.1, 1.0, "uniform"),
            band=Band(macs=(None, 1e9), params=(1.5e6, None), acts=(0, 2e7)),
            input_size=128,
        ),
    ]
    for space in spaces:
        assert parse_space(space_to_toml(space)) == space


def test_shorthands() -> None:
    space = parse_space(
        'template = "imagenet"\ncardinality = [1, 32]\nbottleneck_width = 4\n'
        "blocks = [3, [4, 8], { low = 2, high = 6 }, 3]\nwidth_multiplier = 0.25\n"
        "[band]\nmacs = { max = 1e9 }\n"
    )
    assert space.cardinality == ParamRange.choice(1, 32)
    assert space.bottleneck_width == ParamRange.choice(4)
    assert space.blocks == (
        ParamRange.choice(3),
        ParamRange.choice(4, 8),
        ParamRange(2, 6),
        ParamRange.choice(3),
    )
    assert space.band == Band(macs=(None, 1e9))
    same = parse_space(
        'template = "cifar"\ncardinality = 1\nbottleneck_width = 1\n[blocks]\nlow = 1\nhigh = 3\n'
    )
    assert same.blocks == (ParamRange(1, 3),) * 3


_BASE = 'template = "cifar"\ndepth = 29\ncardinality = [1, 2]\nbottleneck_width = 4\n'


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("template = ", "not valid TOML"),
        ('template = "cifar"\n[depth\n', "not valid TOML"),
        (_BASE + "colour = 3\n", "unknown key 'colour'; allowed: template"),
        (
            _BASE.replace("depth = 29\n", "") + "[depth]\nlow = 11\nhi = 29\n",
            "[depth]: unknown key 'hi'",
        ),
        (_BASE + "[band]\nflops = [1, 2]\n", "[band]: unknown key 'flops'"),
        (_BASE + "[band]\nmacs = 5\n", "band.macs must be [min, max]"),
        (_BASE + "[band]\nmacs = [5, 1]\n", "band.macs: min 5 is above max 1"),
        (_BASE + "[band]\nmacs = { least = 1 }\n", "band.macs: unknown key 'least'"),
        (_BASE + "band = 3\n", "band must be a table"),
        (_BASE.replace('"cifar"', "5"), "template must be one of"),
        (_BASE.replace("depth = 29", 'depth = "29"'), "depth must be a table"),
        (_BASE.replace("[1, 2]", '["1", 2]'), "cardinality: values must be finite numbers"),
        (_BASE.replace("[1, 2]", "{ low = 1.5, high = 4 }"), "cardinality.low must be an integer"),
        (_BASE.replace("[1, 2]", "{ low = 8, high = 4 }"), "cardinality: low 8 is above high 4"),
        (_BASE.replace("[1, 2]", '{ low = 1, high = 4, sampler = "gauss" }'), "sampler must be"),
        (
            _BASE.replace("[1, 2]", "{ low = 1, sampler = 3 }"),
            "cardinality.sampler must be a string",
        ),
        (_BASE.replace("[1, 2]", "{ low = 1 }"), "[cardinality]: missing required key 'high'"),
        (_BASE.replace("[1, 2]", "{ values = 4 }"), "cardinality.values must be a list"),
        (_BASE.replace('template = "cifar"\n', ""), "missing required key 'template'"),
        (_BASE.replace("cardinality = [1, 2]\n", ""), "missing required key 'cardinality'"),
        (_BASE.replace("depth = 29\n", ""), "exactly one of depth or blocks"),
        (_BASE.replace("bottleneck_width = 4\n", ""), "exactly one of bottleneck_width"),
        (_BASE.replace("depth = 29", "depth = 30"), "no cifar template depth"),
        (_BASE + "blocks = [1, 2]\n", "exactly one of depth or blocks"),
        (_BASE + "num_classes = 0\n", "num_classes must be a positive integer"),
        (_BASE + "width_multiplier = 100\n", "width_multiplier must lie in"),
    ],
)
def test_malformed_files_name_the_file_and_problem(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ArchlabError) as info:
        load_space(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert fragment in message
    assert "\n" not in message


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ArchlabError, match=r"space file .*nope\.toml' not found"):
        load_space(tmp_path / "nope.toml")
    with pytest.raises(ArchlabError, match="cannot read space file"):
        load_space(tmp_path)  # a directory
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ArchlabError, match=r"binary\.toml' is not a text file \(byte 0 is not"):
        load_space(binary)


def test_log2_exponents_are_exact_for_powers() -> None:
    # pow2 bounds must keep their exact endpoints (math.log2 of a power of two is exact).
    for k in range(-6, 20):
        assert ParamRange(2.0**k, 2.0**k, "pow2").bounds() == (2.0**k, 2.0**k)
    assert math.isclose(ParamRange(1, 64, "pow2").bounds()[1], 64)


@pytest.mark.parametrize(
    "text",
    [
        'template = "cifar"\ndepth = 11\ncardinality = 2\n'
        '[bottleneck_width]\nlow = 1\nhigh = inf\nsampler = "pow2"\n',
        'template = "cifar"\ndepth = 11\ncardinality = 2\nbottleneck_width = 4\n'
        '[width_multiplier]\nlow = nan\nhigh = 1.0\nsampler = "pow2"\n',
        'template = "cifar"\ndepth = 11\ncardinality = 2\nbottleneck_width = 4\n'
        "[band]\nmacs = [nan, nan]\n",
    ],
)
def test_non_finite_numbers_in_space_files_are_refused(text: str) -> None:
    with pytest.raises(ArchlabError, match="finite"):
        parse_space(text)

"""`archlab match-flops` and `archlab space` through the real entry point."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from archlab.search.solver import SPACE_COLUMNS
from archlab.space import NetSpec, spec_from_dict
from archlab.train.plan import read_candidates

Cli = Callable[..., tuple[int, str, str]]


def test_match_flops_table(cli: Cli) -> None:
    code, out, err = cli("match-flops", "--cardinality", "32")
    assert code == 0, err
    assert "resnext50_32x4d" in out and "70,144" in out and "69,632" in out


def test_match_flops_json(cli: Cli) -> None:
    code, out, _ = cli(
        "match-flops", "--cardinality", "64", "--depth", "101", "--complexity", "2", "--json"
    )
    data = json.loads(out)
    assert code == 0
    assert (data["cardinality"], data["bottleneck_width"]) == (64, 4)
    assert data["name"] == "resnext101_64x4d"
    assert data["network"]["params"] == 83_455_272


def test_match_flops_inverse(cli: Cli) -> None:
    code, out, _ = cli("match-flops", "--bottleneck-width", "4", "--json")
    assert code == 0 and json.loads(out)["cardinality"] == 32


def test_space_json_and_csv(cli: Cli) -> None:
    code, out, _ = cli("space", "--depth", "50", "--cardinalities", "1,2,4,8,32", "--json")
    rows = json.loads(out)
    assert code == 0
    assert [r["bottleneck_width"] for r in rows] == [64, 40, 24, 14, 4]
    assert rows[0]["spec"]["stages"][0]["w_out"] == 256
    code, out, _ = cli("space", "--depth", "50,101", "--cardinalities", "1,32", "--csv")
    lines = out.strip().splitlines()
    assert code == 0 and lines[0].startswith("name,") and len(lines) == 5


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("match-flops", "--cardinality", "0"), "cardinality"),
        (("match-flops", "--cardinality", "-3"), "cardinality"),
        (("match-flops", "--cardinality", "abc"), "--cardinality"),
        (("match-flops", "--cardinality", "4", "--depth", "51"), "depth 51"),
        (("match-flops", "--cardinality", "4", "--template", "cifar", "--depth", "30"), "9n+2"),
        (("match-flops", "--cardinality", "100000"), "cannot reach"),
        (("match-flops", "--cardinality", "4", "--complexity", "0"), "complexity"),
        (("match-flops",), "exactly one"),
        (("space", "--cardinalities", ""), "--cardinalities"),
        (("space", "--cardinalities", "1,,2"), "--cardinalities"),
        (("space", "--cardinalities", "1,x"), "--cardinalities"),
        (("space", "--macs", "5e9"), "--macs"),
    ],
)
def test_bad_input_is_one_line_exit_2(cli: Cli, args: tuple[str, ...], fragment: str) -> None:
    code, out, err = cli(*args)
    assert code == 2
    assert "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1
    assert fragment in err


# --------------------------------------------------------------------------- space --sample

_SAMPLE = ("space", "--sample", "8", "--template", "cifar", "--depth", "11,20,29")
_TINY = ("--width-multiplier", "0.25", "--macs", ":5e7")


def test_space_sample_json_reads_back_as_candidates(cli: Cli, tmp_path: Path) -> None:
    code, out, err = cli(*_SAMPLE, *_TINY, "--seed", "3", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 8 and len({r["name"] for r in rows}) == 8
    assert all(r["macs"] <= 5e7 and r["relative_error"] is None for r in rows)
    assert set(rows[0]) == set(SPACE_COLUMNS)
    assert err.startswith("kept 8 of ") and "outside the band" in err
    assert len(err.strip().splitlines()) == 1
    path = tmp_path / "candidates.json"
    path.write_text(out)
    specs = read_candidates(path)
    assert specs == [spec_from_dict(r["spec"]) for r in rows]
    assert all(isinstance(s, NetSpec) for s in specs)
    # Reproducible by seed; another seed draws other specs.
    assert cli(*_SAMPLE, *_TINY, "--seed", "3", "--json")[1] == out
    assert cli(*_SAMPLE, *_TINY, "--seed", "4", "--json")[1] != out


def test_space_sample_table_and_csv(cli: Cli) -> None:
    code, out, err = cli(*_SAMPLE, *_TINY, "--acts", ":1e6")
    assert code == 0, err
    assert "8 sampled candidates (seed 0)" in out and "relative_error" not in out
    code, out, _ = cli(*_SAMPLE, *_TINY, "--csv")
    lines = out.strip().splitlines()
    assert code == 0 and lines[0].startswith("name,") and len(lines) == 9


def test_space_sample_from_a_file_with_band_override(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "space.toml"
    path.write_text(
        'template = "cifar"\ndepth = [11, 20]\nwidth_multiplier = 0.25\n'
        '[cardinality]\nsampler = "pow2"\nlow = 1\nhigh = 16\n'
        '[bottleneck_width]\nsampler = "log-uniform"\nlow = 1\nhigh = 64\n'
        "[band]\nmacs = [1e6, 1e9]\n"
    )
    code, out, err = cli("space", "--sample", "5", "--space", str(path), "--json")
    assert code == 0, err
    assert all(r["depth"] in (11, 20) for r in json.loads(out))
    code, out, err = cli(
        "space", "--sample", "5", "--space", str(path), "--params", ":1.5e5", "--json"
    )
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 5 and all(r["params"] <= 1.5e5 and r["macs"] >= 1e6 for r in rows)


def test_space_grid_acts_band(cli: Cli) -> None:
    code, out, _ = cli("space", "--acts", ":1.3e7", "--json")
    rows = json.loads(out)
    assert code == 0
    assert [r["name"] for r in rows] == ["resnet50", "resnext50_2x40d", "resnext50_4x24d"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("space", "--sample", "0"), "--sample"),
        (("space", "--sample", "x"), "--sample"),
        (("space", "--sample", "3", "--macs", "1e15:"), "empty band: macs must be >= 1e+15"),
        (("space", "--sample", "3", "--acts", ":10"), "empty band: acts must be <= 10"),
        (("space", "--sample", "3", "--macs", "5:1"), "--macs"),
        (("space", "--sample", "3", "--acts", "1"), "--acts"),
        (("space", "--sample", "2", "--macs", "4e9:4.0000001e9"), "too narrow"),
        (("space", "--sample", "3", "--depth", "51"), "no imagenet template depth"),
        (("space", "--sample", "3", "--space", "MISSING/space.toml"), "not found"),
        (("space", "--seed", "3"), "--seed needs --sample"),
        (("space", "--space", "x.toml"), "--space needs --sample"),
        (("space", "--sample", "3", "--complexity", "2"), "--complexity does not apply"),
        (("space", "--sample", "3", "--scope", "network"), "--scope does not apply"),
    ],
)
def test_sample_bad_input_is_one_line_exit_2(
    cli: Cli, tmp_path: Path, args: tuple[str, ...], fragment: str
) -> None:
    # MISSING: a folder under tmp_path that is never created, so "not found" holds anywhere.
    missing = str(tmp_path / "missing")
    code, out, err = cli(*(a.replace("MISSING", missing) for a in args))
    assert code == 2
    assert "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1
    assert fragment in err


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("template = \n", "not valid TOML"),
        ('template = "cifar"\ncardinality = 1\nbottleneck_width = 1\nstages = 3\n', "'stages'"),
        ('template = "cifar"\ndepth = 29\nbottleneck_width = 1\n', "'cardinality'"),
        ('template = "cifar"\ndepth = 29\ncardinality = 1\nbottleneck_width = [2.5]\n', "integer"),
    ],
)
def test_malformed_space_file_is_one_line_exit_2(
    cli: Cli, tmp_path: Path, text: str, fragment: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code, out, err = cli("space", "--sample", "3", "--space", str(path))
    assert code == 2 and "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1
    assert str(path) in err and fragment in err
    code, _, err = cli("space", "--sample", "3", "--space", str(path), "--depth", "29")
    assert code == 2 and "--depth does not apply with --space" in err


def test_bare_command_prints_help_only(cli: Cli) -> None:
    code, out, err = cli()
    assert code == 0 and "match-flops" in out and err == ""


def test_cli_start_up_does_not_import_torch() -> None:
    """match-flops and space answer in well under a second: torch loads only where needed."""
    import subprocess
    import sys

    probe = "import sys, archlab.cli.main; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("fmt", [[], ["--csv"], ["--json"]])
def test_empty_grid_is_an_empty_table(cli: Cli, fmt: list[str]) -> None:
    code, out, err = cli("space", "--macs", "1e15:", *fmt)
    assert code == 0, err
    assert "Traceback" not in out + err
    if fmt == ["--json"]:
        assert out.strip() == "[]"
    elif fmt == ["--csv"]:
        assert out.strip().startswith("name,") and len(out.strip().splitlines()) == 1
    else:
        assert "0 candidates" in out


def test_cifar_defaults_to_depth_29(cli: Cli) -> None:
    code, out, err = cli("space", "--template", "cifar", "--cardinalities", "1,8", "--json")
    assert code == 0, err
    # CIFAR's first stage is 256 wide like ImageNet's conv2, so Table 2's d carries over.
    assert [r["name"] for r in json.loads(out)] == ["resnext29_1x64d", "resnext29_8x14d"]
    code, out, err = cli("match-flops", "-C", "8", "--template", "cifar", "--json")
    assert code == 0 and json.loads(out)["depth"] == 29


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("space", "--macs", "nan:"), "finite"),
        (("space", "--macs", "1e6:inf"), "finite"),
        (("match-flops", "-C", "4", "--complexity", "inf"), "complexity"),
        (("space", "--bottleneck-widths", "4", "--complexity", "2"), "--complexity"),
    ],
)
def test_non_finite_and_ignored_options_are_refused(
    cli: Cli, args: tuple[str, ...], fragment: str
) -> None:
    code, _, err = cli(*args)
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1


def test_input_size_sets_the_macs_shown(cli: Cli) -> None:
    """`--input-size 8` (digits): MACs are the analytic count of the spec at 8x8, not 32x32."""
    from archlab.complexity import totals
    from archlab.space import make_spec, with_overrides

    base = ("-C", "2", "--template", "cifar", "--width-multiplier", "0.125", "--json")
    code, out, err = cli("match-flops", *base, "--input-size", "8")
    assert code == 0, err
    small = json.loads(out)
    _, out, _ = cli("match-flops", *base)
    full = json.loads(out)
    spec = make_spec("cifar", 29, 2, small["bottleneck_width"], width_multiplier=0.125)
    assert small["input_size"] == 8 and full["input_size"] == 32
    assert small["network"]["macs"] == totals(with_overrides(spec, input_size=8))[0]
    assert full["network"]["macs"] == totals(spec)[0] > small["network"]["macs"]
    baseline = make_spec("cifar", 29, width_multiplier=0.125, input_size=8)
    assert small["baseline_network"]["macs"] == totals(baseline)[0]
    grid = ("space", "--template", "cifar", "--cardinalities", "1,4", "--input-size", "8")
    draw = ("space", "--template", "cifar", "--sample", "3", "--input-size", "8")
    for args in (grid, draw):
        code, out, err = cli(*args, "--json")
        assert code == 0, err
        for row in json.loads(out):
            at8 = spec_from_dict(row["spec"])
            assert at8.input_size == 8 and row["macs"] == totals(at8)[0]
            assert row["macs"] < totals(with_overrides(at8, input_size=32))[0]
    code, out, _ = cli(*grid)
    assert code == 0 and "2 candidates, MACs at 8x8 input" in out
    code, _, err = cli("match-flops", "-C", "2", "--input-size", "0")
    assert code == 2 and "--input-size must be" in err and len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------- no surprises

_OFF = ("-C", "8", "--template", "cifar", "--width-multiplier", "0.125")  # 20.59% off


def test_match_flops_warns_beyond_the_tolerance(cli: Cli) -> None:
    code, out, err = cli("match-flops", *_OFF, "--json")
    assert code == 0
    assert json.loads(out)["relative_error"] == pytest.approx(0.2059, abs=1e-4)  # a fraction
    assert err.splitlines() == [
        "archlab match-flops: warning: resnext29_8x2d_w0.125 is 20.59% off its target "
        "(tolerance 5%): no integer brings it closer at this width"
    ]
    code, out, err = cli("match-flops", *_OFF)
    assert code == 0 and "20.59% off" in err and "match err %" in out and "20.59" in out
    code, _, err = cli("match-flops", *_OFF, "--tolerance", "0.25")
    assert code == 0 and err == ""
    code, _, err = cli("match-flops", "-C", "32")
    assert code == 0 and err == ""  # Table 2's 32x4d is 0.73% off: nothing to say


def test_space_warns_once_per_row_beyond_the_tolerance(cli: Cli) -> None:
    grid = ("space", "--template", "cifar", "--width-multiplier", "0.25")
    code, out, err = cli(*grid, "--cardinalities", "1,2,8,16,32", "--json")  # 8, 16: 15%, 7%
    assert code == 0
    rows = json.loads(out)  # stdout is JSON alone
    off = [r["name"] for r in rows if r["relative_error"] > 0.05]
    assert len(off) == 2 and len(err.splitlines()) == 2
    assert all(f"archlab space: warning: {name} is " in err for name in off)
    code, out, err = cli(*grid, "--cardinalities", "1,2")
    assert code == 0 and err == "" and "match err %" in out and "relative_error" not in out
    code, _, err = cli(*grid, "--cardinalities", "8", "--tolerance", "0.5")
    assert code == 0 and err == ""


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("match-flops", "-C", "4", "--tolerance", "5"), "--tolerance must be a fraction"),
        (("space", "--sample", "3", "--tolerance", "0.1"), "--tolerance does not apply to --sa"),
        (("space", "--bottleneck-widths", "4", "--tolerance", "0.1"), "--tolerance does not"),
        (("match-flops", "-C", "4", "-d", "4"), "give exactly one of --cardinality"),
        (("match-flops", "-C", "4", "--solve", "width"), "solve must be one of depth"),
    ],
)
def test_tolerance_and_solver_options_are_checked(
    cli: Cli, args: tuple[str, ...], fragment: str
) -> None:
    code, out, err = cli(*args)
    assert code == 2 and out == "" and fragment in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------ --match speed and latency

TINY_SPEED = ("--template", "cifar", "--width-multiplier", "0.0625", "--input-size", "16",
              "--repeats", "3", "--batch", "4", "--device", "cpu")  # fmt: skip


def _ordered(entry: dict, median: str, ci: str) -> None:
    low, high = entry[ci]
    assert 0 < low <= entry[median] <= high


def test_match_flops_match_speed_json_holds_both_measurements(cli: Cli, tmp_path: Path) -> None:
    store = str(tmp_path / "speed.db")
    args = ("match-flops", "--match", "speed", "-C", "2", *TINY_SPEED, "--store", store,
            "--tolerance", "0.9", "--json")  # fmt: skip
    code, out, err = cli(*args)
    assert code == 0, err
    data = json.loads(out)
    for side in ("baseline", "match"):
        assert set(data[side]) >= {"name", "step_ms_per_image", "step_ms_ci", "latency_ms"}
        _ordered(data[side], "step_ms_per_image", "step_ms_ci")
        _ordered(data[side], "latency_ms", "latency_ms_ci")
    assert data["baseline"]["name"] == "resnext29_1x4d_w0.0625"
    assert data["match"]["name"] == data["name"] and data["cardinality"] == 2
    assert 0 <= data["relative_error"] <= 0.9 and data["matched_on"] == "speed"
    # Judged on the ratio to the baseline timed in the same run.
    _ordered(data, "ratio", "ratio_ci")
    _ordered(data, "latency_ratio", "latency_ratio_ci")
    assert data["relative_error"] == pytest.approx(abs(data["ratio"] - 1.0))
    assert data["baseline"]["session"] == data["match"]["session"] == data["session"]
    assert 1 <= data["runs"] <= 2 and len(data["tried"]) <= 6
    assert data["measured"] >= 2 and data["reused"] == 0
    assert "2 measurement(s) taken" in err or "measurement(s) taken" in err
    # Rounds: 3 to start (--repeats), more while the deciding intervals are wide, at most 12.
    assert len(data["run_rounds"]) == data["runs"]
    assert all(3 <= k <= 12 for k in data["run_rounds"]) and 3 <= data["rounds"] <= 12
    assert {t["rounds"] for t in data["tried"]} <= set(data["run_rounds"])
    assert f"judged on {data['rounds']} rounds" in err
    # Asked again: read back from the store, nothing measured.
    code, out, err = cli(*args)
    again = json.loads(out)
    assert code == 0 and again["measured"] == 0 and again["reused"] == data["measured"]
    assert again["match"] == data["match"] and again["ratio"] == data["ratio"]
    assert again["runs"] == 0 and "reused from the store" in err
    assert again["rounds"] == data["rounds"] and again["run_rounds"] == []


def test_space_match_latency_table(cli: Cli, tmp_path: Path) -> None:
    code, out, err = cli("space", "--match", "latency", "--cardinalities", "1,2", *TINY_SPEED,
                         "--store", str(tmp_path / "s.db"), "--tolerance", "0.9",
                         "--json")  # fmt: skip
    assert code == 0, err
    rows = json.loads(out)
    # Real timing on a shared machine: C = 2 may miss even a 90% tolerance under load, and is
    # then left out with its warning (never refused, never a wrong row). C = 1 is the baseline.
    cardinalities = [r["cardinality"] for r in rows]
    assert cardinalities in ([1, 2], [1]), cardinalities
    if cardinalities == [1]:
        assert "left out C=2" in err, err
    for row in rows:
        _ordered(row, "latency_ms", "latency_ms_ci")
        assert row["measured_on"] == "latency" and row["relative_error"] <= 0.9


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--match", "speed", "--batch", "0"), "batch must be an integer >= 1, got 0"),
        (("--match", "speed", "--repeats", "-2"), "repeats must be an integer >= 1, got -2"),
        (("--batch", "4"), "--batch needs --match speed or latency"),
        (("--match", "fast"), "match must be one of macs, params, speed, latency, got 'fast'"),
        (("--match", "speed", "--scope", "block"), "--scope 'block' does not apply with --match"),
    ],
)
def test_match_speed_bad_input_is_one_line_and_stores_nothing(
    cli: Cli, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    store = tmp_path / "s.db"
    code, _, err = cli(
        "match-flops", "-C", "2", "--template", "cifar", *args, "--store", str(store)
    )
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not store.exists()


def test_match_speed_on_absent_cuda_is_refused(cli: Cli, tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is present here: the refusal needs a machine without it")
    code, _, err = cli("match-flops", "--match", "speed", "-C", "2", "--template", "cifar",
                       "--device", "cuda", "--store", str(tmp_path / "s.db"))  # fmt: skip
    assert code == 2 and "torch sees no CUDA device" in err
    assert not (tmp_path / "s.db").exists()


def test_match_macs_is_the_network_scope(cli: Cli) -> None:
    by_match = json.loads(cli("match-flops", "-C", "8", "--match", "macs", "--json")[1])
    by_scope = json.loads(cli("match-flops", "-C", "8", "--scope", "network", "--json")[1])
    assert by_match == by_scope and by_match["scope"] == "network"


def test_space_match_speed_table_shows_the_measured_time(cli: Cli, tmp_path: Path) -> None:
    code, out, err = cli("space", "--match", "speed", "--cardinalities", "1", *TINY_SPEED,
                         "--store", str(tmp_path / "s.db"))  # fmt: skip
    assert code == 0, err
    assert "ms/image" in out and "95% interval" in out and "resnext29_1x4d_w0.0625" in out
    assert "measurement(s) taken" in err


def test_space_match_speed_warns_of_a_left_out_c_and_refuses_when_none_is_left(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers.speed import fake_prepare

    from archlab.measure.speed_data import SpeedMeter

    prepare = fake_prepare([], penalty=20.0)  # C = 64 at d = 1 already runs slower than C = 1
    monkeypatch.setattr(
        SpeedMeter, "_build", lambda self, target, settings: prepare(target, settings)
    )
    store = tmp_path / "s.db"
    grid = ("space", "--match", "speed", "--template", "cifar", "--width-multiplier", "0.125",
            "--store", str(store))  # fmt: skip
    code, out, err = cli(*grid, "--cardinalities", "1,64", "--json")
    assert code == 0, err
    assert [r["cardinality"] for r in json.loads(out)] == [1]
    (warning,) = [line for line in err.splitlines() if "warning" in line]
    assert warning.startswith("archlab space: warning: left out C=64 at depth 29: ")
    assert "the closest, d=1 (resnext29_64x1d_w0.125), measures " in warning
    before = _stored(store)
    code, out, err = cli(*grid, "--cardinalities", "64")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith(
        "archlab space: error: no cardinality lies within 5% of the target: left out"
    )
    assert before <= _stored(store)  # nothing stored lost (C = 64's own runs are kept as data)


def _stored(path: Path) -> set[tuple[str, str]]:
    from archlab.store import Store
    from archlab.store.speed import speed_rows

    with Store(path) as store:
        return {(r["session"], r["name"]) for r in speed_rows(store)}


def test_a_band_no_grid_row_meets_says_so(cli: Cli) -> None:
    code, out, err = cli("space", "--macs", "1e99:", "--json")
    assert code == 0 and json.loads(out) == []
    assert err == "no candidate of the grid lies inside the band; widen it\n"
    code, _, err = cli("space", "--macs", "1e6:")
    assert code == 0 and err == ""


@pytest.mark.parametrize("command", ["match-flops", "space"])
def test_the_timed_batch_takes_counts_spelling_too(cli: Cli, command: str) -> None:
    # count and the training commands say --batch-size; --batch is the same option here.
    args = ["-C", "4"] if command == "match-flops" else ["--cardinalities", "4"]
    code, _, err = cli(command, *args, "--match", "speed", "--batch-size", "0")
    assert (
        code == 2 and err == f"archlab {command}: error: --batch must be an integer >= 1, got 0\n"
    )


def test_repeats_help_states_the_librarys_start_count_and_cap() -> None:
    from archlab.cli.options import RepeatsOpt

    from archlab.measure._rounds import MAX_ROUNDS_FACTOR
    from archlab.measure.speed_data import DEFAULT_REPEATS

    text = RepeatsOpt.__metadata__[0].help
    assert f"(default {DEFAULT_REPEATS})" in text and f"up to {MAX_ROUNDS_FACTOR}x" in text

"""The GPU check: its --tiny CPU run (so the script cannot rot) and, marked gpu, the CUDA path."""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))  # the scripts import each other as top-level modules

import bench_gpu  # noqa: E402

Cli = Callable[..., tuple[int, str, str]]
NUMBER = r"[\d,]+(?:\.\d+)?"


def test_gpu_sh_tiny_runs_on_the_cpu_and_leaves_the_report_alone() -> None:
    report = ROOT / "reports" / "benchmarks-gpu.md"
    before = report.read_bytes() if report.exists() else None
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(
        ["bash", "benchmarks/gpu.sh", "--tiny"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert (report.read_bytes() if report.exists() else None) == before
    written = Path(re.findall(r"section written to (\S+)", done.stdout)[-1])
    assert written.resolve() != report.resolve()
    text = written.read_text()
    assert "<!-- bench_gpu:start -->" in text and "Command: `bash benchmarks/gpu.sh --tiny`" in text
    assert f"torch {torch.__version__}" in text
    eager = [line for line in text.splitlines() if "| eager |" in line]
    assert len(eager) == 1
    cells = [c.strip() for c in eager[0].strip("|").split("|")]
    ours, bare = (float(c.replace(",", "")) for c in cells[2:4])
    ratio = float(cells[4])  # of the unrounded rates: consistent with the shown ones to +-0.5
    assert ours > 0 and bare > 0
    assert (ours - 0.5) / (bare + 0.5) - 1e-3 <= ratio <= (ours + 0.5) / (bare - 0.5) + 1e-3
    conv = re.findall(rf"^\| (\d+) \| (\d+) \| ({NUMBER}) \|", text, re.MULTILINE)
    assert [int(c) for c, _, _ in conv] == [1, 8, 32, 64]
    assert re.search(rf"archlab +{NUMBER} img/s +bare +{NUMBER} +ratio", done.stdout)
    written.unlink()


def test_full_plan_covers_the_issue() -> None:
    plan = bench_gpu.make_plan(False, family=(1, 2, 4, 8), rounds=3, batch_size=128)
    names = [label for label, _ in plan.models]
    assert names[0] == "resnext29_8x64d" and len(names) == 5
    assert all(spec.input_size == 32 for _, spec in plan.models)
    assert all(spec.width_multiplier == 0.25 for _, spec in plan.models[1:])
    assert plan.compile and plan.conv_groups == (1, 8, 32, 64)
    assert all(plan.conv_width % c == 0 for c in plan.conv_groups)


def test_loop_table_ratio_goal_and_fraction_of_peak() -> None:
    rows = [
        bench_gpu.LoopRow("m", False, 970.0, 1000.0, 2_000_000_000),
        bench_gpu.LoopRow("m", True, 900.0, 1000.0, 2_000_000_000),
        bench_gpu.LoopRow("n", True, None, None, 1, "time budget spent"),
    ]
    lines = bench_gpu.loop_table(rows, peak=4e12)
    assert "| 0.970 | yes | 2.000 | 1.94 | 48.5% |" in lines[2]
    assert "| 0.900 | no |" in lines[3]
    assert "time budget spent" in lines[4]


def test_no_cuda_is_exit_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    assert bench_gpu.main([]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


# --------------------------------------------------------------------------- on a GPU


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.gpu
@needs_cuda
def test_cli_trains_on_cuda_with_bf16_channels_last(cli: Cli, tmp_path: Path) -> None:
    """A tiny train-candidates run on cuda stores finished runs with finite metrics."""
    store = tmp_path / "s.db"
    code, out, err = cli(
        "train-candidates", "--cardinalities", "1,4", "--width-multiplier", "0.125",
        "--dataset", "digits", "--epochs", "2", "--device", "cuda", "--store", str(store),
        "--workdir", str(tmp_path / "wd"), "--json",
    )  # fmt: skip
    assert code == 0, err
    code, out, _ = cli("results", "--store", str(store), "--json")
    rows = json.loads(out)
    assert len(rows) == 2
    for row in rows:
        assert row["status"] == "finished" and row["epochs"] == 2
        assert row["device"].startswith("cuda")
        for key in ("train_loss", "val_error", "test_error", "images_per_s"):
            assert math.isfinite(row[key]), (key, row[key])
        assert row["images_per_s"] > 0 and row["peak_mem_bytes"] > 0
    configs = sqlite3.connect(store).execute("SELECT config_json FROM runs").fetchall()
    for (text,) in configs:
        config = json.loads(text)
        assert config["amp"] is True and config["channels_last"] is True


@pytest.mark.gpu
@needs_cuda
def test_bench_gpu_pieces_run_on_cuda_in_bf16() -> None:
    """The measurements bench_gpu.py makes, at toy sizes on the GPU (no compile)."""
    cuda = torch.device("cuda")
    assert bench_gpu.compute_dtype(cuda) == torch.bfloat16
    tiny = bench_gpu.make_plan(True, family=(), rounds=1, batch_size=8)
    assert bench_gpu.matmul_peak(512, cuda) > 0
    convs = bench_gpu.conv_rates(tiny, cuda)
    assert [c for c, _, _ in convs] == [1, 8, 32, 64] and all(f > 0 for _, f, _ in convs)
    label, spec = tiny.models[0]
    row = bench_gpu.loop_pair(label, spec, tiny, cuda, compiled=False)
    assert row.ours is not None and row.bare is not None and row.ours > 0 and row.bare > 0

"""Exports that stand alone: JSON that says how to feed the model and what its outputs mean,
and a torch.export program that plain PyTorch runs where archlab cannot be imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from archlab.cli.main import run as archlab
from PIL import Image

from archlab.train.data import load_dataset, normalize
from archlab.workflows.export import export_run, load_export

Cli = Callable[..., tuple[int, str, str]]
LIMIT = 64
TINY = ["--cardinalities", "2", "--depth", "11", "--width-multiplier", "0.125", "--limit",
        str(LIMIT), "--batch-size", "32", "--epochs", "2", "--threads", "1", "--seeds", "0",
        "--device", "cpu", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of one tiny 2-epoch run on digits."""
    store = tmp_path_factory.mktemp("standalone") / "runs.db"
    assert archlab(["train-candidates", *TINY, "--store", str(store)]) == 0
    return store


def test_json_says_size_channels_normalisation_and_classes(trained: Path, tmp_path: Path) -> None:
    result = export_run(trained, run_id=1, out=tmp_path)
    d = json.loads(result.spec_file.read_text())
    digits = load_dataset("digits", limit=LIMIT)
    feeding = d["input"]
    assert (feeding["size"], feeding["channels"], feeding["layout"]) == ([8, 8], 3, "NCHW")
    assert feeding["grey"] is True and "repeated to three" in feeding["channel_handling"]
    assert feeding["mean"] == pytest.approx(list(digits.mean)) and feeding["scale"] == 255.0
    assert d["classes"] == {"names": [str(i) for i in range(10)], "from": "indices"}
    assert (d["file_format"], d["weights"], d["program"]) == ("state_dict", result.weights.name,
                                                              None)  # fmt: skip


def _colour_folder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for k, cls in enumerate(("n01", "n02")):
        for split, count in (("train", 12), ("test", 4)):
            for i in range(count):
                image = rng.integers(0, 128, (8, 8, 3), np.uint8) + 100 * k
                path = root / split / cls / f"{i}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(image.astype(np.uint8)).save(path)
    (root / "dataset.toml").write_text('classes = ["tench", "goldfish"]\n')
    return root


def test_a_folder_export_names_its_classes_and_colour(tmp_path: Path) -> None:
    data = _colour_folder(tmp_path / "fish")
    store = tmp_path / "runs.db"
    args = ["--cardinalities", "1", "--depth", "11", "--width-multiplier", "0.125", "--epochs",
            "1", "--batch-size", "8", "--threads", "1", "--seeds", "0", "--device", "cpu",
            "--quiet"]  # fmt: skip
    code = archlab(
        ["train-candidates", *args, "--dataset", f"folder:{data}", "--store", str(store)]
    )
    assert code == 0
    d = json.loads(export_run(store, run_id=1, out=tmp_path / "out").spec_file.read_text())
    assert d["classes"] == {"names": ["tench", "goldfish"], "from": "dataset.toml"}
    assert d["input"]["grey"] is False and d["input"]["channel_handling"].startswith("colour")


# Runs with -S (no site: no .pth file, so no editable archlab) and only torch's folder on the
# path; it first shows that archlab cannot be imported, then bars it outright.
RUNNER = """
import sys
try:
    import archlab
    print("archlab importable")
except ImportError:
    print("archlab not importable")
sys.modules["archlab"] = None
import torch
program = torch.export.load(sys.argv[1]).module()
x, _ = torch.load(sys.argv[2], weights_only=True)
with torch.no_grad():
    logits = torch.cat([program(x[:1]), program(x[1:])])  # batch sizes 1 and N - 1
torch.save(logits, sys.argv[3])
print("archlab" in sys.modules and sys.modules["archlab"] is None)
"""


def test_pt2_runs_without_archlab_with_the_same_logits(
    cli: Cli, trained: Path, tmp_path: Path
) -> None:
    code, out, _ = cli("export", "--store", str(trained), "--run", "1", "--format", "pt2",
                       "--out", str(tmp_path), "--json")  # fmt: skip
    assert code == 0
    result = json.loads(out)
    program, spec_file = Path(result["weights"]), Path(result["spec_file"])
    assert program.suffix == ".pt2" and spec_file.name.endswith(".pt2.json")
    d = json.loads(spec_file.read_text())
    assert (d["file_format"], d["program"], d["weights"]) == ("pt2", program.name, None)
    # archlab's own model of the best epoch (the state_dict export), on the test split.
    reference = load_export(export_run(trained, run_id=1, out=tmp_path / "sd").spec_file)
    digits = load_dataset("digits", limit=LIMIT)
    x = normalize(digits.x_test, d["input"]["mean"], d["input"]["std"])
    with torch.no_grad():
        expected = reference(x)
    torch.save((x, digits.y_test), tmp_path / "inputs.pt")
    (tmp_path / "runner.py").write_text(RUNNER)
    site = str(Path(torch.__file__).resolve().parents[1])
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": site}
    done = subprocess.run(
        [sys.executable, "-S", str(tmp_path / "runner.py"), str(program),
         str(tmp_path / "inputs.pt"), str(tmp_path / "logits.pt")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["archlab not importable", "True"]
    logits = torch.load(tmp_path / "logits.pt", weights_only=True)
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-5)
    error = (logits.argmax(1) != digits.y_test).double().mean().item()
    assert error == pytest.approx(d["test_error"])  # the test error the store holds


def test_unknown_format_writes_nothing(cli: Cli, trained: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, err = cli("export", "--store", str(trained), "--run", "1", "--format", "onnx",
                            "--out", str(out))  # fmt: skip
    assert code == 2 and stdout == "" and len(err.strip().splitlines()) == 1
    assert "format must be one of state_dict, pt2, got 'onnx'" in err and not out.exists()

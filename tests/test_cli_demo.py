"""`archlab demo`: the README's main job, shrunk to one epoch, writes its report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

Cli = Callable[..., tuple[int, str, str]]


def test_demo_runs_match_space_train_and_report(cli: Cli, tmp_path: Path) -> None:
    out, store = tmp_path / "demo", tmp_path / "demo.db"
    args = ["demo", "--out", str(out), "--store", str(store), "--epochs", "1", "--seeds", "0",
            "--width-multiplier", "0.125", "--quiet"]  # fmt: skip
    code, stdout, err = cli(*args)
    assert code == 0, err
    assert "resnext50_32x4d" in stdout and "70,144" in stdout  # match-flops and space ran
    report = (out / "report.md").read_text()
    assert f"Regenerate with: `archlab demo --out {out} --store {store} --epochs 1" in report
    assert report.count("finished") >= 4
    assert (out / "figures" / "error-vs-macs.png").exists()
    again = cli(*args)  # rerun: every run is stored, only the report is redrawn
    assert again[0] == 0 and "(stored)" in again[1]


def test_demo_is_a_library_call(tmp_path: Path) -> None:
    import archlab
    from archlab.train.data import load_dataset

    steps: list[str] = []
    result = archlab.demo(
        out=tmp_path / "demo", store=tmp_path / "demo.db", epochs=1, seeds=(0,),
        width_multiplier=0.125, device="cpu", command="demo(test)",
        show=lambda step, _: steps.append(step), data=load_dataset("digits", limit=100),
    )  # fmt: skip
    assert result.match.spec.name == "resnext50_32x4d"  # Table 2: d = 4 at C = 32
    assert "resnext50_32x4d" in set(result.family.frame.name)
    assert [r.status for r in result.summary.runs] == ["finished"] * 4
    assert [s[:2] for s in steps] == ["1.", "2.", "3.", "4."]
    assert "Regenerate with: `demo(test)`" in result.report.read_text()

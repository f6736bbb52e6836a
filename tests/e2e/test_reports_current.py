"""The committed reports still say what their commands would write today.

Nothing here retrains or re-times anything: the demo runs with its study and report writing
replaced by recorders, so the test sees the command line, study settings, recipe and arms the
code would use, and holds them against reports/demo/report.md's header and Verdict section. The
benchmark sections are held against the scripts that write them. Numbers are not compared.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from archlab.report import markdown
from archlab.workflows import demo as demo_mod
from archlab.workflows.study import resolve_arms
from archlab.workflows.study_plan import StudyPlan

ROOT = Path(__file__).resolve().parents[2]
DEMO_REPORT = ROOT / "reports" / "demo" / "report.md"
BENCHMARKS_MD = ROOT / "reports" / "benchmarks.md"
BENCHMARKS = ROOT / "benchmarks"

Cli = Callable[..., tuple[int, str, str]]


def _demo_call(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What a bare `archlab demo` would study and the command its report would name."""
    seen: dict[str, Any] = {}

    def study(plan: StudyPlan, **kw: Any) -> SimpleNamespace:
        seen.update(plan=plan, **kw)
        return SimpleNamespace(any_failed=False)

    def write(store: Any, out: Any, *, command: str, **kw: Any) -> Path:
        seen.update(command=command, out=Path(out))
        return Path(out) / "report.md"

    monkeypatch.chdir(tmp_path)  # the demo's default store and report folders are relative
    monkeypatch.setattr(demo_mod, "run_study", study)
    monkeypatch.setattr(markdown, "write_report", write)
    code, _, err = cli("demo")
    assert code == 0, err
    return seen


def test_demo_report_header_study_and_arms_match_the_demo(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _demo_call(cli, tmp_path, monkeypatch)
    plan: StudyPlan = seen["plan"]
    q = plan.question
    report = DEMO_REPORT.read_text(encoding="utf-8")
    assert seen["out"] == Path("reports/demo")  # the committed report is the default output
    assert f"Regenerate with: `{seen['command']}`" in report.splitlines()[:4]
    # The report opens with the verdict of this study, under these settings.
    verdict = report.split("\n## ", 2)[1]
    assert verdict.startswith("Verdict")
    assert (
        f"(study `{q.name}`, matched on MACs" in verdict
        and f"alpha {q.alpha:g}, rope {q.rope:g} points; seeds {q.min_seeds} to {q.max_seeds};"
        in verdict
    )
    config = plan.training.config
    assert f"- dataset: {config.dataset}; budget: {config.epochs} epochs" in report
    # Its arms are the ones the demo's plan resolves to today (labels, C, d, depth, MACs).
    arms = resolve_arms(plan, num_classes=10, input_size=8)  # digits: 10 classes, 8x8
    rows = re.findall(r"^\| (C=\d+) \| (\d+) \| (\d+) \| (\d+) \| ([\d,]+) \|", verdict, re.M)
    assert rows == [
        (a.label, str(a.spec.cardinality), str(a.spec.bottleneck_width), str(a.spec.depth),
         f"{a.value:,}")
        for a in arms.arms
    ]  # fmt: skip
    table = report.split("## Candidates", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([^`]+)` \|", table, flags=re.M)
    assert sorted(listed) == sorted(a.spec.name for a in arms.arms)


GPU_ONLY = {"bench_gpu"}


def _committed_sections() -> dict[str, str]:
    text = BENCHMARKS_MD.read_text(encoding="utf-8")
    found = re.findall(r"<!-- (\w+):start -->\n(.*?)\n<!-- \1:end -->", text, flags=re.S)
    return dict(found)


def test_benchmark_sections_match_their_scripts(monkeypatch: pytest.MonkeyPatch) -> None:
    """One section per script, named as the script writes it, with the command it prints."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import _sections  # type: ignore[import-not-found]

    sections = _committed_sections()
    # bench_gpu's section lives in reports/benchmarks-gpu.md, written only on a GPU machine.
    scripts = sorted(p for p in BENCHMARKS.glob("bench_*.py") if p.stem not in GPU_ONLY)
    assert sorted(sections) == sorted(p.stem for p in scripts)
    for script in scripts:
        assert f'write_section("{script.stem}"' in script.read_text(encoding="utf-8")
        monkeypatch.setattr(sys, "argv", [str(script)])  # as run by hand, without arguments
        assert f"Command: `{_sections.command()}`" in sections[script.stem], script.name


def test_counter_benchmark_lists_the_scripts_specs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bench_counters  # type: ignore[import-not-found]

    rows = re.findall(
        r"^\| ([\w.@]+) \| [\d,]+ \|", _committed_sections()["bench_counters"], flags=re.M
    )
    assert rows == [label for label, _ in bench_counters.default_specs()]

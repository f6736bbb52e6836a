"""The flow runs one way: core (with store/) -> search / measure -> train -> stats -> report ->
workflows.

A module may import from its own stage or a stage below it, never from above; the library never
imports the CLI. Read from the source with ast, so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "archlab"
# store/ is part of the core (torch-free, below everything that trains); stats/ decides a study
# between training and rendering.
RANK = {
    "core": 0,
    "store": 0,
    "search": 1,
    "measure": 1,
    "train": 2,
    "stats": 3,
    "report": 4,
    "workflows": 5,
}


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in RANK else "core"


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    return ".".join(p for p in rel.parts if p != "__init__")


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names]
    return [n for n in names if n == "archlab" or n.startswith("archlab.")]


MODULES = sorted(p for p in ROOT.rglob("*.py") if p.name != "__init__.py" or p.parent != ROOT)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_run_one_way(path: Path) -> None:
    here = _module_name(path)
    upward = []
    for name in _imports(path):
        if name.startswith("archlab.cli"):
            upward.append(name)
            continue
        if RANK[_stage(name)] > RANK[_stage(here)]:
            upward.append(name)
    assert not upward, f"{here} imports from a later stage: {sorted(set(upward))}"

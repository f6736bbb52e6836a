"""The package's rooms: no import circle, small modules, a torch-free plan, a core-only package
import, and nothing citing a file outside the repository.

The import graph is read from the source with ast: module-level imports and imports inside
functions both count (a lazy import still makes a circle of meaning); imports under
``if TYPE_CHECKING:`` do not, since they never run.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ROOT = REPO / "archlab"
MAX_LINES = 400
LATER_STAGES = ("search", "measure", "train", "stats", "report", "workflows")


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    return ".".join(p for p in rel.parts if p != "__init__")


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _type_checking_only(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _targets(node: ast.stmt) -> list[str]:
    """The archlab modules one import statement loads (``from pkg import mod`` is ``pkg.mod``)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        full = (f"{node.module}.{a.name}" for a in node.names)
        return [name if name in MODULES else node.module for name in full]
    return []


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    todo: list[ast.stmt] = list(ast.parse(path.read_text(encoding="utf-8")).body)
    while todo:
        node = todo.pop()
        if _type_checking_only(node):
            continue
        found.update(t for t in _targets(node) if t in MODULES)
        for field in ("body", "orelse", "finalbody", "handlers"):
            children = getattr(node, field, [])
            todo += [n for n in children if isinstance(n, ast.stmt | ast.excepthandler)]
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of the graph, or None (depth-first search, three colours)."""
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = 1
        for other in sorted(graph[module]):
            if state.get(other) == 1:
                return [*path[path.index(other) :], other]
            if other not in state and (found := visit(other, [*path, other])):
                return found
        state[module] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_cycle_finder_finds_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_import_graph_has_no_circle() -> None:
    graph = {name: _imports(path) - {name} for name, path in MODULES.items()}
    assert graph["archlab.space"] and graph["archlab.names"]  # the graph was really read
    assert _cycle(graph) is None, f"import circle: {' -> '.join(_cycle(graph) or [])}"


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_a_plan_does_not_import_torch() -> None:
    out = _python("import sys, archlab.train.plan; print('torch' in sys.modules)")
    assert out == "False"


def test_package_import_loads_only_the_core() -> None:
    code = "import sys, archlab; print(' '.join(m for m in sys.modules if m[:8] == 'archlab.'))"
    loaded = _python(code).split()
    later = [m for m in loaded if m.split(".")[1] in LATER_STAGES]
    assert "archlab.store" in loaded and not later, later


def test_lazy_names_resolve() -> None:
    import archlab

    for name in archlab.__all__:
        assert getattr(archlab, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        archlab.nope  # noqa: B018


@pytest.mark.parametrize("folder", ["archlab", "cli"])
def test_no_module_over_400_lines(folder: str) -> None:
    paths = (REPO / folder).rglob("*.py")
    sizes = {p: len(p.read_text(encoding="utf-8").splitlines()) for p in paths}
    assert sizes, folder
    over = {str(p.relative_to(REPO)): n for p, n in sizes.items() if n > MAX_LINES}
    assert not over, f"split by meaning: {over}"


@pytest.mark.parametrize("folder", ["archlab", "cli"])
def test_nothing_cites_files_outside_the_repository(folder: str) -> None:
    files = [p for p in (REPO / folder).rglob("*") if p.is_file() and p.suffix in (".py", ".md")]
    assert files, folder
    texts = {str(p.relative_to(REPO)): p.read_text(encoding="utf-8") for p in files}
    citing = [name for name, text in texts.items() if "STYLE.md" in text or "PAPER.md" in text]
    assert not citing, f"cite docs/ instead: {citing}"


def test_version_lives_in_the_core() -> None:
    import archlab
    from archlab._version import __version__

    assert archlab.__version__ == __version__
    for path in (ROOT / "train").glob("*.py"):
        assert "import archlab\n" not in path.read_text(encoding="utf-8"), path
    for path in (ROOT / "report").glob("*.py"):
        assert "import archlab\n" not in path.read_text(encoding="utf-8"), path

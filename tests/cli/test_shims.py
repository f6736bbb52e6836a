"""The CLI is shims: each command parses, calls one library function and prints (<= 30 lines),
and commands never import each other. Read from the source with ast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CLI = Path(__file__).resolve().parents[2] / "cli"
MAX_BODY_LINES = 30
KNOWN_IMPORTS: set[str] = set()  # demo_cmd and compare_cmd print through _train_output now
SHARED = {"_common", "_train_output", "options", "plan_options", "__init__"}  # helpers


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _commands(tree: ast.Module) -> set[str]:
    """Names of the functions a module registers: ``app.command("name")(function)``."""
    names = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Call)
            and isinstance(node.func.func, ast.Attribute)
            and node.func.func.attr == "command"
            and node.args
            and isinstance(node.args[0], ast.Name)
        ):
            names.add(node.args[0].id)
    return names


def body_lines(function: ast.FunctionDef) -> int:
    """Lines of a function's body, its docstring included and its signature not."""
    first, last = function.body[0], function.body[-1]
    return (last.end_lineno or last.lineno) - first.lineno + 1


def _command_functions() -> list[tuple[str, ast.FunctionDef]]:
    found = []
    for path in sorted(CLI.glob("*.py")):
        tree = _tree(path)
        registered = _commands(tree)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name in registered:
                found.append((f"{path.name}:{node.name}", node))
    return found


COMMANDS = _command_functions()


def test_every_command_is_found() -> None:
    names = {name.split(":")[1] for name, _ in COMMANDS}
    assert {"match_flops_cmd", "space_cmd", "count_cmd", "report_cmd", "results_cmd"} <= names
    assert {"export_cmd", "train_candidates_cmd", "study_cmd", "demo_cmd"} <= names


CHECKED = COMMANDS


@pytest.mark.parametrize(("name", "function"), CHECKED, ids=[n for n, _ in CHECKED])
def test_command_body_is_at_most_30_lines(name: str, function: ast.FunctionDef) -> None:
    assert body_lines(function) <= MAX_BODY_LINES, f"{name}: {body_lines(function)} lines"


def test_body_lines_counts_the_body_not_the_signature() -> None:
    source = (
        "def f(\n    x: int,\n) -> int:\n"
        '    """Doc.\n\n    More."""\n    y = x\n    return (\n        y\n    )\n'
    )
    assert body_lines(_tree_of(source)) == 7


def _tree_of(source: str) -> ast.FunctionDef:
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.FunctionDef)
    return node


def _local_imports(tree: ast.Module) -> set[str]:
    """The sibling modules of cli/ a module imports (``from .x import``, ``from . import x``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                names.add(node.module.split(".")[0])
            else:
                names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("archlab.cli."):
            names.add((node.module or "").split(".")[2])
    return names


MODULES = sorted(p for p in CLI.glob("*.py") if p.stem not in SHARED | KNOWN_IMPORTS)


def test_known_import_exceptions_are_real_modules() -> None:
    assert all((CLI / f"{stem}.py").exists() for stem in KNOWN_IMPORTS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_commands_never_import_each_other(path: Path) -> None:
    tree = _tree(path)
    others = _local_imports(tree) - SHARED
    if path.stem == "main":  # the entry point imports each command to call its register()
        used = {
            n.value.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
        }
        attrs = {
            n.attr
            for n in ast.walk(tree)
            if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name)
            and n.value.id in others
        }
        assert others <= used and attrs == {"register"}, f"main uses {sorted(attrs)}"
        return
    assert not others, f"{path.stem} imports the commands {sorted(others)}"

"""The test tree mirrors the package: tests/<stage>/test_<module>.py, plus cli/, e2e/, faults/.

tests/README.md says where a new test goes; these tests hold the tree to it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
ARCHLAB = REPO / "archlab"

# A stage folder mirrors archlab/<stage>/; core/ mirrors the top-level modules of archlab/.
STAGES = ("core", "store", "search", "measure", "train", "stats", "report", "workflows")
# Folders of their own: cli/ mirrors cli/, e2e/ and faults/ are named by topic.
OWN_FOLDERS = ("cli", "e2e", "faults")
# Topic files in a stage folder, each named after the module it mostly tests plus its topic.
TOPIC_FILES = {
    "core/test_space_bounds.py": "absurd sizes refused by space.py and the solver at once",
    "measure/test_trace_torchvision.py": "trace.py against torchvision (skips where it is absent)",
    "train/test_data_splits.py": "the split rules of each data.py source, apart from the formats",
    "train/test_data_augment.py": "the augmentation switch through data.py, the loop and the store",
    "train/test_data_classes.py": "class names and grey detection that data.py records for exports",
    "train/test_plan_files.py": "the candidates and arms files that plan.py reads",
    "workflows/test_export_standalone.py": "export metadata; pt2 programs run without archlab",
    "store/test_db_public.py": "the store's public transaction/query API that study records use",
}


def _test_files() -> list[Path]:
    return sorted(TESTS.rglob("test_*.py"))


def _modules(folder: Path) -> set[str]:
    """Module names of a package folder, a leading underscore dropped (tests/store/test_db.py)."""
    return {p.stem.lstrip("_") for p in folder.glob("*.py") if p.stem != "__init__"}


def _mirrored(folder: str) -> set[str]:
    if folder == "core":
        return _modules(ARCHLAB)
    if folder == "cli":
        return _modules(REPO / "cli")
    return _modules(ARCHLAB / folder)


def test_every_test_file_lives_in_a_known_folder() -> None:
    allowed = {*STAGES, *OWN_FOLDERS}
    misplaced = [
        str(p.relative_to(TESTS))
        for p in _test_files()
        if len(p.relative_to(TESTS).parts) != 2 or p.parent.name not in allowed
    ]
    assert misplaced == [], f"test files outside {sorted(allowed)}: {misplaced}"


def test_stage_folders_are_the_package_stages() -> None:
    stages = {p.name for p in ARCHLAB.iterdir() if (p / "__init__.py").is_file()} | {"core"}
    assert set(STAGES) == stages


@pytest.mark.parametrize("folder", [*STAGES, "cli"])
def test_a_file_in_a_mirroring_folder_is_named_after_a_module(folder: str) -> None:
    modules = _mirrored(folder)
    unmatched = [
        f"{folder}/{p.name}"
        for p in sorted((TESTS / folder).glob("test_*.py"))
        if p.stem.removeprefix("test_") not in modules and f"{folder}/{p.name}" not in TOPIC_FILES
    ]
    assert unmatched == [], f"named after no module in {folder} (rename, or allowlist): {unmatched}"


@pytest.mark.parametrize("path", sorted(TOPIC_FILES))
def test_topic_files_exist_and_are_no_module_name(path: str) -> None:
    folder, name = path.split("/")
    assert (TESTS / path).is_file(), f"{path} is allowlisted but gone"
    assert name.removeprefix("test_").removesuffix(".py") not in _mirrored(folder)
    assert TOPIC_FILES[path], "each topic file says why it is one"


def test_no_package_named_like_a_stage() -> None:
    # importlib mode needs no __init__.py; one would make a top-level `cli` or `store` package
    # that shadows the repository's own cli/ for imports from tests/.
    inits = [str(p.relative_to(TESTS)) for p in TESTS.rglob("__init__.py")]
    assert inits == ["helpers/__init__.py"]


def test_test_files_import_helpers_not_other_test_files() -> None:
    pattern = re.compile(r"^\s*(from|import)\s+(conftest|test_\w+)\b", re.MULTILINE)
    offenders = [
        str(p.relative_to(TESTS)) for p in _test_files() if pattern.search(p.read_text("utf-8"))
    ]
    assert offenders == [], f"import from tests/helpers/ instead: {offenders}"

"""Read a JSON list of specs (what ``archlab space --json`` prints), refusing what would mislead.

Shared by ``train-candidates --candidates`` and ``study --arms``. A row may carry summary fields
beside its ``spec`` (``name``, ``cardinality``, ``depth``...); the spec is what trains, so a row
whose summary contradicts it (a hand edit of one but not the other) is refused, naming the field,
rather than silently training something other than what the file appears to say.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from archlab.errors import ArchlabError
from archlab.space import SUMMARY_FIELDS, NetSpec, spec_from_dict


def read_spec_list(path: str | Path, what: str) -> list[NetSpec]:
    """The specs of the JSON list in ``path``; ``what`` names the file in errors ("arms file")."""
    where = f"{what} {str(path)!r}"
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise ArchlabError(f"cannot read {where}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        detail = f"byte {exc.start} is not UTF-8"
        raise ArchlabError(f"{where} is not a text file ({detail}); give a JSON list") from None
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArchlabError(f"{where} is not JSON: {exc}") from None
    except RecursionError:
        raise ArchlabError(f"{where} is nested too deeply to be a list of specs") from None
    if not isinstance(rows, list) or not rows:
        raise ArchlabError(f"{where} must hold a non-empty JSON list")
    specs = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ArchlabError(f"{where}: entry {i} is not an object")
        try:
            spec = spec_from_dict(row.get("spec", row))
        except ArchlabError as exc:  # which file and entry, and what an entry is
            raise ArchlabError(f"{where}: entry {i}: {exc} (an entry is a row of "
                               "`archlab space --json`)") from None  # fmt: skip
        if "spec" in row:
            _check_summary(row, spec, f"{where}: entry {i}")
        specs.append(spec)
    return specs


def _check_summary(row: dict[str, Any], spec: NetSpec, where: str) -> None:
    # The summary fields are checked against the spec they sit beside. Costs (macs, params,
    # acts) are not: they depend on the data set's classes and image size, which training fits
    # the spec to.
    for field in SUMMARY_FIELDS:
        if field not in row:
            continue
        given, actual = row[field], getattr(spec, field)
        if not _same(given, actual):
            raise ArchlabError(
                f"{where}: {field} is {given!r} but its spec has {actual!r}; "
                "fix one or drop the summary field"
            )


def _same(given: Any, actual: Any) -> bool:
    if isinstance(given, bool):
        return False
    if isinstance(actual, float) and isinstance(given, (int, float)):
        return math.isclose(given, actual, rel_tol=1e-9)
    return bool(given == actual)

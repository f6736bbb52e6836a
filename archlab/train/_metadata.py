"""A data set's metadata file, ``dataset.toml``: whether flips keep labels, the class names.

Internal to :mod:`archlab.train.sources` and its loaders (:mod:`archlab.train._sources`). No
torch here: the source registry names its sources, and the CLI's help lists them, without
loading the training stack.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, from PyPI, before 3.11
    import tomli as tomllib

from archlab.errors import ArchlabError

METADATA_NAME = "dataset.toml"  # folder:ROOT reads ROOT/dataset.toml, npz:X.npz X.dataset.toml
METADATA_KEYS = ("flip", "classes")


def read_metadata(path: Path) -> dict[str, Any]:
    """A data set's metadata file (``flip = true|false``); an absent file is ``{}``."""
    if not path.is_file():
        return {}
    try:
        meta = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ArchlabError(f"data set metadata {path} cannot be read: {reason}") from None
    unknown = sorted(set(meta) - set(METADATA_KEYS))
    if unknown:
        valid = ", ".join(METADATA_KEYS)
        raise ArchlabError(f"data set metadata {path}: unknown key {unknown[0]!r}; valid: {valid}")
    if "flip" in meta and not isinstance(meta["flip"], bool):
        raise ArchlabError(
            f"data set metadata {path}: flip must be true or false, got {meta['flip']!r}"
        )
    names = meta.get("classes")
    if names is not None and not (
        isinstance(names, list)
        and all(isinstance(n, str) and n.strip() for n in names)
        and len(set(names)) == len(names)
    ):
        raise ArchlabError(
            f"data set metadata {path}: classes must be a list of distinct non-empty names, "
            f"got {names!r}"
        )
    return meta


def named_classes(
    meta_path: Path, count: int, default: Sequence[str] | None, default_from: str
) -> tuple[tuple[str, ...] | None, str]:
    """Class names in label order and where they came from: the metadata file's ``classes``
    (which must name ``count`` classes), else ``default`` (a folder's class folders)."""
    names = read_metadata(meta_path).get("classes")
    if names is None:
        return (tuple(default), default_from) if default is not None else (None, "indices")
    if len(names) != count:
        raise ArchlabError(
            f"data set metadata {meta_path}: classes names {len(names)} classes but the data "
            f"set has {count}; give one name per class, in label order"
        )
    return tuple(names), METADATA_NAME

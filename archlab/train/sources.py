"""The data sources, one entry each: adding a source is one :class:`DataSource` in ``SOURCES``.

A source is named by its prefix, alone (``digits``) or with a path (``cifar10:PATH``). Its entry
says how it loads (a function of the path, returning a :class:`Source`: uint8 ``(N, 3, H, W)``
train and test images, and a validation split of its own where it has one), its split rule, and
whether horizontal flips keep labels. :func:`archlab.train.data.load_dataset` looks every source
up here, then splits and checks what it returns the same way for all (docs/data.md).

The loaders themselves are in :mod:`archlab.train._sources`, imported when a source loads: the
table names its sources without torch, so the CLI's help lists them at no cost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from archlab.errors import ArchlabError
from archlab.train._metadata import METADATA_NAME, read_metadata

if TYPE_CHECKING:
    from archlab.train._sources import Source


@dataclass(frozen=True)
class DataSource:
    """One data source: its prefix, how it loads, its split rule and whether flips keep labels."""

    prefix: str  # "digits", or "cifar10" of "cifar10:PATH"
    load: Callable[[str], Source]  # the path after the colon ("" for a source without one)
    takes_path: bool
    split: str  # where the test (and any validation) split comes from
    flip: bool | None  # whether horizontal flips keep labels; None: the data set says
    flip_rule: str = ""  # who says so, for a source whose data set does

    @property
    def form(self) -> str:
        """How the source is named on the command line: ``digits`` or ``cifar10:PATH``."""
        return f"{self.prefix}:PATH" if self.takes_path else self.prefix


def _digits(_: str) -> Source:
    from archlab.train._sources import Source, _load_digits

    return Source("digits", False, *_load_digits())


def _cifar(kind: str) -> Callable[[str], Source]:
    def load(path: str) -> Source:
        from archlab.train._sources import Source, _existing, _load_cifar

        return Source(kind, True, *_load_cifar(kind, _existing(path, kind, directory=True)))

    return load


def _folder(raw: str) -> Source:
    from archlab.train._sources import _existing, _load_folder

    path = _existing(raw, "folder", directory=True)
    return _load_folder(path, read_metadata(path / METADATA_NAME).get("flip", True))


def _npz(raw: str) -> Source:
    from archlab.train._sources import _existing, _load_npz

    return _load_npz(_existing(raw, "npz", directory=False))


_CIFAR_SPLIT = "the official test batch; validation held out from train by the run's seed"
SOURCES: dict[str, DataSource] = {
    s.prefix: s
    for s in (
        # Flipped glyphs change meaning (a mirrored 2 is no digit), so digits never flips.
        DataSource("digits", _digits, False,
                   "scikit-learn's digits: a fixed 20% test carve-out, the same for every seed",
                   False),
        DataSource("cifar10", _cifar("cifar10"), True, _CIFAR_SPLIT, True),
        DataSource("cifar100", _cifar("cifar100"), True, _CIFAR_SPLIT, True),
        DataSource("folder", _folder, True,
                   "train/, test/ and an optional val/ folder of class folders",
                   None, f"ROOT/{METADATA_NAME} says (flip = true|false); yes without it"),
        DataSource("npz", _npz, True,
                   "x_train/y_train, x_test/y_test and optional x_val/y_val arrays",
                   None, f"NAME.{METADATA_NAME} or a 0-d bool flip array; yes without either"),
    )
}  # fmt: skip


def source_forms() -> str:
    """The accepted forms, for help and errors: ``digits, cifar10:PATH, ...``."""
    return ", ".join(s.form for s in SOURCES.values())


def data_source(source: str) -> tuple[DataSource, str]:
    """The registered source a name selects, and the path it names (``""`` for none)."""
    prefix, colon, rest = source.partition(":") if isinstance(source, str) else ("", "", "")
    entry = SOURCES.get(prefix)
    named_right = entry is not None and (bool(rest) if entry.takes_path else not colon)
    if entry is not None and not named_right:  # a known source written without (or with) a path
        need = "needs a path" if entry.takes_path else "takes no path"
        raise ArchlabError(f"dataset source {source!r} {need}: write {entry.form} "
                           f"(valid forms: {source_forms()})")  # fmt: skip
    if entry is None:
        raise ArchlabError(f"unknown dataset source {source!r}; valid forms: {source_forms()}")
    return entry, rest


def load_source(source: str) -> Source:
    """Read a source by its registered form (``digits``, ``cifar10:PATH``, ``npz:PATH``, ...)."""
    entry, path = data_source(source)
    loaded = entry.load(path)
    return loaded if entry.flip is None else dataclasses.replace(loaded, flip=entry.flip)


def register_source(entry: DataSource) -> None:
    """Add a data source; a prefix already taken is refused."""
    if entry.prefix in SOURCES:
        raise ArchlabError(f"data source {entry.prefix!r} is already registered")
    SOURCES[entry.prefix] = entry

"""Tests for archlab.train._unpickle: CIFAR pickles load; a pickle that names code never runs it."""

from __future__ import annotations

import builtins
import codecs
import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

from archlab.errors import ArchlabError
from archlab.train._unpickle import load_batch


class _Touch:
    """A pickle whose __reduce__ calls os.system to create a file: the attack in issue 22."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.target}",))


class _Call:
    """A pickle that calls ``func(*args)`` on load."""

    def __init__(self, func: object, *args: object) -> None:
        self.func, self.args = func, args

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (self.func, self.args)


def _batch() -> dict[bytes, object]:
    rows = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    return {b"data": rows, b"labels": [3, 7], b"batch_label": b"training batch 1 of 5",
            b"filenames": [b"a.png", b"b.png"], b"n": np.int64(2), b"f": 0.5,
            b"t": (None, True)}  # fmt: skip


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_a_cifar_batch_loads_at_every_protocol(tmp_path: Path, protocol: int) -> None:
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(_batch(), protocol=protocol))
    loaded = load_batch(path)
    assert loaded[b"data"].dtype == np.uint8 and loaded[b"data"].shape == (2, 3072)
    assert np.array_equal(loaded[b"data"], _batch()[b"data"])
    assert loaded[b"labels"] == [3, 7] and loaded[b"filenames"] == [b"a.png", b"b.png"]
    assert loaded[b"n"] == 2 and loaded[b"t"] == (None, True)


def test_a_python2_style_batch_with_str_keys_loads(tmp_path: Path) -> None:
    # The official files were pickled by Python 2 (protocol 2, str keys read back as bytes).
    path = tmp_path / "batches.meta"
    path.write_bytes(pickle.dumps({"label_names": ["airplane", "cat"]}, protocol=2))
    assert load_batch(path) == {"label_names": ["airplane", "cat"]}


def test_a_pickle_that_runs_a_command_is_refused_before_it_runs(tmp_path: Path) -> None:
    victim = tmp_path / "pwned"
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": _Touch(victim), b"labels": [0]}))
    with pytest.raises(ArchlabError) as info:
        load_batch(path)
    message = str(info.value)
    assert not victim.exists()
    assert len(message.splitlines()) == 1 and str(path) in message
    assert "system" in message and "docs/trust.md" in message


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        (_Call(builtins.eval, "1 + 1"), "builtins.eval"),
        (_Call(getattr, "text", "upper"), "builtins.getattr"),
        (_Call(codecs.encode, "x", "rot13"), "rot13"),  # an admitted callable, a refused use
        (np.array([1, "a"], dtype=object), "Python objects"),
        (_Call(Path, "/etc/passwd"), "pathlib"),
    ],
)
def test_anything_but_plain_data_is_refused(tmp_path: Path, payload: object, named: str) -> None:
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": payload}))
    refused = f"refusing {re.escape(str(path))}: not a plain CIFAR pickle"
    with pytest.raises(ArchlabError, match=refused) as info:
        load_batch(path)
    assert named in str(info.value)


def test_a_set_or_other_container_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": frozenset({1, 2})}))
    with pytest.raises(ArchlabError, match="holds a frozenset"):
        load_batch(path)


def test_truncated_and_missing_files_are_unreadable_not_refused(tmp_path: Path) -> None:
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(_batch())[:40])
    with pytest.raises(ArchlabError, match=f"cannot read {re.escape(str(path))}: UnpicklingError"):
        load_batch(path)
    with pytest.raises(ArchlabError, match=r"cannot read .*nothing"):
        load_batch(tmp_path / "nothing")

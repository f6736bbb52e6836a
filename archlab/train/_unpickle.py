"""A restricted unpickler for CIFAR batches: plain data and numpy arrays, nothing that runs code.

CIFAR's python layout is a pickle, and the full ``pickle`` module calls whatever callable a file
names (``os.system`` in a ``__reduce__``). Batches are downloaded from mirrors and shared, so
this reader admits only what a batch holds (see docs/trust.md): dicts, lists, tuples, bytes,
str, numbers, booleans, None and numpy arrays of plain dtypes. Every callable a pickle refers
to passes :meth:`_BatchUnpickler.find_class` before it can be called, so a file naming any other
is refused there, before that object is constructed. Torch-free: numpy only.
"""

from __future__ import annotations

import codecs
import importlib
import io
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from archlab.errors import ArchlabError

# Where numpy's pickles point for an array, across numpy 1 (numpy.core) and 2 (numpy._core).
_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")
_NUMPY_NAMES = ("_reconstruct", "scalar")
_NUMERIC_MODULES = ("numpy.core.numeric", "numpy._core.numeric")  # protocol 5: _frombuffer
# Python 3 writes bytes (and numpy array buffers) at pickle protocol 2 as
# _codecs.encode(text, "latin1"); only that encoding is admitted.
_CODEC_MODULES = ("_codecs", "codecs")
_PLAIN = (dict, list, tuple, bytes, str, int, float, bool, type(None))
_MAX_DEPTH = 64  # a batch is a dict of arrays and lists: deeper nesting is not a batch


class _Refused(pickle.UnpicklingError):
    """What the file asks for is not plain data (as opposed to a truncated or foreign file)."""


def _latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    if encoding.lower().replace("_", "-") not in ("latin1", "latin-1", "iso-8859-1"):
        raise _Refused(f"codecs encoding {encoding!r} (only latin1 is allowed)")
    return codecs.encode(text, "latin1", errors)


def _plain_dtype(*args: Any) -> np.dtype[Any]:
    dtype = np.dtype(*args)
    if dtype.hasobject:  # an object array holds arbitrary pickled objects
        raise _Refused(f"numpy dtype {dtype} holds Python objects")
    return dtype


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    """numpy's protocol-5 array rebuilder, with the dtype held to plain ones."""
    flat = np.frombuffer(buffer, dtype=_plain_dtype(dtype))
    return flat.reshape(shape, order=order)


def _allowed(module: str, name: str) -> Callable[..., Any] | type | None:
    """The callable a batch may name, or None: numpy's array rebuilders, dtypes, latin1."""
    if module in _NUMPY_MODULES and name in _NUMPY_NAMES:
        return getattr(_multiarray(), name)
    if module in _NUMERIC_MODULES and name == "_frombuffer":  # protocol 5's array buffers
        return _frombuffer
    if (module, name) == ("numpy", "ndarray"):
        return np.ndarray
    if (module, name) == ("numpy", "dtype"):
        return _plain_dtype
    if module in _CODEC_MODULES and name == "encode":
        return _latin1_encode
    return None


def _multiarray() -> Any:
    """numpy's multiarray module, by its name in this numpy (2: numpy._core, 1: numpy.core)."""
    try:
        return importlib.import_module("numpy._core.multiarray")
    except ImportError:
        return importlib.import_module("numpy.core.multiarray")


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        found = _allowed(module, name)
        if found is None:
            raise _Refused(f"it names {module}.{name}, which a batch never does")
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused("it holds a persistent reference, which a batch never does")


def _check_plain(value: Any, depth: int = 0) -> None:
    """Refuse anything but plain containers, scalars and numpy arrays without objects."""
    if depth > _MAX_DEPTH:
        raise _Refused(f"it nests deeper than {_MAX_DEPTH} levels")
    if isinstance(value, np.ndarray | np.generic):
        if value.dtype.hasobject:
            raise _Refused("it holds a numpy array of Python objects")
        return
    if type(value) not in _PLAIN:
        raise _Refused(f"it holds a {type(value).__name__}")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(key, depth + 1)
            _check_plain(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_plain(item, depth + 1)


def load_batch(path: Path) -> Any:
    """One CIFAR pickle (a batch or meta) read with only plain data admitted; else one line."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ArchlabError(f"cannot read {path}: {exc.strerror}") from None
    try:
        # encoding="bytes": the official batches were pickled by Python 2, their keys are bytes.
        value = _BatchUnpickler(io.BytesIO(raw), encoding="bytes").load()
        _check_plain(value)
    except _Refused as exc:
        raise ArchlabError(
            f"refusing {path}: not a plain CIFAR pickle ({exc}); only dicts, lists, bytes, "
            "strings, numbers and numpy arrays are loaded (see docs/trust.md)"
        ) from None
    except Exception as exc:  # a truncated or foreign file: corrupt all the same
        raise ArchlabError(f"cannot read {path}: {type(exc).__name__}: {exc}") from None
    return value

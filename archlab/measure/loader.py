"""A user's model from a reference: ``package.module:callable`` or ``path/to/file.py:callable``.

The callable (a class or a factory function) is called with keyword arguments and must return a
``torch.nn.Module``. Every way this can fail is an :class:`ArchlabError` naming the field; the
user's code runs inside :func:`~archlab.measure._user_code.user_code`, so its exits, raised
interrupts and prints cannot steer archlab (docs/trust.md).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from torch import nn

from archlab.errors import ArchlabError
from archlab.measure._user_code import user_code


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else repr(exc)}"


def parse_model_kwargs(text: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """A JSON object (or a mapping) of keyword arguments for the model's callable."""
    if text is None:
        return {}
    if isinstance(text, Mapping):
        return dict(text)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArchlabError(f"model_kwargs must be a JSON object, got {text!r} ({exc})") from None
    if not isinstance(value, dict):
        raise ArchlabError(f"model_kwargs must be a JSON object, got {text!r}")
    return value


def _import(where: str, ref: str) -> ModuleType:
    """The module part of a reference: a ``.py`` file path or a dotted module name."""
    if where.endswith(".py") or "/" in where or "\\" in where:
        path = Path(where)
        if path.is_dir():
            raise ArchlabError(f"model {ref!r}: {where!r} is a folder; give a .py file in it")
        if not path.is_file():
            raise ArchlabError(f"model {ref!r}: no file {where!r}")
        # A unique name per file, so two files called model.py do not shadow each other.
        digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
        name = f"_archlab_user_model_{digest}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ArchlabError(f"model {ref!r}: cannot load {where!r} as Python")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        # As `python file.py` would: the file's folder is importable while it loads.
        folder = str(path.resolve().parent)
        sys.path.insert(0, folder)
        try:
            with user_code(ref, f"importing {where!r}"):
                spec.loader.exec_module(module)
        except Exception as exc:  # the user's file: report its error in one line
            sys.modules.pop(name, None)
            if isinstance(exc, ArchlabError):  # an exit or interrupt, named by user_code
                raise
            why = _first_line(exc)
            raise ArchlabError(f"model {ref!r}: importing {where!r} failed: {why}") from None
        finally:
            sys.path.remove(folder)
        return module
    try:
        with user_code(ref, f"importing {where!r}"):
            return importlib.import_module(where)
    except ArchlabError:
        raise
    except Exception as exc:  # ImportError or the module's own error at import time
        why = _first_line(exc)
        raise ArchlabError(f"model {ref!r}: importing {where!r} failed: {why}") from None


def _a(value: object) -> str:
    """``a list``, ``an int``: the value's type with its article."""
    kind = type(value).__name__
    return f"{'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind}"


def load_model(ref: str, kwargs: str | Mapping[str, Any] | None = None) -> nn.Module:
    """Import ``ref`` (``module:callable`` or ``file.py:callable``) and call it with ``kwargs``."""
    where, sep, attr = ref.rpartition(":")
    if not sep or not where or not attr:
        raise ArchlabError(
            f"model must be PACKAGE.MODULE:CALLABLE or path/to/file.py:CALLABLE, got {ref!r}"
        )
    arguments = parse_model_kwargs(kwargs)
    target: Any = _import(where, ref)
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ArchlabError(f"model {ref!r}: {where!r} has no attribute {attr!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ArchlabError(f"model {ref!r}: {attr!r} is {_a(target)}, not callable")
    try:
        with user_code(ref, f"calling {attr}"):
            model = target(**arguments)
    except ArchlabError:
        raise
    except Exception as exc:  # wrong kwargs or the constructor's own error
        raise ArchlabError(f"model {ref!r}: calling {attr}(**{arguments}) failed: "
                           f"{_first_line(exc)}") from None  # fmt: skip
    if not isinstance(model, nn.Module):
        raise ArchlabError(f"model {ref!r}: {attr} returned {_a(model)}, not a torch.nn.Module")
    return model

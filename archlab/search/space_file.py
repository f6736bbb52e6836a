"""Design spaces as TOML files: :func:`load_space` reads one, :func:`space_to_toml` writes one.

The format (every parameter is a table as below, a bare number for
one fixed value, or a list as shorthand for ``choice``)::

    template = "cifar"           # required: imagenet | cifar
    input_size = 32              # optional: the template's default
    num_classes = 10             # optional: the template's default

    [depth]                      # exactly one of [depth] or blocks
    sampler = "choice"
    values = [11, 20, 29]
    # blocks = [[1, 2], 2, { low = 1, high = 4 }]   one entry per stage, or one
    # [blocks] table applied to every stage independently

    [cardinality]                # required: C
    sampler = "pow2"             # default: choice with values, uniform without
    low = 1
    high = 32

    [bottleneck_width]           # exactly one of [bottleneck_width] (d) or [group_width] (C·d;
    sampler = "log-uniform"      # d = group_width / C, draws C does not divide are invalid);
    low = 1                      # both the network's own first-stage widths, as in its name:
    high = 64                    # the multiplier scales stem and stage widths, never d

    [width_multiplier]           # optional: 1.0
    sampler = "choice"
    values = [0.125, 0.25]

    [band]                       # optional; [min, max], or { min = ... } / { max = ... }
    macs = [1e6, 5e7]
    params = { max = 2e6 }
    acts = [0, 1e7]
"""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from archlab.errors import ArchlabError, SpecError
from archlab.search.ranges import QUANTITIES, Band, Bound, ParamRange, is_number
from archlab.search.sampling import DesignSpace
from archlab.space import NUM_STAGES, TEMPLATES

_TOP_KEYS = (
    "template",
    "input_size",
    "num_classes",
    "depth",
    "blocks",
    "cardinality",
    "bottleneck_width",
    "group_width",
    "width_multiplier",
    "band",
)
_RANGE_KEYS = ("low", "high", "sampler", "values")
# A space file is a page of TOML (a few hundred bytes); far larger input is a mistake, and
# tomllib's time on deeply dotted keys grows faster than linearly, so refuse it before parsing.
MAX_SPACE_FILE_BYTES = 64 * 1024


def _unknown(keys: Any, allowed: tuple[str, ...], where: str) -> None:
    extra = [k for k in keys if k not in allowed]
    if extra:
        raise ArchlabError(f"{where}unknown key {extra[0]!r}; allowed: {', '.join(allowed)}")


def _range_from(name: str, value: Any) -> ParamRange:
    try:
        return _parse_range(name, value)
    except SpecError as exc:
        raise SpecError(f"{name}: {exc}") from None


def _parse_range(name: str, value: Any) -> ParamRange:
    if is_number(value):
        return ParamRange.choice(value)
    if isinstance(value, list):
        return ParamRange.choice(*value)
    if not isinstance(value, dict):
        raise ArchlabError(f"{name} must be a table, a number or a list, got {value!r}")
    _unknown(value, _RANGE_KEYS, f"[{name}]: ")
    sampler = value.get("sampler", "choice" if "values" in value else "uniform")
    if not isinstance(sampler, str):
        raise ArchlabError(f"{name}.sampler must be a string, got {sampler!r}")
    if sampler != "choice":
        for key in ("low", "high"):
            if key not in value:
                raise ArchlabError(f"[{name}]: missing required key {key!r}")
    values = value.get("values")
    if values is not None and not isinstance(values, list):
        raise ArchlabError(f"{name}.values must be a list, got {values!r}")
    return ParamRange(
        value.get("low"), value.get("high"), sampler, None if values is None else tuple(values)
    )


def _bound_from(name: str, value: Any) -> Bound:
    if isinstance(value, list) and len(value) == 2:
        return value[0], value[1]
    if isinstance(value, dict):
        _unknown(value, ("min", "max"), f"band.{name}: ")
        return value.get("min"), value.get("max")
    raise ArchlabError(f"band.{name} must be [min, max] or {{ min = ..., max = ... }}")


def space_from_dict(data: dict[str, Any]) -> DesignSpace:
    """A space from the parsed TOML document (the format in this module's docstring)."""
    _unknown(data, _TOP_KEYS, "")
    for key in ("template", "cardinality"):
        if key not in data:
            raise ArchlabError(f"missing required key {key!r}")
    template = data["template"]
    if template not in TEMPLATES:
        raise SpecError(f"template must be one of {', '.join(TEMPLATES)}, got {template!r}")
    kw: dict[str, Any] = {
        k: _range_from(k, data[k])
        for k in ("depth", "cardinality", "bottleneck_width", "group_width", "width_multiplier")
        if k in data
    }
    if "blocks" in data:
        raw = data["blocks"]
        per_stage = raw if isinstance(raw, list) else [raw] * NUM_STAGES[template]
        kw["blocks"] = tuple(_range_from(f"blocks[{i}]", r) for i, r in enumerate(per_stage))
    band = data.get("band", {})
    if not isinstance(band, dict):
        raise ArchlabError(f"band must be a table, got {band!r}")
    _unknown(band, QUANTITIES, "[band]: ")
    kw["band"] = Band(**{k: _bound_from(k, v) for k, v in band.items()})
    return DesignSpace(
        template=template,
        num_classes=data.get("num_classes"),
        input_size=data.get("input_size"),
        **kw,
    )


def parse_space(text: str, source: str = "<string>") -> DesignSpace:
    """A space from TOML text; errors name ``source`` and the problem on one line."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # the same parser, from PyPI, before 3.11
        import tomli as tomllib
    if len(text) > MAX_SPACE_FILE_BYTES:
        raise ArchlabError(
            f"{source}: {len(text):,} characters; a space file holds at most "
            f"{MAX_SPACE_FILE_BYTES:,} bytes"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ArchlabError(f"{source}: not valid TOML: {_one_line(exc)}") from None
    except (RecursionError, MemoryError):  # tomllib recurses once per nested array or table
        raise ArchlabError(f"{source}: TOML nested too deeply or too large to read") from None
    try:
        return space_from_dict(data)
    except ArchlabError as exc:
        raise type(exc)(f"{source}: {_one_line(exc)}") from None
    except (RecursionError, MemoryError):
        raise ArchlabError(f"{source}: values nested too deeply to read") from None


def load_space(path: str | Path) -> DesignSpace:
    """A space from a TOML file (the format in this module's docstring)."""
    try:
        size = Path(path).stat().st_size
        if size > MAX_SPACE_FILE_BYTES:  # refuse before reading a huge file into memory
            raise ArchlabError(
                f"space file {str(path)!r} is {size:,} bytes; a space file holds at most "
                f"{MAX_SPACE_FILE_BYTES:,} bytes"
            )
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArchlabError(f"space file {str(path)!r} not found") from None
    except UnicodeDecodeError as exc:  # said as a plan, arms or candidates file says it
        raise ArchlabError(f"space file {str(path)!r} is not a text file (byte {exc.start} is "
                           "not UTF-8); give a TOML design space") from None  # fmt: skip
    except OSError as exc:
        raise ArchlabError(f"cannot read space file {str(path)!r}: {_one_line(exc)}") from None
    return parse_space(text, str(path))


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)  # int, or a float such as 1e-06 or inf: both valid TOML


def _range_toml(prange: ParamRange) -> list[str]:
    lines = [f"sampler = {_toml(prange.sampler)}"]
    for f in ("low", "high", "values"):
        if getattr(prange, f) is not None:
            lines.append(f"{f} = {_toml(getattr(prange, f))}")
    return lines


def space_to_toml(space: DesignSpace) -> str:
    """TOML text that :func:`parse_space` reads back into an equal space."""
    lines = [f"template = {_toml(space.template)}"]
    lines += [
        f"{k} = {getattr(space, k)}"
        for k in ("num_classes", "input_size")
        if getattr(space, k) is not None
    ]
    for name in ("depth", "cardinality", "bottleneck_width", "group_width", "width_multiplier"):
        prange = getattr(space, name)
        if prange is not None:
            lines += ["", f"[{name}]", *_range_toml(prange)]
    for prange in space.blocks or ():
        lines += ["", "[[blocks]]", *_range_toml(prange)]
    bounds = [
        (f.name, getattr(space.band, f.name))
        for f in fields(space.band)
        if getattr(space.band, f.name) != (None, None)
    ]
    if bounds:
        lines += ["", "[band]"]
        for name, (lo, hi) in bounds:
            sides = [f"{k} = {_toml(v)}" for k, v in (("min", lo), ("max", hi)) if v is not None]
            lines.append(f"{name} = {{ {', '.join(sides)} }}")
    return "\n".join(lines) + "\n"

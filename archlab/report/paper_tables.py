"""The paper's Tables 1, 2, 3, 4 and 7 reproduced from archlab's analytic model alone.

Every paper number comes from ``archlab/resources/paper_values.json`` (typed in once, each with
its table); every archlab number is computed here from specs: d by
:func:`archlab.search.solver.match_flops`, counts by :mod:`archlab.complexity`. No store, no
torch, no training.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from archlab.blocks import iter_blocks
from archlab.complexity import complexity, template_block_params, totals
from archlab.errors import ArchlabError
from archlab.report.output import atomic_write_text
from archlab.search.solver import match_flops
from archlab.space import NetSpec, make_spec

COMMAND = "archlab report --paper-tables --out reports"
FILENAME = "paper-tables.md"
CARDINALITIES = (1, 2, 4, 8, 32)  # Tables 2 and 3
CONV2_SIZE = 56  # Table 2: block FLOPs = params × 56 × 56 at the conv2 stage
DASH = "—"


@dataclass(frozen=True)
class PaperValue:
    """One number from the paper: where it is printed, what it measures, and its value."""

    table: str
    model: str
    quantity: str
    value: float
    printed: str


@cache
def paper_values() -> dict[tuple[str, str, str], PaperValue]:
    """The typed-in paper numbers, keyed by (table, model, quantity)."""
    text = resources.files("archlab").joinpath("resources/paper_values.json").read_text("utf-8")
    rows = [PaperValue(**row) for row in json.loads(text)["values"]]
    return {(r.table, r.model, r.quantity): r for r in rows}


def paper(table: str, model: str, quantity: str) -> PaperValue:
    """One paper value; a missing key is a bug in the data file, named in full."""
    try:
        return paper_values()[(table, model, quantity)]
    except KeyError:
        raise ArchlabError(f"paper_values.json has no {quantity} of {model} in {table}") from None


# --------------------------------------------------------------------------- formats


def diff(archlab: float, reference: float, *, digits: int = 0) -> str:
    """'+57,032 (+0.22%)': archlab's value minus the paper's, absolute and relative."""
    delta = archlab - reference
    if delta == 0:
        return "0 (0.00%)"
    absolute = f"{delta:+,.{digits}f}"
    return f"{absolute} ({100 * delta / reference:+.2f}%)"


def _n(value: int) -> str:
    return f"{value:,}"


def _table(header: list[str], rows: list[list[str]], right: tuple[int, ...] = ()) -> list[str]:
    align = ["---:" if i in right else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


# --------------------------------------------------------------------------- tables


def _block_text(spec: NetSpec, stage: int) -> str:
    """'[1x1, 128; 3x3, 128, C=32; 1x1, 256] x 3' for one stage, from the block iterator."""
    block = next(b for b in iter_blocks(spec) if b.stage == stage)
    group = f", C={block.groups}" if block.groups > 1 else ""
    n = spec.stages[stage].depth
    return f"[1x1, {block.w_b}; 3x3, {block.w_b}{group}; 1x1, {block.w_out}] x {n}"


def _stage_sizes(spec: NetSpec) -> list[int]:
    """Output map size of conv1 and of each stage, from the layer walk."""
    layers = complexity(spec).layers
    sizes = [next(r.h_out for r in layers if r.path == "conv1")]
    for s in range(len(spec.stages)):
        sizes.append([r.h_out for r in layers if r.path.startswith(f"layer{s + 1}.")][-1])
    return sizes


def table1() -> list[str]:
    """Table 1: ResNet-50 and ResNeXt-50 (32x4d) layouts with params and MACs."""
    specs = [make_spec("imagenet", 50, 1, 64), make_spec("imagenet", 50, 32, 4)]
    sizes = _stage_sizes(specs[0])
    assert sizes == _stage_sizes(specs[1])
    rows = [["conv1", f"{sizes[0]}x{sizes[0]}", "7x7, 64, stride 2", "7x7, 64, stride 2"]]
    for s in range(4):
        cells = [_block_text(spec, s) for spec in specs]
        if s == 0:
            cells = ["3x3 max pool, stride 2; " + c for c in cells]
        rows.append([f"conv{s + 2}", f"{sizes[s + 1]}x{sizes[s + 1]}", *cells])
    rows.append(["", "1x1", "global average pool, 1000-d fc, softmax", "same"])
    totals_rows = []
    for spec in specs:
        macs, params, _ = totals(spec)
        for quantity, value, label in (("params", params, "params"), ("flops", macs, "MACs")):
            ref = paper("Table 1", spec.name, quantity)
            totals_rows.append(
                [f"`{spec.name}`", label, ref.printed, _n(value), diff(value, ref.value)]
            )
    return [
        "## Table 1: ResNet-50 and ResNeXt-50 (32x4d)",
        "",
        "Layouts from archlab's block iterator (the stride sits on the 3x3 conv of the first "
        "block of conv3, conv4 and conv5).",
        "",
        *_table(["stage", "output", "`resnet50`", "`resnext50_32x4d`"], rows),
        "",
        *_table(
            ["model", "quantity", "paper", "archlab (exact)", "difference"],
            totals_rows,
            right=(2, 3, 4),
        ),
    ]


def table2() -> list[str]:
    """Table 2: d solved for each C at the conv2 block's ~70k params, and the block MACs."""
    params_ref = paper("Table 2", "conv2 template", "block_params")
    flops_ref = paper("Table 2", "conv2 template", "block_flops")
    rows = []
    for c in CARDINALITIES:
        spec = match_flops(c, 50, "imagenet", 1.0, "block").spec
        d_ref = paper("Table 2", f"C={c}", "d")
        w_ref = paper("Table 2", f"C={c}", "group_width")
        params = template_block_params(spec)
        macs = params * CONV2_SIZE * CONV2_SIZE
        rows.append(
            [
                str(c),
                d_ref.printed,
                str(spec.bottleneck_width),
                diff(spec.bottleneck_width, d_ref.value),
                w_ref.printed,
                str(spec.group_width),
                diff(spec.group_width, w_ref.value),
                _n(params),
                diff(params, params_ref.value),
                _n(macs),
                diff(macs, flops_ref.value),
            ]
        )
    header = [
        "C",
        "d (paper)",
        "d (archlab)",
        "d diff",
        "group width (paper)",
        "group width (archlab)",
        "width diff",
        "block params (archlab)",
        f"vs paper {params_ref.printed}",
        "block MACs at 56x56 (archlab)",
        f"vs paper {flops_ref.printed}",
    ]
    return [
        "## Table 2: cardinality vs bottleneck width at ~70k block parameters",
        "",
        "d is solved by `match_flops(C, scope='block')`: the integer d whose conv2 block "
        "C·(256·d + 3·3·d·d + d·256) (Eq. 4) comes closest to ResNet's 69,632. Block MACs = "
        "block params × 56 × 56, as in the paper's caption.",
        "",
        *_table(header, rows, right=tuple(range(11))),
    ]


def table3() -> list[str]:
    """Table 3: the complexity-matched families at depth 50 and 101, with the paper's errors."""
    rows = []
    for depth in (50, 101):
        flops_ref = paper("Table 3", f"depth {depth}", "flops")
        for c in CARDINALITIES:
            spec = match_flops(c, depth, "imagenet", 1.0, "block").spec
            macs, params, _ = totals(spec)
            error = paper("Table 3", spec.name, "top1_error")
            rows.append(
                [
                    str(depth),
                    f"`{spec.name}`",
                    f"{c}x{spec.bottleneck_width}d",
                    _n(params),
                    _n(macs),
                    flops_ref.printed,
                    diff(macs, flops_ref.value),
                    error.printed,
                ]
            )
    header = [
        "depth",
        "model",
        "setting (d solved)",
        "params (archlab)",
        "MACs (archlab)",
        "FLOPs (paper)",
        "MACs difference",
        "top-1 error % (paper-reported)",
    ]
    return [
        "## Table 3: complexity-matched families at depth 50 and 101",
        "",
        "The paper gives one complexity per group (~4.1 and ~7.8 billion FLOPs) and no "
        "per-model parameter counts. The top-1 errors are the paper's, shown for reference: "
        "archlab has not reproduced them.",
        "",
        *_table(header, rows, right=(0, 3, 4, 5, 6, 7)),
    ]


def table4() -> list[str]:
    """Table 4: the models at 2x ResNet-101's complexity."""
    ratio_ref = paper("Table 4", "2x complexity", "flops_vs_resnet101")
    base = totals(make_spec("imagenet", 101, 1, 64))[0]
    rows = []
    for label, depth, c, d in (
        ("ResNet-200", 200, 1, 64),
        ("ResNet-101, wider", 101, 1, 100),
        ("ResNeXt-101", 101, 2, 64),
        ("ResNeXt-101", 101, 64, 4),
    ):
        spec = make_spec("imagenet", depth, c, d)
        macs, params, _ = totals(spec)
        ratio = round(macs / base, 3)  # printed and compared at the same 3 decimals
        top1 = paper("Table 4", spec.name, "top1_error").printed
        top5 = paper("Table 4", spec.name, "top5_error").printed
        rows.append(
            [
                label,
                f"`{spec.name}`",
                f"{c}x{d}d",
                _n(params),
                _n(macs),
                f"{ratio:.3f}",
                f"{ratio_ref.value:g}×",
                diff(ratio, ratio_ref.value, digits=3),
                f"{top1} / {top5}",
            ]
        )
    header = [
        "model",
        "archlab name",
        "setting",
        "params (archlab)",
        "MACs (archlab)",
        "MACs / ResNet-101's (archlab)",
        "paper",
        "difference",
        "top-1 / top-5 error % (paper-reported)",
    ]
    return [
        "## Table 4: 2x complexity",
        "",
        f"The paper's caption puts every model at {ratio_ref.printed} (ResNet-101: "
        f"{_n(base)} MACs in archlab); it prints no per-model counts. Errors are the paper's, "
        "not reproduced.",
        "",
        *_table(header, rows, right=(3, 4, 5, 6, 7)),
    ]


def table7() -> list[str]:
    """Table 7: CIFAR model sizes, with the paper's CIFAR-10 and CIFAR-100 errors."""
    rows = []
    for key, label, spec in (
        ("wide_resnet", "Wide ResNet", None),
        ("resnext29_8x64d", "ResNeXt-29, 8x64d", make_spec("cifar", 29, 8, 64)),
        ("resnext29_16x64d", "ResNeXt-29, 16x64d", make_spec("cifar", 29, 16, 64)),
    ):
        ref = paper("Table 7", key, "params")
        errors = [paper("Table 7", key, q).printed for q in ("cifar10_error", "cifar100_error")]
        if spec is None:
            ours = ["no Wide ResNet builder in archlab", DASH]
        else:
            params = totals(spec)[1]
            ours = [_n(params), diff(params, ref.value)]
        rows.append([label, ref.printed, *ours, *errors])
    header = [
        "model",
        "params (paper)",
        "params (archlab, 10-class fc)",
        "difference",
        "CIFAR-10 error % (paper-reported)",
        "CIFAR-100 error % (paper-reported)",
    ]
    wider_fc = (
        totals(make_spec("cifar", 29, 8, 64, num_classes=100))[1]
        - totals(make_spec("cifar", 29, 8, 64, num_classes=10))[1]
    )
    return [
        "## Table 7: CIFAR",
        "",
        "Parameters of the CIFAR template (Sec. 5.3) with a 10-class classifier; a 100-class fc "
        f"adds {_n(wider_fc)}. Errors are the paper's (average of 10 runs), not reproduced.",
        "",
        *_table(header, rows, right=(1, 2, 3, 4, 5)),
    ]


def paper_tables_markdown() -> str:
    """The whole paper-tables page; deterministic, it depends on nothing but the code."""
    source = json.loads(
        resources.files("archlab").joinpath("resources/paper_values.json").read_text("utf-8")
    )["source"]
    lines = [
        f"Regenerate with: `{COMMAND}` (generated; do not edit by hand).",
        "",
        "# The paper's tables, from archlab's analytic model",
        "",
        f"Paper: {source} Paper values are typed in once in `archlab/resources/paper_values.json`; "
        "archlab's are exact counts under its convention (1 MAC = one multiply-add of a conv "
        "or fc layer, fc bias counted; BN affine parameters counted). The paper's FLOPs are "
        "multiply-adds (Sec. 3.1). Differences are archlab minus paper.",
    ]
    for section in (table1(), table2(), table3(), table4(), table7()):
        lines += ["", *section]
    return "\n".join(lines) + "\n"


def write_paper_tables(out_dir: str | Path) -> Path:
    """Write ``out_dir``/paper-tables.md and return its path."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ArchlabError(f"--out {str(out)!r} is a file, not a directory")
    path = out / FILENAME
    try:
        atomic_write_text(path, paper_tables_markdown())  # old or new, never half
    except OSError as exc:
        raise ArchlabError(f"cannot write {str(path)!r}: {exc.strerror}") from None
    return path

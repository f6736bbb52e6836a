"""An exact traced count of any ``nn.Module`` at one input shape, in archlab's convention.

The convention, archlab's (:mod:`archlab.complexity`) extended to general layers and stated once:

- 1 MAC = one multiply-add. A conv (1d/2d/3d, any groups, dilation, stride, padding) costs
  ``out_elements x in_channels / groups x kernel elements``; a transposed conv costs
  ``in_elements x out_channels / groups x kernel elements`` (every input element meets every
  weight of its group, as fvcore, ptflops and FlopCounterMode count it); a linear layer
  ``out_elements x in_features``. A bias adds one MAC per output element, for convs as for linears.
- matmul / bmm / einsum / ``scaled_dot_product_attention`` count their multiply-adds
  (``Q K^T`` and ``A V``); an ``addmm``/``baddbmm`` addend counts as a bias.
- Normalisation layers count their affine parameters and 0 MACs; ReLU, max / average pooling and
  additions (the residual add) count 0 MACs, as in the paper's convention (Sec. 3.1).
- Parameters: every distinct parameter once. Activations (Dollár et al. 2021): the output
  elements of every conv, linear (a matmul with a parameter operand) and max-pool.
- Any other op that does arithmetic (softmax, GELU, a scaling ``mul``...) is listed with its call
  count in ``skipped``, never counted as a silent 0.

Mechanism: a ``TorchDispatchMode`` sees every aten op after decomposition, so functional calls
(``F.linear`` inside ``nn.MultiheadAttention``, ``torch.einsum``) are counted like modules; forward
hooks keep a stack of module paths, so each op is attributed to the innermost module that ran it
(``layer1.0.conv2``). The forward runs on the ``meta`` device where it can (shapes only, nothing
allocated, any input size), with autograd on so no inference fast path fuses the ops away; a
model that cannot run on ``meta`` is traced on the CPU after a memory check.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode

from archlab.errors import ArchlabError
from archlab.measure.inputs import Shapes, check_input_shapes, elements, make_inputs
from archlab.measure.inputs import input_dtype as parse_dtype

# aten ops that allocate, copy or move data but compute nothing: never listed as skipped.
NO_ARITHMETIC = frozenset(
    ("empty", "empty_like", "empty_strided", "zeros", "zeros_like", "ones", "ones_like", "full",
     "full_like", "fill_", "detach", "clone", "copy_", "_to_copy", "lift_fresh", "cat", "stack",
     "_unsafe_view", "constant_pad_nd", "embedding", "index_select", "repeat", "new_empty",
     "new_zeros", "scalar_tensor", "arange", "alias")
)  # fmt: skip
# Ops the convention counts as 0 MACs on purpose: normalisation, ReLU, pooling, additions.
# ``mean`` is the global average pool (adaptive_avg_pool2d to 1x1 decomposes to it).
ZERO_BY_CONVENTION = frozenset(
    ("native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
     "_native_batch_norm_legit_functional", "batch_norm", "native_layer_norm",
     "native_group_norm", "relu", "relu_", "max_pool1d", "max_pool2d", "max_pool3d",
     "max_pool2d_with_indices", "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d",
     "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "_adaptive_avg_pool2d",
     "adaptive_avg_pool3d", "_adaptive_avg_pool3d", "mean", "add", "add_")
)  # fmt: skip
_MATMUL = frozenset(("mm", "addmm", "bmm", "baddbmm", "mv", "addmv", "dot", "vdot"))
_ADDEND_FIRST = frozenset(("addmm", "baddbmm", "addmv"))  # aten's (self, mat1, mat2) order
_SDPA = frozenset(
    ("_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_flash_attention",
     "_scaled_dot_product_efficient_attention", "_scaled_dot_product_cudnn_attention",
     "_scaled_dot_product_fused_attention_overrideable")
)  # fmt: skip
_CONV = frozenset(("convolution", "_convolution"))


class TracedLayer(NamedTuple):
    """One module's own counts (ops run directly in it, not in its children) and its geometry."""

    path: str
    kind: str  # the module's class name
    calls: int
    macs: int  # including bias_macs
    bias_macs: int
    params: int  # its own parameters (recurse=False)
    acts: int
    in_elems: int  # elements of its first tensor input, summed over calls
    out_elems: int  # elements of its first tensor output, summed over calls


@dataclass(frozen=True)
class TracedCount:
    """The traced totals of one model at one input shape, with per-module rows."""

    input_shape: tuple[int, ...]
    macs: int
    params: int
    acts: int
    bias_macs: int
    skipped: tuple[str, ...]
    layers: tuple[TracedLayer, ...] = field(repr=False)
    device: str  # "meta" or the device it ran on
    data_grad_macs: int  # a training step's data gradients (inputs that require grad)
    weight_grad_macs: int  # ... and weight gradients, each the forward MACs without bias
    bias_grad_macs: int  # one MAC per output element of each bias that requires grad
    largest_op_bytes: int  # the biggest single op's inputs + outputs
    output_bytes: int  # all op outputs together (what autograd may keep for a backward)
    input_shapes: tuple[tuple[int, ...], ...] = ()  # every input (input_shape is the first)
    input_dtype: str = "float32"

    @property
    def per_layer(self) -> dict[str, int]:
        """Module path -> its own MACs."""
        return {row.path: row.macs for row in self.layers}


class _Op(NamedTuple):
    macs: int  # without bias
    bias: int
    acts: int
    data_grad: int
    weight_grad: int
    bias_grad: int


def _prod(shape: Sequence[int]) -> int:
    out = 1
    for s in shape:
        out *= int(s)
    return out


def _tensors(obj: Any) -> list[Tensor]:
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, list | tuple):
        return [t for o in obj for t in _tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensors(o)]
    return []


def _storage(t: Any) -> int | None:
    return t.untyped_storage()._cdata if isinstance(t, Tensor) else None


def _grad(t: Any) -> bool:
    return isinstance(t, Tensor) and t.requires_grad


class _Tracer(TorchDispatchMode):
    """Counts every aten op under the convention; ``stack`` holds the running module paths."""

    def __init__(self, params: set[int]) -> None:
        super().__init__()
        self.params = params  # storages of the model's parameters
        # The latest matmul output, held so its storage cannot be reused: F.linear on >2-d or
        # strided input issues matmul then add_(bias) with only views between them.
        self.product: Tensor | None = None
        self.stack: list[str] = [""]
        self.rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # macs, bias, acts
        self.grads = [0, 0, 0]  # data, weight, bias
        self.skipped: Counter[str] = Counter()
        self.largest, self.total = 0, 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        name = func._overloadpacket.__name__
        outs = _tensors(out)
        nbytes = sum(t.numel() * t.element_size() for t in outs)
        self.total += nbytes
        self.largest = max(
            self.largest, nbytes + sum(t.numel() * t.element_size() for t in _tensors(args))
        )
        op = self._formula(name, func, args, outs)
        if op is None:
            if name not in ZERO_BY_CONVENTION and computes(name, func):
                self.skipped[f"aten.{name}"] += 1
            return out
        row = self.rows[self.stack[-1]]
        row[0] += op.macs + op.bias
        row[1] += op.bias
        row[2] += op.acts
        for i, g in enumerate((op.data_grad, op.weight_grad, op.bias_grad)):
            self.grads[i] += g
        return out

    def _formula(self, name: str, func: Any, args: Any, outs: list[Tensor]) -> _Op | None:
        if name in _CONV:
            return _conv(args, outs[0])
        if name in _MATMUL:
            return self._matmul(name, args, outs[0])
        if name in _SDPA:
            return _sdpa(args)
        if name in ("add", "add_") and len(args) >= 2:
            return self._bias_add(args, outs[0])
        if name.startswith("max_pool") and outs:
            # 0 MACs, but its output elements are activations.
            return _Op(0, 0, outs[0].numel(), 0, 0, 0)
        return None

    def _matmul(self, name: str, args: Any, out: Tensor) -> _Op:
        addend = args[0] if name in _ADDEND_FIRST else None
        a, b = (args[1], args[2]) if addend is not None else (args[0], args[1])
        self.product = out
        macs = out.numel() * int(a.shape[-1])
        weight = [_storage(t) in self.params for t in (a, b)]
        bias = out.numel() if addend is not None else 0
        # A linear layer: one operand is (a view of) a parameter; its gradient is a weight gradient.
        grads = [macs if _grad(t) else 0 for t in (a, b)]
        data = sum(g for g, w in zip(grads, weight, strict=True) if not w)
        wgrad = sum(g for g, w in zip(grads, weight, strict=True) if w)
        acts = out.numel() if any(weight) else 0
        return _Op(macs, bias, acts, data, wgrad, bias if _grad(addend) else 0)

    def _bias_add(self, args: Any, out: Tensor) -> _Op | None:
        """``matmul(x, W^T) + b``: the add_ that ``F.linear`` issues on >2-d or strided input."""
        a, b = args[0], args[1]
        last = _storage(self.product)
        for x, p in ((a, b), (b, a)):
            if last is not None and _storage(x) == last and _storage(p) in self.params:
                return _Op(0, out.numel(), 0, 0, 0, out.numel() if _grad(p) else 0)
        return None


def _conv(args: Any, out: Tensor) -> _Op:
    x, w, b, transposed = args[0], args[1], args[2], bool(args[6])
    per_element = int(w.shape[1]) * _prod(w.shape[2:])  # c_in / groups (c_out / groups) x kernel
    macs = (x.numel() if transposed else out.numel()) * per_element
    bias = out.numel() if b is not None else 0
    grads = (macs if _grad(x) else 0, macs if _grad(w) else 0, bias if _grad(b) else 0)
    return _Op(macs, bias, out.numel(), *grads)


def _sdpa(args: Any) -> _Op:
    """Q K^T (L x S x E) and A V (L x S x Ev) per batch and head; backward costs twice that."""
    q, k, v = args[0], args[1], args[2]
    length, e = int(q.shape[-2]), int(q.shape[-1])
    macs = (q.numel() // max(length * e, 1)) * length * int(k.shape[-2]) * (e + int(v.shape[-1]))
    return _Op(macs, 0, 0, 2 * macs if any(_grad(t) for t in (q, k, v)) else 0, 0, 0)


def computes(name: str, func: Any = None) -> bool:
    """Whether an aten op does arithmetic: not a view, not an allocation or a copy."""
    if func is None:
        func = getattr(getattr(torch.ops.aten, name, None), "default", None)
    return name not in NO_ARITHMETIC and not getattr(func, "is_view", False)


@contextlib.contextmanager
def _path_hooks(model: nn.Module, tracer: _Tracer, calls: dict[str, list[int]]) -> Iterator[None]:
    """Push each module's path while it runs; record its calls and first input/output sizes."""
    handles = []

    def numel(obj: Any) -> int:
        found = _tensors(obj)
        return found[0].numel() if found else 0

    for path, module in model.named_modules():
        if not path:
            continue

        def pre(mod: nn.Module, inputs: Any, path: str = path) -> None:
            tracer.stack.append(path)
            calls[path][1] += numel(inputs)

        def post(mod: nn.Module, inputs: Any, output: Any, path: str = path) -> None:
            tracer.stack.pop()
            calls[path][0] += 1
            calls[path][2] += numel(output)

        handles.append(module.register_forward_pre_hook(pre))
        handles.append(module.register_forward_hook(post, always_call=True))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _run(
    model: nn.Module, shapes: Shapes, device: torch.device, dtype: torch.dtype | None = None
) -> TracedCount:
    """One forward of ``model`` (already on ``device``) under the tracer."""
    params = list(dict.fromkeys(model.parameters()))  # shared parameters counted once
    like = next((p.dtype for p in params if p.is_floating_point()), torch.float32)
    xs = make_inputs(shapes, dtype, like, device)
    tracer = _Tracer({p.untyped_storage()._cdata for p in params})
    calls: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # calls, in, out elements
    with torch.enable_grad(), _path_hooks(model, tracer, calls), tracer:
        model(*xs)
    layers = []
    for path, module in model.named_modules():
        own = sum(p.numel() for p in module.parameters(recurse=False))
        macs, bias, acts = tracer.rows.get(path, (0, 0, 0))
        leaf = next(module.children(), None) is None
        if (leaf and (own or calls[path][0])) or macs or acts:
            n, i, o = calls[path]
            layers.append(TracedLayer(path, type(module).__name__, n, macs, bias, own, acts, i, o))
    skipped = tuple(f"{op} x{n}" for op, n in sorted(tracer.skipped.items()))
    data, weight, bias_grad = tracer.grads
    return TracedCount(
        shapes[0], sum(r.macs for r in layers), sum(p.numel() for p in params),
        sum(r.acts for r in layers), sum(r.bias_macs for r in layers), skipped, tuple(layers),
        device.type, data, weight, bias_grad, tracer.largest, tracer.total, shapes,
        str(xs[0].dtype).removeprefix("torch."),
    )  # fmt: skip


def _show(shapes: Shapes) -> str:
    """[1, 3, 32, 32] for one input, [1, 3, 32, 32] [1, 10] for several."""
    return " ".join(str(list(s)) for s in shapes)


def trace_count(
    model: nn.Module,
    input_shape: Sequence[int] | Sequence[Sequence[int]] = (1, 3, 224, 224),
    *,
    input_dtype: str | torch.dtype | None = None,
) -> TracedCount:
    """The exact traced count of ``model`` on zero inputs of ``input_shape`` (one shape or one
    per positional input) at ``input_dtype`` (default: the model's float dtype; see module doc)."""
    shape = check_input_shapes(input_shape)
    dtype = parse_dtype(input_dtype)
    if not isinstance(model, nn.Module):
        raise ArchlabError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    try:
        return _run(copy.deepcopy(model).to("meta"), shape, torch.device("meta"), dtype)
    except Exception:  # an op without a meta kernel, or data-dependent code: run for real
        pass
    real = copy.deepcopy(model)
    device = next((p.device for p in real.parameters()), torch.device("cpu"))
    params = sum(p.numel() * p.element_size() for p in real.parameters())
    check_memory(params + 8 * elements(shape), f"input_shape {_show(shape)}")
    try:
        return _run(real, shape, device, dtype)
    except Exception as exc:  # the user's model fails on this shape: one line naming it
        lines = str(exc).strip().splitlines()
        why = f"{type(exc).__name__}: {lines[0] if lines else exc!r}"
        raise ArchlabError(
            f"model {type(model).__name__} fails on input_shape {_show(shape)}: {why}"
        ) from None


# --------------------------------------------------------------------------- memory


def available_bytes() -> int | None:
    """Memory the system can still give this process (Linux MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def forward_bytes(traced: TracedCount, params_bytes: int, *, keep_graph: bool = False) -> int:
    """Estimated bytes a real forward needs: parameters, input and the largest op's working set
    (twice, for allocator slack); with ``keep_graph`` (a backward follows) every op output."""
    x = elements(traced.input_shapes or (traced.input_shape,)) * 8
    return params_bytes + x + (traced.output_bytes if keep_graph else 2 * traced.largest_op_bytes)


def check_memory(needed: int, what: str) -> None:
    """Refuse before allocating what the machine cannot hold."""
    free = available_bytes()
    if free is not None and needed > free:
        raise ArchlabError(
            f"{what} needs about {needed / 2**30:.1f} GiB to run, {free / 2**30:.1f} GiB is free; "
            "use a smaller input"
        )

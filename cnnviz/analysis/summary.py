"""The per-layer table of an architecture, like the lecture's LeNet-5 table.

`summary(model, (1, 1, 32, 32))` runs the model once on zeros (eval mode, no grad, through `cnnviz.hooks`)
and returns one `LayerRow` per call of every leaf module (plus any container that owns parameters itself, so
that the parameter column adds up to `sum(p.numel() for p in model.parameters())`), in execution order. A
module called several times (torchvision's `Bottleneck.relu` runs three times per block) has one row per call,
each with that call's numbers, like torchinfo; `call` and `calls` tell them apart, and `label` writes the
second call of `layer1.0.relu` as "layer1.0.relu (2)".

Columns and how they are computed:

- `output_shape`: the real output of this call, batch dimension included, e.g. (1, 6, 28, 28);
  `shape_text()` writes it the lecture's way, "28×28×6".
- `params`: parameters the module owns directly, on the row of its first call only (later calls of the same
  module show 0, so the column adds up to the model's parameter count; a parameter shared by several modules
  counts once, at the first module in execution order).
- `macs`: multiply-accumulates of this call for one sample (the batch dimension divided out). Conv: output
  elements × (C_in / groups) × kernel area. Transposed conv: input elements × (C_out / groups) × kernel area.
  Linear: output elements × in_features. Bias additions, normalisation, pooling and activations count 0.
- `receptive_field` and `jump` (per spatial dimension, in input pixels): the standard recurrence
  r_out = r_in + (k − 1)·d·j_in, j_out = j_in·s for convolutions and pooling; element-wise layers keep both.
  Each call continues the state of the recorded call whose output tensor it consumes (the same tensor
  object, so ResNet's in-place `out += identity` continues the main branch, and a downsample branch continues
  the block's input). When the input came from something that is not a module (`torch.flatten`, an
  out-of-place `x + y`, the model's input read a second time), the state of the most recently executed call
  is used: along execution order, an approximation for branching networks (the true receptive field of a sum
  is the larger of its branches'). Once the spatial layout is gone (flatten, Linear on (N, F)), a unit sees
  the whole input: `receptive_field` is the input size (or the previous field, where padded windows already
  reached further) and `jump` is None. Adaptive pooling uses its effective window, exact when the sizes
  divide; transposed convolution and upsampling divide the jump, which may become a fraction.
- `activation`: for Conv/Linear rows, the activation module executed next (skipping normalisation and
  dropout), e.g. "tanh"; for activation rows, the activation itself; otherwise None.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import torch
from torch import nn

from cnnviz.hooks import Call, capture

__all__ = ["LayerRow", "Totals", "shape_text", "summary", "summary_totals"]

Number = int | float

# Class name -> the name the lecture and torch.nn.functional use.
_ACTIVATIONS: dict[type[nn.Module], str] = {
    nn.ReLU: "relu",
    nn.ReLU6: "relu6",
    nn.LeakyReLU: "leaky_relu",
    nn.PReLU: "prelu",
    nn.RReLU: "rrelu",
    nn.ELU: "elu",
    nn.SELU: "selu",
    nn.CELU: "celu",
    nn.GELU: "gelu",
    nn.SiLU: "silu",
    nn.Mish: "mish",
    nn.Sigmoid: "sigmoid",
    nn.Tanh: "tanh",
    nn.Hardtanh: "hardtanh",
    nn.Hardswish: "hardswish",
    nn.Hardsigmoid: "hardsigmoid",
    nn.Softplus: "softplus",
    nn.Softsign: "softsign",
    nn.Softmax: "softmax",
    nn.LogSoftmax: "log_softmax",
    nn.Softmin: "softmin",
    nn.LogSigmoid: "log_sigmoid",
    nn.Tanhshrink: "tanhshrink",
    nn.Threshold: "threshold",
    nn.GLU: "glu",
}
# Layers that sit between a weight layer and its activation without changing which activation it is.
_PASS_THROUGH = (
    nn.modules.batchnorm._NormBase,
    nn.GroupNorm,
    nn.LayerNorm,
    nn.LocalResponseNorm,
    nn.modules.dropout._DropoutNd,
    nn.AlphaDropout,
    nn.Identity,
)
_WEIGHTED = (nn.modules.conv._ConvNd, nn.Linear, nn.Bilinear)
_POOLS = (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd, nn.modules.pooling._LPPoolNd)
_ADAPTIVE = (nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd)


@dataclass(frozen=True)
class LayerRow:
    """One row of the architecture table: one call of one module.

    Attributes:
        name: Module name from `model.named_modules()` ("" for the model itself); the same on every row of a
            module that ran several times (see `call` and `label`).
        kind: Class name, e.g. "Conv2d", "AvgPool2d", "Tanh".
        kernel_size: Per spatial dimension, None for layers without a window.
        stride: Per spatial dimension, None for layers without a window.
        padding: Per spatial dimension, or "same"/"valid" as given to the conv; None without a window.
        dilation: Per spatial dimension, None for layers without a window.
        output_shape: Output of this call, batch included, e.g. (1, 6, 28, 28); None if it never ran.
        activation: Activation that follows a Conv/Linear row (e.g. "tanh"), or the row's own for activation
            rows; None otherwise.
        params: Number of parameters the module owns directly, on its first call's row; 0 on later calls.
        macs: Multiply-accumulates of this call for one sample.
        receptive_field: Input pixels one output unit sees, per spatial dimension; None if it never ran or the
            input has no spatial dimensions.
        jump: Distance in input pixels between neighbouring output units, per spatial dimension; None once the
            spatial layout is gone.
        calls: How many times the module ran in the forward pass (0 if it never ran).
        call: Which call this row is: 1 for the first, 2 for the second, ...; 0 if the module never ran.
    """

    name: str
    kind: str
    kernel_size: tuple[int, ...] | None
    stride: tuple[int, ...] | None
    padding: tuple[int, ...] | str | None
    dilation: tuple[int, ...] | None
    output_shape: tuple[int, ...] | None
    activation: str | None
    params: int
    macs: int
    receptive_field: tuple[Number, ...] | None
    jump: tuple[Number, ...] | None
    calls: int = 1
    call: int = 1

    @property
    def label(self) -> str:
        """The name, with the call's number when the module ran more than once: "layer1.0.relu (2)"."""
        return f"{self.name} ({self.call})" if self.calls > 1 else self.name


@dataclass(frozen=True)
class Totals:
    """Column totals of a summary.

    Attributes:
        params: Sum of the params column (equals the model's parameter count).
        macs: Sum of the macs column, per sample.
        layers: Number of rows (one per call).
        modules: Number of distinct modules among the rows.
    """

    params: int
    macs: int
    layers: int
    modules: int


def summary(model: nn.Module, input_shape: Sequence[int]) -> list[LayerRow]:
    """Builds the per-layer table of `model` for one input size.

    Args:
        model: Any module taking one tensor. Its train/eval flags, gradients and buffers are left as they were
            (it runs once in eval mode under `torch.no_grad()`).
        input_shape: (N, C, H, W) like (1, 1, 32, 32), or (C, H, W), which gets N = 1; any (N, C, *spatial)
            or (N, F) works, but a 3-tuple is always read as (C, H, W).

    Returns:
        One row per call, in execution order; modules that never ran come last, one row each, with
        `output_shape` None and `calls` 0.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    shape = _check_shape(input_shape)
    spatial = shape[2:]

    modules = dict(model.named_modules())
    wanted = [
        name
        for name, module in modules.items()
        if not any(True for _ in module.children()) or any(True for _ in module.parameters(recurse=False))
    ]
    reference: torch.Tensor | None = next(model.parameters(), None)
    if reference is None:
        reference = next(model.buffers(), None)
    dtype = reference.dtype if reference is not None and reference.is_floating_point() else torch.float32
    device = reference.device if reference is not None else torch.device("cpu")

    with capture(model, wanted, store=False) as cap, torch.no_grad():
        model.eval()  # restored by capture(); eval keeps BatchNorm's running statistics untouched
        model(torch.zeros(shape, dtype=dtype, device=device))
    order = cap.order

    states = _receptive_fields(order, modules, spatial)
    counts: dict[str, int] = {}
    for executed in order:
        counts[executed.name] = counts.get(executed.name, 0) + 1
    # Execution order; the modules that never ran afterwards (position None).
    positions: list[tuple[str, int | None]] = [(c.name, p) for p, c in enumerate(order)]
    positions += [(name, None) for name in wanted if name not in counts]
    owned: set[int] = set()
    rows = []
    for name, position in positions:
        module = modules[name]
        call = order[position] if position is not None else None
        params = 0
        if call is None or call.nth == 0:
            for p in module.parameters(recurse=False):
                if id(p) not in owned:
                    owned.add(id(p))
                    params += p.numel()
        kernel, stride, padding, dilation = _window(module, len(spatial))
        rf, jump = states[position] if position is not None else (None, None)
        rows.append(
            LayerRow(
                name=name,
                kind=type(module).__name__,
                kernel_size=kernel,
                stride=stride,
                padding=padding,
                dilation=dilation,
                output_shape=call.output_shape if call is not None else None,
                activation=_activation(module, position, order, modules),
                params=params,
                macs=_macs(module, call) if call is not None else 0,
                receptive_field=rf,
                jump=jump,
                calls=counts.get(name, 0),
                call=call.nth + 1 if call is not None else 0,
            )
        )
    return rows


def summary_totals(rows: Sequence[LayerRow]) -> Totals:
    """Adds up the params and macs columns.

    Args:
        rows: The output of `summary()`.
    """
    return Totals(
        params=sum(r.params for r in rows),
        macs=sum(r.macs for r in rows),
        layers=len(rows),
        modules=len({r.name for r in rows}),
    )


def shape_text(shape: Sequence[int] | None) -> str:
    """Writes an output shape the lecture's way: (1, 6, 28, 28) -> "28×28×6", (1, 120) -> "120".

    Args:
        shape: A shape with the batch dimension first, or None (-> "-").
    """
    if shape is None:
        return "-"
    rest = list(shape[1:])
    if len(rest) >= 2:  # (C, *spatial) -> spatial × C, the (H, W, C) order of the lecture
        rest = rest[1:] + rest[:1]
    return "×".join(str(v) for v in rest) if rest else "1"


# --- helpers ---------------------------------------------------------------------------------------------


def _check_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in input_shape)
        ok = all(v == orig for v, orig in zip(shape, input_shape, strict=True))
    except (TypeError, ValueError):
        ok = False
    if not ok or len(shape) < 2 or any(v <= 0 for v in shape):
        raise ValueError(f"input_shape must be positive integers like (1, 3, 224, 224), got {input_shape!r}")
    return (1, *shape) if len(shape) == 3 else shape


def _per_dim(value: Any, dims: int, default: int) -> tuple[int, ...]:
    if value is None:
        return (default,) * dims
    if isinstance(value, int):
        return (value,) * dims
    return tuple(int(v) for v in value)


def _window(
    module: nn.Module, dims: int
) -> tuple[
    tuple[int, ...] | None, tuple[int, ...] | None, tuple[int, ...] | str | None, tuple[int, ...] | None
]:
    if isinstance(module, nn.modules.conv._ConvNd):
        padding = module.padding if isinstance(module.padding, str) else tuple(module.padding)
        return tuple(module.kernel_size), tuple(module.stride), padding, tuple(module.dilation)
    if isinstance(module, _POOLS) and dims:
        kernel = _per_dim(module.kernel_size, dims, 1)
        stride = _per_dim(module.stride or module.kernel_size, dims, 1)
        padding = _per_dim(getattr(module, "padding", 0), dims, 0)
        dilation = _per_dim(getattr(module, "dilation", 1), dims, 1)
        return kernel, stride, padding, dilation
    return None, None, None, None


def _macs(module: nn.Module, call: Call) -> int:
    out, inp = call.output_shape, call.input_shape
    if out is None or not out:
        return 0
    batch = out[0] if len(out) > 1 else 1
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        if inp is None:
            return 0
        per_input = module.out_channels // module.groups * math.prod(module.kernel_size)
        return math.prod(inp) // max(batch, 1) * per_input
    if isinstance(module, nn.modules.conv._ConvNd):
        per_output = module.in_channels // module.groups * math.prod(module.kernel_size)
        return math.prod(out) // max(batch, 1) * per_output
    if isinstance(module, nn.Linear):
        return math.prod(out) // max(batch, 1) * module.in_features
    if isinstance(module, nn.Bilinear):
        return math.prod(out) // max(batch, 1) * module.in1_features * module.in2_features
    return 0


_State = tuple[tuple[Fraction, ...], tuple[Fraction, ...] | None]


def _receptive_fields(
    order: Sequence[Call], modules: dict[str, nn.Module], spatial: tuple[int, ...]
) -> list[tuple[tuple[Number, ...] | None, tuple[Number, ...] | None]]:
    """Receptive field and jump after every recorded call (see the module docstring for the rules)."""
    dims = len(spatial)
    if dims == 0:
        return [(None, None)] * len(order)
    size = tuple(Fraction(v) for v in spatial)
    start: _State = ((Fraction(1),) * dims, (Fraction(1),) * dims)
    states: list[_State] = []
    last = start
    for call in order:
        base = states[call.source] if call.source is not None else last
        state = _step(modules[call.name], call, base, dims, size)
        states.append(state)
        last = state
    return [(_plain(r), _plain(j) if j is not None else None) for r, j in states]


def _step(module: nn.Module, call: Call, base: _State, dims: int, size: tuple[Fraction, ...]) -> _State:
    rf, jump = base
    out = call.output_shape
    if jump is None:
        return base  # already sees the whole input
    if out is None or len(out) != dims + 2:
        # The spatial layout is gone (flatten, Linear on (N, F)): every unit sees the whole input, or more
        # when the padded windows before already reached further.
        return tuple(max(r, w) for r, w in zip(rf, size, strict=True)), None
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        if len(module.kernel_size) != dims:
            return base
        span = [(k - 1) * d + 1 for k, d in zip(module.kernel_size, module.dilation, strict=True)]
        # Each output unit gathers about ceil(span / stride) neighbouring input units.
        rf = tuple(r + (-(-k // s) - 1) * j for r, k, s, j in zip(rf, span, module.stride, jump, strict=True))
        return rf, tuple(j / s for j, s in zip(jump, module.stride, strict=True))
    if isinstance(module, (nn.modules.conv._ConvNd, *_POOLS)):
        kernel = _per_dim(module.kernel_size, dims, 1)
        stride = _per_dim(module.stride or module.kernel_size, dims, 1)
        dilation = _per_dim(getattr(module, "dilation", 1), dims, 1)
        if not len(kernel) == len(stride) == len(dilation) == dims:
            return base  # e.g. a Conv1d inside a 2-D network: no per-dimension answer
        rf = tuple(r + (k - 1) * d * j for r, k, d, j in zip(rf, kernel, dilation, jump, strict=True))
        return rf, tuple(j * s for j, s in zip(jump, stride, strict=True))
    inp = call.input_shape
    if inp is None or len(inp) != dims + 2:
        return base
    sizes_in, sizes_out = inp[2:], out[2:]
    if isinstance(module, _ADAPTIVE):
        windows: list[int] = []
        steps: list[int | Fraction] = []
        for i, o in zip(sizes_in, sizes_out, strict=True):
            # PyTorch's windows are [floor(k·i/o), ceil((k+1)·i/o)): uniform only when o divides i.
            windows.append(-(-i // o) + (0 if i % o == 0 else 1))
            steps.append(i // o if i % o == 0 else Fraction(i, o))
        adaptive_rf = tuple(r + (k - 1) * j for r, k, j in zip(rf, windows, jump, strict=True))
        return adaptive_rf, tuple(j * s for j, s in zip(jump, steps, strict=True))
    if isinstance(module, nn.Upsample):
        linear = module.mode in ("linear", "bilinear", "bicubic", "trilinear")
        rf = tuple(
            r + j if linear and o > i else r for r, j, i, o in zip(rf, jump, sizes_in, sizes_out, strict=True)
        )
        return rf, tuple(j * Fraction(i, o) for j, i, o in zip(jump, sizes_in, sizes_out, strict=True))
    return base


def _plain(values: tuple[Fraction, ...]) -> tuple[Number, ...]:
    return tuple(int(v) if v.denominator == 1 else float(v) for v in values)


def _activation(
    module: nn.Module, position: int | None, order: Sequence[Call], modules: dict[str, nn.Module]
) -> str | None:
    own = _activation_name(module)
    if own is not None:
        return own
    if position is None or not isinstance(module, _WEIGHTED):
        return None
    for call in order[position + 1 :]:
        following = modules[call.name]
        if isinstance(following, _PASS_THROUGH):
            continue
        return _activation_name(following)
    return None


def _activation_name(module: nn.Module) -> str | None:
    for cls in type(module).__mro__:
        if cls in _ACTIVATIONS:
            return _ACTIVATIONS[cls]
    return None

"""Which input pixels each position of a layer's output grid sees: its receptive-field box.

`receptive_grid(model, layer, x)` runs the model once on `x` (one image is enough; eval mode, no grad) with
hooks on every leaf module and on `layer`, and follows the real dataflow the way
`cnnviz.analysis.summary` does: each module continues the state of the recorded call whose output tensor it
consumes, or, when its input came from something that is not a module (an out-of-place `x + y`,
`torch.flatten`), the state of the leaf module executed last. A container given as `layer` takes the state of
the last leaf executed inside it.

The state is not a size and a jump but, per spatial dimension, the first and last input pixel that every
unit of the tensor depends on (two integer arrays as long as that dimension). Each module maps them exactly:

- convolution and pooling (max, average, LP; any stride, padding, dilation, `ceil_mode`): unit u reads the
  input units u·s − p + t·d (t = 0 … k − 1) that lie inside the input; padding reads nothing, so boxes at the
  border are clipped to the image. "same" padding puts the smaller half first, as PyTorch does;
- transposed convolution: unit u receives from every input unit v with v·s − p + t·d = u;
- adaptive pooling: PyTorch's windows [⌊u·i/o⌋, ⌈(u+1)·i/o⌉);
- `nn.Upsample` with nearest or (bi/tri)linear interpolation: the one or two source units PyTorch reads;
- a module whose output keeps the spatial size of its input (activations, normalisation, dropout, 1×1
  convolutions are covered above): unchanged.

Anything else that changes the spatial size, or a tensor without the input's spatial dimensions (after
`flatten` or a Linear), sees the whole image. For a chain of these modules the box is exact (the tests
compare it with where a NaN placed in each input pixel arrives); at a branch it follows one operand, the
one produced by the module executed last (ResNet's and MobileNetV2's main branch, whose field contains the
skip's), so a sum whose other operand sees further would be under-reported. Circular padding is treated as
zero padding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from cnnviz.hooks import Layer, capture, layer_name

__all__ = ["ReceptiveGrid", "receptive_grid"]

# Per spatial dimension: (first, last) input pixel of every unit, inclusive.
_Span = tuple[np.ndarray, np.ndarray]
_State = tuple[_Span, ...] | None

_POOLS = (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd, nn.modules.pooling._LPPoolNd)
_ADAPTIVE = (nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd)


@dataclass(frozen=True)
class ReceptiveGrid:
    """The receptive-field box of every position of one layer's output.

    Attributes:
        layer: Module name.
        input_size: Spatial size of the model's input, e.g. (224, 224).
        grid_size: Spatial size of the layer's output, e.g. (7, 7); () when it has no spatial layout.
        first: Per input dimension, (grid_size[d],) the first input pixel each unit sees.
        last: Per input dimension, (grid_size[d],) the last input pixel each unit sees (inclusive).
    """

    layer: str
    input_size: tuple[int, ...]
    grid_size: tuple[int, ...]
    first: tuple[np.ndarray, ...]
    last: tuple[np.ndarray, ...]

    def boxes(self, positions: np.ndarray) -> np.ndarray:
        """Boxes of grid positions: (..., D) positions -> (..., 2·D) boxes (y0, x0, y1, x1), half-open.

        Boxes are clipped to the image; for a layer without spatial layout (D = 0) each is the whole image.
        """
        positions = np.asarray(positions, dtype=np.int64)
        lead = positions.shape[:-1]
        if not self.grid_size:
            whole = np.array([0] * len(self.input_size) + list(self.input_size), dtype=np.int64)
            return np.broadcast_to(whole, (*lead, 2 * len(self.input_size))).copy()
        starts = [self.first[d][positions[..., d]] for d in range(len(self.grid_size))]
        stops = [self.last[d][positions[..., d]] + 1 for d in range(len(self.grid_size))]
        return np.stack([*starts, *stops], axis=-1).astype(np.int64)


def receptive_grid(model: nn.Module, layer: Layer, x: Tensor) -> ReceptiveGrid:
    """The receptive-field box of every position of `layer`'s output, along the real dataflow.

    Args:
        model: Any module taking one (N, C, *spatial) tensor; its modes and gradients are left as they were.
        layer: A module name or the module object.
        x: An input the model accepts, e.g. (1, 3, 224, 224); only its first image is run.

    Raises:
        ValueError: unknown layer, or `x` has no spatial dimensions, or the layer never ran.
    """
    name = layer_name(model, layer)
    if not isinstance(x, Tensor) or x.dim() < 3:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"x must be an input of shape (N, C, H, W), got {shape}.")
    modules = dict(model.named_modules())
    leaves = {n for n, m in modules.items() if not any(True for _ in m.children())}
    wanted = [n for n in modules if n in leaves or n == name]
    with capture(model, wanted, store=False) as cap, torch.no_grad():
        model.eval()
        model(x[:1])
    input_size = tuple(int(v) for v in x.shape[2:])
    state: _State = tuple((np.arange(n), np.arange(n)) for n in input_size)
    states: list[_State] = []
    last_leaf = state
    found: _State | None = None
    grid: tuple[int, ...] = ()
    for call in cap.order:
        module = modules[call.name]
        if call.name in leaves:
            base = states[call.source] if call.source is not None else last_leaf
            new = _step(module, call.input_shape, call.output_shape, base, len(input_size))
            last_leaf = new
        else:
            new = last_leaf  # a container: what its last executed leaf produced
        states.append(new)
        if call.name == name:
            found = new
            out = call.output_shape
            grid = tuple(out[2:]) if new is not None and out is not None else ()
    if found is None and not any(c.name == name for c in cap.order):
        raise ValueError(f"layer {name!r} did not run in the model's forward pass.")
    if found is None:
        return ReceptiveGrid(name, input_size, (), (), ())
    return ReceptiveGrid(
        name, input_size, grid, tuple(_frozen(f) for f, _ in found), tuple(_frozen(la) for _, la in found)
    )


def _frozen(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.int64)
    a.setflags(write=False)
    return a


def _per_dim(value: Any, dims: int, default: int) -> tuple[int, ...]:
    if value is None:
        return (default,) * dims
    if isinstance(value, int):
        return (value,) * dims
    return tuple(int(v) for v in value)


def _step(
    module: nn.Module,
    in_shape: tuple[int, ...] | None,
    out_shape: tuple[int, ...] | None,
    base: _State,
    dims: int,
) -> _State:
    if base is None or out_shape is None or len(out_shape) != dims + 2:
        return None
    sizes_out = out_shape[2:]
    if in_shape is None or len(in_shape) != dims + 2:
        return None
    sizes_in = in_shape[2:]
    if any(len(f) != n for (f, _), n in zip(base, sizes_in, strict=True)):
        return None  # the recorded source does not match this input (a branch we cannot follow)
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        if len(module.kernel_size) != dims:
            return None
        padding = _per_dim(module.padding, dims, 0)
        return tuple(
            _transposed(span, n, k, s, p, d)
            for span, n, k, s, p, d in zip(
                base, sizes_out, module.kernel_size, module.stride, padding, module.dilation, strict=True
            )
        )
    if isinstance(module, (nn.modules.conv._ConvNd, *_POOLS)):
        kernel = _per_dim(module.kernel_size, dims, 1)
        stride = _per_dim(module.stride or module.kernel_size, dims, 1)
        dilation = _per_dim(getattr(module, "dilation", 1), dims, 1)
        raw_padding = getattr(module, "padding", 0)
        if raw_padding == "same":
            padding = tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation, strict=True))
        elif raw_padding == "valid":
            padding = (0,) * dims
        else:
            padding = _per_dim(raw_padding, dims, 0)
        if not len(kernel) == len(stride) == len(dilation) == len(padding) == dims:
            return None
        return tuple(
            _window(span, n_in, n_out, k, s, p, d)
            for span, n_in, n_out, k, s, p, d in zip(
                base, sizes_in, sizes_out, kernel, stride, padding, dilation, strict=True
            )
        )
    if isinstance(module, _ADAPTIVE):
        spans = []
        for (first, last), i, o in zip(base, sizes_in, sizes_out, strict=True):
            u = np.arange(o)
            spans.append((first[(u * i) // o], last[-((-(u + 1) * i) // o) - 1]))
        return tuple(spans)
    if isinstance(module, nn.Upsample) and module.mode in ("nearest", "linear", "bilinear", "trilinear"):
        return _upsample(module, base, sizes_in, sizes_out)
    if tuple(sizes_in) == tuple(sizes_out):
        return base
    return None


def _window(span: _Span, n_in: int, n_out: int, k: int, s: int, p: int, d: int) -> _Span:
    first, last = span
    t = np.arange(n_out)[:, None] * s - p + np.arange(k)[None, :] * d  # (n_out, k) input units read
    inside = (t >= 0) & (t < n_in)
    low = np.where(inside, t, n_in).min(axis=1)
    high = np.where(inside, t, -1).max(axis=1)
    empty = high < 0  # a window entirely in the padding reads nothing; give it its nearest unit
    low = np.where(empty, np.clip(t[:, 0], 0, n_in - 1), low)
    high = np.where(empty, low, high)
    return first[low], last[high]


def _transposed(span: _Span, n_out: int, k: int, s: int, p: int, d: int) -> _Span:
    first, last = span
    n_in = len(first)
    numerator = np.arange(n_out)[:, None] + p - np.arange(k)[None, :] * d  # v·s for each tap
    v = numerator // s
    hit = (numerator % s == 0) & (v >= 0) & (v < n_in)
    low = np.where(hit, v, n_in).min(axis=1)
    high = np.where(hit, v, -1).max(axis=1)
    empty = high < 0  # only the bias reaches this unit: give it its nearest input unit
    nearest = np.clip(np.arange(n_out) // max(s, 1), 0, n_in - 1)
    return first[np.where(empty, nearest, low)], last[np.where(empty, nearest, high)]


def _upsample(
    module: nn.Upsample, base: tuple[_Span, ...], sizes_in: Sequence[int], sizes_out: Sequence[int]
) -> _State:
    factors = module.scale_factor
    spans = []
    for d, ((first, last), i, o) in enumerate(zip(base, sizes_in, sizes_out, strict=True)):
        u = np.arange(o, dtype=np.float64)
        if factors is not None and not module.recompute_scale_factor:
            f = factors[d] if isinstance(factors, tuple) else factors
            scale = 1.0 / float(f)
        else:
            scale = i / o
        if module.mode == "nearest":
            src = np.minimum(np.floor(u * scale).astype(np.int64), i - 1)
            spans.append((first[src], last[src]))
            continue
        if module.align_corners:
            pos = u * ((i - 1) / (o - 1)) if o > 1 else np.zeros_like(u)
        else:
            pos = np.maximum((u + 0.5) * scale - 0.5, 0.0)
        low = np.minimum(np.floor(pos).astype(np.int64), i - 1)
        high = np.minimum(low + 1, i - 1)
        spans.append((first[low], last[high]))
    return tuple(spans)

"""Trace one cell of a convolution's feature map back: its receptive field on the input image, the kernel and
the window it saw, and its value written out as a sum.

    tr = trace_cell(model, x, "layer2.0.conv1", channel=5, row=3, col=4)
    tr.value                      # what the layer output at (5, 3, 4), float32 as the network computed it
    tr.bias + tr.partials.sum()   # == tr.total, the same number recomputed in float64, term by term
    tr.receptive_field            # Box(top, left, bottom, right) in input pixels

How each part is found, for any network (not only a chain of convolutions):

- The window and the kernel: a forward hook (`cnnviz.hooks.run_until`) keeps the tensor the convolution
  itself was called with (the previous layer's output, as the conv saw it), which is padded the way the
  conv pads it (zeros, reflect, replicate or circular; "same" included) and cut at the cell's position with
  the conv's stride and dilation. A grouped convolution sees only the input channels of its group.
- The value: the same hook keeps the conv's output, the value the Feature maps page shows (the module's
  last call, when it runs more than once). With `calls` given the pass stops right after that call;
  without, the hook copies both tensors before any later operation can write to them in place.
- The receptive field: the input pixels the cell's value is computed from, found along the real dataflow by
  NaN probes. A NaN placed in the input reaches every value computed from it (NaN · 0 is NaN, and ReLU, max
  pooling, sums and concatenations pass it on), so "does the cell become NaN when rows 0..r are NaN?" has a
  monotone answer, and four binary searches give the exact bounding box, clipped to the image, whatever the
  weights and whatever branches, residual sums or attention the network has. Each probe stops the network
  right after the traced call. Probes run as one batch when no module is in training mode (batch norm in
  training mode would mix the batch), else one by one.
- The gradient support: the input pixels where d value / d pixel is not 0, the pixels that move the value
  for this very image. It lies inside the receptive field; it is smaller where a ReLU is off or max pooling
  picked another pixel, and equal to it on a chain of convolutions and smooth activations.

Tolerance of the sum (`CellTrace.tolerance`): the window and weights are float32 numbers, exactly
representable in float64, so the float64 sum of their products is the exact dot product up to ~1e-16
relative. The network's float32 convolution rounds each of its n = (C_in / groups) · kh · kw + 1 additions,
in whatever order its kernel uses; the classical bound for a sum of n terms in any order is
|error| ≤ n · u · Σ|terms| with u the unit roundoff, plus one rounding of the result. With u = 2⁻²⁴ for
float32 (the dtype's own epsilon for other dtypes, and 2⁻¹⁰ when CUDA convolutions run in TF32) that bound is
what `tolerance` is. Measured on the CPU over 60 random cells of every conv of an untrained resnet18: at most
0.7 u · Σ|terms|, 0.35 % of the bound.

Not yet checked on a GPU: there, cuDNN may pick Winograd or FFT convolutions, which mix neighbouring values
within a tile, so a NaN probe could reach cells that do not depend on it and the box would come out too large
(never too small); the TF32 tolerance is likewise untested.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnviz.analysis.dataflow import check_image_batch
from cnnviz.hooks import Layer, layer_name, run_until
from cnnviz.tensors import on_model_device

__all__ = ["Box", "CellTrace", "trace_cell"]


@dataclass(frozen=True)
class Box:
    """A rectangle of input pixels: rows top..bottom-1, columns left..right-1 (ends exclusive)."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left


@dataclass(frozen=True)
class CellTrace:
    """One output cell of a Conv2d, traced back.

    Attributes:
        layer: the conv's name in `model.named_modules()`.
        channel, row, col: the cell (k, i, j) of the conv's (C_out, H_out, W_out) output.
        value: the conv's output at the cell, as the network computed it (float32 for a float32 model).
        total: `bias + partials.sum()` in float64: the same number recomputed term by term.
        tolerance: how far `value` may honestly be from `total` (see the module docstring).
        bias: the conv's bias for channel k (0.0 without a bias).
        in_channels: (G,) the input channels the kernel reads (all of them, or the channel's group).
        window: (G, kh, kw) the padded input window under the kernel, float64.
        kernel: (G, kh, kw) the trained weights of output channel k, float64.
        partials: (G,) Σ window · kernel per input channel.
        rows, cols: (kh,), (kw,) the input rows/columns each kernel position reads; outside 0..H-1 / 0..W-1
            is padding.
        inside: (kh, kw) True where the window lies on the input, False on padding.
        padding_mode: "zeros", "reflect", "replicate" or "circular".
        groups: the conv's groups (1: every input channel; more: only the channel's group).
        receptive_field: the input pixels the cell is computed from (exact, clipped); None if none.
        support: the input pixels with a non-zero gradient of the cell, for this input; None if none.
        input_size: (H, W) of the model's input.
        conv_input_size: (H, W) of the conv's own input.
        output_size: (H_out, W_out) of the conv's output.
    """

    layer: str
    channel: int
    row: int
    col: int
    value: float
    total: float
    tolerance: float
    bias: float
    in_channels: np.ndarray = field(repr=False)
    window: np.ndarray = field(repr=False)
    kernel: np.ndarray = field(repr=False)
    partials: np.ndarray = field(repr=False)
    rows: np.ndarray = field(repr=False)
    cols: np.ndarray = field(repr=False)
    inside: np.ndarray = field(repr=False)
    padding_mode: str
    groups: int
    receptive_field: Box | None
    support: Box | None
    input_size: tuple[int, int]
    conv_input_size: tuple[int, int]
    output_size: tuple[int, int]


def trace_cell(
    model: nn.Module, x: Tensor, layer: Layer, channel: int, row: int, col: int, *, calls: int | None = None
) -> CellTrace:
    """Traces the cell (channel, row, col) of the Conv2d `layer` back to its input window and input pixels.

    Args:
        model: any module; it runs on its own device and `x` is moved there.
        x: one preprocessed image, (1, C, H, W).
        layer: a Conv2d of `model`, by name or as the module object.
        channel, row, col: the output cell.
        calls: how many times `layer` runs in one forward pass, when the caller knows (the Feature maps index
            does): the pass then stops after the last call instead of running the rest of the model.

    Raises:
        ValueError: `x` is not one image, `layer` is not a Conv2d of `model` or never ran, or the cell lies
            outside the conv's output (each sentence names what is wrong).
    """
    check_image_batch(x)
    name = layer_name(model, layer)
    conv = dict(model.named_modules())[name]
    if not isinstance(conv, nn.Conv2d):
        raise ValueError(
            f"layer {name!r} is a {type(conv).__name__}, not a Conv2d: tracing a cell works on convolution "
            "layers."
        )
    x = on_model_device(model, x)
    # The model's lock is held for one pass at a time (this one, then each probe's), so other sessions'
    # passes can run in between.
    with torch.no_grad():
        conv_input, out, ran = run_until(model, x, conv, calls)
    if ran == 0 or conv_input is None:
        raise ValueError(f"layer {name!r} did not run in the forward pass, so none of its cells exist.")
    # the last call's input and output, as the conv saw them; out is (1, C_out, H_out, W_out)
    c_out, h_out, w_out = out.shape[1:]
    for what, given, size in (("channel", channel, c_out), ("row", row, h_out), ("col", col, w_out)):
        if not isinstance(given, int | np.integer) or not 0 <= given < size:
            raise ValueError(
                f"{what} must be an integer from 0 to {size - 1} for layer {name!r} (output "
                f"{c_out}×{h_out}×{w_out}), got {given!r}."
            )
    channel, row, col = int(channel), int(row), int(col)
    arithmetic = _dot_product(conv, conv_input, channel, row, col)
    value = float(out[0, channel, row, col].item())
    support = _gradient_support(model, x, conv, ran, channel, row, col)
    field_box = _nan_box(model, x, conv, ran, (channel, row, col), support)
    return CellTrace(
        layer=name,
        channel=channel,
        row=row,
        col=col,
        value=value,
        input_size=(int(x.shape[2]), int(x.shape[3])),
        conv_input_size=(int(conv_input.shape[2]), int(conv_input.shape[3])),
        output_size=(int(h_out), int(w_out)),
        receptive_field=field_box,
        support=support,
        padding_mode=conv.padding_mode,
        groups=conv.groups,
        **arithmetic,
    )


def _dot_product(conv: nn.Conv2d, inp: Tensor, k: int, i: int, j: int) -> dict[str, Any]:
    """The window, kernel, per-channel partial sums and their total for output cell (k, i, j), in float64."""
    kh, kw = conv.kernel_size
    sh, sw = conv.stride
    dh, dw = conv.dilation
    # (left, right, top, bottom): what nn.Conv2d itself pads with, "same" (odd total: one more right) too.
    left, _, top, _ = (int(p) for p in conv._reversed_padding_repeated_twice)
    mode = "constant" if conv.padding_mode == "zeros" else conv.padding_mode
    padded = F.pad(inp.double(), tuple(conv._reversed_padding_repeated_twice), mode=mode)
    per_group = conv.in_channels // conv.groups
    group = k // (conv.out_channels // conv.groups)
    first = group * per_group
    window = padded[0, first : first + per_group, i * sh : i * sh + dh * (kh - 1) + 1 : dh][
        :, :, j * sw : j * sw + dw * (kw - 1) + 1 : dw
    ]
    kernel = conv.weight[k].detach().double()
    products = window * kernel
    partials = products.sum(dim=(1, 2))
    bias = float(conv.bias[k].detach().double().item()) if conv.bias is not None else 0.0
    total = float(partials.sum().item()) + bias
    height, width = inp.shape[2], inp.shape[3]
    rows = i * sh - top + dh * np.arange(kh)
    cols = j * sw - left + dw * np.arange(kw)
    inside = ((rows >= 0) & (rows < height))[:, None] & ((cols >= 0) & (cols < width))[None, :]
    terms = per_group * kh * kw + (conv.bias is not None)
    magnitude = float(products.abs().sum().item()) + abs(bias)
    unit = _unit_roundoff(conv.weight)
    return {
        "total": total,
        "tolerance": (terms + 1) * unit * magnitude + unit * abs(total),
        "bias": bias,
        "in_channels": _frozen(np.arange(first, first + per_group)),
        "window": _frozen(window.cpu().numpy()),
        "kernel": _frozen(kernel.cpu().numpy()),
        "partials": _frozen(partials.cpu().numpy()),
        "rows": _frozen(rows),
        "cols": _frozen(cols),
        "inside": _frozen(inside),
    }


def _unit_roundoff(weight: Tensor) -> float:
    if weight.is_cuda and weight.dtype == torch.float32 and torch.backends.cudnn.allow_tf32:
        return 2.0**-10  # TF32 keeps 10 mantissa bits of each factor
    return float(torch.finfo(weight.dtype).eps) / 2 if weight.is_floating_point() else 2.0**-53


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


def _run_until(model: nn.Module, x: Tensor, conv: nn.Conv2d, calls: int) -> Tensor:
    """Runs `model` on `x` until the `calls`-th call of `conv` and returns that call's output."""
    _, out, ran = run_until(model, x, conv, calls)
    if ran < calls:
        raise ValueError("the traced layer ran fewer times on the probe than on the image.")
    return out


def _gradient_support(
    model: nn.Module, x: Tensor, conv: nn.Conv2d, calls: int, k: int, i: int, j: int
) -> Box | None:
    """The box of input pixels where d output[k, i, j] / d pixel is not 0 (stopped right after the call, so
    no later in-place operation touches the output)."""
    leaf = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = _run_until(model, leaf, conv, calls)
        if not out.requires_grad:
            return None
        (grad,) = torch.autograd.grad(out[0, k, i, j], leaf, allow_unused=True)
    if grad is None:
        return None
    return _box(grad[0].abs().sum(dim=0) != 0)


def _box(mask: Tensor) -> Box | None:
    rows = torch.nonzero(mask.any(dim=1)).flatten()
    cols = torch.nonzero(mask.any(dim=0)).flatten()
    if rows.numel() == 0:
        return None
    return Box(int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)


def _nan_box(
    model: nn.Module, x: Tensor, conv: nn.Conv2d, calls: int, cell: tuple[int, int, int], hint: Box | None
) -> Box | None:
    """The bounding box of the input pixels output[k, i, j] is computed from, by NaN probes (see above).

    `hint`: a box known to lie inside it (the gradient support), or None.
    """
    k, i, j = cell
    height, width = int(x.shape[2]), int(x.shape[3])
    batched = not any(m.training for m in model.modules())

    def reached(bands: list[tuple[str, int, int]]) -> list[bool]:
        """For each (axis, start, stop): does a NaN band over those rows/columns reach the cell?"""
        probes = x.detach().repeat(len(bands), 1, 1, 1)
        for n, (axis, start, stop) in enumerate(bands):
            if axis == "row":
                probes[n, :, start:stop, :] = math.nan
            else:
                probes[n, :, :, start:stop] = math.nan
        with torch.no_grad():
            if batched:
                cells = _run_until(model, probes, conv, calls)[:, k, i, j]
            else:
                cells = torch.stack([_run_until(model, p[None], conv, calls)[0, k, i, j] for p in probes])
        return [bool(v) for v in torch.isnan(cells).tolist()]

    if hint is None:
        if not reached([("row", 0, height)])[0]:
            return None
        hint = Box(height - 1, width - 1, 1, 1)  # brackets nothing yet: the searches span the whole image
    # For each edge, [lo, hi] brackets the answer, and each round asks all open searches in one batch:
    #   top: the smallest r with NaN in rows 0..r reaching the cell; bottom: the largest r with rows r..H-1.
    # The gradient support lies inside the field, so it bounds each search; the first round asks whether the
    # field is exactly the support, which it is on most networks (then one batch settles all four edges).
    axis = {"top": "row", "bottom": "row", "left": "col", "right": "col"}
    searches: dict[str, list[int]] = {
        "top": [0, hint.top],
        "bottom": [hint.bottom - 1, height - 1],
        "left": [0, hint.left],
        "right": [hint.right - 1, width - 1],
    }
    first = True
    while any(lo < hi for lo, hi in searches.values()):
        open_ = [(edge, s) for edge, s in searches.items() if s[0] < s[1]]
        bands = []
        for edge, (lo, hi) in open_:
            size = height if axis[edge] == "row" else width
            if edge in ("top", "left"):
                mid = hi - 1 if first else (lo + hi) // 2
                bands.append((axis[edge], 0, mid + 1))
            else:
                mid = lo + 1 if first else (lo + hi + 1) // 2
                bands.append((axis[edge], mid, size))
        first = False
        answers = reached(bands)
        for (edge, s), hit, (_, start, stop) in zip(open_, answers, bands, strict=True):
            if edge in ("top", "left"):
                s[:] = (s[0], stop - 1) if hit else (stop, s[1])
            else:
                s[:] = (start, s[1]) if hit else (s[0], start - 1)
    return Box(searches["top"][0], searches["left"][0], searches["bottom"][0] + 1, searches["right"][0] + 1)

"""Pooling: max, average or min over each window, channel by channel, and global average pooling.

`pool2d` pools as PyTorch does and keeps, for max and min, which input position won each window;
`PoolResult.step(k)` shows one window and the value taken from it. `global_average_pool` squeezes each
channel to its mean (SENet's squeeze).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from cnnviz.analysis.conv._arrays import _frozen, _image, _int, _t
from cnnviz.analysis.conv.errors import ConvSettingsError
from cnnviz.analysis.conv.size import pool_output_size

__all__ = ["POOL_KINDS", "PoolKind", "PoolResult", "PoolStep", "global_average_pool", "pool2d"]

PoolKind = Literal["max", "avg", "min"]

POOL_KINDS: tuple[str, ...] = ("max", "avg", "min")


@dataclass(frozen=True, eq=False)
class PoolStep:
    """One output cell of a pooling on one channel.

    Attributes:
        index: k, the cell's place in row-major order.
        channel: The channel.
        row: Output row.
        col: Output column.
        rows: (F,) rows of the padded input the window covers (may pass the padded edge in ceil mode).
        cols: (F,) columns of the padded input the window covers.
        window: (F, F) the values; padding reads as −inf (max), +inf (min) or 0 (avg), as PyTorch treats it.
        inside: (F, F) True where the window lies on the original input.
        in_bounds: (F, F) True where the window lies on the input or its padding (counted by average pooling).
        value: The pooled value, from PyTorch.
        winner: (row, col) in the input of the value max/min pooling picked (PyTorch's index); None for avg
            and for a window that covers padding only.
        divisor: What average pooling divides the window's sum by; None for max/min.
    """

    index: int
    channel: int
    row: int
    col: int
    rows: np.ndarray
    cols: np.ndarray
    window: np.ndarray
    inside: np.ndarray
    in_bounds: np.ndarray
    value: float
    winner: tuple[int, int] | None
    divisor: int | None


@dataclass(frozen=True, eq=False)
class PoolResult:
    """Max, average or min pooling of a (C, H, W) input (a (H, W) matrix is stored with C = 1).

    Attributes:
        kind: "max", "avg" or "min".
        input: (C, H, W) the input.
        kernel_size: F.
        stride: S.
        padding: P.
        dilation: Spacing of the window taps (max/min only).
        ceil_mode: Whether the size was rounded up.
        output: (C, Ho, Wo) the pooled map (`F.max_pool2d`, `F.avg_pool2d`, or −`F.max_pool2d`(−x) for min).
        winner_index: (C, Ho, Wo) flat index into H × W of each chosen value (`return_indices`); −1 where a
            dilated window covers padding only (the output is then −inf/+inf); None for avg.
        winner_rows: (C, Ho, Wo) input row of each chosen value (−1: none); None for avg.
        winner_cols: (C, Ho, Wo) input column of each chosen value (−1: none); None for avg.
        fill_value: What padding reads as: −inf (max), +inf (min), 0 (avg).
    """

    kind: str
    input: np.ndarray
    kernel_size: int
    stride: int
    padding: int
    dilation: int
    ceil_mode: bool
    output: np.ndarray
    winner_index: np.ndarray | None
    winner_rows: np.ndarray | None
    winner_cols: np.ndarray | None
    fill_value: float

    @property
    def n_steps(self) -> int:
        """Output cells per channel, Ho × Wo."""
        return int(self.output.shape[1] * self.output.shape[2])

    def step(self, k: int, channel: int = 0) -> PoolStep:
        """The k-th output cell (row-major) of one channel: the window and the value taken from it.

        Raises:
            IndexError: k or channel is out of range.
        """
        k, channel = _int(k, "step"), _int(channel, "channel")
        if not 0 <= k < self.n_steps:
            raise IndexError(f"Step {k} is outside 0..{self.n_steps - 1}.")
        if not 0 <= channel < self.input.shape[0]:
            raise IndexError(f"Channel {channel} is outside 0..{self.input.shape[0] - 1}.")
        row, col = divmod(k, self.output.shape[2])
        f, s, d, p = self.kernel_size, self.stride, self.dilation, self.padding
        h, w = self.input.shape[1:]
        rows = row * s + d * np.arange(f)
        cols = col * s + d * np.arange(f)
        in_r, in_c = rows - p, cols - p
        inside = ((in_r >= 0) & (in_r < h))[:, None] & ((in_c >= 0) & (in_c < w))[None, :]
        in_bounds = (rows < h + 2 * p)[:, None] & (cols < w + 2 * p)[None, :]
        window = np.full((f, f), self.fill_value)
        src = self.input[channel][np.clip(in_r, 0, h - 1)[:, None], np.clip(in_c, 0, w - 1)[None, :]]
        window[inside] = src[inside]
        winner = None
        if (
            self.winner_rows is not None
            and self.winner_cols is not None
            and self.winner_rows[channel, row, col] >= 0
        ):
            winner = (int(self.winner_rows[channel, row, col]), int(self.winner_cols[channel, row, col]))
        return PoolStep(
            index=k,
            channel=channel,
            row=row,
            col=col,
            rows=_frozen(rows),
            cols=_frozen(cols),
            window=_frozen(window),
            inside=_frozen(inside),
            in_bounds=_frozen(in_bounds),
            value=float(self.output[channel, row, col]),
            winner=winner,
            divisor=int(in_bounds.sum()) if self.kind == "avg" else None,
        )


def pool2d(
    x: npt.ArrayLike,
    kind: PoolKind | str = "max",
    kernel_size: int = 2,
    stride: int | None = None,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> PoolResult:
    """Max, average or min pooling, as PyTorch computes it.

    Min pooling has no PyTorch function; it is −max_pool2d(−x), whose padding reads as +inf. Average pooling
    counts padding zeros in the divisor (`count_include_pad=True`, PyTorch's default).

    Args:
        x: (H, W) matrix or (C, H, W) image; channels are pooled separately.
        kind: "max", "avg" or "min".
        kernel_size: F, the window size.
        stride: S; None means S = F.
        padding: P; at most F // 2 (PyTorch's rule).
        dilation: Spacing of the window taps; max/min only.
        ceil_mode: Round the output size up (see `pool_output_size`).

    Returns:
        The pooled map and, for max/min, where each value came from.

    Raises:
        ConvSettingsError: for impossible settings.
    """
    if kind not in POOL_KINDS:
        raise ConvSettingsError("pool_kind", choices=", ".join(POOL_KINDS), value=kind)
    img = _image(x)
    f = _int(kernel_size, "kernel size")
    s = f if stride is None else _int(stride, "stride")
    p, d = _int(padding, "padding"), _int(dilation, "dilation")
    h, w = img.shape[1:]
    pool_output_size(h, f, s, p, d, bool(ceil_mode))
    pool_output_size(w, f, s, p, d, bool(ceil_mode))
    if kind == "avg" and d != 1:
        raise ConvSettingsError("avg_dilation", value=d)
    xt = _t(img)[None]
    index: np.ndarray | None = None
    rows_: np.ndarray | None = None
    cols_: np.ndarray | None = None
    if kind == "avg":
        out = F.avg_pool2d(xt, f, s, p, ceil_mode=bool(ceil_mode))[0]
        fill = 0.0
    else:
        sign = 1.0 if kind == "max" else -1.0
        out, idx = F.max_pool2d(sign * xt, f, s, p, d, ceil_mode=bool(ceil_mode), return_indices=True)
        out, index = sign * out[0], idx[0].numpy().copy()
        # With dilation a window can hold padding only: PyTorch then gives ∓inf and an index that points
        # nowhere; the input is finite, so an infinite value means "no winner" (−1).
        index[~torch.isfinite(out).numpy()] = -1
        rows_, cols_ = np.divmod(index, w)
        rows_[index < 0] = -1
        cols_[index < 0] = -1
        fill = -math.inf * sign
    return PoolResult(
        kind=kind,
        input=_frozen(img),
        kernel_size=f,
        stride=s,
        padding=p,
        dilation=d,
        ceil_mode=bool(ceil_mode),
        output=_frozen(out.numpy()),
        winner_index=None if index is None else _frozen(index),
        winner_rows=None if rows_ is None else _frozen(rows_),
        winner_cols=None if cols_ is None else _frozen(cols_),
        fill_value=fill,
    )


def global_average_pool(x: npt.ArrayLike) -> np.ndarray:
    """Squeeze each channel to its mean (global average pooling, SENet's squeeze).

    Args:
        x: (C, H, W) feature maps (a (H, W) matrix counts as C = 1).

    Returns:
        (C,) float64, equal to `F.adaptive_avg_pool2d(x, 1)`.
    """
    img = _image(x, "feature map")
    return _frozen(F.adaptive_avg_pool2d(_t(img), 1).reshape(-1).numpy())

"""Padding: the border added around the input before the filter slides, in `nn.Conv2d`'s four modes.

"zeros" adds zeros; "reflect" mirrors the input about its edge pixel; "replicate" repeats the edge pixel;
"circular" wraps around to the other side. `_pad` pads as PyTorch does (`F.pad`), and `_source_index` says
which input pixel each padded position copies, so a page can show where a border value came from.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch.nn.functional as F

from cnnviz.analysis.conv._arrays import _t
from cnnviz.analysis.conv.errors import ConvSettingsError

__all__ = ["PADDING_MODES", "PaddingMode"]

PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]

PADDING_MODES: tuple[str, ...] = ("zeros", "reflect", "replicate", "circular")


def _check_padding_mode(mode: str, padding: int, rows: int, cols: int) -> None:
    if mode not in PADDING_MODES:
        raise ConvSettingsError("padding_mode", choices=", ".join(PADDING_MODES), value=mode)
    if mode == "reflect" and padding >= min(rows, cols):
        raise ConvSettingsError("reflect_padding", padding=padding, rows=rows, cols=cols)
    if mode == "circular" and padding > min(rows, cols):
        raise ConvSettingsError("circular_padding", padding=padding, rows=rows, cols=cols)


def _pad(x: np.ndarray, padding: int, mode: str) -> np.ndarray:
    """(C, H, W) -> (C, H + 2P, W + 2P) with `F.pad`, the way `nn.Conv2d(padding_mode=...)` pads."""
    if padding == 0:
        return x.copy()
    torch_mode = "constant" if mode == "zeros" else mode
    return F.pad(_t(x)[None], (padding,) * 4, mode=torch_mode)[0].numpy()


def _source_index(n: int, size: int, padding: int, mode: str) -> np.ndarray:
    """For each of `n` padded positions on an axis, the input position its value comes from (−1: a zero)."""
    j = np.arange(n) - padding
    if mode == "zeros":
        return np.where((j >= 0) & (j < size), j, -1)
    if mode == "replicate":
        return np.clip(j, 0, size - 1)
    if mode == "circular":
        return np.mod(j, size)
    # reflect: mirror about the edge pixel without repeating it (padding < size, so one fold suffices)
    j = np.abs(j)
    return np.where(j > size - 1, 2 * (size - 1) - j, j)

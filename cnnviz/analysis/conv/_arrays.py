"""Arrays in, arrays out: the checks and conversions every part of `cnnviz.analysis.conv` shares.

Inputs are checked once, here, and turned into float64 numpy arrays; results leave as read-only arrays
(`_frozen`), so a cached result cannot be changed in place; `_t` hands an array to `torch.nn.functional`.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from cnnviz.analysis.conv.errors import ConvSettingsError

__all__: list[str] = []  # private helpers of the package

# The settings a sliding window has, by the name the error sentences use: (error key, smallest allowed value).
_SMALLEST: dict[str, tuple[str, int]] = {
    "input size": ("input_size", 1),
    "kernel size": ("kernel_size", 1),
    "stride": ("stride", 1),
    "padding": ("padding", 0),
    "dilation": ("dilation", 1),
}


def _int(value: Any, name: str) -> int:
    # bool is an int subclass, but `stride=True` is a mistake rather than a stride of 1.
    if isinstance(value, bool):
        raise ConvSettingsError("not_integer", name=name, value=value)
    try:
        return operator.index(value)
    except TypeError:
        raise ConvSettingsError("not_integer", name=name, value=value) from None


def _settings(*named: tuple[Any, str]) -> tuple[int, ...]:
    """Window settings as whole numbers, e.g. `_settings((s, "stride"), (p, "padding"))`.

    Every value is made a whole number first, then each is checked against its smallest allowed value, in the
    order given, so the first bad argument is the one named.
    """
    values = tuple(_int(value, name) for value, name in named)
    for value, (_, name) in zip(values, named, strict=True):
        key, smallest = _SMALLEST[name]
        if value < smallest:
            raise ConvSettingsError(key, value=value)
    return values


def _count(value: Any, name: str) -> int:
    n = _int(value, name)
    if n < 1:
        raise ConvSettingsError("count", name=name, value=n)
    return n


def _array(value: npt.ArrayLike, name: str, ndims: Sequence[int], expected: str) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConvSettingsError("ndim", name=name, expected=expected, shape="(not numeric)") from None
    if arr.size == 0:
        raise ConvSettingsError("empty", name=name)
    if arr.ndim not in ndims:
        raise ConvSettingsError("ndim", name=name, expected=expected, shape=tuple(arr.shape))
    if not np.isfinite(arr).all():
        raise ConvSettingsError("not_finite", name=name)
    return arr


def _image(x: npt.ArrayLike, name: str = "input") -> np.ndarray:
    """(H, W) or (C, H, W) -> (C, H, W) float64."""
    arr = _array(x, name, (2, 3), "a 2-D (H, W) or 3-D (C, H, W) array")
    return arr[None] if arr.ndim == 2 else arr


def _square(kernel: np.ndarray) -> int:
    rows, cols = kernel.shape[-2:]
    if rows != cols:
        raise ConvSettingsError("kernel_not_square", rows=rows, cols=cols)
    return int(rows)


def _biases(bias: npt.ArrayLike | None, n: int) -> np.ndarray:
    """(n,) biases, one per filter or class; zeros when None."""
    if bias is None:
        return np.zeros(n)
    b = _array(bias, "bias", (0, 1), "a 1-D array").reshape(-1)
    if b.shape != (n,):
        raise ConvSettingsError("bias_shape", expected=n, shape=tuple(b.shape))
    return b


def _frozen(arr: np.ndarray) -> np.ndarray:
    # Results are frozen dataclasses; read-only arrays keep a cached result from being changed in place.
    arr = np.ascontiguousarray(arr)
    arr.setflags(write=False)
    return arr


def _t(arr: np.ndarray) -> torch.Tensor:
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    # torch warns about (and may not honour) read-only memory, e.g. one of our own frozen results
    return torch.from_numpy(arr if arr.flags.writeable else arr.copy())

"""Transposed convolution by hand, stamp by stamp, checked against PyTorch: the upsampling a segmenter's
decoder uses (`transposed_conv`, `transposed_example`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import torch
from torch.nn import functional as F

from cnnviz.analysis.conv import ConvSettingsError, transposed_output_size

__all__ = ["MAX_TRANSPOSED_INPUT", "TransposedConv", "transposed_conv", "transposed_example"]


# ------------------------------------------------------------------------------------ transposed convolution

MAX_TRANSPOSED_INPUT = 6
"""Largest input side of the transposed-convolution demo (its matrices must stay readable)."""


@dataclass(frozen=True)
class TransposedConv:
    """A transposed convolution (the upsampling a decoder uses), by hand and by PyTorch.

    Every input value stamps a copy of the kernel, scaled by that value, into the output at (row·S, col·S);
    overlapping stamps add up; then P rows and columns are cut from each side. That is
    `torch.nn.functional.conv_transpose2d` with one channel, and its output side is O = (I − 1)S − 2P + F.

    Attributes:
        input: `(I, I)`.
        kernel: `(F, F)`.
        stride: S.
        padding: P.
        stamps: `(I, I, Q, Q)` with Q = (I − 1)S + F: input[r, c] · kernel placed at (r·S, c·S).
        full: `(Q, Q)`, the sum of all stamps, before the padding is cut off.
        output: `(O, O)`, `full` without P rows/columns on each side: the result by hand.
        torch_output: `(O', O')` from `F.conv_transpose2d`.
        size: O from the formula (`cnnviz.analysis.conv.transposed_output_size`).
    """

    input: np.ndarray = field(repr=False)
    kernel: np.ndarray = field(repr=False)
    stride: int
    padding: int
    stamps: np.ndarray = field(repr=False)
    full: np.ndarray = field(repr=False)
    output: np.ndarray = field(repr=False)
    torch_output: np.ndarray = field(repr=False)
    size: int

    @property
    def matches(self) -> bool:
        """Whether the hand computation, PyTorch and the formula agree (shape and values)."""
        return self.output.shape == self.torch_output.shape == (self.size, self.size) and bool(
            np.allclose(self.output, self.torch_output)
        )


def _square(value: npt.ArrayLike, name: str) -> np.ndarray:
    arr = np.array(value, dtype=np.float64)  # a copy: the caller's array is never frozen
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.size == 0:
        raise ConvSettingsError("ndim", name=name, expected="a non-empty square matrix", shape=arr.shape)
    if not np.isfinite(arr).all():
        raise ConvSettingsError("not_finite", name=name)
    return arr


def transposed_conv(
    x: npt.ArrayLike, kernel: npt.ArrayLike, stride: int = 2, padding: int = 0
) -> TransposedConv:
    """A one-channel transposed convolution computed stamp by stamp and checked against PyTorch.

    Args:
        x: `(I, I)` input.
        kernel: `(F, F)` kernel.
        stride: S, the spacing of the stamps in the output (the upsampling factor).
        padding: P, rows and columns cut from each side of the result.

    Raises:
        ConvSettingsError: a matrix is not square or not finite, the input is larger than
            `MAX_TRANSPOSED_INPUT`, or the settings give an output below 1 pixel (the sentence names the
            setting).
    """
    inp = _square(x, "input")
    ker = _square(kernel, "kernel")
    i, f = inp.shape[0], ker.shape[0]
    if i > MAX_TRANSPOSED_INPUT:
        raise ConvSettingsError("image_size", maximum=MAX_TRANSPOSED_INPUT, value=i)
    size = transposed_output_size(i, f, stride, padding)  # validates stride/padding, raises if O < 1
    q = (i - 1) * stride + f
    stamps = np.zeros((i, i, q, q))
    for r in range(i):
        for c in range(i):
            stamps[r, c, r * stride : r * stride + f, c * stride : c * stride + f] = inp[r, c] * ker
    full = stamps.sum(axis=(0, 1))
    output = full[padding : q - padding, padding : q - padding]
    torch_out = F.conv_transpose2d(
        torch.from_numpy(inp)[None, None], torch.from_numpy(ker)[None, None], stride=stride, padding=padding
    )[0, 0].numpy()
    frozen = []
    for arr in (inp, ker, stamps, full, output.copy(), torch_out.copy()):
        arr.flags.writeable = False
        frozen.append(arr)
    return TransposedConv(
        input=frozen[0],
        kernel=frozen[1],
        stride=stride,
        padding=padding,
        stamps=frozen[2],
        full=frozen[3],
        output=frozen[4],
        torch_output=frozen[5],
        size=size,
    )


def transposed_example(
    input_size: int, kernel_size: int, kernel: str = "ones"
) -> tuple[np.ndarray, np.ndarray]:
    """A small input `1, 2, …, I²` and a kernel to try transposed convolution on.

    Args:
        input_size: I.
        kernel_size: F.
        kernel: "ones" (every stamp is its input value, so overlaps show as sums) or "counting" (1, 2, …, F²,
            so each stamp's position in the output is readable).

    Raises:
        ConvSettingsError: a size below 1, or `kernel` is not "ones" or "counting".
    """
    for value, name in ((input_size, "input size"), (kernel_size, "kernel size")):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ConvSettingsError("count", name=name, value=value)
    if kernel not in ("ones", "counting"):
        raise ConvSettingsError("preset_unknown", value=kernel, choices="ones, counting")
    x = np.arange(1, input_size * input_size + 1, dtype=np.float64).reshape(input_size, input_size)
    if kernel == "ones":
        k = np.ones((kernel_size, kernel_size))
    else:
        k = np.arange(1, kernel_size * kernel_size + 1, dtype=np.float64).reshape(kernel_size, kernel_size)
    return x, k

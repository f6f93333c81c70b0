"""Feature map sizes: the lecture's O = (I + 2P − F) / S + 1, worked through with the numbers filled in.

`conv_output_size`, `pool_output_size` and `transposed_output_size` give the size along one axis exactly as
PyTorch computes it; `size_formula` shows the working (and when S does not divide, what is left uncovered);
`lecture_quiz` is the lecture's worked example; `input_coverage` counts how often each input pixel is read,
which is why padding exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from cnnviz.analysis.conv._arrays import _frozen, _int, _settings
from cnnviz.analysis.conv.errors import ConvSettingsError

__all__ = [
    "LectureQuiz",
    "SizeFormula",
    "conv_output_size",
    "input_coverage",
    "lecture_quiz",
    "pool_output_size",
    "size_formula",
    "transposed_output_size",
]


def _check_common(i: Any, f: Any, s: Any, p: Any, d: Any) -> tuple[int, int, int, int, int]:
    i, f, s, p, d = _settings(
        (i, "input size"), (f, "kernel size"), (s, "stride"), (p, "padding"), (d, "dilation")
    )
    return i, f, s, p, d


def _too_large(i: int, f: int, p: int, d: int) -> ConvSettingsError:
    return ConvSettingsError(
        "kernel_too_large", kernel=f, span=d * (f - 1) + 1, dilation=d, padded=i + 2 * p, size=i, padding=p
    )


def _check_fits(i: int, f: int, p: int, d: int) -> None:
    if d * (f - 1) + 1 > i + 2 * p:
        raise _too_large(i, f, p, d)


def conv_output_size(i: int, f: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """Feature map size of a convolution along one axis, as PyTorch computes it.

    O = ⌊(I + 2P − d(F − 1) − 1) / S⌋ + 1; for d = 1 the lecture's O = (I + 2P − F) / S + 1, rounded down.

    Args:
        i: Input size I.
        f: Kernel (filter) size F.
        s: Stride S.
        p: Padding P on each side.
        d: Dilation (spacing between kernel taps).

    Returns:
        The output size O.

    Raises:
        ConvSettingsError: stride or dilation below 1, negative padding, or a kernel larger than the padded
            input.
    """
    i, f, s, p, d = _check_common(i, f, s, p, d)
    _check_fits(i, f, p, d)
    return (i + 2 * p - d * (f - 1) - 1) // s + 1


def pool_output_size(
    i: int, f: int, s: int | None = None, p: int = 0, d: int = 1, ceil_mode: bool = False
) -> int:
    """Output size of a max/average pooling along one axis, as PyTorch computes it.

    Like `conv_output_size`, but the stride defaults to the kernel size, padding may be at most half the
    kernel, and with `ceil_mode` the division rounds up as long as the last window starts inside the input or
    its left padding.

    Args:
        i: Input size I.
        f: Window size F.
        s: Stride S; `None` means S = F (PyTorch's default).
        p: Padding P on each side.
        d: Dilation (max pooling only in PyTorch).
        ceil_mode: Round the division up instead of down.

    Returns:
        The output size O.

    Raises:
        ConvSettingsError: for impossible settings (see `ERROR_MESSAGES`).
    """
    i, f, s, p, d = _check_common(i, f, f if s is None else s, p, d)
    if p > f // 2:
        raise ConvSettingsError("pool_padding", padding=p, kernel=f)
    numerator = i + 2 * p - d * (f - 1) - 1
    if ceil_mode:
        out = -(-numerator // s) + 1
        # PyTorch drops a last window that would start in the right padding only.
        if (out - 1) * s >= i + p:
            out -= 1
    else:
        out = numerator // s + 1
    if out < 1 and p == 0 and d == 1:
        # Plain pooling (the lecture's) has no padding or dilation to name: the window is too big, that's all.
        raise ConvSettingsError("pool_too_large", kernel=f, size=i)
    if out < 1:
        raise _too_large(i, f, p, d)
    return out


def transposed_output_size(
    i: int, f: int, s: int = 1, p: int = 0, output_padding: int = 0, d: int = 1
) -> int:
    """Output size of a transposed convolution (upsampling) along one axis, as PyTorch computes it.

    O = (I − 1)S − 2P + d(F − 1) + output_padding + 1.

    Args:
        i: Input size I.
        f: Kernel size F.
        s: Stride S.
        p: Padding P.
        output_padding: Extra size added on one side; must be smaller than the stride or the dilation.
        d: Dilation.

    Returns:
        The output size O.

    Raises:
        ConvSettingsError: for impossible settings, or an output size below 1.
    """
    i, f, s, p, d = _check_common(i, f, s, p, d)
    output_padding = _int(output_padding, "output padding")
    if output_padding < 0 or output_padding >= max(s, d):
        raise ConvSettingsError("output_padding", value=output_padding, stride=s, dilation=d)
    out = (i - 1) * s - 2 * p + d * (f - 1) + output_padding + 1
    if out < 1:
        raise ConvSettingsError("transposed_too_small", value=out)
    return out


@dataclass(frozen=True)
class SizeFormula:
    """The feature map size formula with the numbers filled in.

    Attributes:
        input_size: I.
        kernel_size: F.
        stride: S.
        padding: P.
        dilation: d.
        span: Positions one dilated kernel covers, d(F − 1) + 1 (= F when d = 1).
        padded_size: I + 2P.
        numerator: I + 2P − d(F − 1) − 1, which is I + 2P − F for d = 1.
        divisible: Whether S divides the numerator, i.e. the lecture's formula gives a whole number.
        exact: The formula's exact value numerator / S + 1 (a fraction when not divisible).
        quotient: ⌊numerator / S⌋.
        remainder: numerator mod S: the last `remainder` rows/columns of the padded input no window reaches.
        output_size: ⌊numerator / S⌋ + 1, what PyTorch returns.
        symbolic: The formula in letters, e.g. "(I + 2P − F) / S + 1".
        text: The formula with numbers, e.g. "(32 + 2×1 − 4) / 2 + 1 = 30 / 2 + 1 = 16".
    """

    input_size: int
    kernel_size: int
    stride: int
    padding: int
    dilation: int
    span: int
    padded_size: int
    numerator: int
    divisible: bool
    exact: Fraction
    quotient: int
    remainder: int
    output_size: int
    symbolic: str
    text: str


def size_formula(i: int, f: int, s: int = 1, p: int = 0, d: int = 1) -> SizeFormula:
    """Work the lecture's formula O = (I + 2P − F) / S + 1 through for one axis.

    Args:
        i: Input size I.
        f: Kernel size F.
        s: Stride S.
        p: Padding P.
        d: Dilation; the formula becomes (I + 2P − d(F − 1) − 1) / S + 1.

    Returns:
        The worked formula; `output_size` equals `conv_output_size(i, f, s, p, d)`.

    Raises:
        ConvSettingsError: for impossible settings.
    """
    out = conv_output_size(i, f, s, p, d)
    numerator = i + 2 * p - d * (f - 1) - 1
    quotient, remainder = divmod(numerator, s)
    exact = Fraction(numerator, s) + 1
    if d == 1:
        symbolic = "(I + 2P − F) / S + 1"
        filled = f"({i} + 2×{p} − {f}) / {s} + 1"
    else:
        symbolic = "(I + 2P − d(F − 1) − 1) / S + 1"
        filled = f"({i} + 2×{p} − {d}×({f} − 1) − 1) / {s} + 1"
    text = f"{filled} = {numerator} / {s} + 1 = "
    if remainder == 0:
        text += f"{out}"
    else:
        # Not a whole number: PyTorch rounds down (the last `remainder` rows are never covered).
        text += f"{float(exact):.4g} → ⌊{float(exact):.4g}⌋ = {out}"
    return SizeFormula(
        input_size=i,
        kernel_size=f,
        stride=s,
        padding=p,
        dilation=d,
        span=d * (f - 1) + 1,
        padded_size=i + 2 * p,
        numerator=numerator,
        divisible=remainder == 0,
        exact=exact,
        quotient=quotient,
        remainder=remainder,
        output_size=out,
        symbolic=symbolic,
        text=text,
    )


@dataclass(frozen=True)
class LectureQuiz:
    """The lecture's quiz: a (32, 32, 3) input, ten 4×4 filters, stride 2, padding 1.

    Attributes:
        input_hwc: Input shape as the lecture writes it, (H, W, C).
        n_filters: Number of filters K (= output channels).
        kernel_size: F.
        stride: S.
        padding: P.
        formula: The worked size formula for one axis.
        output_hwc: Feature map shape as the lecture writes it, (H, W, K) = (16, 16, 10).
        output_chw: The same shape in PyTorch's order, (K, H, W).
    """

    input_hwc: tuple[int, int, int]
    n_filters: int
    kernel_size: int
    stride: int
    padding: int
    formula: SizeFormula
    output_hwc: tuple[int, int, int]
    output_chw: tuple[int, int, int]


def lecture_quiz() -> LectureQuiz:
    """The lecture's worked quiz: (32, 32, 3) input, ten 4×4 filters, stride 2, padding 1 -> (16, 16, 10)."""
    formula = size_formula(32, 4, 2, 1)
    o = formula.output_size
    return LectureQuiz(
        input_hwc=(32, 32, 3),
        n_filters=10,
        kernel_size=4,
        stride=2,
        padding=1,
        formula=formula,
        output_hwc=(o, o, 10),
        output_chw=(10, o, o),
    )


def input_coverage(h: int, w: int, f: int, s: int = 1, p: int = 0, d: int = 1) -> np.ndarray:
    """How many filter windows read each input pixel (the lecture: edge pixels pass the filter less often).

    Padding exists to even this out; a stride larger than the window leaves pixels at 0.

    Args:
        h: Input rows H.
        w: Input columns W.
        f: Kernel size F.
        s: Stride S.
        p: Padding P.
        d: Dilation.

    Returns:
        (H, W) int64 counts.

    Raises:
        ConvSettingsError: for impossible settings.
    """
    ho, wo = conv_output_size(h, f, s, p, d), conv_output_size(w, f, s, p, d)
    # A transposed convolution of ones spreads each output cell back over the taps that produced it.
    spread = F.conv_transpose2d(
        torch.ones(1, 1, ho, wo, dtype=torch.float64),
        torch.ones(1, 1, f, f, dtype=torch.float64),
        stride=s,
        dilation=d,
    )[0, 0]
    # Rows/columns no window reaches (the size formula's remainder) are missing at the bottom/right.
    spread = F.pad(spread, (0, w + 2 * p - spread.shape[1], 0, h + 2 * p - spread.shape[0]))
    return _frozen(spread[p : p + h, p : p + w].round().to(torch.int64).numpy())

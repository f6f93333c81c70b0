"""Convolution, pooling and FC arithmetic for the "Convolution & pooling" page (lecture section 2).

Everything the page shows comes from here: feature map sizes with the formula filled in, a filter sliding over
a small matrix one output cell at a time (window, element-wise products, weighted sum), multi-channel
convolution, max/average/min pooling with the winning positions, and flatten -> FC -> softmax.

Arrays go in and out as numpy (float64, so the numbers on screen are exact); the arithmetic itself is done
by `torch.nn.functional` (`conv2d`, `pad`, `max_pool2d`, `avg_pool2d`, `linear`, `softmax`), so what the page
shows is what PyTorch computes. Shapes follow PyTorch: a matrix is `(H, W)`, an image `(C, H, W)`, a filter
bank `(K, C, F, F)`.

PyTorch's `conv2d` is a *cross-correlation*: the filter is laid over the window as it is, `c₀₀ = i₀₀×w₀₀ +
i₀₁×w₀₁ + …`. The lecture writes the mathematical convolution, `c₀₀ = i₀₀×w₁₁ + i₁₀×w₀₁ + i₀₁×w₁₀ + i₁₁×w₀₀`,
which is the same operation with the filter turned by 180° (`flip_kernel`). A CNN learns its filters, so the
two only differ in which way round the learned numbers are stored; this module follows PyTorch.

Impossible settings raise `ConvSettingsError` (a `ValueError`) whose message is one sentence naming the bad
argument and whose `key`/`params` let a page show the same sentence in another language.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from PIL import Image

__all__ = [
    "ERROR_MESSAGES",
    "KERNEL_PRESETS",
    "PADDING_MODES",
    "POOL_KINDS",
    "ConvMulti",
    "ConvSettingsError",
    "ConvStep",
    "ConvSteps",
    "FCResult",
    "LectureQuiz",
    "PoolResult",
    "PoolStep",
    "SizeFormula",
    "conv2d_multi",
    "conv2d_steps",
    "conv_output_size",
    "downsize_gray",
    "downsize_rgb",
    "fc_demo",
    "fc_weights",
    "flip_kernel",
    "global_average_pool",
    "input_coverage",
    "kernel_preset",
    "lecture_example",
    "lecture_quiz",
    "pool2d",
    "pool_output_size",
    "preset_sizes",
    "sample_matrix",
    "seeded_kernels",
    "size_formula",
    "transposed_output_size",
]

PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]
PoolKind = Literal["max", "avg", "min"]

PADDING_MODES: tuple[str, ...] = ("zeros", "reflect", "replicate", "circular")
POOL_KINDS: tuple[str, ...] = ("max", "avg", "min")
KERNEL_PRESETS: tuple[str, ...] = (
    "identity",
    "box_blur",
    "gaussian",
    "sharpen",
    "sobel_x",
    "sobel_y",
    "laplacian",
    "emboss",
)

# English templates of every error sentence, by key. A page may look the key up in its own table (Korean) and
# fill it with `err.params`; `str(err)` is always the English sentence.
ERROR_MESSAGES: dict[str, str] = {
    "not_integer": "The {name} must be a whole number, got {value!r}.",
    "input_size": "The input size must be at least 1, got {value}.",
    "kernel_size": "The kernel size must be at least 1, got {value}.",
    "stride": "The stride must be at least 1, got {value}.",
    "padding": "The padding must be 0 or more, got {value}.",
    "dilation": "The dilation must be at least 1, got {value}.",
    "kernel_too_large": (
        "The kernel (size {kernel}, dilation {dilation}, so it spans {span}) is larger than the padded input "
        "({size} + 2×{padding} = {padded})."
    ),
    "pool_too_large": "The pooling window ({kernel}×{kernel}) is larger than the input ({size}×{size}).",
    "pool_padding": (
        "Pooling padding must be at most half the kernel size in PyTorch, got padding {padding} "
        "with kernel {kernel}."
    ),
    "output_padding": (
        "The output padding must be 0 or more and smaller than the stride or the dilation, got {value} "
        "with stride {stride} and dilation {dilation}."
    ),
    "transposed_too_small": "These settings make the transposed convolution's output size {value}, below 1.",
    "empty": "The {name} is empty.",
    "ndim": "The {name} must be {expected}, got an array of shape {shape}.",
    "not_finite": "The {name} contains values that are not finite numbers (NaN or infinity).",
    "kernel_not_square": "The kernel must be square, got {rows}×{cols}.",
    "channels_mismatch": "The kernel has {kernel_channels} channel(s) but the input has {input_channels}.",
    "padding_mode": "The padding mode must be one of {choices}, got {value!r}.",
    "reflect_padding": (
        "Reflect padding must be smaller than the input size (PyTorch's rule), got padding {padding} "
        "for a {rows}×{cols} input."
    ),
    "circular_padding": (
        "Circular padding must not be larger than the input size (PyTorch's rule), got padding {padding} "
        "for a {rows}×{cols} input."
    ),
    "pool_kind": "The pooling kind must be one of {choices}, got {value!r}.",
    "avg_dilation": "Average pooling has no dilation in PyTorch, got dilation {value}.",
    "bias_shape": "The bias must hold {expected} number(s), got shape {shape}.",
    "fc_weight_shape": (
        "The FC weight must have {expected} columns (one per flattened value), got shape {shape}."
    ),
    "preset_unknown": "Unknown kernel preset {value!r}; choose one of {choices}.",
    "preset_size": "The {name} kernel is defined for sizes {sizes}, got {value}.",
    "image_size": "The matrix size must be between 1 and {maximum}, got {value}.",
    "count": "The {name} must be at least 1, got {value}.",
}

_MAX_IMAGE_SIZE = 256


class ConvSettingsError(ValueError):
    """An impossible convolution, pooling or FC setting; `str(err)` is one plain sentence.

    Attributes:
        key: Stable identifier of the sentence (a key of `ERROR_MESSAGES`), for translation.
        params: The values filled into the sentence.
    """

    def __init__(self, key: str, **params: Any) -> None:
        self.key = key
        self.params = params
        super().__init__(ERROR_MESSAGES[key].format(**params))

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the error picklable (e.g. across processes) although __init__ takes keywords.
        return (_rebuild_error, (self.key, self.params))


def _rebuild_error(key: str, params: dict[str, Any]) -> ConvSettingsError:
    return ConvSettingsError(key, **params)


# ---------------------------------------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------------------------------------


def _int(value: Any, name: str) -> int:
    # bool is an int subclass, but `stride=True` is a mistake rather than a stride of 1.
    if isinstance(value, bool):
        raise ConvSettingsError("not_integer", name=name, value=value)
    try:
        return operator.index(value)
    except TypeError:
        raise ConvSettingsError("not_integer", name=name, value=value) from None


def _check_common(i: Any, f: Any, s: Any, p: Any, d: Any) -> tuple[int, int, int, int, int]:
    i, f, s, p, d = (
        _int(i, "input size"),
        _int(f, "kernel size"),
        _int(s, "stride"),
        _int(p, "padding"),
        _int(d, "dilation"),
    )
    if i < 1:
        raise ConvSettingsError("input_size", value=i)
    if f < 1:
        raise ConvSettingsError("kernel_size", value=f)
    if s < 1:
        raise ConvSettingsError("stride", value=s)
    if p < 0:
        raise ConvSettingsError("padding", value=p)
    if d < 1:
        raise ConvSettingsError("dilation", value=d)
    return i, f, s, p, d


def _check_fits(i: int, f: int, p: int, d: int) -> None:
    span = d * (f - 1) + 1
    if span > i + 2 * p:
        raise ConvSettingsError(
            "kernel_too_large", kernel=f, span=span, dilation=d, padded=i + 2 * p, size=i, padding=p
        )


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
        raise ConvSettingsError(
            "kernel_too_large",
            kernel=f,
            span=d * (f - 1) + 1,
            dilation=d,
            padded=i + 2 * p,
            size=i,
            padding=p,
        )
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


# ---------------------------------------------------------------------------------------------------------
# Arrays in, arrays out
# ---------------------------------------------------------------------------------------------------------


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


def _frozen(arr: np.ndarray) -> np.ndarray:
    # Results are frozen dataclasses; read-only arrays keep a cached result from being changed in place.
    arr = np.ascontiguousarray(arr)
    arr.setflags(write=False)
    return arr


def _t(arr: np.ndarray) -> torch.Tensor:
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    # torch warns about (and may not honour) read-only memory, e.g. one of our own frozen results
    return torch.from_numpy(arr if arr.flags.writeable else arr.copy())


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


# ---------------------------------------------------------------------------------------------------------
# Step-by-step convolution
# ---------------------------------------------------------------------------------------------------------

_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_SUP = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _sub(*indices: int) -> str:
    # i₀₀ reads well; with a two-digit index, i₁₂₃ would not, so separate with a comma then.
    sep = "," if any(v >= 10 for v in indices) else ""
    return sep.join(str(v) for v in indices).translate(_SUB)


def _num(value: float, digits: int) -> str:
    v = round(float(value), digits)
    if v == 0:
        v = 0.0  # no "−0"
    text = f"{v:.{digits}f}".rstrip("0").rstrip(".") if digits > 0 else f"{v:.0f}"
    return text.replace("-", "−")


def _factor(value: float, digits: int) -> str:
    text = _num(value, digits)
    return f"({text})" if text.startswith("−") else text


def _join(terms: list[str], max_terms: int | None) -> str:
    if max_terms is not None and len(terms) > max_terms >= 2:
        terms = [*terms[: max_terms - 1], "…", terms[-1]]
    return " + ".join(terms)


@dataclass(frozen=True, eq=False)
class ConvStep:
    """One output cell of a convolution: the window under the filter and its weighted sum.

    Attributes:
        index: k, the cell's place in row-major order.
        row: Output row of the cell.
        col: Output column of the cell.
        rows: (F,) rows of the padded input the kernel taps read (top + dilation × a).
        cols: (F,) columns of the padded input the kernel taps read.
        source_rows: (F,) input row each tap's value comes from (through the padding mode); −1 for a zero pad.
        source_cols: (F,) input column each tap's value comes from; −1 for a zero pad.
        inside: (F, F) True where the tap lies on the original input, False on padding.
        window: (C, F, F) the values under the filter.
        kernel: (C, F, F) the filter.
        products: (C, F, F) window × kernel, element by element.
        total: Sum of the products.
        bias: The bias added.
        value: The feature map value at (row, col), from `F.conv2d`; equals total + bias.
    """

    index: int
    row: int
    col: int
    rows: np.ndarray
    cols: np.ndarray
    source_rows: np.ndarray
    source_cols: np.ndarray
    inside: np.ndarray
    window: np.ndarray
    kernel: np.ndarray
    products: np.ndarray
    total: float
    bias: float
    value: float

    @property
    def top(self) -> int:
        """Row of the window's top-left tap in the padded input."""
        return int(self.rows[0])

    @property
    def left(self) -> int:
        """Column of the window's top-left tap in the padded input."""
        return int(self.cols[0])


@dataclass(frozen=True, eq=False)
class ConvSteps:
    """A single filter slid over an input, kept so that every output cell can be explained.

    The input is stored as (C, H, W) even when a (H, W) matrix was given (then C = 1).

    Attributes:
        input: (C, H, W) the input.
        kernel: (C, F, F) the filter.
        bias: Added to every output cell.
        stride: S.
        padding: P on every side.
        padding_mode: "zeros", "reflect", "replicate" or "circular" (as `nn.Conv2d`).
        dilation: Spacing between kernel taps.
        padded: (C, H + 2P, W + 2P) the padded input the filter actually slides over.
        feature_map: (Ho, Wo) the output, computed by `F.conv2d`.
        formula_rows: Size formula for the rows, `size_formula(H, F, S, P, dilation)`.
        formula_cols: Size formula for the columns, `size_formula(W, F, S, P, dilation)`.
    """

    input: np.ndarray
    kernel: np.ndarray
    bias: float
    stride: int
    padding: int
    padding_mode: str
    dilation: int
    padded: np.ndarray
    feature_map: np.ndarray
    formula_rows: SizeFormula
    formula_cols: SizeFormula

    @property
    def n_steps(self) -> int:
        """Number of output cells, Ho × Wo."""
        return int(self.feature_map.size)

    @property
    def kernel_size(self) -> int:
        """F."""
        return int(self.kernel.shape[-1])

    def position(self, k: int) -> tuple[int, int]:
        """The (row, col) of the k-th output cell in row-major order."""
        k = _int(k, "step")
        if not 0 <= k < self.n_steps:
            raise IndexError(f"Step {k} is outside 0..{self.n_steps - 1}.")
        return divmod(k, self.feature_map.shape[1])

    def step(self, k: int) -> ConvStep:
        """The k-th output cell (row-major): window coordinates, values, products and sum.

        Raises:
            IndexError: k is not in 0..n_steps − 1.
        """
        row, col = self.position(k)
        f, s, d = self.kernel_size, self.stride, self.dilation
        rows = row * s + d * np.arange(f)
        cols = col * s + d * np.arange(f)
        h, w = self.input.shape[1:]
        src_r = _source_index(self.padded.shape[1], h, self.padding, self.padding_mode)[rows]
        src_c = _source_index(self.padded.shape[2], w, self.padding, self.padding_mode)[cols]
        inside_r = (rows >= self.padding) & (rows < self.padding + h)
        inside_c = (cols >= self.padding) & (cols < self.padding + w)
        window = self.padded[:, rows[:, None], cols[None, :]]
        products = window * self.kernel
        return ConvStep(
            index=k,
            row=row,
            col=col,
            rows=_frozen(rows),
            cols=_frozen(cols),
            source_rows=_frozen(src_r),
            source_cols=_frozen(src_c),
            inside=_frozen(inside_r[:, None] & inside_c[None, :]),
            window=_frozen(window),
            kernel=self.kernel,
            products=_frozen(products),
            total=float(products.sum()),
            bias=self.bias,
            value=float(self.feature_map[row, col]),
        )

    def formula(
        self, k: int, *, symbolic: bool = False, digits: int = 3, max_terms: int | None = None
    ) -> str:
        """The weighted sum of the k-th output cell written out, as PyTorch computes it (cross-correlation).

        With numbers: "1×0 + 2×1 + 0×(−1) + 3×2 = 8". Symbolic: "i₀₀×w₀₀ + i₀₁×w₀₁ + i₁₀×w₁₀ + i₁₁×w₁₁ =
        c₀₀", where i is indexed by the input position the value comes from (a zero pad shows as 0) and, for
        more than one channel, a superscript names the channel (i⁰₀₀×w⁰₀₀).

        Args:
            k: Output cell in row-major order.
            symbolic: Letters instead of numbers.
            digits: Decimals shown for non-integers.
            max_terms: Shorten long sums to this many terms with "…" (at least 2).

        Returns:
            One line of text.
        """
        st = self.step(k)
        channels, f = self.kernel.shape[0], self.kernel_size
        terms: list[str] = []
        for c in range(channels):
            sup = str(c).translate(_SUP) if channels > 1 else ""
            for a in range(f):
                for b in range(f):
                    if symbolic:
                        sr, sc = int(st.source_rows[a]), int(st.source_cols[b])
                        i_term = "0" if sr < 0 or sc < 0 else f"i{sup}{_sub(sr, sc)}"
                        terms.append(f"{i_term}×w{sup}{_sub(a, b)}")
                    else:
                        terms.append(
                            f"{_factor(st.window[c, a, b], digits)}×{_factor(self.kernel[c, a, b], digits)}"
                        )
        if self.bias != 0:
            terms.append("b" if symbolic else _factor(self.bias, digits))
        result = f"c{_sub(st.row, st.col)}" if symbolic else _num(st.value, digits)
        return f"{_join(terms, max_terms)} = {result}"


def _settings(stride: Any, padding: Any, dilation: Any) -> tuple[int, int, int]:
    s, p, d = _int(stride, "stride"), _int(padding, "padding"), _int(dilation, "dilation")
    if s < 1:
        raise ConvSettingsError("stride", value=s)
    if p < 0:
        raise ConvSettingsError("padding", value=p)
    if d < 1:
        raise ConvSettingsError("dilation", value=d)
    return s, p, d


def _prepare(
    x: np.ndarray, f: int, stride: Any, padding: Any, padding_mode: str, dilation: Any
) -> tuple[int, int, int, np.ndarray, SizeFormula, SizeFormula]:
    s, p, d = _settings(stride, padding, dilation)
    h, w = x.shape[1:]
    _check_padding_mode(padding_mode, p, h, w)
    fr, fc = size_formula(h, f, s, p, d), size_formula(w, f, s, p, d)
    return s, p, d, _pad(x, p, padding_mode), fr, fc


def conv2d_steps(
    x: npt.ArrayLike,
    kernel: npt.ArrayLike,
    stride: int = 1,
    padding: int = 0,
    padding_mode: PaddingMode | str = "zeros",
    dilation: int = 1,
    bias: float = 0.0,
) -> ConvSteps:
    """Slide one filter over a matrix or an image, keeping what each output cell is made of.

    Matches `nn.Conv2d(C, 1, F, stride, padding, dilation, padding_mode=...)`: the input is padded with
    `F.pad` (zeros for "zeros") and `F.conv2d` computes the feature map; a C-channel filter sums over the
    channels.

    Args:
        x: (H, W) matrix or (C, H, W) image.
        kernel: (F, F) filter, or (C, F, F) for a C-channel input (a (F, F) filter with C > 1 is refused).
        stride: S.
        padding: P on every side.
        padding_mode: "zeros", "reflect", "replicate" or "circular".
        dilation: Spacing between kernel taps.
        bias: Added to every output cell.

    Returns:
        The padded input, the feature map and `step(k)`/`formula(k)` for every output cell.

    Raises:
        ConvSettingsError: for impossible settings (see `ERROR_MESSAGES`).
    """
    img = _image(x)
    ker = _array(kernel, "kernel", (2, 3), "a 2-D (F, F) or 3-D (C, F, F) array")
    ker = ker[None] if ker.ndim == 2 else ker
    f = _square(ker)
    if ker.shape[0] != img.shape[0]:
        raise ConvSettingsError(
            "channels_mismatch", kernel_channels=ker.shape[0], input_channels=img.shape[0]
        )
    b = float(bias)
    if not math.isfinite(b):
        raise ConvSettingsError("not_finite", name="bias")
    s, p, d, padded, fr, fc = _prepare(img, f, stride, padding, padding_mode, dilation)
    out = F.conv2d(_t(padded)[None], _t(ker)[None], _t(np.array([b])), stride=s, dilation=d)[0, 0]
    return ConvSteps(
        input=_frozen(img),
        kernel=_frozen(ker),
        bias=b,
        stride=s,
        padding=p,
        padding_mode=padding_mode,
        dilation=d,
        padded=_frozen(padded),
        feature_map=_frozen(out.numpy()),
        formula_rows=fr,
        formula_cols=fc,
    )


def flip_kernel(kernel: npt.ArrayLike) -> np.ndarray:
    """Turn a filter by 180° over its last two axes.

    Cross-correlating with the flipped filter is the mathematical convolution the lecture writes
    (c₀₀ = i₀₀×w₁₁ + i₁₀×w₀₁ + i₀₁×w₁₀ + i₁₁×w₀₀).
    """
    ker = _array(kernel, "kernel", (2, 3, 4), "a 2-D, 3-D or 4-D array")
    return _frozen(ker[..., ::-1, ::-1])


def lecture_example() -> ConvSteps:
    """The lecture's picture: a 2×2 filter sliding over a 4×4 input with stride 2 -> a 2×2 feature map."""
    x = np.array([[1, 2, 0, 1], [0, 1, 3, 1], [2, 1, 0, 2], [1, 0, 1, 3]], dtype=np.float64)
    w = np.array([[1, 0], [-1, 2]], dtype=np.float64)
    return conv2d_steps(x, w, stride=2)


# ---------------------------------------------------------------------------------------------------------
# Multi-channel convolution
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ConvMulti:
    """K filters over a C-channel image: each filter's per-channel maps and their sums.

    Attributes:
        input: (C, H, W) the input.
        kernels: (K, C, F, F) the filters.
        bias: (K,) one bias per filter.
        stride: S.
        padding: P.
        padding_mode: As `nn.Conv2d`.
        dilation: Spacing between kernel taps.
        padded: (C, H + 2P, W + 2P) the padded input.
        partial_maps: (K, C, Ho, Wo) channel c of the input convolved with channel c of filter k alone.
        feature_maps: (K, Ho, Wo) the output channels: partial maps summed over C, plus the bias (`F.conv2d`).
    """

    input: np.ndarray
    kernels: np.ndarray
    bias: np.ndarray
    stride: int
    padding: int
    padding_mode: str
    dilation: int
    padded: np.ndarray
    partial_maps: np.ndarray
    feature_maps: np.ndarray

    def filter_steps(self, k: int) -> ConvSteps:
        """Step-by-step view of filter k alone (its output channel)."""
        k = _int(k, "filter")
        if not 0 <= k < self.kernels.shape[0]:
            raise IndexError(f"Filter {k} is outside 0..{self.kernels.shape[0] - 1}.")
        return conv2d_steps(
            self.input,
            self.kernels[k],
            self.stride,
            self.padding,
            self.padding_mode,
            self.dilation,
            float(self.bias[k]),
        )


def conv2d_multi(
    x: npt.ArrayLike,
    kernels: npt.ArrayLike,
    stride: int = 1,
    padding: int = 0,
    padding_mode: PaddingMode | str = "zeros",
    dilation: int = 1,
    bias: npt.ArrayLike | None = None,
) -> ConvMulti:
    """Convolve a (C, H, W) image with K filters of shape (C, F, F): K output channels.

    Each filter has one F×F slice per input channel; the slices' maps are summed (plus the filter's bias) into
    one output channel, so the number of output channels is the number of filters.

    Args:
        x: (C, H, W) image (a (H, W) matrix counts as C = 1).
        kernels: (K, C, F, F) filters.
        stride: S.
        padding: P.
        padding_mode: "zeros", "reflect", "replicate" or "circular".
        dilation: Spacing between kernel taps.
        bias: (K,) biases; zeros when None.

    Returns:
        Per-filter per-channel maps and the output feature maps (equal to `F.conv2d`).

    Raises:
        ConvSettingsError: for impossible settings.
    """
    img = _image(x)
    ker = _array(kernels, "kernels", (4,), "a 4-D (K, C, F, F) array")
    f = _square(ker)
    n_filters, channels = ker.shape[:2]
    if channels != img.shape[0]:
        raise ConvSettingsError("channels_mismatch", kernel_channels=channels, input_channels=img.shape[0])
    if bias is None:
        b = np.zeros(n_filters)
    else:
        b = _array(bias, "bias", (0, 1), "a 1-D array").reshape(-1)
        if b.shape != (n_filters,):
            raise ConvSettingsError("bias_shape", expected=n_filters, shape=tuple(b.shape))
    s, p, d, padded, _, _ = _prepare(img, f, stride, padding, padding_mode, dilation)
    xt = _t(padded)[None]
    maps = F.conv2d(xt, _t(ker), _t(b), stride=s, dilation=d)[0]
    # One group per input channel: group c holds the K filter slices for channel c, so output (c, k) is
    # channel c alone under filter k's slice c.
    grouped = _t(ker).transpose(0, 1).reshape(channels * n_filters, 1, f, f)
    partial = F.conv2d(xt, grouped, stride=s, dilation=d, groups=channels)[0]
    partial = partial.reshape(channels, n_filters, *partial.shape[-2:]).transpose(0, 1)
    return ConvMulti(
        input=_frozen(img),
        kernels=_frozen(ker),
        bias=_frozen(b),
        stride=s,
        padding=p,
        padding_mode=padding_mode,
        dilation=d,
        padded=_frozen(padded),
        partial_maps=_frozen(partial.numpy()),
        feature_maps=_frozen(maps.numpy()),
    )


# ---------------------------------------------------------------------------------------------------------
# Kernels and sample inputs
# ---------------------------------------------------------------------------------------------------------

_FIXED_3X3: dict[str, list[list[float]]] = {
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    # Written for cross-correlation (PyTorch): positive where brightness rises to the right / downwards.
    "sobel_x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "sobel_y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
}


def preset_sizes(name: str, max_size: int = 7) -> tuple[int, ...]:
    """Kernel sizes `kernel_preset(name, size)` accepts, up to `max_size`.

    Identity and Gaussian need a centre pixel, so odd sizes; a box blur is any size; the rest are 3×3 only.
    """
    if name not in KERNEL_PRESETS:
        raise ConvSettingsError("preset_unknown", value=name, choices=", ".join(KERNEL_PRESETS))
    if name in ("identity", "gaussian"):
        return tuple(range(1, max_size + 1, 2))
    if name == "box_blur":
        return tuple(range(1, max_size + 1))
    return (3,) if max_size >= 3 else ()


def kernel_preset(name: str, size: int = 3) -> np.ndarray:
    """A classic image filter as an (F, F) float64 matrix.

    Args:
        name: One of `KERNEL_PRESETS`: identity, box_blur, gaussian (binomial weights, sums to 1), sharpen,
            sobel_x, sobel_y, laplacian, emboss.
        size: F. Identity and Gaussian: any odd size; box blur: any size; the others: 3 only.

    Returns:
        (F, F) kernel.

    Raises:
        ConvSettingsError: unknown name, or a size the preset is not defined for.
    """
    if name not in KERNEL_PRESETS:
        raise ConvSettingsError("preset_unknown", value=name, choices=", ".join(KERNEL_PRESETS))
    size = _int(size, "kernel size")
    ok = size >= 1 and (
        name == "box_blur" or (name in ("identity", "gaussian") and size % 2 == 1) or size == 3
    )
    if not ok:
        sizes = {
            "identity": "odd sizes 1, 3, 5, …",
            "gaussian": "odd sizes 1, 3, 5, …",
            "box_blur": "1, 2, 3, …",
        }
        raise ConvSettingsError("preset_size", name=name, sizes=sizes.get(name, "3"), value=size)
    if name == "identity":
        k = np.zeros((size, size))
        k[size // 2, size // 2] = 1.0
    elif name == "box_blur":
        k = np.full((size, size), 1.0 / (size * size))
    elif name == "gaussian":
        row = np.array([math.comb(size - 1, j) for j in range(size)], dtype=np.float64)
        k = np.outer(row, row) / row.sum() ** 2
    else:
        k = np.array(_FIXED_3X3[name], dtype=np.float64)
    return _frozen(k)


def _count(value: Any, name: str) -> int:
    n = _int(value, name)
    if n < 1:
        raise ConvSettingsError("count", name=name, value=n)
    return n


def sample_matrix(
    height: int, width: int | None = None, channels: int | None = None, *, seed: int = 0, high: int = 9
) -> np.ndarray:
    """A seeded matrix of small whole numbers 0..high, easy to add up by eye.

    Returns:
        (H, W) when `channels` is None, else (C, H, W); float64.
    """
    h = _count(height, "height")
    w = h if width is None else _count(width, "width")
    shape = (h, w) if channels is None else (_count(channels, "number of channels"), h, w)
    rng = np.random.default_rng(seed)
    return _frozen(rng.integers(0, high + 1, size=shape).astype(np.float64))


def seeded_kernels(n_filters: int, channels: int, size: int, *, seed: int = 0) -> np.ndarray:
    """Seeded filters with entries −1, 0 or 1, so each product on the page is easy to read.

    Returns:
        (K, C, F, F) float64.
    """
    shape = (
        _count(n_filters, "number of filters"),
        _count(channels, "number of channels"),
        _count(size, "kernel size"),
        _count(size, "kernel size"),
    )
    rng = np.random.default_rng(seed)
    return _frozen(rng.integers(-1, 2, size=shape).astype(np.float64))


def downsize_gray(image: Image.Image, size: int) -> np.ndarray:
    """Shrink an image to a small grey matrix for the step-by-step view.

    The image is converted to grey ("L") and resized to size×size with PIL's area-averaging (BOX) filter;
    a non-square image is stretched, not cropped.

    Args:
        image: Any PIL image.
        size: Rows and columns of the matrix, 1..256.

    Returns:
        (size, size) float64 in 0..1.
    """
    n = _matrix_size(size)
    small = image.convert("L").resize((n, n), Image.Resampling.BOX)
    return _frozen(np.asarray(small, dtype=np.float64) / 255.0)


def downsize_rgb(image: Image.Image, size: int) -> np.ndarray:
    """Shrink an image to a small RGB array in PyTorch's (C, H, W) order, for the multi-channel view.

    Returns:
        (3, size, size) float64 in 0..1.
    """
    n = _matrix_size(size)
    small = image.convert("RGB").resize((n, n), Image.Resampling.BOX)
    return _frozen(np.asarray(small, dtype=np.float64).transpose(2, 0, 1) / 255.0)


def _matrix_size(size: Any) -> int:
    n = _int(size, "matrix size")
    if not 1 <= n <= _MAX_IMAGE_SIZE:
        raise ConvSettingsError("image_size", maximum=_MAX_IMAGE_SIZE, value=n)
    return n


# ---------------------------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------------------
# Flatten -> FC -> softmax
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FCResult:
    """Feature maps flattened into a vector, an FC layer's scores, and softmax probabilities.

    Attributes:
        feature_map_shape: Shape of the feature maps before flattening, e.g. (C, H, W).
        flattened: (N,) the vector, in (C, H, W) order like `torch.flatten`; N = C·H·W.
        weight: (K, N) the FC weights, one row per class.
        bias: (K,) the FC biases.
        scores: (K,) W·x + b (`F.linear`), the logits.
        probabilities: (K,) softmax of the scores (`F.softmax`), summing to 1.
        predicted: Index of the largest probability.
    """

    feature_map_shape: tuple[int, ...]
    flattened: np.ndarray
    weight: np.ndarray
    bias: np.ndarray
    scores: np.ndarray
    probabilities: np.ndarray
    predicted: int


def fc_demo(feature_map: npt.ArrayLike, weight: npt.ArrayLike, bias: npt.ArrayLike | None = None) -> FCResult:
    """Flatten feature maps, apply one fully connected layer, and turn the scores into probabilities.

    Args:
        feature_map: (C, H, W) feature maps (any shape; it is flattened in C order like `torch.flatten`).
        weight: (K, N) weights with N = C·H·W.
        bias: (K,) biases; zeros when None.

    Returns:
        The flattened vector, the scores and the probabilities.

    Raises:
        ConvSettingsError: a weight or bias whose shape does not fit.
    """
    fm = _array(feature_map, "feature map", (1, 2, 3), "a 1-D, 2-D or 3-D array")
    flat = torch.flatten(_t(fm))
    n = flat.numel()
    wt = _array(weight, "FC weight", (1, 2), "a 2-D (K, N) array")
    if wt.ndim != 2 or wt.shape[1] != n:
        raise ConvSettingsError("fc_weight_shape", expected=n, shape=tuple(wt.shape))
    k = wt.shape[0]
    if bias is None:
        b = np.zeros(k)
    else:
        b = _array(bias, "bias", (0, 1), "a 1-D array").reshape(-1)
        if b.shape != (k,):
            raise ConvSettingsError("bias_shape", expected=k, shape=tuple(b.shape))
    scores = F.linear(flat, _t(wt), _t(b))
    probs = F.softmax(scores, dim=0)
    return FCResult(
        feature_map_shape=tuple(fm.shape),
        flattened=_frozen(flat.numpy()),
        weight=_frozen(wt),
        bias=_frozen(b),
        scores=_frozen(scores.numpy()),
        probabilities=_frozen(probs.numpy()),
        predicted=int(torch.argmax(probs)),
    )


def fc_weights(n_inputs: int, n_classes: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded FC weights for the page, drawn like `nn.Linear`'s initialisation: U(−1/√N, 1/√N).

    Args:
        n_inputs: N, the length of the flattened vector.
        n_classes: K, the number of scores.
        seed: Same seed, same weights.

    Returns:
        weight (K, N) and bias (K,), float64.
    """
    n, k = _count(n_inputs, "number of inputs"), _count(n_classes, "number of classes")
    rng = np.random.default_rng(seed)
    bound = 1.0 / math.sqrt(n)
    weight = rng.uniform(-bound, bound, size=(k, n))
    bias = rng.uniform(-bound, bound, size=k)
    return _frozen(weight), _frozen(bias)

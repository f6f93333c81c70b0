"""Step-by-step convolution: one filter sliding over a matrix, one output cell at a time.

For each output cell `ConvSteps.step(k)` gives the window under the filter, the element-wise products and
their weighted sum, and `ConvSteps.formula(k)` writes the sum out in numbers or in the lecture's letters.

PyTorch's `conv2d` is a *cross-correlation*: the filter is laid over the window as it is, `c₀₀ = i₀₀×w₀₀ +
i₀₁×w₀₁ + …`. The lecture writes the mathematical convolution, `c₀₀ = i₀₀×w₁₁ + i₁₀×w₀₁ + i₀₁×w₁₀ + i₁₁×w₀₀`,
which is the same operation with the filter turned by 180° (`flip_kernel`). A CNN learns its filters, so the
two only differ in which way round the learned numbers are stored; this module follows PyTorch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch.nn.functional as F

from cnnviz.analysis.conv._arrays import _array, _frozen, _image, _int, _settings, _square, _t
from cnnviz.analysis.conv._format import _factor, _join, _num, _sub, _sup
from cnnviz.analysis.conv.errors import ConvSettingsError
from cnnviz.analysis.conv.padding import PaddingMode, _check_padding_mode, _pad, _source_index
from cnnviz.analysis.conv.size import SizeFormula, size_formula

__all__ = ["ConvStep", "ConvSteps", "conv2d_steps", "flip_kernel", "lecture_example"]


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
            sup = _sup(c) if channels > 1 else ""
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


def _prepare(
    x: np.ndarray, f: int, stride: Any, padding: Any, padding_mode: str, dilation: Any
) -> tuple[int, int, int, np.ndarray, SizeFormula, SizeFormula]:
    """Checked stride, padding and dilation, the padded input, and the row and column size formulas."""
    s, p, d = _settings((stride, "stride"), (padding, "padding"), (dilation, "dilation"))
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

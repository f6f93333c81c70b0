"""Multi-channel convolution: K filters over a C-channel image give K output channels.

Each filter has one F×F slice per input channel; the slices' maps are summed (plus the filter's bias) into
one output channel. `ConvMulti` keeps the per-channel maps so the page can show the sum being made.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch.nn.functional as F

from cnnviz.analysis.conv._arrays import _array, _biases, _frozen, _image, _int, _square, _t
from cnnviz.analysis.conv.errors import ConvSettingsError
from cnnviz.analysis.conv.padding import PaddingMode
from cnnviz.analysis.conv.steps import ConvSteps, _prepare, conv2d_steps

__all__ = ["ConvMulti", "conv2d_multi"]


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
    b = _biases(bias, n_filters)
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

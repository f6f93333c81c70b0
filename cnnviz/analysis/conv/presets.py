"""What the page slides and pools: classic kernels, seeded matrices and filters, images shrunk to a matrix.

Kernels are written for cross-correlation, as PyTorch applies them (see `cnnviz.analysis.conv.steps`). Seeded
inputs hold small whole numbers and seeded filters −1, 0 or 1, so every product on the page can be checked by
eye; the same seed gives the same numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image

from cnnviz.analysis.conv._arrays import _count, _frozen, _int
from cnnviz.analysis.conv.errors import ConvSettingsError

__all__ = [
    "KERNEL_PRESETS",
    "downsize_gray",
    "downsize_rgb",
    "kernel_preset",
    "preset_sizes",
    "sample_matrix",
    "seeded_kernels",
]

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

_MAX_IMAGE_SIZE = 256

_FIXED_3X3: dict[str, list[list[float]]] = {
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    # Written for cross-correlation (PyTorch): positive where brightness rises to the right / downwards.
    "sobel_x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "sobel_y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
}


def _known(name: str) -> None:
    if name not in KERNEL_PRESETS:
        raise ConvSettingsError("preset_unknown", value=name, choices=", ".join(KERNEL_PRESETS))


def _defined(name: str, size: int) -> bool:
    """Whether `kernel_preset(name, size)` is defined (see `preset_sizes`)."""
    if name in ("identity", "gaussian"):
        return size >= 1 and size % 2 == 1
    if name == "box_blur":
        return size >= 1
    return size == 3


def preset_sizes(name: str, max_size: int = 7) -> tuple[int, ...]:
    """Kernel sizes `kernel_preset(name, size)` accepts, up to `max_size`.

    Identity and Gaussian need a centre pixel, so odd sizes; a box blur is any size; the rest are 3×3 only.
    """
    _known(name)
    return tuple(n for n in range(1, max_size + 1) if _defined(name, n))


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
    _known(name)
    size = _int(size, "kernel size")
    if not _defined(name, size):
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
    return _frozen(_downsize(image, size, "L"))


def downsize_rgb(image: Image.Image, size: int) -> np.ndarray:
    """Shrink an image to a small RGB array in PyTorch's (C, H, W) order, for the multi-channel view.

    Returns:
        (3, size, size) float64 in 0..1.
    """
    return _frozen(_downsize(image, size, "RGB").transpose(2, 0, 1))


def _downsize(image: Image.Image, size: Any, mode: str) -> np.ndarray:
    """(n, n) for mode "L", (n, n, 3) for "RGB": area-averaged (BOX), in 0..1."""
    n = _int(size, "matrix size")
    if not 1 <= n <= _MAX_IMAGE_SIZE:
        raise ConvSettingsError("image_size", maximum=_MAX_IMAGE_SIZE, value=n)
    small = image.convert(mode).resize((n, n), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float64) / 255.0

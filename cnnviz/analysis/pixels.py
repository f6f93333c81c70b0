"""Lecture section 1: an image is a matrix of pixels, colour images have channels, (H, W, C) vs (C, H, W)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as TF

__all__ = ["Layouts", "PixelRegion", "binarize", "layouts", "otsu_threshold", "pixel_region"]


@dataclass(frozen=True)
class PixelRegion:
    """A square window of the image, as the numbers a computer stores.

    Attributes:
        top, left: where the window starts in the full image.
        rgb: (h, w, 3) uint8, 0–255.
        gray: (h, w) uint8 luma (PIL's "L": 0.299 R + 0.587 G + 0.114 B).
    """

    top: int
    left: int
    rgb: np.ndarray
    gray: np.ndarray

    @property
    def rgb01(self) -> np.ndarray:
        """The same values scaled to 0–1, as `ToTensor`/`ToDtype(scale=True)` give the model."""
        return self.rgb.astype(np.float32) / 255.0


def pixel_region(image: Image.Image, top: int, left: int, size: int) -> PixelRegion:
    """The `size`×`size` window at (top, left), clipped to the image."""
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}.")
    w, h = image.size
    top = int(np.clip(top, 0, max(0, h - 1)))
    left = int(np.clip(left, 0, max(0, w - 1)))
    box = (left, top, min(w, left + size), min(h, top + size))
    crop = image.convert("RGB").crop(box)
    return PixelRegion(top=top, left=left, rgb=np.asarray(crop), gray=np.asarray(crop.convert("L")))


def binarize(gray: np.ndarray, threshold: int) -> np.ndarray:
    """The lecture's black-and-white picture: 1 where the pixel is dark (< threshold), 0 where it is light."""
    if not 0 <= threshold <= 256:
        raise ValueError(f"threshold must be in 0..256, got {threshold}.")
    return (np.asarray(gray) < threshold).astype(np.uint8)


def otsu_threshold(gray: np.ndarray) -> int:
    """The threshold (for :func:`binarize`) that splits `gray` into dark and light best: Otsu's method.

    Of every split "dark < t <= light", the one whose two groups lie furthest apart, weighted by their sizes
    (the largest between-class variance w_dark · w_light · (mean_dark - mean_light)²); the lowest such t
    on a tie. A window of a single grey has nothing to split: its value + 1 (all of it dark, 1).
    """
    a = np.asarray(gray)
    if a.size == 0:
        raise ValueError("gray must hold at least one pixel, got an empty array.")
    if a.min() < 0 or a.max() > 255:
        raise ValueError(f"gray must hold values in 0..255, got {a.min()}..{a.max()}.")
    counts = np.bincount(a.astype(np.int64).ravel(), minlength=256).astype(np.float64)
    levels = np.arange(256, dtype=np.float64)
    # Dark group for threshold t = levels 0..t-1, t = 1..255: cumulative sums up to level t-1.
    n_dark = np.cumsum(counts)[:-1]
    sum_dark = np.cumsum(counts * levels)[:-1]
    n_light = a.size - n_dark
    sum_light = sum_dark[-1] + counts[-1] * 255 - sum_dark
    both = (n_dark > 0) & (n_light > 0)
    if not both.any():
        return int(a.flat[0]) + 1
    mean_dark = np.divide(sum_dark, n_dark, out=np.zeros_like(sum_dark), where=n_dark > 0)
    mean_light = np.divide(sum_light, n_light, out=np.zeros_like(sum_light), where=n_light > 0)
    between = np.where(both, n_dark * n_light * (mean_dark - mean_light) ** 2, -1.0)
    return int(np.argmax(between)) + 1


@dataclass(frozen=True)
class Layouts:
    """The same picture in NumPy/PIL's (H, W, C) and PyTorch's (C, H, W)."""

    hwc_shape: tuple[int, ...]
    hwc_dtype: str
    chw_shape: tuple[int, ...]
    chw_dtype: str
    chw_float_dtype: str
    first_pixel_hwc: tuple[int, ...]  # image[0, 0, :]
    first_pixel_chw: tuple[int, ...]  # tensor[:, 0, 0]: the same three numbers, another axis order


def layouts(image: Image.Image) -> Layouts:
    hwc = np.asarray(image.convert("RGB"))
    chw = TF.pil_to_tensor(image.convert("RGB"))  # uint8, (C, H, W)
    chw_float = TF.to_dtype(chw, torch.float32, scale=True)
    return Layouts(
        hwc_shape=tuple(hwc.shape),
        hwc_dtype=str(hwc.dtype),
        chw_shape=tuple(chw.shape),
        chw_dtype=str(chw.dtype).removeprefix("torch."),
        chw_float_dtype=str(chw_float.dtype).removeprefix("torch."),
        first_pixel_hwc=tuple(int(v) for v in hwc[0, 0]),
        first_pixel_chw=tuple(int(v) for v in chw[:, 0, 0]),
    )

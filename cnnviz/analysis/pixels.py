"""Lecture section 1: an image is a matrix of pixels, colour images have channels, (H, W, C) vs (C, H, W)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as TF

__all__ = ["Layouts", "PixelRegion", "binarize", "layouts", "pixel_region"]


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

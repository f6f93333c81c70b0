"""Arrays -> images: colour maps, one composite image of many channels, heatmap overlays."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image
from plotly.colors import sample_colorscale, unlabel_rgb

__all__ = ["ChannelGrid", "channel_grid", "channel_images", "colorize", "mark_region", "overlay", "zoom"]


@lru_cache(maxsize=8)
def _lut(name: str) -> np.ndarray:
    """(256, 3) uint8 lookup table sampled from a plotly colour scale, so charts and images agree."""
    colors = sample_colorscale(name, [i / 255 for i in range(256)])
    return np.array([unlabel_rgb(c) for c in colors], dtype=np.float64).round().astype(np.uint8)


def colorize(
    arr: np.ndarray, cmap: str = "Viridis", vmin: float | None = None, vmax: float | None = None
) -> np.ndarray:
    """(H, W) values -> (H, W, 3) uint8 through a colour map; a constant map becomes the lowest colour."""
    a = np.asarray(arr, dtype=np.float32)
    lo = float(a.min()) if vmin is None else vmin
    hi = float(a.max()) if vmax is None else vmax
    scaled = np.zeros_like(a) if hi <= lo else np.clip((a - lo) / (hi - lo), 0, 1)
    return _lut(cmap)[(scaled * 255).round().astype(np.uint8)]


@dataclass(frozen=True)
class ChannelGrid:
    """One composite image of many channels, and which channel sits in which cell (row-major)."""

    image: np.ndarray  # (rows * (cell + gap), cols * (cell + gap), 3) uint8
    channels: tuple[int, ...]
    cols: int
    cell: int


def channel_grid(
    fmap: np.ndarray,
    order: np.ndarray | None = None,
    max_channels: int = 64,
    cell: int = 64,
    gap: int = 2,
    cmap: str = "Viridis",
) -> ChannelGrid:
    """Tiles the channels of a (C, H, W) map into one image, in `order` (most active first, say).

    Each channel is scaled to its own min/max: the grid compares patterns, the heatmap of one channel shows
    values. Cells are nearest-neighbour resized to `cell` pixels so small maps stay crisp.
    """
    if fmap.ndim != 3:
        raise ValueError(f"fmap must be (C, H, W), got shape {fmap.shape}.")
    idx = np.arange(fmap.shape[0]) if order is None else np.asarray(order)
    idx = idx[:max_channels]
    n = len(idx)
    cols = max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    step = cell + gap
    out = np.full((rows * step - gap, cols * step - gap, 3), 255, dtype=np.uint8)
    for k, c in enumerate(idx):
        tile = Image.fromarray(colorize(fmap[c], cmap)).resize((cell, cell), Image.Resampling.NEAREST)
        r, q = divmod(k, cols)
        out[r * step : r * step + cell, q * step : q * step + cell] = np.asarray(tile)
    return ChannelGrid(image=out, channels=tuple(int(c) for c in idx), cols=cols, cell=cell)


def overlay(
    image: Image.Image | np.ndarray, heat: np.ndarray, alpha: float = 0.5, cmap: str = "Jet"
) -> Image.Image:
    """Blends a (H, W) heat map in 0..1 over `image` (resized to the heat map's size)."""
    if isinstance(image, np.ndarray):
        pil = Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image)
    else:
        pil = image
    base = pil.convert("RGB").resize((heat.shape[1], heat.shape[0]), Image.Resampling.BILINEAR)
    colored = Image.fromarray(colorize(heat, cmap, 0.0, 1.0))
    return Image.blend(base, colored, float(alpha))


def mark_region(
    image: Image.Image, left: int, top: int, width: int, height: int, color: str = "#ff2b2b"
) -> Image.Image:
    """A copy of `image` with a rectangle around the region a page zooms into."""
    from PIL import ImageDraw

    out = image.convert("RGB").copy()
    line = max(1, min(out.size) // 150)
    ImageDraw.Draw(out).rectangle((left - 1, top - 1, left + width, top + height), outline=color, width=line)
    return out


def zoom(arr: np.ndarray, cell: int = 24) -> np.ndarray:
    """Blows a small image up with nearest-neighbour so each pixel is a visible square."""
    return np.repeat(np.repeat(np.asarray(arr), cell, axis=0), cell, axis=1)


def channel_images(image: Image.Image) -> list[np.ndarray]:
    """R, G and B of `image`, each shown in its own colour (the other two channels set to 0)."""
    rgb = np.asarray(image.convert("RGB"))
    out = []
    for c in range(3):
        tinted = np.zeros_like(rgb)
        tinted[..., c] = rgb[..., c]
        out.append(tinted)
    return out

"""Arrays -> images: colour maps, one composite image of many channels, heatmap overlays."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image
from plotly.colors import sample_colorscale, unlabel_rgb

__all__ = [
    "ChannelGrid",
    "channel_grid",
    "channel_images",
    "colorize",
    "encode",
    "mark_region",
    "overlay",
    "zoom",
]


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
    # All cells at once: per-channel min/max scaling, then nearest-neighbour sampling at cell-pixel centres
    # (PIL's NEAREST rule), then one lookup in the colour table. This runs on every layer switch.
    maps = np.asarray(fmap[idx], dtype=np.float32)
    lo = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - lo
    scaled = np.divide(maps - lo, span, out=np.zeros_like(maps), where=span > 0)
    ys = np.minimum(((np.arange(cell) + 0.5) * maps.shape[1] / cell).astype(np.intp), maps.shape[1] - 1)
    xs = np.minimum(((np.arange(cell) + 0.5) * maps.shape[2] / cell).astype(np.intp), maps.shape[2] - 1)
    tiles = _lut(cmap)[(scaled[:, ys][:, :, xs] * 255).round().astype(np.uint8)]  # (n, cell, cell, 3)
    out = np.full((rows * step - gap, cols * step - gap, 3), 255, dtype=np.uint8)
    for k in range(n):
        r, q = divmod(k, cols)
        out[r * step : r * step + cell, q * step : q * step + cell] = tiles[k]
    return ChannelGrid(image=out, channels=tuple(int(c) for c in idx), cols=cols, cell=cell)


def overlay(
    image: Image.Image | np.ndarray, heat: np.ndarray, alpha: float = 0.5, cmap: str = "Viridis"
) -> Image.Image:
    """Blends a (H, W) heat map in 0..1 over `image` (resized to the heat map's size).

    Viridis by default, the colour map of every heatmap chart, so an overlay and its raw map read alike.
    """
    if isinstance(image, np.ndarray):
        pil = Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image)
    else:
        pil = image
    base = pil.convert("RGB").resize((heat.shape[1], heat.shape[0]), Image.Resampling.BILINEAR)
    colored = Image.fromarray(colorize(heat, cmap, 0.0, 1.0))
    return Image.blend(base, colored, float(alpha))


def encode(picture: Image.Image | np.ndarray) -> bytes:
    """The file `st.image` would make of `picture` (a PIL image, or (H, W) / (H, W, 3|4) uint8 array): PNG
    for a mode that may hold transparency (RGBA, LA, P), JPEG at quality 100 otherwise. Given bytes,
    `st.image` sends them as they are, so a picture that a page shows on every rerun is encoded once."""
    if isinstance(picture, Image.Image):
        pil = picture
    else:
        arr = np.asarray(picture, dtype=np.uint8)
        pil = Image.fromarray(arr[..., 0] if arr.ndim == 3 and arr.shape[2] == 1 else arr)
    out = io.BytesIO()
    if pil.mode in ("RGBA", "LA", "P"):
        pil.save(out, format="PNG")
    else:
        pil.convert("RGB" if pil.mode not in ("RGB", "L") else pil.mode).save(out, format="JPEG", quality=100)
    return out.getvalue()


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


# --- detection (appended for the Detection page) ----------------------------------------------------------

__all__ += ["DETECTION_COLORS", "draw_boxes", "draw_nms", "grid_overlay", "to_image"]

DETECTION_COLORS: tuple[str, ...] = (
    "#e6194b",
    "#3cb44b",
    "#ffe119",
    "#4363d8",
    "#f58231",
    "#911eb4",
    "#46f0f0",
    "#f032e6",
    "#bcf60c",
    "#fabebe",
)
"""Box colours by class index (cycled), bright enough on photos and on shapes scenes."""


@lru_cache(maxsize=1)
def _font_path() -> str | None:
    """A TrueType font for box labels (DejaVu from the system or matplotlib); None: PIL's small default."""
    from pathlib import Path

    candidates = [Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")]
    try:
        import matplotlib

        candidates.append(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")
    except ImportError:
        pass
    return next((str(p) for p in candidates if p.is_file()), None)


_MAX_UPSCALED_SIDE = 2048
"""Enlarging stops before the long side passes this (a 2000×3 picture is not made 256000 pixels wide)."""


def _upscale(image: Image.Image | np.ndarray, min_side: int) -> tuple[Image.Image, int]:
    """The image as RGB, enlarged by a whole factor (nearest) until its short side is at least min_side, or
    its long side would pass `_MAX_UPSCALED_SIDE`."""
    pil = Image.fromarray(np.asarray(image)) if isinstance(image, np.ndarray) else image
    pil = pil.convert("RGB")
    wanted = math.ceil(min_side / max(1, min(pil.size)))
    factor = max(1, min(wanted, _MAX_UPSCALED_SIDE // max(pil.size)))
    if factor > 1:
        pil = pil.resize((pil.width * factor, pil.height * factor), Image.Resampling.NEAREST)
    return pil, factor


def draw_boxes(
    image: Image.Image | np.ndarray,
    boxes: np.ndarray,
    labels: list[str] | None = None,
    class_ids: np.ndarray | None = None,
    color: str | None = None,
    width: int = 3,
    landmarks: np.ndarray | None = None,
    min_side: int = 384,
) -> np.ndarray:
    """The image with labelled boxes, drawn by `torchvision.utils.draw_bounding_boxes`.

    Args:
        image: PIL image or (H, W, 3) uint8.
        boxes: (K, 4) `(x1, y1, x2, y2)` in the image's pixels.
        labels: text written on each box (e.g. "star 0.93"), or None.
        class_ids: colour each box by its class (see `DETECTION_COLORS`); otherwise `color`.
        color: one colour for every box (default: the first of `DETECTION_COLORS`).
        width: line width in pixels of the output.
        landmarks: (K, P, 2) points drawn on top (`torchvision.utils.draw_keypoints`), e.g. MTCNN's five.
        min_side: small images (a 96×96 scene) are enlarged first so labels stay readable.

    Returns:
        (H', W', 3) uint8.
    """
    import torch
    from torchvision.utils import draw_bounding_boxes, draw_keypoints

    pil, factor = _upscale(image, min_side)
    canvas = torch.from_numpy(np.array(pil)).permute(2, 0, 1).contiguous()
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if len(b):
        if class_ids is not None:
            colors = [DETECTION_COLORS[int(k) % len(DETECTION_COLORS)] for k in class_ids]
        else:
            colors = [color or DETECTION_COLORS[0]] * len(b)
        font = _font_path()
        canvas = draw_bounding_boxes(
            canvas,
            torch.from_numpy(b * factor),
            labels=labels,
            colors=colors,
            width=width,
            font=font,
            font_size=max(12, min(pil.size) // 32) if font else None,
            fill_labels=labels is not None,
        )
    if landmarks is not None and len(landmarks):
        points = torch.from_numpy(np.asarray(landmarks, dtype=np.float32) * factor)
        canvas = draw_keypoints(canvas, points, colors="#00ff66", radius=max(2, min(pil.size) // 150))
    return canvas.permute(1, 2, 0).numpy()


def grid_overlay(
    image: Image.Image | np.ndarray,
    confidence: np.ndarray,
    highlight: np.ndarray | None = None,
    alpha: float = 0.45,
    cmap: str = "Viridis",
    min_side: int = 384,
    lines: bool = True,
) -> np.ndarray:
    """The image divided into the detector's grid, each cell tinted by its confidence (YOLO's S×S view).

    Args:
        image: PIL image or (H, W, 3) uint8.
        confidence: (rows, cols) values in 0..1.
        highlight: (K, 2) `(row, col)` cells to outline, e.g. the cells responsible for the objects.
        alpha: opacity of the tint.
        cmap: plotly colour scale of the tint.
        min_side: small images are enlarged first.
        lines: draw the cell borders (off for fine grids, where they would hide the image).

    Returns:
        (H', W', 3) uint8.
    """
    from PIL import ImageDraw

    pil, _ = _upscale(image, min_side)
    conf = np.asarray(confidence, dtype=np.float32)
    rows, cols = conf.shape
    tint = Image.fromarray(colorize(conf, cmap, 0.0, 1.0)).resize(pil.size, Image.Resampling.NEAREST)
    out = Image.blend(pil, tint, float(alpha))
    draw = ImageDraw.Draw(out)
    w, h = out.size
    line = max(1, min(w, h) // 300)
    for c in range(1, cols if lines else 1):
        x = round(c * w / cols)
        draw.line([(x, 0), (x, h)], fill="white", width=line)
    for r in range(1, rows if lines else 1):
        y = round(r * h / rows)
        draw.line([(0, y), (w, y)], fill="white", width=line)
    for r, c in np.asarray(highlight if highlight is not None else np.zeros((0, 2)), dtype=np.int64):
        box = (round(c * w / cols), round(r * h / rows), round((c + 1) * w / cols), round((r + 1) * h / rows))
        draw.rectangle(box, outline="#ff2b2b", width=3 * line)
    return np.asarray(out)


def draw_nms(
    image: Image.Image | np.ndarray,
    boxes: np.ndarray,
    kept: np.ndarray,
    removed: np.ndarray,
    class_ids: np.ndarray,
    min_side: int = 384,
) -> np.ndarray:
    """What NMS did: removed boxes thin and white, kept boxes in their class colour, each labelled "#index".

    Args:
        image: PIL image or (H, W, 3) uint8.
        boxes: (N, 4) every candidate box.
        kept: indices of the kept boxes.
        removed: indices of the removed boxes.
        class_ids: (N,) class of each candidate (its colour).
        min_side: small images are enlarged first.

    Returns:
        (H', W', 3) uint8.
    """
    import torch
    from torchvision.utils import draw_bounding_boxes

    pil, factor = _upscale(image, min_side)
    canvas = torch.from_numpy(np.array(pil)).permute(2, 0, 1).contiguous()
    font = _font_path()
    size = max(12, min(pil.size) // 32) if font else None
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4) * factor
    for indices, width, white in ((np.asarray(removed), 1, True), (np.asarray(kept), 3, False)):
        if len(indices) == 0:
            continue
        colors = (
            ["#ffffff"] * len(indices)
            if white
            else [DETECTION_COLORS[int(class_ids[i]) % len(DETECTION_COLORS)] for i in indices]
        )
        canvas = draw_bounding_boxes(
            canvas,
            torch.from_numpy(b[indices]),
            labels=[f"#{int(i)}" for i in indices],
            colors=colors,
            width=width,
            font=font,
            font_size=size,
        )
    return canvas.permute(1, 2, 0).numpy()


def to_image(array: np.ndarray) -> Image.Image:
    """(H, W, 3) uint8 -> PIL RGB image (a shapes scene, say)."""
    return Image.fromarray(np.asarray(array, dtype=np.uint8)).convert("RGB")


# ---------------------------------------------------------------------------------------- segmentation

__all__ += ["class_palette", "hex_color", "instance_palette", "mask_overlay"]


def class_palette(n: int) -> list[tuple[int, int, int]]:
    """`n` class colours, PASCAL VOC's colour map (class 0, the background, is black; 1 dark red, 2 green, …).

    The bits of the class index are spread over R, G and B, so neighbouring classes differ clearly and a VOC
    model's masks have the colours people know from the dataset.
    """
    colors = []
    for k in range(n):
        r = g = b = 0
        c = k
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        colors.append((r, g, b))
    return colors


def instance_palette(n: int) -> list[tuple[int, int, int]]:
    """`n` clearly different bright colours, one per object (hues spaced by the golden angle)."""
    import colorsys

    out = []
    for k in range(n):
        r, g, b = colorsys.hsv_to_rgb((0.08 + k * 0.381966) % 1.0, 0.85, 1.0)
        out.append((round(r * 255), round(g * 255), round(b * 255)))
    return out


def hex_color(color: tuple[int, int, int]) -> str:
    """(R, G, B) -> "#rrggbb"."""
    return "#{:02x}{:02x}{:02x}".format(*color)


def mask_overlay(
    image: np.ndarray,
    masks: np.ndarray,
    colors: list[tuple[int, int, int]],
    alpha: float = 0.6,
    scale: int = 1,
) -> np.ndarray:
    """Masks drawn over an image with `torchvision.utils.draw_segmentation_masks`.

    Args:
        image: `(H, W, 3)` uint8.
        masks: `(N, H, W)` bool, one per class or per object (they should not overlap: overlaps turn black).
        colors: one `(R, G, B)` per mask.
        alpha: opacity of the masks, 0 (invisible) to 1 (opaque).
        scale: nearest-neighbour enlargement, so small model inputs (96×96) stay crisp on the page.

    Returns:
        `(H·scale, W·scale, 3)` uint8.
    """
    import torch
    from torchvision.utils import draw_segmentation_masks

    if masks.shape[1:] != image.shape[:2]:
        raise ValueError(f"masks {masks.shape} and image {image.shape} must have the same height and width")
    if len(colors) < len(masks):
        raise ValueError(f"need one colour per mask, got {len(colors)} for {len(masks)} masks")
    out = np.ascontiguousarray(image)
    if len(masks):
        drawn = draw_segmentation_masks(
            torch.from_numpy(out).permute(2, 0, 1),
            torch.from_numpy(np.ascontiguousarray(masks, dtype=bool)),
            alpha=float(alpha),
            colors=list(colors[: len(masks)]),
        )
        out = drawn.permute(1, 2, 0).numpy()
    return zoom(out, scale) if scale > 1 else out


# --- SE attention (appended for the SE attention page) -----------------------------------------------------

__all__ += ["channel_pairs"]


def channel_pairs(
    before: np.ndarray,
    after: np.ndarray,
    channels: np.ndarray | list[int] | tuple[int, ...],
    cell: int = 72,
    gap: int = 4,
    cmap: str = "RdBu_r",
) -> np.ndarray:
    """One row per channel: its map before (left) and after (right) a reweighting, on one colour range.

    `channel_grid` scales every tile to its own range, which would hide a uniform scaling; here both tiles of
    a row share one range, symmetric about 0 (white), so a channel multiplied by 0.2 fades towards white and
    one multiplied by 0 is blank.

    Args:
        before: (C, H, W).
        after: (C, H, W), e.g. `before * weights[:, None, None]`.
        channels: the channels to show, top to bottom.

    Returns:
        (rows · (cell + gap) − gap, 2 · cell + gap, 3) uint8 on a white background.
    """
    if before.ndim != 3 or before.shape != after.shape:
        raise ValueError(
            f"before and after must be (C, H, W) of one shape, got {before.shape} and {after.shape}"
        )
    idx = [int(c) for c in channels]
    step = cell + gap
    out = np.full((max(1, len(idx) * step - gap), 2 * cell + gap, 3), 255, dtype=np.uint8)
    for row, c in enumerate(idx):
        hi = float(max(np.abs(before[c]).max(), np.abs(after[c]).max())) or 1.0
        lo = -hi
        for col, arr in enumerate((before[c], after[c])):
            tile = Image.fromarray(colorize(arr, cmap, lo, hi)).resize((cell, cell), Image.Resampling.NEAREST)
            out[row * step : row * step + cell, col * step : col * step + cell] = np.asarray(tile)
    return out


# ------------------------------------------------------------------------------------------ generation

__all__ += ["image_grid"]


def image_grid(images: np.ndarray, cols: int | None = None, cell: int = 64, gap: int = 2) -> np.ndarray:
    """Tiles `(N, H, W)` grey or `(N, H, W, 3)` colour uint8 images into one image, row by row.

    Each image is nearest-neighbour resized to `cell` pixels wide (small generated digits stay crisp), its
    height in proportion; `cols` defaults to a square-ish grid. Gaps are mid-grey, so black backgrounds of
    neighbouring tiles do not merge.
    """
    a = np.asarray(images)
    if a.ndim not in (3, 4) or (a.ndim == 4 and a.shape[3] != 3) or len(a) == 0:
        raise ValueError(f"images must be (N, H, W) or (N, H, W, 3) with N >= 1, got shape {a.shape}.")
    n = len(a)
    cols = max(1, min(n, cols if cols is not None else math.ceil(math.sqrt(n))))
    rows = math.ceil(n / cols)
    height = max(1, round(cell * a.shape[1] / a.shape[2]))
    out = np.full((rows * (height + gap) - gap, cols * (cell + gap) - gap, 3), 128, dtype=np.uint8)
    for k in range(n):
        tile = Image.fromarray(np.ascontiguousarray(a[k], dtype=np.uint8)).convert("RGB")
        tile = tile.resize((cell, height), Image.Resampling.NEAREST)
        r, q = divmod(k, cols)
        top, left = r * (height + gap), q * (cell + gap)
        out[top : top + height, left : left + cell] = np.asarray(tile)
    return out


__all__ += ["for_display"]


def for_display(
    picture: Image.Image | np.ndarray, *, max_aspect: float = 6.0, min_side: int = 48
) -> np.ndarray:
    """A picture made safe to show at any width: RGBA uint8, the picture's pixels unchanged inside.

    A browser (and Streamlit's own resizing) turns a 2000×3 picture shown 260 pixels wide into 0 pixels
    high, which fails. So a picture whose sides differ by more than `max_aspect` gets a transparent margin
    on its short side, and one whose long side is below `min_side` is enlarged by a whole factor, each pixel
    a crisp block.

    Args:
        picture: A PIL image, or an (H, W), (H, W, 3) or (H, W, 4) uint8 array.
        max_aspect: The most the long side may exceed the short one, after the margin (>= 1).
        min_side: The least the long side is made, in pixels.

    Raises:
        ValueError: an empty picture, or `max_aspect` < 1.
    """
    if max_aspect < 1:
        raise ValueError(f"max_aspect must be at least 1, got {max_aspect}")
    if isinstance(picture, Image.Image):
        rgba = np.asarray(picture.convert("RGBA"))
    else:
        array = np.asarray(picture)
        if array.ndim == 2:
            array = np.stack([array] * 3, axis=-1)
        if array.ndim != 3 or array.shape[2] not in (3, 4) or array.dtype != np.uint8:
            raise ValueError(f"picture must be (H, W), (H, W, 3) or (H, W, 4) uint8, got {array.shape}")
        alpha = np.full((*array.shape[:2], 1), 255, np.uint8)
        rgba = array if array.shape[2] == 4 else np.concatenate([array, alpha], axis=-1)
    h, w = rgba.shape[:2]
    if h == 0 or w == 0:
        raise ValueError(f"picture has no pixels ({w}×{h})")
    factor = max(1, -(-min_side // max(h, w)))
    if factor > 1:
        rgba = np.repeat(np.repeat(rgba, factor, axis=0), factor, axis=1)
        h, w = rgba.shape[:2]
    out_h, out_w = max(h, math.ceil(w / max_aspect)), max(w, math.ceil(h / max_aspect))
    if (out_h, out_w) != (h, w):
        padded = np.zeros((out_h, out_w, 4), np.uint8)  # transparent
        top, left = (out_h - h) // 2, (out_w - w) // 2
        padded[top : top + h, left : left + w] = rgba
        rgba = padded
    return np.ascontiguousarray(rgba)

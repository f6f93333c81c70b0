"""Synthetic shapes scenes: coloured geometric shapes on textured, noisy backgrounds.

One seeded generator serves three tasks:

- classification: one shape per image (64×64 by default), for the mini AlexNet/VGG/ResNet/SE-ResNet;
- detection: scenes of 1–4 shapes with limited overlap (96×96 by default), for a 1-stage grid detector;
- segmentation: the same scenes, with a semantic map (0 = background, k + 1 = class k) and instance masks.

Every image is a pure function of its seed: `numpy.random.default_rng(seed)` drives every choice, so the
same seed gives byte-identical arrays on any machine. Shapes are drawn with `PIL.ImageDraw` into a mask first
and the image is painted through that mask, so masks match the painted pixels exactly. Later shapes occlude
earlier ones; each instance mask holds only the pixels that stay visible.

Boxes are `(x1, y1, x2, y2)` in pixel-edge coordinates: the object covers columns `x1 .. x2 - 1` and rows
`y1 .. y2 - 1`, so `x2 - x1` is its width in pixels (`torchvision.ops.masks_to_boxes(mask) + (0, 0, 1, 1)`).

Training images come from seeds `0, 1, 2, …`; the held-out set is the fixed seeds `1_000_000 + i`
(`held_out_seeds`), which training never uses.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageDraw

__all__ = [
    "BACKGROUNDS",
    "CLASSES",
    "CLASSIFICATION_SIZE",
    "HELD_OUT_START",
    "MEAN",
    "MODES",
    "SCENE_SIZE",
    "STD",
    "Placement",
    "ShapeInstance",
    "ShapeScene",
    "classification_sample",
    "classification_tensors",
    "detection_tensors",
    "draw_scene",
    "generate",
    "held_out_seeds",
    "normalize",
    "scene",
    "segmentation_tensors",
    "train_seeds",
]

CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "hexagon")
"""Shape class names; class k is `CLASSES[k]` (semantic map value k + 1)."""

MODES: tuple[str, ...] = ("classification", "detection", "segmentation")
BACKGROUNDS: tuple[str, ...] = ("gradient", "stripes", "noise")

CLASSIFICATION_SIZE = 64
SCENE_SIZE = 96
HELD_OUT_START = 1_000_000
"""First held-out seed; training seeds must stay below it."""

# Per-channel mean and standard deviation of classification images in [0, 1], rounded (seeds 0..4999 give
# mean 0.499/0.499/0.505, std 0.278/0.275/0.279); the mini networks see `(image / 255 - MEAN) / STD`.
MEAN: tuple[float, float, float] = (0.5, 0.5, 0.5)
STD: tuple[float, float, float] = (0.28, 0.28, 0.28)

# Radius of the circumscribed circle, as a fraction of the image side.
_CLASSIFICATION_RADIUS = (0.16, 0.40)
_SCENE_RADIUS = (0.08, 0.22)
# A shape's colour must differ from the pixels it covers by at least this RGB distance, so it stays visible.
_MIN_CONTRAST = 90.0
_STAR_INNER = 0.45  # inner/outer radius of the five-pointed star
_CROSS_HALF_WIDTH = 0.32  # half the arm width of the cross, relative to its radius


@dataclass(frozen=True)
class Placement:
    """Where and how one shape is drawn (the input of `draw_scene`).

    Attributes:
        label: class index into `CLASSES`.
        center: `(x, y)` of the shape's centre in pixels.
        radius: radius of the circumscribed circle in pixels.
        angle: rotation in radians (ignored for circles).
        color: RGB fill; `None` lets the generator pick one that contrasts with what lies beneath.
    """

    label: int
    center: tuple[float, float]
    radius: float
    angle: float = 0.0
    color: tuple[int, int, int] | None = None


@dataclass(frozen=True, eq=False)
class ShapeInstance:
    """One drawn shape.

    Attributes:
        label: class index into `CLASSES`.
        box: `(x1, y1, x2, y2)` tight around the visible mask, pixel-edge coordinates (x2, y2 exclusive);
            `(0, 0, 0, 0)` if nothing stays visible (only `draw_scene` can hide a shape completely).
        mask: `(H, W)` bool, the pixels of this shape that stay visible after later shapes are drawn.
        color: RGB fill before shading and noise.
        center: `(x, y)` in pixels.
        radius: circumscribed radius in pixels.
        angle: rotation in radians.
    """

    label: int
    box: tuple[int, int, int, int]
    mask: np.ndarray
    color: tuple[int, int, int]
    center: tuple[float, float]
    radius: float
    angle: float

    @property
    def name(self) -> str:
        """The class name, `CLASSES[label]`."""
        return CLASSES[self.label]


@dataclass(frozen=True, eq=False)
class ShapeScene:
    """A generated image with its objects.

    Attributes:
        image: `(H, W, 3)` uint8 RGB.
        instances: shapes in drawing order (later ones occlude earlier ones).
        semantic: `(H, W)` uint8, 0 = background, k + 1 = class k, the topmost shape wins.
        seed: the seed that produced the scene (`-1` for `draw_scene` without one).
        background: which texture is underneath, one of `BACKGROUNDS`.
    """

    image: np.ndarray
    instances: tuple[ShapeInstance, ...]
    semantic: np.ndarray
    seed: int
    background: str

    @property
    def labels(self) -> np.ndarray:
        """`(N,)` int64 class indices."""
        return np.array([inst.label for inst in self.instances], dtype=np.int64)

    @property
    def boxes(self) -> np.ndarray:
        """`(N, 4)` float32 boxes `(x1, y1, x2, y2)`."""
        return np.array([inst.box for inst in self.instances], dtype=np.float32).reshape(-1, 4)

    @property
    def masks(self) -> np.ndarray:
        """`(N, H, W)` bool visible instance masks."""
        h, w = self.semantic.shape
        if not self.instances:
            return np.zeros((0, h, w), dtype=bool)
        return np.stack([inst.mask for inst in self.instances])


# --------------------------------------------------------------------------------------------- drawing


def _outline(label: int, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    """Polygon vertices of a (non-circle) shape, rotated by `angle` around its centre."""
    name = CLASSES[label]
    if name == "square":
        polar = [(r, math.pi / 4 + k * math.pi / 2) for k in range(4)]
    elif name == "triangle":
        polar = [(r, -math.pi / 2 + k * 2 * math.pi / 3) for k in range(3)]
    elif name == "hexagon":
        polar = [(r, k * math.pi / 3) for k in range(6)]
    elif name == "star":
        polar = [(r if k % 2 == 0 else r * _STAR_INNER, -math.pi / 2 + k * math.pi / 5) for k in range(10)]
    elif name == "cross":
        w = r * _CROSS_HALF_WIDTH
        pts = [(w, r), (w, w), (r, w), (r, -w), (w, -w), (w, -r)]
        pts += [(-w, -r), (-w, -w), (-r, -w), (-r, w), (-w, w), (-w, r)]
        polar = [(math.hypot(x, y), math.atan2(y, x)) for x, y in pts]
    else:  # pragma: no cover - CLASSES and this table change together
        raise ValueError(f"label {label} ({name!r}) has no outline")
    return [(cx + rho * math.cos(phi + angle), cy + rho * math.sin(phi + angle)) for rho, phi in polar]


def _shape_mask(p: Placement, size: int) -> np.ndarray:
    """`(size, size)` bool mask of the full (unoccluded) shape."""
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    cx, cy = p.center
    if CLASSES[p.label] == "circle":
        draw.ellipse((cx - p.radius, cy - p.radius, cx + p.radius, cy + p.radius), fill=255)
    else:
        draw.polygon(_outline(p.label, cx, cy, p.radius, p.angle), fill=255)
    return np.asarray(canvas) > 0


@functools.lru_cache(maxsize=8)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates `(xs, ys)`, each `(size, size)` float32; cached, callers must not write to them."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    xs.flags.writeable = False
    ys.flags.writeable = False
    return xs, ys


def _background(rng: np.random.Generator, size: int) -> tuple[np.ndarray, str]:
    """A textured `(size, size, 3)` float32 background in [0, 255] and its kind."""
    kind = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    c0 = rng.uniform(0, 255, 3).astype(np.float32)
    if kind == "gradient":
        c1 = rng.uniform(0, 255, 3).astype(np.float32)
        theta = rng.uniform(0, 2 * math.pi)
        xs, ys = _grid(size)
        t = xs * math.cos(theta) + ys * math.sin(theta)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        return c0 + (c1 - c0) * t[..., None], kind
    if kind == "stripes":
        # Moderate contrast: stripes are texture to look past, not shapes to find.
        c1 = np.clip(c0 + rng.uniform(-70, 70, 3), 0, 255).astype(np.float32)
        theta = rng.uniform(0, math.pi)
        period = rng.uniform(5, 16)
        xs, ys = _grid(size)
        t = 0.5 + 0.5 * np.sin(2 * math.pi * (xs * math.cos(theta) + ys * math.sin(theta)) / period)
        return c0 + (c1 - c0) * t[..., None], kind
    # Smooth colour noise: a coarse random grid upsampled bilinearly.
    cells = int(rng.integers(3, 8))
    coarse = np.clip(c0 + rng.uniform(-60, 60, (cells, cells, 3)), 0, 255).astype(np.uint8)
    smooth = Image.fromarray(coarse).resize((size, size), Image.Resampling.BILINEAR)
    return np.array(smooth, dtype=np.float32), kind


def _contrasting_color(rng: np.random.Generator, beneath: np.ndarray) -> tuple[int, int, int]:
    """A random RGB colour at least `_MIN_CONTRAST` away from the mean of `beneath` (K, 3)."""
    mean = beneath.mean(axis=0) if len(beneath) else np.full(3, 127.5, dtype=np.float32)
    for _ in range(20):
        color = rng.integers(0, 256, 3)
        if float(np.linalg.norm(color - mean)) >= _MIN_CONTRAST:
            return (int(color[0]), int(color[1]), int(color[2]))
    # Rare fallback: the colour opposite the background is always far enough from it.
    far = np.where(mean < 128, 255, 0)
    return (int(far[0]), int(far[1]), int(far[2]))


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return (0, 0, 0, 0)
    return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def _render(rng: np.random.Generator, placements: Sequence[Placement], size: int, seed: int) -> ShapeScene:
    canvas, kind = _background(rng, size)
    full_masks: list[np.ndarray] = []
    colors: list[tuple[int, int, int]] = []
    semantic = np.zeros((size, size), dtype=np.uint8)
    for p in placements:
        if not 0 <= p.label < len(CLASSES):
            raise ValueError(f"placement label {p.label} is not a class index 0..{len(CLASSES) - 1}")
        mask = _shape_mask(p, size)
        color = p.color if p.color is not None else _contrasting_color(rng, canvas[mask])
        # A gentle linear shading across the shape, so fills are not flat colour.
        theta = rng.uniform(0, 2 * math.pi)
        strength = rng.uniform(0, 25) / max(p.radius, 1.0)
        rows, cols = np.nonzero(mask)
        shade = strength * ((cols - p.center[0]) * math.cos(theta) + (rows - p.center[1]) * math.sin(theta))
        canvas[rows, cols] = np.asarray(color, dtype=np.float32) + shade[:, None].astype(np.float32)
        semantic[mask] = p.label + 1
        full_masks.append(mask)
        colors.append(color)
    sigma = rng.uniform(3, 12)
    canvas += rng.standard_normal(canvas.shape, dtype=np.float32) * np.float32(sigma)
    image = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)

    instances = []
    covered = np.zeros((size, size), dtype=bool)
    # Walk from the top shape down, so each mask loses exactly the pixels that later shapes cover.
    for p, mask, color in zip(reversed(placements), reversed(full_masks), reversed(colors), strict=True):
        visible = mask & ~covered
        covered |= mask
        instances.append(
            ShapeInstance(
                label=p.label,
                box=_bbox(visible),
                mask=visible,
                color=color,
                center=(float(p.center[0]), float(p.center[1])),
                radius=float(p.radius),
                angle=float(p.angle),
            )
        )
    return ShapeScene(
        image=image, instances=tuple(reversed(instances)), semantic=semantic, seed=seed, background=kind
    )


def draw_scene(placements: Sequence[Placement], *, size: int = SCENE_SIZE, seed: int = 0) -> ShapeScene:
    """Draw given shapes, in order, on a seeded background.

    Args:
        placements: the shapes, bottom first; later ones occlude earlier ones.
        size: image side in pixels.
        seed: drives the background, colours left as `None`, shading and noise.

    Returns:
        The scene; its `seed` field is `seed`.

    Raises:
        ValueError: if `size` is not positive or a label is not a class index.
    """
    _check_size(size)
    return _render(np.random.default_rng(seed), placements, size, seed)


# ------------------------------------------------------------------------------------------ generators


def _check_size(size: int) -> None:
    if size < 16:
        raise ValueError(f"size must be at least 16 pixels, got {size}")


def _random_placement(
    rng: np.random.Generator, size: int, radius: tuple[float, float], label: int | None = None
) -> Placement:
    if label is None:
        label = int(rng.integers(len(CLASSES)))
    r = rng.uniform(radius[0] * size, radius[1] * size)
    # Keep the whole circumscribed circle inside the image, so no shape is cut by the border.
    cx = rng.uniform(r + 1, size - r - 2)
    cy = rng.uniform(r + 1, size - r - 2)
    return Placement(label=label, center=(cx, cy), radius=r, angle=rng.uniform(0, 2 * math.pi))


def classification_sample(
    seed: int, *, size: int = CLASSIFICATION_SIZE, label: int | None = None
) -> ShapeScene:
    """One shape of random class, size, position, colour and rotation on a textured background.

    Args:
        seed: any non-negative integer; the same seed gives the same image.
        size: image side in pixels.
        label: force this class index instead of drawing one at random.

    Returns:
        A scene with exactly one instance.

    Raises:
        ValueError: if `size` is too small or `label` is not a class index.
    """
    _check_size(size)
    if label is not None and not 0 <= label < len(CLASSES):
        raise ValueError(f"label must be a class index 0..{len(CLASSES) - 1}, got {label}")
    rng = np.random.default_rng(seed)
    placement = _random_placement(rng, size, _CLASSIFICATION_RADIUS, label)
    return _render(rng, [placement], size, seed)


def _circle_box(p: Placement) -> tuple[float, float, float, float]:
    (cx, cy), r = p.center, p.radius
    return (cx - r, cy - r, cx + r, cy + r)


def _box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def scene(
    seed: int,
    *,
    size: int = SCENE_SIZE,
    min_objects: int = 1,
    max_objects: int = 4,
    max_iou: float = 0.2,
    min_visible: float = 0.6,
) -> ShapeScene:
    """A multi-object scene for detection and segmentation.

    Overlap is limited: the circumscribed boxes of two shapes overlap by at most `max_iou`, and every shape
    keeps at least `min_visible` of its pixels after the shapes drawn on top of it. A shape that cannot be
    placed under those rules in 50 tries is left out, so a scene can hold fewer than drawn (never fewer than
    one).

    Args:
        seed: any non-negative integer; the same seed gives the same scene.
        size: image side in pixels.
        min_objects: fewest shapes drawn for.
        max_objects: most shapes.
        max_iou: largest IoU allowed between two shapes' circumscribed boxes.
        min_visible: smallest visible fraction of each shape's area.

    Returns:
        The scene, with instance masks and a semantic map.

    Raises:
        ValueError: if a count or fraction is out of range.
    """
    _check_size(size)
    if not 1 <= min_objects <= max_objects:
        raise ValueError(
            f"need 1 <= min_objects <= max_objects, got min_objects={min_objects}, max_objects={max_objects}"
        )
    if not 0.0 <= max_iou <= 1.0:
        raise ValueError(f"max_iou must be in [0, 1], got {max_iou}")
    if not 0.0 <= min_visible <= 1.0:
        raise ValueError(f"min_visible must be in [0, 1], got {min_visible}")
    rng = np.random.default_rng(seed)
    count = int(rng.integers(min_objects, max_objects + 1))
    placements: list[Placement] = []
    masks: list[np.ndarray] = []
    for _ in range(count):
        for _attempt in range(50):
            p = _random_placement(rng, size, _SCENE_RADIUS)
            if any(_box_iou(_circle_box(p), _circle_box(q)) > max_iou for q in placements):
                continue
            mask = _shape_mask(p, size)
            # Earlier shapes may already be partly hidden: check what each keeps under everything on top.
            on_top = mask.copy()
            ok = True
            for m in reversed(masks):
                if (m & ~on_top).sum() < min_visible * m.sum():
                    ok = False
                    break
                on_top |= m
            if ok:
                placements.append(p)
                masks.append(mask)
                break
    return _render(rng, placements, size, seed)


def generate(
    seed: int, mode: Literal["classification", "detection", "segmentation"], *, size: int | None = None
) -> ShapeScene:
    """The generator behind all three tasks.

    Args:
        seed: any non-negative integer.
        mode: "classification" (one shape, `CLASSIFICATION_SIZE`), or "detection"/"segmentation" (the same
            multi-object scenes, `SCENE_SIZE`).
        size: image side; default per mode.

    Returns:
        The scene.

    Raises:
        ValueError: if `mode` is not one of `MODES`.
    """
    if mode == "classification":
        return classification_sample(seed, size=size or CLASSIFICATION_SIZE)
    if mode in ("detection", "segmentation"):
        return scene(seed, size=size or SCENE_SIZE)
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


# -------------------------------------------------------------------------------------------- datasets


def train_seeds(n: int, start: int = 0) -> range:
    """Seeds `start .. start + n - 1` for training.

    Raises:
        ValueError: if the range would reach the held-out seeds.
    """
    if n < 0 or start < 0 or start + n > HELD_OUT_START:
        raise ValueError(f"train seeds must lie in [0, {HELD_OUT_START}), got start={start}, n={n}")
    return range(start, start + n)


def held_out_seeds(n: int) -> range:
    """The fixed held-out seeds `HELD_OUT_START .. HELD_OUT_START + n - 1`."""
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    return range(HELD_OUT_START, HELD_OUT_START + n)


def _stack_images(scenes: Sequence[ShapeScene]) -> torch.Tensor:
    if not scenes:
        raise ValueError("seeds is empty")
    return torch.from_numpy(np.stack([s.image for s in scenes])).permute(0, 3, 1, 2).contiguous()


def classification_tensors(
    seeds: Iterable[int], *, size: int = CLASSIFICATION_SIZE
) -> tuple[torch.Tensor, torch.Tensor]:
    """Classification images and labels for the given seeds.

    Returns:
        `(images, labels)`: `(N, 3, H, W)` uint8 and `(N,)` int64.
    """
    scenes = [classification_sample(s, size=size) for s in seeds]
    labels = torch.tensor([s.instances[0].label for s in scenes], dtype=torch.int64)
    return _stack_images(scenes), labels


def detection_tensors(
    seeds: Iterable[int], *, size: int = SCENE_SIZE, max_objects: int = 4
) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
    """Detection images and torchvision-style targets for the given seeds.

    Returns:
        `(images, targets)`: `(N, 3, H, W)` uint8 and per image a dict with "boxes" `(K, 4)` float32
        `(x1, y1, x2, y2)`, "labels" `(K,)` int64 class indices and "masks" `(K, H, W)` bool.
    """
    scenes = [scene(s, size=size, max_objects=max_objects) for s in seeds]
    targets = [
        {
            "boxes": torch.from_numpy(s.boxes),
            "labels": torch.from_numpy(s.labels),
            "masks": torch.from_numpy(s.masks),
        }
        for s in scenes
    ]
    return _stack_images(scenes), targets


def segmentation_tensors(
    seeds: Iterable[int], *, size: int = SCENE_SIZE, max_objects: int = 4
) -> tuple[torch.Tensor, torch.Tensor]:
    """Segmentation images and semantic maps for the given seeds (the detection scenes).

    Returns:
        `(images, semantic)`: `(N, 3, H, W)` uint8 and `(N, H, W)` int64 (0 = background, k + 1 = class k).
    """
    scenes = [scene(s, size=size, max_objects=max_objects) for s in seeds]
    semantic = torch.from_numpy(np.stack([s.semantic for s in scenes]).astype(np.int64))
    return _stack_images(scenes), semantic


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 `(N, 3, H, W)` or `(3, H, W)` -> float32 `(image / 255 - MEAN) / STD`, what the mini nets see."""
    if images.dtype != torch.uint8:
        raise TypeError(f"images must be uint8, got {images.dtype}")
    shape = (3, 1, 1)
    mean = torch.tensor(MEAN, dtype=torch.float32).view(shape)
    std = torch.tensor(STD, dtype=torch.float32).view(shape)
    return (images.float() / 255.0 - mean) / std

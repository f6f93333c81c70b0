"""What the detectors share: their kinds (1-stage, 2-stage, cascade), the stretch-resize transform, and
class-wise NMS by shifting each class's boxes apart.

Boxes everywhere are ``(x1, y1, x2, y2)`` in pixels of the model's input, pixel-edge coordinates (a box
``(0, 0, 2, 2)`` covers 2×2 pixels), like :mod:`cnnviz.data.shapes` and torchvision.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image
from torch import Tensor

from cnnviz.models.registry import ModelSpec

__all__ = ["KINDS", "ResizeTransform", "classes_apart", "detector_kind"]

KINDS: tuple[str, ...] = ("1-stage", "2-stage", "cascade")
"""How a detector finds boxes; every detection spec carries exactly one of these in its ``tags``."""


def detector_kind(spec: ModelSpec) -> str:
    """ "1-stage", "2-stage" or "cascade", read from the spec's tags.

    Raises:
        ValueError: ``spec`` is not a detector of a known kind.
    """
    for kind in KINDS:
        if kind in spec.tags:
            return kind
    raise ValueError(f"spec {spec.name!r} has none of the detector kinds {KINDS} in its tags {spec.tags}")


@dataclass(frozen=True)
class ResizeTransform:
    """Resize (stretching, never cropping, so boxes map back by two scale factors) and normalise.

    Attributes:
        size: ``(H, W)`` to resize to; ``None`` keeps the image's own size unless it is larger than
            ``max_side``.
        mean: per-channel mean of pixels in 0..1.
        std: per-channel standard deviation.
        max_side: with ``size=None``, a longer side above this is scaled down to it.
    """

    size: tuple[int, int] | None
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    max_side: int = 1024

    def __call__(self, image: Image.Image) -> Tensor:
        """Returns ``(3, H, W)`` float32 ``(pixels / 255 - mean) / std``."""
        image = image.convert("RGB")
        target = self.size
        if target is None:
            w, h = image.size
            scale = min(1.0, self.max_side / max(w, h))
            target = (max(1, round(h * scale)), max(1, round(w * scale)))
        if image.size != (target[1], target[0]):
            image = image.resize((target[1], target[0]), Image.Resampling.BILINEAR)
        pixels = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
        pixels = pixels.view(target[0], target[1], 3).permute(2, 0, 1).float() / 255.0
        mean = torch.tensor(self.mean).view(3, 1, 1)
        std = torch.tensor(self.std).view(3, 1, 1)
        return (pixels - mean) / std


def classes_apart(boxes: Tensor, labels: Tensor) -> Tensor:
    """``(K, 4)`` float32 boxes with class ``k`` shifted by ``k`` times the span of all coordinates.

    Boxes of different classes then never overlap, so one plain NMS over all of them is NMS class by class.
    torchvision's ``batched_nms`` shifts by ``k * (max + 1)``, which lets a box reaching past the image's
    top-left edge (YOLO's do) land on the previous class's boxes; the span here counts negative coordinates.
    """
    shifted = boxes.detach().to(torch.float64).reshape(-1, 4)
    if len(shifted):
        span = shifted.max() - shifted.min().clamp(max=0.0) + 1.0
        shifted = shifted + (labels.to(torch.float64) * span)[:, None]
    return shifted.to(torch.float32)

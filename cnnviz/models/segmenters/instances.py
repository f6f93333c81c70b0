"""From centre heatmap and offsets to one mask per object (`group_instances`), and the training targets
(`instance_targets`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

__all__ = [
    "CENTER_SIGMA",
    "DEFAULT_CENTER_THRESHOLD",
    "OFFSET_SCALE",
    "PredictedInstance",
    "group_instances",
    "instance_targets",
]


CENTER_SIGMA = 3.0
"""Standard deviation, in pixels, of the Gaussian bump the centre heatmap is trained to put on each object."""
OFFSET_SCALE = 16.0
"""Offsets are predicted in units of this many pixels, so the regression targets stay near 1."""
DEFAULT_CENTER_THRESHOLD = 0.3
"""A heatmap peak at least this high counts as an object, unless the model card names the threshold chosen on
validation scenes (`center_threshold`)."""
_NMS_KERNEL = 7  # two peaks closer than 3 pixels are one object
_MAX_INSTANCES = 16
_MIN_AREA = 12  # pixels; smaller groups are stray pixels, not objects


# ------------------------------------------------------------------------------------------ instances


@dataclass(frozen=True, eq=False)
class PredictedInstance:
    """One object found by `group_instances`.

    Attributes:
        label: class index into the model's categories (never 0, the background).
        score: height of its centre peak, clipped to [0, 1].
        mask: `(H, W)` bool.
        center: `(y, x)` of the peak in pixels.
    """

    label: int
    score: float
    mask: np.ndarray
    center: tuple[int, int]


def group_instances(
    semantic_logits: torch.Tensor,
    center: torch.Tensor,
    offset: torch.Tensor,
    threshold: float = DEFAULT_CENTER_THRESHOLD,
    *,
    min_area: int = _MIN_AREA,
    max_instances: int = _MAX_INSTANCES,
) -> list[PredictedInstance]:
    """Masks of single objects from the maps of `InstanceFCNMini` for one image.

    1. Objects are the peaks of the centre heatmap: local maxima in a 7×7 window at least `threshold` high.
    2. Every foreground pixel (semantic class not 0) points by its offset to where it thinks its object's
       centre is, and joins the nearest peak.
    3. Each group takes the majority class of its pixels; groups under `min_area` pixels are dropped.

    Args:
        semantic_logits: `(K, H, W)` class scores.
        center: `(1, H, W)` or `(H, W)` heatmap.
        offset: `(2, H, W)` (dy, dx) in units of `OFFSET_SCALE` pixels.
        threshold: lowest peak height that counts as an object.
        min_area: fewest pixels an object keeps.
        max_instances: at most this many peaks, the highest first.

    Returns:
        The objects, highest peak first.

    Raises:
        ValueError: the shapes of the inputs do not match.
    """
    heat = center.detach().float().reshape(center.shape[-2:]) if center.ndim in (2, 3) else None
    if heat is None or semantic_logits.ndim != 3 or offset.shape != (2, *semantic_logits.shape[-2:]):
        raise ValueError(
            "need semantic_logits (K, H, W), center (1, H, W) and offset (2, H, W) of one size, got "
            f"{tuple(semantic_logits.shape)}, {tuple(center.shape)} and {tuple(offset.shape)}"
        )
    if heat.shape != semantic_logits.shape[-2:]:
        raise ValueError(f"center {tuple(center.shape)} does not match semantic_logits' size")
    h, w = heat.shape
    labels = semantic_logits.detach().argmax(dim=0)  # (H, W)
    pooled = F.max_pool2d(heat[None, None], _NMS_KERNEL, stride=1, padding=_NMS_KERNEL // 2)[0, 0]
    peaks = torch.nonzero((heat == pooled) & (heat >= threshold))  # (P, 2) as (y, x)
    if len(peaks) == 0:
        return []
    scores = heat[peaks[:, 0], peaks[:, 1]]
    order = scores.argsort(descending=True)[:max_instances]
    peaks, scores = peaks[order], scores[order]
    foreground = labels > 0
    ys, xs = torch.nonzero(foreground, as_tuple=True)
    if len(ys) == 0:
        return []
    vectors = offset.detach().float()[:, ys, xs] * OFFSET_SCALE  # (2, M)
    pointed = torch.stack([ys.float() + vectors[0], xs.float() + vectors[1]], dim=1)  # (M, 2)
    nearest = torch.cdist(pointed, peaks.float()).argmin(dim=1)  # (M,)
    found = []
    num_classes = semantic_logits.shape[0]
    for k in range(len(peaks)):
        members = nearest == k
        if int(members.sum()) < min_area:
            continue
        mask = torch.zeros(h, w, dtype=torch.bool)
        mask[ys[members], xs[members]] = True
        votes = torch.bincount(labels[ys[members], xs[members]], minlength=num_classes)
        found.append(
            PredictedInstance(
                label=int(votes[1:].argmax()) + 1,
                score=float(scores[k].clamp(0.0, 1.0)),
                mask=mask.numpy(),
                center=(int(peaks[k, 0]), int(peaks[k, 1])),
            )
        )
    return found


def instance_targets(masks: torch.Tensor, sigma: float = CENTER_SIGMA) -> tuple[torch.Tensor, torch.Tensor]:
    """Training targets of the centre and offset heads for one image.

    Args:
        masks: `(K, H, W)` bool visible instance masks.
        sigma: width of the Gaussian put on each centre, in pixels.

    Returns:
        `(center, offset)`: `(1, H, W)`, the largest of the Gaussians centred on each mask's centre of mass;
        `(2, H, W)`, (dy, dx) / `OFFSET_SCALE` from each pixel of an object to its centre (0 elsewhere).
    """
    k, h, w = masks.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij"
    )
    center = torch.zeros(1, h, w)
    offset = torch.zeros(2, h, w)
    for i in range(k):
        m = masks[i]
        if not bool(m.any()):
            continue
        cy, cx = float(ys[m].mean()), float(xs[m].mean())
        bump = torch.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * sigma**2))
        center[0] = torch.maximum(center[0], bump)
        offset[0][m] = (cy - ys[m]) / OFFSET_SCALE
        offset[1][m] = (cx - xs[m]) / OFFSET_SCALE
    return center, offset

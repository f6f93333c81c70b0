"""Segmentation metrics (confusion matrix, IoU per class, instance matching) and the held-out evaluation the
cards report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnviz.data import shapes
from cnnviz.models.segmenters.fcn import SEGMENTATION_CLASSES
from cnnviz.models.segmenters.instances import DEFAULT_CENTER_THRESHOLD, group_instances

__all__ = [
    "HELD_OUT_COUNT",
    "confusion_matrix",
    "evaluate_instances",
    "evaluate_semantic",
    "held_out_scenes",
    "iou_per_class",
    "match_instances",
]


HELD_OUT_COUNT = 500
"""Every card's held-out numbers are measured on the scenes of `shapes.held_out_seeds(HELD_OUT_COUNT)`."""


# -------------------------------------------------------------------------------------------- metrics


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """`(K, K)` int64 pixel counts: row = true class, column = predicted class."""
    index = target.reshape(-1).long() * num_classes + pred.reshape(-1).long()
    return torch.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def iou_per_class(confusion: torch.Tensor) -> torch.Tensor:
    """IoU = TP / (TP + FP + FN) of each class from a confusion matrix; NaN for a class never seen nor
    predicted."""
    confusion = confusion.double()
    tp = confusion.diagonal()
    union = confusion.sum(0) + confusion.sum(1) - tp
    return torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, float("nan")))


def match_instances(
    pred_masks: np.ndarray,
    pred_labels: Sequence[int],
    true_masks: np.ndarray,
    true_labels: Sequence[int],
    iou_threshold: float = 0.5,
) -> list[tuple[int, int, float]]:
    """One-to-one matches `(pred index, true index, IoU)` of the same class with IoU above `iou_threshold`.

    With a threshold of 0.5 or more a mask can overlap at most one other mask that much (masks of one image
    do not overlap each other), so the matching is unique, as in panoptic quality.
    """
    matches = []
    used: set[int] = set()
    for i in range(len(pred_labels)):
        best, best_iou = -1, iou_threshold
        for j in range(len(true_labels)):
            if j in used or int(pred_labels[i]) != int(true_labels[j]):
                continue
            inter = np.logical_and(pred_masks[i], true_masks[j]).sum()
            union = np.logical_or(pred_masks[i], true_masks[j]).sum()
            iou = float(inter / union) if union else 0.0
            if iou > best_iou:
                best, best_iou = j, iou
        if best >= 0:
            used.add(best)
            matches.append((i, best, best_iou))
    return matches


# ------------------------------------------------------------------------------------------ evaluation


def held_out_scenes(count: int = HELD_OUT_COUNT) -> list[shapes.ShapeScene]:
    """The fixed held-out scenes every card is measured on."""
    return [shapes.scene(seed) for seed in shapes.held_out_seeds(count)]


def _images(scenes: Sequence[shapes.ShapeScene]) -> torch.Tensor:
    return torch.from_numpy(np.stack([s.image for s in scenes])).permute(0, 3, 1, 2).contiguous()


@torch.no_grad()
def _outputs(model: nn.Module, scenes: Sequence[shapes.ShapeScene], batch_size: int) -> list[Any]:
    model.eval()
    out = []
    for start in range(0, len(scenes), batch_size):
        out.append(model(shapes.normalize(_images(scenes[start : start + batch_size]))))
    return out


def evaluate_semantic(
    model: nn.Module, scenes: Sequence[shapes.ShapeScene], batch_size: int = 100
) -> dict[str, Any]:
    """Mean IoU of a bundled segmenter on `scenes`.

    Pixels of all scenes are counted together per class (one confusion matrix), then IoU is taken per class
    and averaged over the 7 classes, background included.

    Returns:
        `{"mean_iou": float, "iou": {class name: float}, "pixel_accuracy": float}`.
    """
    num_classes = len(SEGMENTATION_CLASSES)
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    for i, out in enumerate(_outputs(model, scenes, batch_size)):
        logits = out["out"] if isinstance(out, dict) else out
        batch = scenes[i * batch_size : (i + 1) * batch_size]
        target = torch.from_numpy(np.stack([s.semantic for s in batch]).astype(np.int64))
        confusion += confusion_matrix(logits.argmax(dim=1), target, num_classes)
    iou = iou_per_class(confusion)
    return {
        "mean_iou": float(iou.nanmean()),
        "iou": {name: round(float(v), 4) for name, v in zip(SEGMENTATION_CLASSES, iou, strict=True)},
        # Python division of the counts: dividing two int64 tensors gives float32.
        "pixel_accuracy": int(confusion.diagonal().sum()) / int(confusion.sum()),
    }


def evaluate_instances(
    model: nn.Module,
    scenes: Sequence[shapes.ShapeScene],
    threshold: float = DEFAULT_CENTER_THRESHOLD,
    batch_size: int = 100,
) -> dict[str, float]:
    """Instance quality of `InstanceFCNMini` on `scenes`, counted over all objects of all scenes.

    A predicted mask is right (TP) when it has the class of a true object and IoU > 0.5 with its visible mask.

    Returns:
        `precision` TP / predicted, `recall` TP / true objects, `panoptic_quality` PQ = (sum of matched IoUs)
        / (TP + FP/2 + FN/2) (Kirillov et al., 2019, pooled over classes), `matched_iou` mean IoU of matches.
    """
    tp = fp = fn = 0
    iou_sum = 0.0
    for i, out in enumerate(_outputs(model, scenes, batch_size)):
        batch = scenes[i * batch_size : (i + 1) * batch_size]
        for j, scene in enumerate(batch):
            found = group_instances(out["out"][j], out["center"][j], out["offset"][j], threshold)
            pred_masks = (
                np.stack([p.mask for p in found]) if found else np.zeros((0, *scene.semantic.shape), bool)
            )
            true_labels = [inst.label + 1 for inst in scene.instances]
            matches = match_instances(pred_masks, [p.label for p in found], scene.masks, true_labels)
            tp += len(matches)
            fp += len(found) - len(matches)
            fn += len(true_labels) - len(matches)
            iou_sum += sum(m[2] for m in matches)
    denominator = tp + fp / 2 + fn / 2
    return {
        "precision": tp / max(tp + fp, 1),
        "recall": tp / max(tp + fn, 1),
        "panoptic_quality": iou_sum / denominator if denominator else 0.0,
        "matched_iou": iou_sum / max(tp, 1),
    }

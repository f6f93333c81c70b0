"""mAP@0.5 as PASCAL VOC measures it: match detections to ground truth, AP per class, the mean over classes.

Also the box mAP each detector's weights are published with (:func:`reference_map`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torchvision.ops import box_iou

from cnnviz.models.registry import BundledWeights, ModelSpec
from cnnviz.models.zoo import HubWeights
from cnnviz.weights import read_card

__all__ = ["average_precision", "match_detections", "mean_average_precision", "reference_map"]


def match_detections(boxes: Tensor, scores: Tensor, gt_boxes: Tensor, iou_threshold: float = 0.5) -> Tensor:
    """PASCAL VOC matching of one image's detections of one class to its ground truth.

    Detections are taken from the highest score down; each is a true positive when its best-overlapping
    ground-truth box has IoU >= ``iou_threshold`` and was not matched by a higher-scoring detection.

    Returns:
        ``(K,)`` bool, true positive per detection (in the given order).
    """
    tp = torch.zeros(len(boxes), dtype=torch.bool)
    if len(boxes) == 0 or len(gt_boxes) == 0:
        return tp
    iou = box_iou(boxes, gt_boxes)
    taken = torch.zeros(len(gt_boxes), dtype=torch.bool)
    for k in torch.argsort(scores, descending=True, stable=True).tolist():
        best_iou, best = iou[k].max(dim=0)
        if best_iou >= iou_threshold and not taken[best]:
            taken[best] = True
            tp[k] = True
    return tp


def average_precision(
    scores: Sequence[float] | np.ndarray, true_positive: Sequence[bool] | np.ndarray, num_gt: int
) -> float:
    """Area under the precision-recall curve with all-point interpolation (PASCAL VOC 2010 on, COCO-style).

    The detections are sorted by score; after each, precision and recall are computed; precision is made
    monotonically decreasing (each point takes the best precision at any higher recall) and summed over the
    recall steps.

    Args:
        scores: one score per detection (of one class, all images).
        true_positive: whether each detection matched a ground-truth box.
        num_gt: ground-truth objects of the class.

    Returns:
        AP in 0..1; ``nan`` when ``num_gt`` is 0 (a class with no objects has no AP).
    """
    if num_gt == 0:
        return float("nan")
    s = np.asarray(scores, dtype=np.float64)
    t = np.asarray(true_positive, dtype=bool)
    if len(s) != len(t):
        raise ValueError(f"scores and true_positive must have the same length, got {len(s)} and {len(t)}")
    order = np.argsort(-s, kind="stable")
    tp = np.cumsum(t[order])
    fp = np.cumsum(~t[order])
    recall = np.concatenate([[0.0], tp / num_gt])
    precision = np.concatenate([[1.0], tp / np.maximum(tp + fp, 1)])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum((recall[1:] - recall[:-1]) * precision[1:]))


def mean_average_precision(
    detections: Sequence[tuple[Tensor, Tensor, Tensor]],
    ground_truth: Sequence[tuple[Tensor, Tensor]],
    num_classes: int,
    iou_threshold: float = 0.5,
) -> tuple[float, list[float]]:
    """mAP@``iou_threshold``: the mean over classes of :func:`average_precision`.

    Args:
        detections: per image ``(boxes (K, 4), scores (K,), labels (K,))``.
        ground_truth: per image ``(boxes (G, 4), labels (G,))``.
        num_classes: classes ``0 .. num_classes - 1``.

    Returns:
        ``(mAP over the classes that have objects, AP per class (nan for a class without objects))``.

    Raises:
        ValueError: the two sequences differ in length.
    """
    if len(detections) != len(ground_truth):
        raise ValueError(
            f"detections and ground_truth must cover the same images, got {len(detections)} and "
            f"{len(ground_truth)}"
        )
    all_scores: list[list[float]] = [[] for _ in range(num_classes)]
    all_tp: list[list[bool]] = [[] for _ in range(num_classes)]
    num_gt = [0] * num_classes
    for (boxes, scores, labels), (gt_boxes, gt_labels) in zip(detections, ground_truth, strict=True):
        for c in range(num_classes):
            mine = labels == c
            gt = gt_boxes[gt_labels == c]
            num_gt[c] += len(gt)
            all_scores[c].extend(scores[mine].tolist())
            all_tp[c].extend(match_detections(boxes[mine], scores[mine], gt, iou_threshold).tolist())
    per_class = [average_precision(all_scores[c], all_tp[c], num_gt[c]) for c in range(num_classes)]
    present = [ap for ap in per_class if not math.isnan(ap)]
    return (float(np.mean(present)) if present else float("nan")), per_class


def reference_map(spec: ModelSpec) -> float | None:
    """The box mAP a detector's weights are published with, in 0..1, or ``None``.

    torchvision detectors: COCO val2017 box mAP@[0.5:0.95] from the weights' meta; yolo-mini: its card's
    held-out mAP@0.5 on shapes scenes. (Different data and metrics: compare within a family of weights only.)
    """
    if isinstance(spec.weight_source, HubWeights):
        metrics = spec.weight_source.weights.meta.get("_metrics", {}).get("COCO-val2017", {})
        return metrics["box_map"] / 100 if "box_map" in metrics else None
    if isinstance(spec.weight_source, BundledWeights):
        try:
            value = read_card(spec.weight_source.name, spec.weight_source.directory).get("held_out_map")
        except FileNotFoundError:
            return None
        return float(value) if value is not None else None
    return None

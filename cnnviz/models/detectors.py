"""Detectors: a bundled 1-stage grid detector, the MTCNN face cascade, and torchvision's COCO detectors.

The lecture's two families of object detection (객체 탐지):

- **1-stage**, YOLO style: one network looks at the whole image once and every cell of an S×S grid
  predicts B boxes ``(x, y, w, h, confidence)`` and class probabilities at the same time.
  :class:`YoloMini` does this on synthetic shapes scenes (96×96, S = 6, B = 2) and is trained by
  ``python -m cnnviz.train yolo-mini``; torchvision's RetinaNet, FCOS and SSDlite are the full-size
  1-stage detectors.
- **2-stage**, R-CNN style: first propose regions where an object may be, then classify and refine each one.
  torchvision's Faster R-CNN (a region proposal network, then RoI heads) is the full-size one. The MTCNN face
  detector (Zhang et al., 2016) is a cascade in the same spirit: P-Net, a tiny fully convolutional network,
  scores a 12×12 window at every position of an image pyramid (a grid of face probabilities like YOLO's) and
  proposes boxes; R-Net re-scores 24×24 crops of those proposals; O-Net re-scores 48×48 crops and adds five
  facial landmarks.

MTCNN's weights come from the ``facenet-pytorch`` weight pack (see :mod:`cnnviz.weights`); the networks below
are cnnviz's own definitions whose parameter names match those files. The conventions of those weights, which
the cascade follows: RGB input scaled as ``(pixel - 127.5) / 128``; box offsets ordered ``(x1, y1, x2, y2)``
as fractions of the box's width and height; landmarks as five x then five y fractions; and the R-Net/O-Net
fully connected layers read their feature map flattened in ``(W, H, C)`` order (the layout of the framework
the weights were first trained in).

Boxes everywhere are ``(x1, y1, x2, y2)`` in pixels of the model's input, pixel-edge coordinates (a box
``(0, 0, 2, 2)`` covers 2×2 pixels), like :mod:`cnnviz.data.shapes` and torchvision.
"""

from __future__ import annotations

import math
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision
from PIL import Image
from torch import Tensor, nn
from torch.nn import functional as F
from torchvision.ops import box_iou, nms, roi_align

from cnnviz.cpu import torch_threads
from cnnviz.data import shapes
from cnnviz.models.registry import (
    BundledWeights,
    ModelSpec,
    Progress,
    WeightsLabel,
    WeightsMissingError,
    build_untrained,
    register,
)
from cnnviz.models.zoo import HubWeights, TorchvisionBuilder
from cnnviz.weights import PACKS, mtcnn_dir, read_card, save_bundled

__all__ = [
    "GRID_BOXES",
    "GRID_SIZE",
    "HELD_OUT_COUNT",
    "KINDS",
    "MTCNN",
    "MTCNN_SPEC",
    "SCENE_INPUT",
    "TORCHVISION_DETECTORS",
    "YOLO_MINI",
    "FaceCascade",
    "GridDecoding",
    "MTCNNWeights",
    "ONet",
    "PNet",
    "RNet",
    "ResizeTransform",
    "YoloMini",
    "average_precision",
    "classes_apart",
    "decode_grid",
    "detector_kind",
    "evaluate_map",
    "match_detections",
    "mean_average_precision",
    "reference_map",
    "train_yolo_mini",
    "yolo_loss",
    "yolo_targets",
]

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


# ============================================================================================== YOLO-mini

GRID_SIZE = 6
"""S: the bundled detector divides its 96×96 input into S×S cells of 16×16 pixels."""
GRID_BOXES = 2
"""B: boxes each cell predicts."""
SCENE_INPUT = (shapes.SCENE_SIZE, shapes.SCENE_SIZE)
HELD_OUT_COUNT = 500
"""The card's mAP is measured on the scenes of ``shapes.held_out_seeds(HELD_OUT_COUNT)``."""
_NUM_CLASSES = len(shapes.CLASSES)


def _conv_bn(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    )


class YoloMini(nn.Module):
    """A YOLO(v1)-style 1-stage grid detector in miniature.

    A small convolutional backbone shrinks the 96×96 image to the S×S grid (a stride-2 convolution and three
    2×2 max pools: 96 → 48 → 24 → 12 → 6); a 1×1 convolution then gives every cell ``B * 5 + C`` numbers:
    for each of its B boxes ``(tx, ty, tw, th, tc)``, then C class logits shared by the cell's boxes
    (YOLOv1's layout). :func:`decode_grid` turns them into boxes. YOLOv1 ended in fully connected layers;
    here the last 3×3 convolutions at 6×6 already see most of the image, enough for scenes this small.

    Input ``(N, 3, 96, 96)`` -> raw output ``(N, B * 5 + C, S, S)``.
    """

    def __init__(
        self, num_classes: int = _NUM_CLASSES, grid_size: int = GRID_SIZE, num_boxes: int = GRID_BOXES
    ) -> None:
        super().__init__()
        if grid_size != GRID_SIZE:
            raise ValueError(
                f"grid_size must be {GRID_SIZE} (a 96×96 input shrunk 16 times), got {grid_size}"
            )
        self.num_classes = num_classes
        self.grid_size = grid_size
        self.num_boxes = num_boxes
        self.features = nn.Sequential(
            _conv_bn(3, 16, stride=2),  # (N, 16, 48, 48)
            nn.MaxPool2d(2),  # (N, 16, 24, 24)
            _conv_bn(16, 32),
            nn.MaxPool2d(2),  # (N, 32, 12, 12)
            _conv_bn(32, 64),
            nn.MaxPool2d(2),  # (N, 64, 6, 6): one position per grid cell
            _conv_bn(64, 96),
            _conv_bn(96, 96),
        )
        self.head = nn.Conv2d(96, num_boxes * 5 + num_classes, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


@dataclass(frozen=True)
class GridDecoding:
    """Every box a grid detector predicts, decoded; ``M = S * S * B`` per image, ordered (row, col, box).

    Attributes:
        boxes: ``(N, M, 4)`` ``(x1, y1, x2, y2)`` in input pixels.
        confidence: ``(N, M)`` objectness ``sigmoid(tc)``: how sure the box is that it holds an object.
        class_probs: ``(N, M, C)`` the cell's class probabilities (softmax), repeated for each of its boxes.
        scores: ``(N, M)`` class-specific confidence ``confidence * max(class_probs)`` (YOLOv1's test score).
        labels: ``(N, M)`` int64 ``argmax(class_probs)``.
        cells: ``(M, 3)`` int64 ``(row, col, box)`` each prediction comes from.
    """

    boxes: Tensor
    confidence: Tensor
    class_probs: Tensor
    scores: Tensor
    labels: Tensor
    cells: Tensor


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


def decode_grid(
    output: Tensor, num_boxes: int = GRID_BOXES, image_size: tuple[int, int] = SCENE_INPUT
) -> GridDecoding:
    """Decodes a YOLOv1-style grid output into boxes.

    For the cell in row ``i`` and column ``j`` of an S×S grid over an image of ``(H, W)`` pixels, box ``b``
    is ``x = (j + sigmoid(tx)) / S * W`` and ``y = (i + sigmoid(ty)) / S * H`` (its centre, inside the cell),
    ``w = sigmoid(tw)**2 * W`` and ``h = sigmoid(th)**2 * H`` (the network predicts square roots of the
    size, as YOLOv1 does, so errors on small boxes weigh more).

    Args:
        output: raw ``(N, B * 5 + C, S, S)``; channel ``5 * b + k`` is ``(tx, ty, tw, th, tc)[k]`` of box
            ``b``, channels from ``5 * B`` on are class logits.
        num_boxes: B.
        image_size: ``(H, W)`` of the input the boxes refer to.

    Raises:
        ValueError: ``output`` is not 4-D with square grid and more than ``5 * num_boxes`` channels.
    """
    if output.ndim != 4 or output.shape[2] != output.shape[3] or output.shape[1] <= 5 * num_boxes:
        raise ValueError(
            f"output must be (N, {num_boxes} * 5 + C, S, S) with C >= 1, got {tuple(output.shape)}"
        )
    n, _, s, _ = output.shape
    height, width = image_size
    grid = output.permute(0, 2, 3, 1)  # (N, S, S, B * 5 + C)
    box_part = grid[..., : 5 * num_boxes].reshape(n, s, s, num_boxes, 5).sigmoid()
    class_probs = grid[..., 5 * num_boxes :].softmax(dim=-1)  # (N, S, S, C)
    rows = torch.arange(s, dtype=output.dtype).view(1, s, 1, 1)
    cols = torch.arange(s, dtype=output.dtype).view(1, 1, s, 1)
    cx = (cols + box_part[..., 0]) / s * width
    cy = (rows + box_part[..., 1]) / s * height
    bw = box_part[..., 2].square() * width
    bh = box_part[..., 3].square() * height
    boxes = torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], dim=-1).reshape(n, -1, 4)
    confidence = box_part[..., 4].reshape(n, -1)
    probs = class_probs.unsqueeze(3).expand(n, s, s, num_boxes, -1).reshape(n, s * s * num_boxes, -1)
    best, labels = probs.max(dim=-1)
    r, c, b = torch.meshgrid(torch.arange(s), torch.arange(s), torch.arange(num_boxes), indexing="ij")
    cells = torch.stack([r, c, b], dim=-1).reshape(-1, 3)
    return GridDecoding(
        boxes=boxes,
        confidence=confidence,
        class_probs=probs,
        scores=confidence * best,
        labels=labels,
        cells=cells,
    )


def yolo_targets(
    boxes: Tensor, labels: Tensor, grid_size: int = GRID_SIZE, image_size: tuple[int, int] = SCENE_INPUT
) -> tuple[Tensor, Tensor, Tensor]:
    """The grid cell responsible for each object: the one holding the centre of its box (YOLOv1).

    A cell holds one object; when two centres fall into one cell, the larger box is kept (YOLOv1's known
    limit with small, crowded objects).

    Args:
        boxes: ``(K, 4)`` ground-truth boxes in pixels.
        labels: ``(K,)`` class indices.

    Returns:
        ``(obj, box_target, class_target)``: ``(S, S)`` bool, ``(S, S, 4)`` ``(x offset in the cell, y offset,
        sqrt(w / W), sqrt(h / H))``, ``(S, S)`` int64 class (0 where no object).
    """
    height, width = image_size
    s = grid_size
    obj = torch.zeros(s, s, dtype=torch.bool)
    box_target = torch.zeros(s, s, 4)
    class_target = torch.zeros(s, s, dtype=torch.int64)
    area = torch.zeros(s, s)
    for box, label in zip(boxes.tolist(), labels.tolist(), strict=True):
        x1, y1, x2, y2 = box
        gx = (x1 + x2) / 2 / width * s
        gy = (y1 + y2) / 2 / height * s
        col, row = min(int(gx), s - 1), min(int(gy), s - 1)
        size = (x2 - x1) * (y2 - y1)
        if obj[row, col] and area[row, col] >= size:
            continue
        obj[row, col] = True
        area[row, col] = size
        box_target[row, col] = torch.tensor(
            [gx - col, gy - row, math.sqrt((x2 - x1) / width), math.sqrt((y2 - y1) / height)]
        )
        class_target[row, col] = label
    return obj, box_target, class_target


_LAMBDA_COORD = 5.0
_LAMBDA_NOOBJ = 0.5


def yolo_loss(
    output: Tensor, obj: Tensor, box_target: Tensor, class_target: Tensor, num_boxes: int = GRID_BOXES
) -> Tensor:
    """YOLOv1's loss, with binary cross-entropy for confidence and cross-entropy for classes.

    Of a cell's B boxes, the one whose predicted box overlaps the object most (IoU) is responsible for it: its
    centre offsets and square-rooted sizes are pulled to the target (weight 5, squared error), its confidence
    to 1. Every other box's confidence is pushed to 0 (weight 0.5: most boxes hold no object). The class
    logits of cells with an object learn the object's class.

    Args:
        output: raw ``(N, B * 5 + C, S, S)``.
        obj, box_target, class_target: stacked :func:`yolo_targets`, ``(N, S, S)``, ``(N, S, S, 4)``,
            ``(N, S, S)``.

    Returns:
        The loss summed over the grid, averaged over the batch.
    """
    n, _, s, _ = output.shape
    grid = output.permute(0, 2, 3, 1)
    pred = grid[..., : 5 * num_boxes].reshape(n, s, s, num_boxes, 5)
    act = pred[..., :4].sigmoid()  # (N, S, S, B, 4): x, y offsets and sqrt sizes, as the targets
    with torch.no_grad():
        # IoU of each predicted box with its cell's target, in grid units (the cell origin cancels out).
        def corners(t: Tensor) -> Tensor:
            w, h = t[..., 2].square() * s, t[..., 3].square() * s
            return torch.stack(
                [t[..., 0] - w / 2, t[..., 1] - h / 2, t[..., 0] + w / 2, t[..., 1] + h / 2], -1
            )

        pc, tc = corners(act), corners(box_target.unsqueeze(3))
        iw = (torch.minimum(pc[..., 2], tc[..., 2]) - torch.maximum(pc[..., 0], tc[..., 0])).clamp(min=0)
        ih = (torch.minimum(pc[..., 3], tc[..., 3]) - torch.maximum(pc[..., 1], tc[..., 1])).clamp(min=0)
        inter = iw * ih
        union = (pc[..., 2] - pc[..., 0]) * (pc[..., 3] - pc[..., 1])
        union = union + (tc[..., 2] - tc[..., 0]) * (tc[..., 3] - tc[..., 1]) - inter
        iou = inter / union.clamp(min=1e-9)
        responsible = F.one_hot(iou.argmax(dim=-1), num_boxes).bool() & obj.unsqueeze(-1)  # (N, S, S, B)
    coord = ((act - box_target.unsqueeze(3)).square().sum(-1) * responsible).sum()
    conf_target = responsible.float()
    conf = F.binary_cross_entropy_with_logits(pred[..., 4], conf_target, reduction="none")
    conf = (conf * torch.where(responsible, 1.0, _LAMBDA_NOOBJ)).sum()
    logits = grid[..., 5 * num_boxes :]
    cls = F.cross_entropy(logits[obj], class_target[obj], reduction="sum") if obj.any() else logits.sum() * 0
    return (_LAMBDA_COORD * coord + conf + cls) / n


# ------------------------------------------------------------------------------------------ mAP@0.5


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


_EVAL_SCORE_FLOOR = 0.01
_EVAL_NMS_IOU = 0.5


@torch.no_grad()
def evaluate_map(
    model: nn.Module, count: int = HELD_OUT_COUNT, batch_size: int = 100
) -> tuple[float, list[float]]:
    """mAP@0.5 of a :class:`YoloMini` on the held-out shapes scenes ``shapes.held_out_seeds(count)``.

    Every box with score >= 0.01 is kept, then class-wise NMS at IoU 0.5 (the usual way to measure mAP: the
    whole precision-recall curve counts, not one threshold).

    Returns:
        ``(mAP, AP per class)``.
    """
    model.eval()
    images, targets = shapes.detection_tensors(shapes.held_out_seeds(count))
    detections = []
    for start in range(0, len(images), batch_size):
        decoded = decode_grid(model(shapes.normalize(images[start : start + batch_size])))
        for k in range(len(decoded.boxes)):
            keep = decoded.scores[k] >= _EVAL_SCORE_FLOOR
            boxes, scores, labels = decoded.boxes[k][keep], decoded.scores[k][keep], decoded.labels[k][keep]
            kept = nms(classes_apart(boxes, labels), scores, _EVAL_NMS_IOU)
            detections.append((boxes[kept], scores[kept], labels[kept]))
    truth = [(t["boxes"], t["labels"]) for t in targets]
    return mean_average_precision(detections, truth, _NUM_CLASSES, 0.5)


# -------------------------------------------------------------------------------------------- training

_TRAIN_COUNT = 3000
_EPOCHS = 14
_BATCH_SIZE = 64
_LR = 4e-3
_WEIGHT_DECAY = 5e-4
_SEED = 0


def _flipped_targets(
    boxes: list[Tensor], labels: list[Tensor], size: int
) -> list[tuple[Tensor, Tensor, Tensor]]:
    """Grid targets of every scene for its four flips (none, horizontal, vertical, both), stacked.

    Every shape class is closed under flips, so flipped scenes are new, correctly labelled scenes.

    Returns:
        For flip ``f`` (bit 0 horizontal, bit 1 vertical): ``(obj (N, S, S), box (N, S, S, 4),
        cls (N, S, S))``.
    """
    out = []
    for flip in range(4):
        parts = []
        for b, label in zip(boxes, labels, strict=True):
            b = b.clone()
            if flip & 1:
                b[:, [0, 2]] = size - b[:, [2, 0]]
            if flip & 2:
                b[:, [1, 3]] = size - b[:, [3, 1]]
            parts.append(yolo_targets(b, label))
        obj, box, cls = (torch.stack(p) for p in zip(*parts, strict=True))
        out.append((obj, box, cls))
    return out


def train_yolo_mini(epochs: int | None, out_dir: Path, progress: bool) -> dict[str, Any]:
    """Trains :class:`YoloMini` on shapes scenes, measures its held-out mAP@0.5, writes weights and card.

    Deterministic for a given machine and thread count (one thread, as the card records): data, initial
    weights, batch order and flips all follow the seed; the global random state is left as it was.
    """
    epochs = _EPOCHS if epochs is None else epochs
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    with torch_threads(1):
        started = time.perf_counter()
        images, targets = shapes.detection_tensors(shapes.train_seeds(_TRAIN_COUNT))
        flipped = _flipped_targets(
            [t["boxes"] for t in targets], [t["labels"] for t in targets], images.shape[-1]
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_SEED)
            model = YoloMini()
            optimizer = torch.optim.AdamW(model.parameters(), lr=_LR, weight_decay=_WEIGHT_DECAY)
            steps = epochs * math.ceil(len(images) / _BATCH_SIZE)
            scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=_LR, total_steps=steps, pct_start=0.15
            )
            for epoch in range(epochs):
                model.train()
                order = torch.randperm(len(images))
                flips = torch.randint(0, 4, (len(images),))
                total = 0.0
                for start in range(0, len(images), _BATCH_SIZE):
                    idx = order[start : start + _BATCH_SIZE]
                    flip = flips[idx]
                    batch = images[idx]
                    batch = torch.where((flip & 1).bool().view(-1, 1, 1, 1), batch.flip(-1), batch)
                    batch = torch.where((flip & 2).bool().view(-1, 1, 1, 1), batch.flip(-2), batch)
                    obj, box_t, cls_t = (
                        torch.stack([flipped[int(f)][part][int(i)] for f, i in zip(flip, idx, strict=True)])
                        for part in range(3)
                    )
                    loss = yolo_loss(model(shapes.normalize(batch)), obj, box_t, cls_t)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    scheduler.step()
                    total += float(loss.detach()) * len(idx)
                if progress:
                    print(
                        f"yolo-mini epoch {epoch + 1}/{epochs}: loss {total / len(images):.3f}, "
                        f"{time.perf_counter() - started:.0f} s",
                        file=sys.stderr,
                        flush=True,
                    )
        train_time = time.perf_counter() - started
        map50, per_class = evaluate_map(model)
    card = {
        "name": "yolo-mini",
        "architecture": "cnnviz.models.detectors.YoloMini",
        "task": "detection",
        "data": (
            "synthetic shapes scenes (cnnviz.data.shapes.scene), 96x96 RGB, 1-4 shapes per scene with boxes"
        ),
        "categories": list(shapes.CLASSES),
        "normalize": {"mean": list(shapes.MEAN), "std": list(shapes.STD)},
        "grid": {"S": GRID_SIZE, "B": GRID_BOXES, "cell_pixels": shapes.SCENE_SIZE // GRID_SIZE},
        "train_seeds": [0, _TRAIN_COUNT],
        "train_count": _TRAIN_COUNT,
        "held_out_seeds": [shapes.HELD_OUT_START, shapes.HELD_OUT_START + HELD_OUT_COUNT],
        "seed": _SEED,
        "epochs": epochs,
        "batch_size": _BATCH_SIZE,
        "optimizer": f"AdamW(lr={_LR}, weight_decay={_WEIGHT_DECAY}), one-cycle schedule",
        "loss": (
            "YOLOv1: 5 x squared error of centre offsets and sqrt sizes of the responsible box, BCE of "
            "confidence (no-object weight 0.5), cross-entropy of the cell's class"
        ),
        "augmentation": "random horizontal and vertical flips",
        "evaluation": (
            f"mAP@0.5 (VOC all-point AP, mean over the 6 classes); boxes with score >= {_EVAL_SCORE_FLOOR}, "
            f"class-wise NMS at IoU {_EVAL_NMS_IOU}"
        ),
        "held_out_map": math.floor(map50 * 1000) / 1000,  # rounded down: the test checks "at least"
        "held_out_ap_per_class": {c: round(ap, 4) for c, ap in zip(shapes.CLASSES, per_class, strict=True)},
        "held_out_count": HELD_OUT_COUNT,
        "params": sum(p.numel() for p in model.parameters()),
        "train_time_s": round(train_time, 1),
        "threads": 1,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    return save_bundled("yolo-mini", model.state_dict(), card, out_dir)


YOLO_MINI = register(
    ModelSpec(
        name="yolo-mini",
        family="YOLO",
        task="detection",
        in_channels=3,
        input_size=SCENE_INPUT,
        source="bundled",
        note=(
            "A 1-stage detector in the style of YOLO (v1): the image is divided into a 6×6 grid and every "
            "cell "
            "predicts 2 boxes with a confidence and the class probabilities in one pass; trained on shapes."
        ),
        note_ko=(
            "YOLO(v1) 방식의 1-stage detector: 이미지를 6×6 그리드로 나누고 각 셀이 한 번의 연산으로 bbox "
            "2개와 "
            "confidence score, 클래스 확률을 동시에 예측; 합성 도형 데이터로 학습."
        ),
        build=YoloMini,
        transform=ResizeTransform(SCENE_INPUT, shapes.MEAN, shapes.STD),
        categories=shapes.CLASSES,
        weights=BundledWeights("yolo-mini"),
        mean=shapes.MEAN,
        std=shapes.STD,
        year=2016,
        tags=("1-stage",),
    )
)


# ================================================================================================== MTCNN

_MTCNN_MEAN = (0.5, 0.5, 0.5)
_MTCNN_STD = (128 / 255, 128 / 255, 128 / 255)  # (pixel - 127.5) / 128, the weights' own scaling


def _prelu_conv(c_in: int, c_out: int, kernel: int) -> tuple[nn.Conv2d, nn.PReLU]:
    return nn.Conv2d(c_in, c_out, kernel_size=kernel), nn.PReLU(c_out)


def _flatten_whc(x: Tensor) -> Tensor:
    """``(N, C, H, W)`` flattened in ``(W, H, C)`` order, the order the weights' FC layers were trained on."""
    return x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)


class PNet(nn.Module):
    """MTCNN's proposal network: fully convolutional, it scores every 12×12 window (stride 2) at once.

    Input ``(N, 3, H, W)`` -> ``(face probability (N, 2, h, w), box offsets (N, 4, h, w))`` with
    ``h = ceil((H - 2) / 2) - 4``; channel 1 of the probabilities is "face".
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _prelu_conv(3, 10, 3)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _prelu_conv(10, 16, 3)
        self.conv3, self.prelu3 = _prelu_conv(16, 32, 3)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_1(x).softmax(dim=1), self.conv4_2(x)


class RNet(nn.Module):
    """MTCNN's refinement network: re-scores 24×24 crops of the proposals and refines their boxes.

    Input ``(N, 3, 24, 24)`` -> ``(face probability (N, 2), box offsets (N, 4))``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _prelu_conv(3, 28, 3)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _prelu_conv(28, 48, 3)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = _prelu_conv(48, 64, 2)
        self.dense4 = nn.Linear(64 * 3 * 3, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu4(self.dense4(_flatten_whc(self.prelu3(self.conv3(x)))))
        return self.dense5_1(x).softmax(dim=1), self.dense5_2(x)


class ONet(nn.Module):
    """MTCNN's output network: re-scores 48×48 crops, refines boxes and places five facial landmarks.

    Input ``(N, 3, 48, 48)`` -> ``(face probability (N, 2), box offsets (N, 4), landmarks (N, 10))``; the
    landmarks are five x fractions then five y fractions of the crop (eyes, nose, mouth corners).
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _prelu_conv(3, 32, 3)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _prelu_conv(32, 64, 3)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = _prelu_conv(64, 64, 3)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = _prelu_conv(64, 128, 2)
        self.dense5 = nn.Linear(128 * 3 * 3, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu5(self.dense5(_flatten_whc(self.prelu4(self.conv4(x)))))
        return self.dense6_1(x).softmax(dim=1), self.dense6_2(x), self.dense6_3(x)


@dataclass(frozen=True)
class FaceCascade:
    """Everything the MTCNN cascade produced for one image, stage by stage (boxes in input pixels).

    Attributes:
        scales: the image pyramid's scale factors.
        pnet_maps: per scale, P-Net's ``(h, w)`` face probability; position ``(i, j)`` scores the 12×12
            window at ``(2j, 2i)`` of the scaled image, i.e. a ``12 / scale`` pixel window every
            ``2 / scale`` pixels of the input.
        proposals: ``(P, 4)`` P-Net's boxes above its threshold, after NMS within and across scales and
            their own offsets, made square; best first.
        proposal_scores: ``(P,)``.
        refined: ``(R, 4)`` R-Net's boxes above its threshold, after NMS and offsets, made square; best first.
        refined_scores: ``(R,)``.
        boxes: ``(K, 4)`` O-Net's boxes for every refined box, after its offsets; no threshold and no NMS yet.
        scores: ``(K,)`` O-Net's face probability.
        landmarks: ``(K, 5, 2)`` ``(x, y)`` of left eye, right eye, nose, left and right mouth corner.
        seconds: time of each stage, ``{"P-Net": …, "R-Net": …, "O-Net": …}``.
    """

    scales: tuple[float, ...]
    pnet_maps: tuple[Tensor, ...]
    proposals: Tensor
    proposal_scores: Tensor
    refined: Tensor
    refined_scores: Tensor
    boxes: Tensor
    scores: Tensor
    landmarks: Tensor
    seconds: dict[str, float]


def _square(boxes: Tensor) -> Tensor:
    """Boxes grown to squares around the same centre (the next stage's crops are square)."""
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    half = torch.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) / 2
    return torch.stack([cx - half, cy - half, cx + half, cy + half], dim=1)


def _apply_offsets(boxes: Tensor, offsets: Tensor) -> Tensor:
    """MTCNN's box regression: each corner moves by its offset times the box's width or height."""
    size = torch.cat([boxes[:, 2:] - boxes[:, :2]] * 2, dim=1)  # (w, h, w, h)
    return boxes + offsets * size


_OUTSIDE = -127.5 / 128  # a black pixel after scaling: what lies outside the image


def _crops(image: Tensor, boxes: Tensor, size: int) -> Tensor:
    """``(K, 3, size, size)`` crops of ``(1, 3, H, W)`` at ``boxes``, black outside the image.

    roi_align averages several bilinear samples per output pixel (an area-like resize); it reads zeros
    outside the image, so the image is shifted to make zero mean black.
    """
    rois = torch.cat([torch.zeros(len(boxes), 1, dtype=boxes.dtype), boxes], dim=1)
    crops = roi_align(
        image - _OUTSIDE, rois, output_size=size, spatial_scale=1.0, sampling_ratio=-1, aligned=True
    )
    return crops + _OUTSIDE


class MTCNN(nn.Module):
    """The MTCNN face detector (Zhang et al., 2016): P-Net → R-Net → O-Net on an image pyramid.

    ``forward`` returns the final faces; :meth:`cascade` returns every stage for the page.

    Attributes:
        min_face_size: smallest face searched for, in pixels (sets the largest pyramid scale, 12 / size).
        scale_factor: ratio between pyramid levels.
        thresholds: face probability each stage keeps, (P-Net, R-Net, O-Net).
    """

    def __init__(
        self,
        min_face_size: float = 20.0,
        scale_factor: float = 0.709,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
    ) -> None:
        super().__init__()
        self.pnet = PNet()
        self.rnet = RNet()
        self.onet = ONet()
        self.min_face_size = min_face_size
        self.scale_factor = scale_factor
        self.thresholds = thresholds

    def scales(self, height: int, width: int) -> list[float]:
        """The pyramid: ``12 / min_face_size`` times powers of ``scale_factor`` while the image keeps >= 12 "
        "px."""
        scale = 12.0 / self.min_face_size
        out = []
        while min(height, width) * scale >= 12:
            out.append(scale)
            scale *= self.scale_factor
        return out

    @torch.no_grad()
    def cascade(self, x: Tensor) -> FaceCascade:
        """Runs the three stages on one image.

        Args:
            x: ``(1, 3, H, W)`` scaled as ``(pixel - 127.5) / 128``, RGB.

        Raises:
            ValueError: ``x`` is not one 3-channel image.
        """
        if x.ndim != 4 or x.shape[0] != 1 or x.shape[1] != 3:
            raise ValueError(f"x must be one RGB image (1, 3, H, W), got {tuple(x.shape)}")
        p_thr, r_thr, _ = self.thresholds
        height, width = x.shape[-2:]
        seconds = {}

        started = time.perf_counter()
        scales = self.scales(height, width)
        maps, all_boxes, all_scores = [], [], []
        for scale in scales:
            size = (max(1, math.ceil(height * scale)), max(1, math.ceil(width * scale)))
            probs, offsets = self.pnet(F.interpolate(x, size=size, mode="area"))
            face = probs[0, 1]
            maps.append(face)
            rows, cols = torch.nonzero(face >= p_thr, as_tuple=True)
            if len(rows) == 0:
                continue
            # Window (2j, 2i, 2j + 12, 2i + 12) of the scaled image, back in input pixels, plus its offsets.
            windows = torch.stack([cols * 2, rows * 2, cols * 2 + 12, rows * 2 + 12], dim=1).to(x.dtype)
            boxes = _apply_offsets(windows / scale, offsets[0, :, rows, cols].T)
            scores = face[rows, cols]
            keep = nms(windows, scores, 0.5)  # within a scale: on the windows, as the paper's sliding search
            all_boxes.append(boxes[keep])
            all_scores.append(scores[keep])
        proposals = torch.cat(all_boxes) if all_boxes else x.new_zeros(0, 4)
        proposal_scores = torch.cat(all_scores) if all_scores else x.new_zeros(0)
        keep = nms(proposals, proposal_scores, 0.7)  # across scales
        proposals, proposal_scores = _square(proposals[keep]), proposal_scores[keep]
        seconds["P-Net"] = time.perf_counter() - started

        started = time.perf_counter()
        refined, refined_scores = x.new_zeros(0, 4), x.new_zeros(0)
        if len(proposals):
            probs, offsets = self.rnet(_crops(x, proposals, 24))
            face = probs[:, 1]
            mask = face >= r_thr
            boxes, scores = proposals[mask], face[mask]
            keep = nms(boxes, scores, 0.7)
            refined = _square(_apply_offsets(boxes[keep], offsets[mask][keep]))
            refined_scores = scores[keep]
        seconds["R-Net"] = time.perf_counter() - started

        started = time.perf_counter()
        boxes, scores, landmarks = x.new_zeros(0, 4), x.new_zeros(0), x.new_zeros(0, 5, 2)
        if len(refined):
            probs, offsets, points = self.onet(_crops(x, refined, 48))
            # Landmarks are fractions of the crop: five x, then five y.
            extent = refined[:, 2:] - refined[:, :2]
            landmarks = (
                torch.stack([points[:, :5], points[:, 5:]], dim=2) * extent[:, None] + refined[:, None, :2]
            )
            boxes, scores = _apply_offsets(refined, offsets), probs[:, 1]
        seconds["O-Net"] = time.perf_counter() - started
        return FaceCascade(
            scales=tuple(scales),
            pnet_maps=tuple(maps),
            proposals=proposals,
            proposal_scores=proposal_scores,
            refined=refined,
            refined_scores=refined_scores,
            boxes=boxes,
            scores=scores,
            landmarks=landmarks,
            seconds=seconds,
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The faces in one image: ``(boxes (K, 4), scores (K,), landmarks (K, 5, 2))``, best first.

        O-Net's threshold, then NMS at IoU 0.7.
        """
        result = self.cascade(x)
        mask = result.scores >= self.thresholds[2]
        boxes, scores, landmarks = result.boxes[mask], result.scores[mask], result.landmarks[mask]
        keep = nms(boxes, scores, 0.7)
        return boxes[keep], scores[keep], landmarks[keep]


_MTCNN_FILES = ("pnet", "rnet", "onet")


@dataclass(frozen=True)
class MTCNNWeights:
    """MTCNN's three weight files from the ``facenet-pytorch`` weight pack, in cnnviz's weight cache.

    The files are found by name (``python -m cnnviz.weights fetch`` checks their sha256 when it places them).
    """

    label: WeightsLabel = "weight pack"

    def path(self) -> Path:
        return mtcnn_dir()

    def files(self) -> list[Path]:
        return [mtcnn_dir() / f"{name}.pt" for name in _MTCNN_FILES]

    def present(self) -> bool:
        return all(f.is_file() for f in self.files())

    def describe(self) -> str:
        pack = next(p for p in PACKS if any(f.member.endswith("pnet.pt") for f in p.files))
        return f"{pack.requirement}: pnet.pt, rnet.pt, onet.pt"

    def load(self, spec: ModelSpec, progress: Progress) -> nn.Module:
        model = build_untrained(spec)
        if not isinstance(model, MTCNN):
            raise TypeError(f"spec {spec.name!r} does not build an MTCNN")
        for name, file in zip(_MTCNN_FILES, self.files(), strict=True):
            if not file.is_file():
                raise WeightsMissingError(
                    f"The MTCNN weight file {file} is missing; run `python -m cnnviz.weights fetch` to take "
                    "it from the facenet-pytorch weight pack, or choose untrained weights.",
                    key="pack_missing",
                    model=spec.name,
                    detail=str(file),
                )
            try:
                getattr(model, name).load_state_dict(torch.load(file, map_location="cpu", weights_only=True))
            except (RuntimeError, OSError, EOFError, ValueError) as err:
                raise WeightsMissingError(
                    f"The MTCNN weight file {file} cannot be read or does not fit {name} "
                    f"({type(err).__name__}); run `python -m cnnviz.weights fetch` again.",
                    key="unreadable",
                    model=spec.name,
                    detail=f"{file}: {type(err).__name__}",
                ) from err
        return model


MTCNN_SPEC = register(
    ModelSpec(
        name="mtcnn",
        family="MTCNN",
        task="detection",
        in_channels=3,
        input_size=(512, 512),
        source="weight pack",
        note=(
            "MTCNN face detector (2016), a cascade like the 2-stage family: P-Net scores a 12×12 window at "
            "every "
            "position of an image pyramid and proposes boxes, R-Net and O-Net re-check crops of them and "
            "O-Net "
            "adds five landmarks."
        ),
        note_ko=(
            "MTCNN 얼굴 탐지기(2016), 2-stage 계열처럼 단계를 거치는 cascade: P-Net이 이미지 피라미드의 모든 "
            "위치에서 12×12 창을 평가해 bbox 후보를 제안하고, R-Net과 O-Net이 그 영역을 잘라 다시 판단하며 "
            "O-Net은 얼굴 특징점 5개를 찾음."
        ),
        build=MTCNN,
        transform=ResizeTransform(None, _MTCNN_MEAN, _MTCNN_STD),
        categories=("face",),
        weights=MTCNNWeights(),
        mean=_MTCNN_MEAN,
        std=_MTCNN_STD,
        year=2016,
        tags=("cascade",),
    )
)


# ============================================================================================ torchvision


@dataclass(frozen=True)
class _Detector:
    arch: str
    family: str
    kind: str
    year: int
    note: str
    note_ko: str


_TORCHVISION: tuple[_Detector, ...] = (
    _Detector(
        "fasterrcnn_resnet50_fpn",
        "Faster R-CNN",
        "2-stage",
        2015,
        "Faster R-CNN (2015), the 2-stage R-CNN family: a region proposal network suggests regions of "
        "interest "
        "(RoI), then RoI heads classify each one and refine its box; ResNet-50 with a feature pyramid.",
        "Faster R-CNN (2015), R-CNN 계열의 2-stage detector: 영역 제안 네트워크(RPN)가 RoI(객체가 있을 "
        "것으로 "
        "예상되는 위치)를 고르고, RoI head가 각 영역을 분류하고 bbox를 수정함; ResNet-50 + FPN.",
    ),
    _Detector(
        "fasterrcnn_mobilenet_v3_large_320_fpn",
        "Faster R-CNN",
        "2-stage",
        2019,
        "Faster R-CNN on a light MobileNetV3 backbone at 320 pixels: the same two stages (proposals, then "
        "RoI "
        "heads), fast enough for a laptop.",
        "가벼운 MobileNetV3 backbone을 쓰는 320 픽셀 Faster R-CNN: 같은 두 단계(영역 제안 → RoI head), "
        "노트북에서도 빠름.",
    ),
    _Detector(
        "retinanet_resnet50_fpn",
        "RetinaNet",
        "1-stage",
        2017,
        "RetinaNet (2017), a 1-stage detector: every position of every pyramid level predicts classes and "
        "boxes for its anchors in one pass; the focal loss made it as accurate as 2-stage detectors.",
        "RetinaNet (2017), 1-stage detector: 피라미드의 모든 위치가 anchor마다 클래스와 bbox를 한 번에 예측; "
        "focal loss로 2-stage만큼 정확해짐.",
    ),
    _Detector(
        "fcos_resnet50_fpn",
        "FCOS",
        "1-stage",
        2019,
        "FCOS (2019), a 1-stage detector without anchors: every position of the feature pyramid predicts a "
        "class, its distances to the four box sides and a centre-ness score.",
        "FCOS (2019), anchor 없는 1-stage detector: 특징 피라미드의 모든 위치가 클래스, bbox 네 변까지의 "
        "거리와 중심도(centre-ness)를 예측.",
    ),
    _Detector(
        "ssdlite320_mobilenet_v3_large",
        "SSD",
        "1-stage",
        2016,
        "SSDlite (SSD, 2016) on MobileNetV3 at 320 pixels: a 1-stage detector that predicts boxes from "
        "feature maps of several sizes in one pass; small and fast.",
        "MobileNetV3 기반 320 픽셀 SSDlite (SSD, 2016): 여러 크기의 특징 맵에서 한 번에 bbox를 예측하는 "
        "1-stage detector; 작고 빠름.",
    ),
)


def _torchvision_spec(entry: _Detector) -> ModelSpec:
    weights = torchvision.models.get_model_weights(entry.arch)["COCO_V1"]
    side = 320 if "320" in entry.arch else 800
    return ModelSpec(
        name=entry.arch,
        family=entry.family,
        task="detection",
        in_channels=3,
        input_size=(side, side),
        source="torchvision",
        note=entry.note,
        note_ko=entry.note_ko,
        # Untrained means untrained all the way: no ImageNet backbone is fetched either.
        build=TorchvisionBuilder(entry.arch, (("weights_backbone", None),)),
        transform=weights.transforms(),  # PIL -> float 0..1; the model resizes and normalises inside
        categories=tuple(weights.meta["categories"]),
        weights=HubWeights(weights, entry.arch),
        mean=(0.0,),
        std=(1.0,),
        year=entry.year,
        tags=(entry.kind,),
    )


TORCHVISION_DETECTORS: tuple[ModelSpec, ...] = tuple(register(_torchvision_spec(e)) for e in _TORCHVISION)
"""torchvision's COCO detectors; their pretrained weights are read from the torch hub cache."""


def reference_map(spec: ModelSpec) -> float | None:
    """The box mAP a detector's weights are published with, in 0..1, or ``None``.

    torchvision detectors: COCO val2017 box mAP@[0.5:0.95] from the weights' meta; yolo-mini: its card's
    held-out mAP@0.5 on shapes scenes. (Different data and metrics: compare within a family of weights only.)
    """
    if isinstance(spec.weights, HubWeights):
        metrics = spec.weights.weights.meta.get("_metrics", {}).get("COCO-val2017", {})
        return metrics["box_map"] / 100 if "box_map" in metrics else None
    if isinstance(spec.weights, BundledWeights):
        try:
            value = read_card(spec.weights.name, spec.weights.directory).get("held_out_map")
        except FileNotFoundError:
            return None
        return float(value) if value is not None else None
    return None

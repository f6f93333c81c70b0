"""YOLO-mini: a YOLO(v1)-style 1-stage grid detector on synthetic shapes scenes, its decoding, loss, training
and held-out mAP.

One network looks at the whole image once, and every cell of an S×S grid predicts B boxes
``(x, y, w, h, confidence)`` and class probabilities at the same time. :class:`YoloMini` does this on 96×96
shapes scenes (S = 6, B = 2) and is trained by ``python -m cnnviz.train yolo-mini``
(:func:`train_yolo_mini`); its card's mAP@0.5 is measured by :func:`evaluate_map`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torchvision.ops import nms

from cnnviz.cpu import torch_threads
from cnnviz.data import shapes
from cnnviz.models.detectors.base import ResizeTransform, classes_apart
from cnnviz.models.detectors.metrics import mean_average_precision
from cnnviz.models.registry import BundledWeights, ModelSpec, register
from cnnviz.models.training import Batch, Stopwatch, fit, one_cycle, write_card

__all__ = [
    "GRID_BOXES",
    "GRID_SIZE",
    "HELD_OUT_COUNT",
    "SCENE_INPUT",
    "YOLO_MINI",
    "GridDecoding",
    "YoloMini",
    "decode_grid",
    "evaluate_map",
    "train_yolo_mini",
    "yolo_loss",
    "yolo_targets",
]

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
        watch = Stopwatch()
        images, targets = shapes.detection_tensors(shapes.train_seeds(_TRAIN_COUNT))
        flipped = _flipped_targets(
            [t["boxes"] for t in targets], [t["labels"] for t in targets], images.shape[-1]
        )

        def loss(model: YoloMini, batch: Batch) -> Tensor:
            idx, flip = batch.index, batch.draws
            assert flip is not None
            x = images[idx]
            x = torch.where((flip & 1).bool().view(-1, 1, 1, 1), x.flip(-1), x)
            x = torch.where((flip & 2).bool().view(-1, 1, 1, 1), x.flip(-2), x)
            obj, box_t, cls_t = (
                torch.stack([flipped[int(f)][part][int(i)] for f, i in zip(flip, idx, strict=True)])
                for part in range(3)
            )
            return yolo_loss(model(shapes.normalize(x)), obj, box_t, cls_t)

        model = fit(
            YoloMini,
            size=len(images),
            batch_size=_BATCH_SIZE,
            epochs=epochs,
            seed=_SEED,
            optimizer=lambda m: torch.optim.AdamW(m.parameters(), lr=_LR, weight_decay=_WEIGHT_DECAY),
            loss=loss,
            schedule=one_cycle(_LR, pct_start=0.15),
            # Each epoch, each scene's flip (bit 0 horizontal, bit 1 vertical), drawn right after the shuffle.
            draw=lambda n, generator: torch.randint(0, 4, (n,), generator=generator),
            name="yolo-mini",
            progress=progress,
        ).model
        timing = watch.read()
        map50, per_class = evaluate_map(model)
    card = {
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
    }
    record = ("params", "train_time_s", "threads", "torch", "python")
    return write_card("yolo-mini", model, card, out_dir, timing=timing, record=record)


YOLO_MINI = register(
    ModelSpec(
        name="yolo-mini",
        family="YOLO",
        task="detection",
        in_channels=3,
        input_size=SCENE_INPUT,
        source="bundled",
        build=YoloMini,
        transform=ResizeTransform(SCENE_INPUT, shapes.MEAN, shapes.STD),
        categories=shapes.CLASSES,
        weight_source=BundledWeights("yolo-mini"),
        mean=shapes.MEAN,
        std=shapes.STD,
        year=2016,
        tags=("1-stage",),
    )
)

"""Object detection (객체 탐지) for the Detection page: one result type for every detector, then thresholds.

Two steps, so the page's sliders cost nothing:

1. :func:`detect` runs a detector once and keeps every candidate box *before* the score threshold and
   non-maximum suppression (NMS), with what the detector's kind shows on the way: a 1-stage detector's grid
   of per-cell confidences, a 2-stage detector's region proposals, the MTCNN cascade's P-Net maps, proposals,
   refined boxes and landmarks, and the time the model took.
2. :func:`filter_detections` keeps the candidates above a score threshold and removes, class by class, every
   box that overlaps a better-scoring one by more than an IoU (``torchvision.ops.nms`` with the classes
   shifted apart).

:func:`nms_steps` is NMS written out step by step (which box removed which), checked against
``torchvision.ops.nms``. Boxes are ``(x1, y1, x2, y2)`` in pixels of the image that was passed in.

>>> raw = detect_image(load("yolo-mini"), image)    # doctest: +SKIP
>>> shown = filter_detections(raw, score_threshold=0.3, iou_threshold=0.5)  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn
from torchvision.models.detection import FCOS, RetinaNet
from torchvision.models.detection.generalized_rcnn import GeneralizedRCNN
from torchvision.models.detection.ssd import SSD
from torchvision.ops import box_iou, nms

from cnnviz.analysis.dataflow import check_image_batch
from cnnviz.data import shapes
from cnnviz.hooks import capture, model_lock
from cnnviz.models.detectors import MTCNN, YoloMini, classes_apart, decode_grid, detector_kind
from cnnviz.tensors import on_model_device

if TYPE_CHECKING:
    from PIL import Image

    from cnnviz.models import LoadedModel

__all__ = [
    "CANDIDATE_FLOOR",
    "DEFAULT_SCENE_SEED",
    "DEFAULT_SCORE_THRESHOLDS",
    "Detections",
    "GridLevel",
    "NmsTrace",
    "RawDetections",
    "SceneSample",
    "comparison_choices",
    "detect",
    "detect_image",
    "explain_nms",
    "filter_detections",
    "nms_steps",
    "responsible_cells",
    "shapes_scene",
]

DEFAULT_SCORE_THRESHOLDS: dict[str, float] = {"1-stage": 0.3, "2-stage": 0.5, "cascade": 0.7}
"""Each kind's starting score threshold: a grid's, an RPN's and a face's scores mean different things."""
DEFAULT_SCENE_SEED = 1_000_005
"""A held-out shapes scene (never trained on) where every shape is found: a clear first picture."""

CANDIDATE_FLOOR = 0.05
"""torchvision detectors keep candidates from this score on (their own default floor for Faster R-CNN)."""


@dataclass(frozen=True)
class GridLevel:
    """One grid of per-cell confidences: how sure each position of a dense detector is that it sees an object.

    Attributes:
        name: what the grid is, e.g. ``"6×6"``, ``"scale 0.60"``, ``"level 2"``.
        confidence: ``(rows, cols)`` float32 in 0..1; the best confidence over the position's boxes (and
            classes, for detectors that score each class separately).
        cell: ``(height, width)`` of one cell in image pixels: the grid's stride.
        window: side of the window each position looks at, in image pixels, when it is not the cell
            (MTCNN's P-Net sees 12×12 pixels every 2 pixels of a scaled image); ``None`` otherwise.
        labels: ``(rows, cols)`` int64 most likely class per cell (YOLO's class probability map), or ``None``.
    """

    name: str
    confidence: np.ndarray
    cell: tuple[float, float]
    window: float | None = None
    labels: np.ndarray | None = None


@dataclass(frozen=True)
class RawDetections:
    """Everything one detector run produced, before the score threshold and NMS.

    Attributes:
        model: registry name.
        kind: "1-stage", "2-stage" or "cascade".
        weights: the loaded weights' label ("bundled", "weight pack", "torchvision pretrained", "untrained").
        categories: class names; ``labels`` index into them.
        image_size: ``(H, W)`` of the image the boxes refer to.
        input_shape: the tensor the model saw, ``(1, C, H, W)``.
        boxes: ``(K, 4)`` float32 candidate boxes.
        scores: ``(K,)`` float32.
        labels: ``(K,)`` int64.
        seconds: wall time of the model's run (preprocessing excluded).
        stage_seconds: ``(stage, seconds)`` for detectors that show their stages.
        cells: ``(K, 3)`` ``(row, col, box)`` of the grid cell each candidate came from (grid detectors).
        landmarks: ``(K, 5, 2)`` facial landmarks (MTCNN).
        proposals: ``(P, 4)`` region proposals, best first (2-stage: the RPN's; MTCNN: P-Net's).
        proposal_scores: ``(P,)`` when the detector reports them.
        refined: ``(R, 4)`` MTCNN's R-Net boxes, best first.
        refined_scores: ``(R,)``.
        grids: per-cell confidence grids (1-stage detectors, MTCNN's P-Net per scale).
    """

    model: str
    kind: str
    weights: str
    categories: tuple[str, ...]
    image_size: tuple[int, int]
    input_shape: tuple[int, ...]
    boxes: np.ndarray = field(repr=False)
    scores: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    seconds: float
    stage_seconds: tuple[tuple[str, float], ...] = ()
    cells: np.ndarray | None = field(default=None, repr=False)
    landmarks: np.ndarray | None = field(default=None, repr=False)
    proposals: np.ndarray | None = field(default=None, repr=False)
    proposal_scores: np.ndarray | None = field(default=None, repr=False)
    refined: np.ndarray | None = field(default=None, repr=False)
    refined_scores: np.ndarray | None = field(default=None, repr=False)
    grids: tuple[GridLevel, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class Detections:
    """The boxes that survive the score threshold and NMS, best first.

    Attributes:
        boxes: ``(K, 4)`` float32.
        scores: ``(K,)`` float32.
        labels: ``(K,)`` int64.
        names: class name of each box.
        score_threshold: boxes below it were dropped.
        iou_threshold: NMS removed boxes overlapping a better one of the same class by more than this.
        candidates: boxes before the threshold.
        above_threshold: boxes after the threshold, before NMS.
        indices: ``(K,)`` index of each kept box among the raw candidates.
        cells: ``(K, 3)`` grid cell ``(row, col, box)`` of each kept box, or ``None``.
        landmarks: ``(K, 5, 2)`` or ``None``.
    """

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    names: tuple[str, ...]
    score_threshold: float
    iou_threshold: float
    candidates: int
    above_threshold: int
    indices: np.ndarray
    cells: np.ndarray | None = None
    landmarks: np.ndarray | None = None

    @property
    def suppressed(self) -> int:
        """Boxes that NMS removed (or the detection limit cut)."""
        return self.above_threshold - len(self.boxes)


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


def filter_detections(
    raw: RawDetections, score_threshold: float = 0.5, iou_threshold: float = 0.5, max_detections: int = 100
) -> Detections:
    """Score threshold, then NMS class by class (``torchvision.ops.nms``, classes apart), then the best few.

    Cheap: no model runs, so a slider can call it on every move.

    Raises:
        ValueError: a threshold is outside [0, 1] or ``max_detections`` is below 1.
    """
    _check_fraction("score_threshold", score_threshold)
    _check_fraction("iou_threshold", iou_threshold)
    if max_detections < 1:
        raise ValueError(f"max_detections must be at least 1, got {max_detections}")
    above = np.flatnonzero(raw.scores >= score_threshold)
    keep = nms(
        classes_apart(torch.from_numpy(raw.boxes[above]), torch.from_numpy(raw.labels[above])),
        torch.from_numpy(raw.scores[above]).float(),
        iou_threshold,
    ).numpy()[:max_detections]
    idx = above[keep]
    return Detections(
        boxes=raw.boxes[idx],
        scores=raw.scores[idx],
        labels=raw.labels[idx],
        names=tuple(_name(raw.categories, int(k)) for k in raw.labels[idx]),
        score_threshold=float(score_threshold),
        iou_threshold=float(iou_threshold),
        candidates=len(raw.scores),
        above_threshold=len(above),
        indices=idx,
        cells=raw.cells[idx] if raw.cells is not None else None,
        landmarks=raw.landmarks[idx] if raw.landmarks is not None else None,
    )


def _name(categories: tuple[str, ...], label: int) -> str:
    return categories[label] if 0 <= label < len(categories) else str(label)


# ------------------------------------------------------------------------------------------------ NMS


@dataclass(frozen=True)
class NmsTrace:
    """Greedy NMS written out: the best box stays, every box overlapping it too much goes, repeat.

    Attributes:
        keep: ``(K,)`` indices of the kept boxes, best first (what ``torchvision.ops.nms`` returns).
        boxes: ``(N,)`` the index of each box NMS looked at (``0 .. N - 1`` for :func:`nms_steps`; indices
            of raw candidates for :func:`explain_nms`); ``keep`` and ``suppressed_by`` use the same indices.
        suppressed_by: ``(N,)`` for each box, the index of the kept box that removed it, -1 if kept.
        overlap: ``(N,)`` IoU with that box (0 for kept boxes).
    """

    keep: np.ndarray
    boxes: np.ndarray
    suppressed_by: np.ndarray
    overlap: np.ndarray


def nms_steps(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> NmsTrace:
    """Non-maximum suppression step by step, so the page can say which box removed which.

    Boxes are visited from the highest score down (ties: lower index first); a box whose IoU with an
    already kept box is above ``iou_threshold`` is removed by the first such box.

    Args:
        boxes: ``(N, 4)`` ``(x1, y1, x2, y2)``.
        scores: ``(N,)``.
        iou_threshold: boxes overlapping more than this are suppressed.

    Raises:
        ValueError: shapes do not match or the threshold is outside [0, 1].
    """
    _check_fraction("iou_threshold", iou_threshold)
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    s = np.asarray(scores, dtype=np.float32).reshape(-1)
    if len(b) != len(s):
        raise ValueError(f"boxes and scores must have the same length, got {len(b)} and {len(s)}")
    iou = box_iou(torch.from_numpy(b), torch.from_numpy(b)).numpy()
    suppressed_by = np.full(len(b), -1, dtype=np.int64)
    overlap = np.zeros(len(b), dtype=np.float32)
    keep: list[int] = []
    for i in np.argsort(-s, kind="stable"):
        for k in keep:
            if iou[i, k] > iou_threshold:
                suppressed_by[i], overlap[i] = k, iou[i, k]
                break
        else:
            keep.append(int(i))
    return NmsTrace(
        keep=np.array(keep, dtype=np.int64),
        boxes=np.arange(len(b), dtype=np.int64),
        suppressed_by=suppressed_by,
        overlap=overlap,
    )


def explain_nms(raw: RawDetections, score_threshold: float, iou_threshold: float) -> NmsTrace:
    """:func:`nms_steps` on the candidates above ``score_threshold``, class by class, in raw indices.

    Boxes of different classes never suppress each other: each class is shifted far from the others first,
    the same boxes :func:`filter_detections` gives ``torchvision.ops.nms``, so ``keep`` equals
    :func:`filter_detections`'s indices (before its ``max_detections`` cut).
    """
    _check_fraction("score_threshold", score_threshold)
    above = np.flatnonzero(raw.scores >= score_threshold)
    apart = classes_apart(torch.from_numpy(raw.boxes[above]), torch.from_numpy(raw.labels[above]))
    trace = nms_steps(apart.numpy(), raw.scores[above], iou_threshold)
    by = np.where(trace.suppressed_by >= 0, above[np.maximum(trace.suppressed_by, 0)], -1)
    return NmsTrace(keep=above[trace.keep], boxes=above, suppressed_by=by, overlap=trace.overlap)


# ------------------------------------------------------------------------------------------- running


def detect(
    model: nn.Module,
    x: Tensor,
    *,
    image_size: tuple[int, int] | None = None,
    categories: Sequence[str] = (),
    name: str = "",
    weights: str = "",
) -> RawDetections:
    """Runs a detector once on one preprocessed image and keeps every candidate, before threshold and NMS.

    Supported: :class:`~cnnviz.models.detectors.YoloMini`, :class:`~cnnviz.models.detectors.MTCNN` and
    torchvision's Faster R-CNN, RetinaNet, FCOS and SSD (any module of these classes, trained or your own).
    The model's lock is held while it runs.

    Args:
        model: the detector.
        x: (1, C, H, W), as the detector's own preprocessing made it.
        image_size: ``(H, W)`` of the picture `x` was made from; boxes come back in its pixels (default:
            those of `x`).
        categories: the class names, for the result.
        name: what to call the model in the result.
        weights: which weights it has, for the result.

    Raises:
        TypeError: the model is none of the detectors above (the sentence names its class).
        ValueError: `x` is not one image.
    """
    check_image_batch(x)
    x = on_model_device(model, x)
    size = image_size or (int(x.shape[-2]), int(x.shape[-1]))
    scale = (size[0] / x.shape[-2], size[1] / x.shape[-1])  # model input pixels -> image pixels
    with model_lock(model), torch.no_grad():
        if isinstance(model, YoloMini):
            parts, kind = _run_grid(model, x, scale), "1-stage"
        elif isinstance(model, MTCNN):
            parts, kind = _run_cascade(model, x, scale), "cascade"
        elif isinstance(model, GeneralizedRCNN):
            parts, kind = _run_two_stage(model, x, size), "2-stage"
        elif isinstance(model, RetinaNet | FCOS | SSD):
            parts, kind = _run_dense(model, x, size), "1-stage"
        else:
            raise TypeError(
                f"{name or type(model).__name__} ({type(model).__name__}) is not a detector cnnviz can run: "
                "it reads yolo-mini, MTCNN and torchvision's Faster R-CNN, RetinaNet, FCOS and SSD."
            )
    return RawDetections(
        model=name or type(model).__name__,
        kind=kind,
        weights=weights,
        categories=tuple(categories),
        image_size=size,
        input_shape=tuple(x.shape),
        **parts,
    )


def detect_image(model: LoadedModel, image: Image.Image) -> RawDetections:
    """:func:`detect` for a loaded model and a picture: its own preprocessing, names and weights label."""
    return detect(
        model.model,
        model.preprocess(image),
        image_size=(image.height, image.width),
        categories=model.categories,
        name=model.spec.name,
        weights=model.weights,
    )


def _scaled(boxes: Tensor, scale: tuple[float, float]) -> np.ndarray:
    """Boxes from model-input pixels to image pixels, as float32 numpy."""
    factor = torch.tensor([scale[1], scale[0], scale[1], scale[0]], dtype=torch.float32)
    return (boxes.float().cpu() * factor).numpy().astype(np.float32)


def _run_grid(net: YoloMini, x: Tensor, scale: tuple[float, float]) -> dict[str, Any]:
    started = time.perf_counter()
    output = net(x)
    seconds = time.perf_counter() - started
    decoded = decode_grid(output, net.num_boxes, (x.shape[-2], x.shape[-1]))
    s = output.shape[-1]
    confidence = decoded.confidence[0].view(s, s, net.num_boxes).amax(dim=-1)
    labels = decoded.labels[0].view(s, s, net.num_boxes)[..., 0]
    level = GridLevel(
        name=f"{s}×{s}",
        confidence=confidence.cpu().numpy().astype(np.float32),
        cell=(x.shape[-2] / s * scale[0], x.shape[-1] / s * scale[1]),
        labels=labels.cpu().numpy(),
    )
    return {
        "boxes": _scaled(decoded.boxes[0], scale),
        "scores": decoded.scores[0].cpu().numpy().astype(np.float32),
        "labels": decoded.labels[0].cpu().numpy(),
        "seconds": seconds,
        "cells": decoded.cells.cpu().numpy(),
        "grids": (level,),
    }


def _run_cascade(net: MTCNN, x: Tensor, scale: tuple[float, float]) -> dict[str, Any]:
    started = time.perf_counter()
    result = net.cascade(x)
    seconds = time.perf_counter() - started
    landmarks = result.landmarks.float().cpu() * torch.tensor([scale[1], scale[0]])
    grids = tuple(
        GridLevel(
            name=f"scale {s:.2f}",
            confidence=face.cpu().numpy().astype(np.float32),
            cell=(2 / s * scale[0], 2 / s * scale[1]),
            window=12 / s * scale[1],
        )
        for s, face in zip(result.scales, result.pnet_maps, strict=True)
    )
    return {
        "boxes": _scaled(result.boxes, scale),
        "scores": result.scores.cpu().numpy().astype(np.float32),
        "labels": np.zeros(len(result.scores), dtype=np.int64),
        "seconds": seconds,
        "stage_seconds": tuple(result.seconds.items()),
        "landmarks": landmarks.cpu().numpy().astype(np.float32),
        "proposals": _scaled(result.proposals, scale),
        "proposal_scores": result.proposal_scores.cpu().numpy().astype(np.float32),
        "refined": _scaled(result.refined, scale),
        "refined_scores": result.refined_scores.cpu().numpy().astype(np.float32),
        "grids": grids,
    }


# torchvision's post-processing thresholds, loosened while cnnviz keeps the raw candidates.
_LOOSE = {"score_thresh": CANDIDATE_FLOOR, "nms_thresh": 1.0, "detections_per_img": 300}


@contextmanager
def _loose_postprocessing(owner: nn.Module) -> Iterator[None]:
    """Keeps every candidate above :data:`CANDIDATE_FLOOR` (no NMS inside the model); restores on exit."""
    saved = {key: getattr(owner, key) for key in _LOOSE}
    try:
        for key, value in _LOOSE.items():
            setattr(owner, key, value)
        yield
    finally:
        for key, value in saved.items():
            setattr(owner, key, value)


def _resized_size(
    net: GeneralizedRCNN | RetinaNet | FCOS | SSD, x: Tensor
) -> tuple[tuple[int, int], tuple[int, ...]]:
    """The size the model's own transform resizes the image to, and the padded batch tensor's shape."""
    image_list, _ = net.transform([x[0]])
    return tuple(image_list.image_sizes[0]), tuple(image_list.tensors.shape)  # type: ignore[return-value]


def _results(output: list[dict[str, Tensor]]) -> dict[str, Any]:
    found = output[0]
    return {
        "boxes": found["boxes"].cpu().numpy().astype(np.float32),
        "scores": found["scores"].cpu().numpy().astype(np.float32),
        "labels": found["labels"].cpu().numpy().astype(np.int64),
    }


def _run_two_stage(net: GeneralizedRCNN, x: Tensor, size: tuple[int, int]) -> dict[str, Any]:
    resized, _ = _resized_size(net, x)
    with _loose_postprocessing(net.roi_heads), capture(net, ["rpn"]) as cap:
        started = time.perf_counter()
        output = net([x[0]])
        seconds = time.perf_counter() - started
    # The RPN's proposals (best objectness first) live in the resized image: back to the image's pixels.
    proposals = cap.activations["rpn"]
    scale = (size[0] / resized[0], size[1] / resized[1])
    return {**_results(output), "seconds": seconds, "proposals": _scaled(proposals, scale)}


def _run_dense(net: RetinaNet | FCOS | SSD, x: Tensor, size: tuple[int, int]) -> dict[str, Any]:
    resized, padded = _resized_size(net, x)
    with _loose_postprocessing(net), capture(net, ["backbone", "head.classification_head"]) as cap:
        started = time.perf_counter()
        output = net([x[0]])
        seconds = time.perf_counter() - started
    # Feature maps of the pyramid in the order the head read them; class logits (1, sum(H*W*A), K) in the
    # same order, each level laid out as (H, W, A).
    levels = [t for k, t in cap.activations.items() if k == "backbone" or k.startswith("backbone[")]
    logits = cap.activations["head.classification_head"][0]
    # SSD scores classes with a softmax whose class 0 is the background; the others with sigmoids.
    probs = logits.softmax(dim=-1)[:, 1:] if isinstance(net, SSD) else logits.sigmoid()
    scale = (size[0] / resized[0], size[1] / resized[1])
    total = sum(f.shape[-2] * f.shape[-1] for f in levels)
    anchors = logits.shape[0] // total
    grids, start = [], 0
    for k, feature in enumerate(levels):
        h, w = feature.shape[-2:]
        count = h * w * anchors
        confidence = probs[start : start + count].amax(dim=-1).view(h, w, anchors).amax(dim=-1)
        start += count
        grids.append(
            GridLevel(
                name=f"level {k + 1}",
                confidence=confidence.cpu().numpy().astype(np.float32),
                cell=(padded[-2] / h * scale[0], padded[-1] / w * scale[1]),
            )
        )
    return {**_results(output), "seconds": seconds, "grids": tuple(grids)}


# ------------------------------------------------------------------------------------------ comparison

# Light detectors first: the comparison runs on a CPU while a lecture waits.
_LIGHT_FIRST = (
    "ssdlite320_mobilenet_v3_large",
    "fasterrcnn_mobilenet_v3_large_320_fpn",
    "yolo-mini",
    "mtcnn",
)


def comparison_choices() -> tuple[list[str], list[str]]:
    """The registered detectors for the 1-stage vs 2-stage comparison.

    Returns:
        ``(1-stage names, 2-stage and cascade names)``, each with the detectors whose weights are here
        first, light ones before heavy ones.
    """
    from cnnviz.models import list_specs, weights_present

    def order(name: str) -> tuple[bool, int]:
        light = _LIGHT_FIRST.index(name) if name in _LIGHT_FIRST else len(_LIGHT_FIRST)
        return (not weights_present(name), light)

    specs = list_specs("detection")
    one = sorted((s.name for s in specs if detector_kind(s) == "1-stage"), key=order)
    two = sorted((s.name for s in specs if detector_kind(s) != "1-stage"), key=order)
    return one, two


# ---------------------------------------------------------------------------------------- shapes scene


@dataclass(frozen=True)
class SceneSample:
    """A synthetic shapes scene with its ground truth, the data the bundled grid detector learned from.

    Attributes:
        image: ``(H, W, 3)`` uint8.
        boxes: ``(K, 4)`` float32 ground-truth boxes.
        labels: ``(K,)`` int64.
        names: class name of each object.
        seed: the scene's seed.
    """

    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    names: tuple[str, ...]
    seed: int


def shapes_scene(seed: int) -> SceneSample:
    """The detection scene of ``seed`` (``shapes.scene``, 96×96): held-out scenes start at 1 000 000.

    Raises:
        ValueError: ``seed`` is negative.
    """
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    scene = shapes.scene(seed)
    return SceneSample(
        image=scene.image,
        boxes=scene.boxes,
        labels=scene.labels,
        names=tuple(inst.name for inst in scene.instances),
        seed=seed,
    )


def responsible_cells(boxes: np.ndarray, image_size: tuple[int, int], grid_size: int) -> np.ndarray:
    """The grid cell responsible for each object in YOLO: the cell holding its box's centre.

    Args:
        boxes: ``(K, 4)`` in image pixels.
        image_size: ``(H, W)``.
        grid_size: S.

    Returns:
        ``(K, 2)`` int64 ``(row, col)``.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    cx = (b[:, 0] + b[:, 2]) / 2 / image_size[1] * grid_size
    cy = (b[:, 1] + b[:, 3]) / 2 / image_size[0] * grid_size
    rows = np.clip(np.floor(cy), 0, grid_size - 1).astype(np.int64)
    cols = np.clip(np.floor(cx), 0, grid_size - 1).astype(np.int64)
    return np.stack([rows, cols], axis=1)

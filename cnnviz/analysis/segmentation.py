"""Image segmentation: semantic and instance masks, the sizes going down and up, transposed convolution.

The lecture's section 4: segmentation classifies every pixel of the image; its output is called a "mask"
and is as large as the input. Semantic segmentation gives each pixel a class; instance segmentation also
tells apart objects of the same class. A CNN shrinks the image layer by layer, so a segmenter reverses
convolution and pooling (transposed convolution, upsampling) to grow it back.

- `semantic_masks(model, x)`: the class of every pixel, and the share of pixels per class;
- `instance_masks(model, x)`: one mask per object;
- `size_path(model, x)`: spatial size of each stage in a real forward pass (encoder down, decoder up);
- `*_image(loaded, image)`: the same for a `LoadedModel` and a picture (its preprocessing and class names);
- `transposed_conv(x, kernel, stride, padding)`: a transposed convolution done by hand, stamp by stamp,
  checked against `torch.nn.functional.conv_transpose2d` and the size formula O = (I − 1)S − 2P + F (in
  `cnnviz.analysis.transposed`, re-exported here);
- `shapes_truth(seed)`: a synthetic shapes scene with its true semantic and instance masks.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.segmentation import FCN, LRASPP, DeepLabV3

from cnnviz.analysis.dataflow import check_image_batch
from cnnviz.analysis.transposed import (
    MAX_TRANSPOSED_INPUT,
    TransposedConv,
    transposed_conv,
    transposed_example,
)
from cnnviz.data import shapes
from cnnviz.hooks import capture, model_lock
from cnnviz.models import segmenters
from cnnviz.tensors import forward, model_view, on_model_device
from cnnviz.weights import read_card

if TYPE_CHECKING:
    from cnnviz.models import LoadedModel

__all__ = [
    "MAX_TRANSPOSED_INPUT",
    "Instance",
    "InstanceMasks",
    "SemanticMasks",
    "SizePath",
    "Stage",
    "TransposedConv",
    "default_threshold",
    "gives_instances",
    "instance_masks",
    "instance_masks_image",
    "is_instance_model",
    "semantic_masks",
    "semantic_masks_image",
    "shapes_truth",
    "size_path",
    "size_path_image",
    "transposed_conv",
    "transposed_example",
]

Phase = Literal["input", "down", "same", "up"]


# --------------------------------------------------------------------------------------------- results


def _shares(labels: np.ndarray, num_classes: int) -> np.ndarray:
    counts = np.bincount(labels.reshape(-1), minlength=num_classes)[:num_classes]
    return (counts / max(labels.size, 1)).astype(np.float64)


@dataclass(frozen=True)
class SemanticMasks:
    """The class of every pixel of one image.

    Attributes:
        categories: class names; index 0 is the background.
        labels: `(H, W)` int64 class index of each pixel, at the size of the model's input.
        image: `(H, W, 3)` uint8, what the model saw (its input with the normalisation undone).
        shares: `(K,)` share of the pixels that each class covers (sums to 1).
        source: how the map was made: "semantic" (the model's per-pixel scores), "instances" (instance
            masks painted with their class), or "truth" (a generated scene's own map).
    """

    categories: tuple[str, ...]
    labels: np.ndarray = field(repr=False)
    image: np.ndarray = field(repr=False)
    shares: np.ndarray = field(repr=False)
    source: str

    @property
    def present(self) -> tuple[int, ...]:
        """Classes that cover at least one pixel, the largest share first."""
        order = np.argsort(-self.shares, kind="stable")
        return tuple(int(k) for k in order if self.shares[k] > 0)

    def masks(self, classes: Sequence[int] | None = None) -> np.ndarray:
        """`(len(classes), H, W)` bool, one mask per class (default: the present classes but background)."""
        wanted = [k for k in self.present if k != 0] if classes is None else list(classes)
        if not wanted:
            return np.zeros((0, *self.labels.shape), dtype=bool)
        return np.stack([self.labels == k for k in wanted])


@dataclass(frozen=True, eq=False)
class Instance:
    """One object's mask.

    Attributes:
        label: class index into the categories.
        name: class name.
        score: the model's confidence in 0..1 (1 for true masks).
        mask: `(H, W)` bool.
        box: `(x1, y1, x2, y2)` around the mask, pixel edges (x2, y2 exclusive).
    """

    label: int
    name: str
    score: float
    mask: np.ndarray = field(repr=False)
    box: tuple[int, int, int, int]

    @property
    def area(self) -> int:
        """Pixels in the mask."""
        return int(self.mask.sum())


@dataclass(frozen=True)
class InstanceMasks:
    """Every object found in one image, each with its own mask.

    Attributes:
        categories: class names.
        instances: the objects, highest score first; masks do not overlap (a pixel belongs to the object with
            the higher score).
        image: `(H, W, 3)` uint8, what the model saw; masks have this size.
        threshold: the lowest score (Mask R-CNN) or centre-peak height (FCN-mini-instance) kept.
        method: "centre-offset" (FCN-mini-instance), "mask-rcnn" or "truth".
    """

    categories: tuple[str, ...]
    instances: tuple[Instance, ...]
    image: np.ndarray = field(repr=False)
    threshold: float
    method: str

    @property
    def masks(self) -> np.ndarray:
        """`(N, H, W)` bool."""
        if not self.instances:
            return np.zeros((0, *self.image.shape[:2]), dtype=bool)
        return np.stack([inst.mask for inst in self.instances])

    def semantic(self) -> SemanticMasks:
        """The semantic view of the same objects: each pixel gets the class of its object, or background."""
        labels = np.zeros(self.image.shape[:2], dtype=np.int64)
        for inst in reversed(self.instances):  # highest score painted last, so it wins
            labels[inst.mask] = inst.label
        return SemanticMasks(
            categories=self.categories,
            labels=labels,
            image=self.image,
            shares=_shares(labels, len(self.categories)),
            source="truth" if self.method == "truth" else "instances",
        )


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return (0, 0, 0, 0)
    return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


# ---------------------------------------------------------------------------------------------- running


def gives_instances(model: nn.Module) -> bool:
    """Whether the network gives one mask per object: the bundled FCN-mini-instance or a Mask R-CNN."""
    return isinstance(model, segmenters.InstanceFCNMini | MaskRCNN)


def is_instance_model(model: LoadedModel) -> bool:
    """Whether the loaded model gives one mask per object (its spec has the tag "instance", or its network
    is one of `gives_instances`)."""
    return "instance" in model.spec.tags or gives_instances(model.model)


def default_threshold(model: LoadedModel) -> float:
    """The threshold a page starts with: 0.5 for Mask R-CNN's scores; for FCN-mini-instance the centre-peak
    height its card was measured with (chosen on validation scenes)."""
    if isinstance(model.model, MaskRCNN):
        return MASK_RCNN_THRESHOLD
    if model.spec.source == "bundled" and model.weights == "bundled":
        try:
            return float(
                read_card(model.spec.name).get("center_threshold", segmenters.DEFAULT_CENTER_THRESHOLD)
            )
        except FileNotFoundError:
            pass  # weights without a card: the module's default
    return segmenters.DEFAULT_CENTER_THRESHOLD


MASK_RCNN_THRESHOLD = 0.5
"""The lowest Mask R-CNN score kept unless a page says otherwise."""


def _forward(
    model: nn.Module, x: torch.Tensor, mean: Sequence[float], std: Sequence[float]
) -> tuple[Any, np.ndarray]:
    """The model's raw output for one preprocessed image and the `(H, W, 3)` uint8 image it saw."""
    check_image_batch(x)
    with model_lock(model), torch.no_grad():
        out = forward(model, on_model_device(model, x))
    view = model_view(x, mean, std)
    if view.shape[2] != 3:
        view = np.repeat(view[..., :1], 3, axis=2)
    return out, view


def _scores(out: Any) -> torch.Tensor:
    """`(K, H, W)` class scores of one image from a tensor or a torchvision-style `{"out": ...}` dict."""
    logits = out["out"] if isinstance(out, dict) else out
    if not isinstance(logits, torch.Tensor) or logits.ndim != 4:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"the model's output {shape} is not (N, K, H, W) class scores of every pixel.")
    return logits[0].float().cpu()


def _names(categories: Sequence[str] | None, count: int) -> tuple[str, ...]:
    return tuple(categories) if categories else tuple(f"class {k}" for k in range(count))


def semantic_masks(
    model: nn.Module,
    x: torch.Tensor,
    *,
    categories: Sequence[str] | None = None,
    mean: Sequence[float] = (0.0,),
    std: Sequence[float] = (1.0,),
    threshold: float | None = None,
) -> SemanticMasks:
    """The class of every pixel: the argmax of the per-pixel class scores.

    For Mask R-CNN, which has no per-pixel class scores, the instance masks above `threshold` are painted with
    their class (`InstanceMasks.semantic`).

    Args:
        model: a segmenter: (1, K, H, W) scores (or torchvision's ``{"out": ...}``), or a Mask R-CNN.
        x: one preprocessed image, (1, C, H, W).
        categories: the K class names (default ``"class 0"`` …).
        mean: the normalisation `x` was made with, to show what the model saw.
        std: likewise.
        threshold: only for Mask R-CNN, the lowest score kept (default 0.5).

    Returns:
        The map, as large as the model's input.

    Raises:
        ValueError: the model gives no per-pixel class scores (the sentence gives its output's shape).
    """
    if isinstance(model, MaskRCNN):
        return instance_masks(
            model, x, categories=categories, mean=mean, std=std, threshold=threshold
        ).semantic()
    out, view = _forward(model, x, mean, std)
    scores = _scores(out)
    labels = scores.argmax(dim=0).numpy().astype(np.int64)
    names = _names(categories, int(scores.shape[0]))
    return SemanticMasks(
        categories=names, labels=labels, image=view, shares=_shares(labels, len(names)), source="semantic"
    )


def instance_masks(
    model: nn.Module,
    x: torch.Tensor,
    *,
    categories: Sequence[str] | None = None,
    mean: Sequence[float] = (0.0,),
    std: Sequence[float] = (1.0,),
    threshold: float | None = None,
) -> InstanceMasks:
    """One mask per object.

    - FCN-mini-instance: peaks of the centre heatmap at least `threshold` high are the objects; each
      foreground pixel joins the peak its offset points to (`cnnviz.models.segmenters.group_instances`).
    - Mask R-CNN: detections with a score of at least `threshold`, each mask (probability > 0.5) pasted into
      its box; where two masks overlap, the higher score keeps the pixel.

    Args:
        model: an instance segmentation network (`gives_instances`).
        x: one preprocessed image, (1, C, H, W).
        categories: the class names (default ``"class 0"`` …).
        mean: the normalisation `x` was made with.
        std: likewise.
        threshold: lowest centre peak / score kept (default 0.5 for Mask R-CNN, else the module's default).

    Returns:
        The objects, highest score first, masks as large as the model's input.

    Raises:
        ValueError: `model` gives no instance masks, or `threshold` is outside 0..1.
    """
    if not gives_instances(model):
        raise ValueError(
            f"{type(model).__name__} gives no instance masks; use an instance segmentation model "
            "(FCN-mini-instance or Mask R-CNN)."
        )
    mask_rcnn = isinstance(model, MaskRCNN)
    if threshold is None:
        threshold = MASK_RCNN_THRESHOLD if mask_rcnn else segmenters.DEFAULT_CENTER_THRESHOLD
    threshold = float(threshold)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    out, view = _forward(model, x, mean, std)
    found: list[tuple[int, float, np.ndarray]] = []
    if mask_rcnn:
        det = {k: v.cpu() for k, v in out[0].items()}
        keep = det["scores"] >= threshold
        masks = (det["masks"][keep, 0] > 0.5).numpy()
        found = [
            (int(label), float(score), mask)
            for label, score, mask in zip(det["labels"][keep], det["scores"][keep], masks, strict=True)
        ]
        names = _names(categories, 1 + max((f[0] for f in found), default=0))
        method = "mask-rcnn"
    else:
        logits, center, offset = (out[k][0].cpu() for k in ("out", "center", "offset"))
        predicted = segmenters.group_instances(logits, center, offset, threshold)
        found = [(p.label, p.score, p.mask) for p in predicted]
        names = _names(categories, int(logits.shape[0]))
        method = "centre-offset"
    found.sort(key=lambda f: -f[1])
    taken = np.zeros(view.shape[:2], dtype=bool)
    instances = []
    for label, score, mask in found:
        mask = mask & ~taken  # the higher score keeps overlapping pixels
        if not mask.any():
            continue
        taken |= mask
        instances.append(Instance(label, names[label], score, mask, _box(mask)))
    return InstanceMasks(names, tuple(instances), view, threshold, method)


def semantic_masks_image(
    model: LoadedModel, image: Image.Image, threshold: float | None = None
) -> SemanticMasks:
    """:func:`semantic_masks` for a loaded model and a picture (its own preprocessing and class names).

    Raises:
        ValueError: `model` is not a segmentation model.
    """
    if model.spec.task != "segmentation":
        raise ValueError(f"model must be a segmentation model, got {model.spec.name} ({model.spec.task})")
    if threshold is None and isinstance(model.model, MaskRCNN):
        threshold = default_threshold(model)
    return semantic_masks(
        model.model,
        model.preprocess(image),
        categories=model.categories,
        mean=model.spec.mean,
        std=model.spec.std,
        threshold=threshold,
    )


def instance_masks_image(
    model: LoadedModel, image: Image.Image, threshold: float | None = None
) -> InstanceMasks:
    """:func:`instance_masks` for a loaded model and a picture; `threshold` defaults to
    `default_threshold(model)`.

    Raises:
        ValueError: `model` gives no instance masks, or `threshold` is outside 0..1.
    """
    if not is_instance_model(model):
        raise ValueError(f"{model.spec.name} gives no instance masks; use an instance segmentation model")
    return instance_masks(
        model.model,
        model.preprocess(image),
        categories=model.categories,
        mean=model.spec.mean,
        std=model.spec.std,
        threshold=default_threshold(model) if threshold is None else threshold,
    )


def shapes_truth(seed: int) -> tuple[Image.Image, SemanticMasks, InstanceMasks]:
    """A synthetic shapes scene (the bundled segmenters' kind of image) with its true masks.

    Args:
        seed: the scene's seed (`cnnviz.data.shapes.scene`).

    Returns:
        `(image, semantic, instances)`, with the categories of the bundled segmenters.
    """
    scene = shapes.scene(seed)
    categories = segmenters.SEGMENTATION_CLASSES
    instances = tuple(
        Instance(inst.label + 1, categories[inst.label + 1], 1.0, inst.mask, _box(inst.mask))
        for inst in scene.instances
        if inst.mask.any()
    )
    labels = scene.semantic.astype(np.int64)
    semantic = SemanticMasks(categories, labels, scene.image, _shares(labels, len(categories)), "truth")
    return (
        Image.fromarray(scene.image),
        semantic,
        InstanceMasks(categories, instances, scene.image, 1.0, "truth"),
    )


# ---------------------------------------------------------------------------------------- sizes per stage


@dataclass(frozen=True)
class Stage:
    """One stage of a forward pass and the size of what it produced.

    Attributes:
        name: module name from `model.named_modules()` ("input" and "mask" for the ends).
        kind: the module's class name, e.g. "ConvTranspose2d".
        channels: C of its output.
        height: H of its output.
        width: W of its output.
        phase: "input", or how H compares with the previous stage: "down", "same" or "up".
        per_box: the stage works on each detected box separately (Mask R-CNN's mask head), not on the image.
    """

    name: str
    kind: str
    channels: int
    height: int
    width: int
    phase: Phase
    per_box: bool = False


@dataclass(frozen=True)
class SizePath:
    """Spatial size per stage in one real forward pass: the encoder shrinks, the decoder grows back.

    Attributes:
        model: registry name.
        stages: in the order they ran, from the input to the final mask.
    """

    model: str
    stages: tuple[Stage, ...]

    @property
    def smallest(self) -> Stage:
        """The first stage with the smallest map of the whole image (the bottom of the "U"); per-box stages
        only when there is nothing else."""
        return min(self.stages, key=lambda s: (s.per_box, s.height * s.width))


def _stage_names(net: nn.Module) -> list[str]:
    modules = dict(net.named_modules())
    if isinstance(net, segmenters.FCNMini):
        return list(segmenters.STAGES)
    if isinstance(net, FCN | DeepLabV3):
        return [f"backbone.{n}" for n in ("conv1", "maxpool", "layer1", "layer2", "layer3", "layer4")] + [
            "classifier"
        ]
    if isinstance(net, LRASPP):
        backbone = [f"backbone.{n}" for n, _ in net.get_submodule("backbone").named_children()]
        return [*backbone, "classifier"]
    if isinstance(net, MaskRCNN):
        body = [f"backbone.body.{n}" for n in ("conv1", "maxpool", "layer1", "layer2", "layer3", "layer4")]
        heads = ["backbone.fpn", "roi_heads.mask_head", "roi_heads.mask_predictor.conv5_mask"]
        return [*body, *[h for h in heads if h in modules]]
    return [n for n, _ in net.named_children()]


def size_path(model: nn.Module, x: torch.Tensor, *, name: str = "") -> SizePath:
    """Records the output size of each stage of `model` while it segments one preprocessed image `x`.

    Stages are the encoder's and decoder's blocks for the bundled segmenters; the backbone's stages and the
    head for torchvision's. The path starts at the input the model gets and ends at the mask, whose size
    equals the input's (FCN-mini adds its last skip to the last transposed convolution; torchvision's models
    interpolate their last map back up; Mask R-CNN pastes each box's 28×28 mask into the image).

    Args:
        model: a segmenter (any module whose output is (1, K, H, W) scores, or a Mask R-CNN).
        x: (1, C, H, W).
        name: what to call the model in the result (default its class name).

    Returns:
        The stages, as captured (with `cnnviz.hooks`), not as computed from a formula.
    """
    check_image_batch(x)
    x = on_model_device(model, x)
    names = _stage_names(model)
    modules = dict(model.named_modules())
    with torch.no_grad(), capture(model, layers=names, store=False) as cap:
        out = forward(model, x)
    stages = [Stage("input", "image", int(x.shape[1]), int(x.shape[2]), int(x.shape[3]), "input")]
    mask_rcnn = isinstance(model, MaskRCNN)
    if mask_rcnn and cap.order and cap.order[0].input_shape is not None:
        # Mask R-CNN resizes inside the model (GeneralizedRCNNTransform) before its backbone.
        c, h, w = cap.order[0].input_shape[-3:]
        stages.append(Stage("transform", "GeneralizedRCNNTransform", c, h, w, "input"))
    seen: set[str] = set()
    for call in cap.order:
        shape = call.output_shape
        if call.name in seen or shape is None or len(shape) != 4:
            continue
        seen.add(call.name)
        per_box = mask_rcnn and call.name.startswith("roi_heads")
        stages.append(
            Stage(call.name, type(modules[call.name]).__name__, shape[1], shape[2], shape[3], "same", per_box)
        )
    if mask_rcnn:
        h, w = int(x.shape[2]), int(x.shape[3])
        kind = "paste_masks_in_image"
    else:
        scores = _scores(out)
        h, w = int(scores.shape[1]), int(scores.shape[2])
        kind = "up1 + score0" if isinstance(model, segmenters.FCNMini) else "F.interpolate"
    classes = int(_scores(out).shape[0]) if not mask_rcnn else _mask_rcnn_classes(model)
    stages.append(Stage("mask", kind, classes, h, w, "same"))
    phased = [stages[0]]
    for prev, stage in itertools.pairwise(stages):
        if stage.phase == "input":
            phased.append(stage)
            continue
        before, now = prev.height * prev.width, stage.height * stage.width
        phase: Phase = "down" if now < before else "up" if now > before else "same"
        phased.append(
            Stage(stage.name, stage.kind, stage.channels, stage.height, stage.width, phase, stage.per_box)
        )
    return SizePath(name or type(model).__name__, tuple(phased))


def _mask_rcnn_classes(model: nn.Module) -> int:
    predictor = model.get_submodule("roi_heads.mask_predictor.mask_fcn_logits")
    return int(predictor.out_channels)  # type: ignore[arg-type]


def size_path_image(model: LoadedModel, image: Image.Image) -> SizePath:
    """:func:`size_path` for a loaded model and a picture."""
    return size_path(model.model, model.preprocess(image), name=model.spec.name)

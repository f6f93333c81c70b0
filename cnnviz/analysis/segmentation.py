"""Image segmentation: semantic and instance masks, the sizes going down and up, transposed convolution.

The lecture's section 4: segmentation classifies every pixel of the image; its output is called a "mask"
and is as large as the input. Semantic segmentation gives each pixel a class; instance segmentation also
tells apart objects of the same class. A CNN shrinks the image layer by layer, so a segmenter reverses
convolution and pooling (transposed convolution, upsampling) to grow it back.

- `semantic_masks(model, image)`: the class of every pixel, and the share of pixels per class;
- `instance_masks(model, image)`: one mask per object;
- `size_path(model, image)`: spatial size of each stage in a real forward pass (encoder down, decoder up);
- `transposed_conv(x, kernel, stride, padding)`: a transposed convolution done by hand, stamp by stamp,
  checked against `torch.nn.functional.conv_transpose2d` and the size formula O = (I − 1)S − 2P + F;
- `shapes_truth(seed)`: a synthetic shapes scene with its true semantic and instance masks.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image
from torch.nn import functional as F

from cnnviz.analysis.conv import ConvSettingsError, transposed_output_size
from cnnviz.data import shapes
from cnnviz.hooks import capture, model_lock
from cnnviz.models import segmenters
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
    "instance_masks",
    "is_instance_model",
    "semantic_masks",
    "shapes_truth",
    "size_path",
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


def is_instance_model(model: LoadedModel) -> bool:
    """Whether the model gives one mask per object (its spec has the tag "instance")."""
    return "instance" in model.spec.tags


def _is_mask_rcnn(model: LoadedModel) -> bool:
    return model.spec.family == "Mask R-CNN"


def default_threshold(model: LoadedModel) -> float:
    """The threshold a page starts with: 0.5 for Mask R-CNN's scores; for FCN-mini-instance the centre-peak
    height its card was measured with (chosen on validation scenes)."""
    if _is_mask_rcnn(model):
        return 0.5
    if model.spec.source == "bundled" and model.weights == "bundled":
        try:
            return float(
                read_card(model.spec.name).get("center_threshold", segmenters.DEFAULT_CENTER_THRESHOLD)
            )
        except FileNotFoundError:
            pass  # weights without a card: the module's default
    return segmenters.DEFAULT_CENTER_THRESHOLD


def _forward(model: LoadedModel, image: Image.Image) -> tuple[Any, np.ndarray]:
    """The model's raw output for `image` and the `(H, W, 3)` uint8 image it saw."""
    x = model.preprocess(image)
    with model_lock(model.model), torch.no_grad():
        out = model.model(x)
    view = model.model_view(image)
    if view.shape[2] == 1:
        view = np.repeat(view, 3, axis=2)
    return out, view


def _scores(out: Any) -> torch.Tensor:
    """`(K, H, W)` class scores of one image from a tensor or a torchvision-style `{"out": ...}` dict."""
    logits = out["out"] if isinstance(out, dict) else out
    if not isinstance(logits, torch.Tensor) or logits.ndim != 4:
        raise TypeError("the model's output is not (N, K, H, W) class scores")
    return logits[0]


def semantic_masks(model: LoadedModel, image: Image.Image, threshold: float | None = None) -> SemanticMasks:
    """The class of every pixel: the argmax of the per-pixel class scores.

    For Mask R-CNN, which has no per-pixel class scores, the instance masks above `threshold` are painted with
    their class (`InstanceMasks.semantic`).

    Args:
        model: a loaded segmentation model.
        image: any RGB image; the model's own preprocessing sizes it.
        threshold: only for Mask R-CNN, the lowest score kept (default `default_threshold`).

    Returns:
        The map, as large as the model's input.

    Raises:
        ValueError: `model` is not a segmentation model.
    """
    if model.spec.task != "segmentation":
        raise ValueError(f"model must be a segmentation model, got {model.spec.name} ({model.spec.task})")
    if _is_mask_rcnn(model):
        return instance_masks(model, image, threshold).semantic()
    out, view = _forward(model, image)
    labels = _scores(out).argmax(dim=0).numpy().astype(np.int64)
    categories = tuple(model.categories)
    return SemanticMasks(
        categories=categories,
        labels=labels,
        image=view,
        shares=_shares(labels, len(categories)),
        source="semantic",
    )


def instance_masks(model: LoadedModel, image: Image.Image, threshold: float | None = None) -> InstanceMasks:
    """One mask per object.

    - FCN-mini-instance: peaks of the centre heatmap at least `threshold` high are the objects; each
      foreground pixel joins the peak its offset points to (`cnnviz.models.segmenters.group_instances`).
    - Mask R-CNN: detections with a score of at least `threshold`, each mask (probability > 0.5) pasted into
      its box; where two masks overlap, the higher score keeps the pixel.

    Args:
        model: an instance segmentation model (`is_instance_model`).
        image: any RGB image.
        threshold: lowest centre peak / score kept (default `default_threshold`).

    Returns:
        The objects, highest score first, masks as large as the model's input.

    Raises:
        ValueError: `model` gives no instance masks, or `threshold` is outside 0..1.
    """
    if not is_instance_model(model):
        raise ValueError(f"{model.spec.name} gives no instance masks; use an instance segmentation model")
    threshold = default_threshold(model) if threshold is None else float(threshold)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    out, view = _forward(model, image)
    categories = tuple(model.categories)
    found: list[tuple[int, float, np.ndarray]] = []
    if _is_mask_rcnn(model):
        det = out[0]
        keep = det["scores"] >= threshold
        masks = (det["masks"][keep, 0] > 0.5).numpy()
        found = [
            (int(label), float(score), mask)
            for label, score, mask in zip(det["labels"][keep], det["scores"][keep], masks, strict=True)
        ]
        method = "mask-rcnn"
    else:
        predicted = segmenters.group_instances(out["out"][0], out["center"][0], out["offset"][0], threshold)
        found = [(p.label, p.score, p.mask) for p in predicted]
        method = "centre-offset"
    found.sort(key=lambda f: -f[1])
    taken = np.zeros(view.shape[:2], dtype=bool)
    instances = []
    for label, score, mask in found:
        mask = mask & ~taken  # the higher score keeps overlapping pixels
        if not mask.any():
            continue
        taken |= mask
        instances.append(Instance(label, categories[label], score, mask, _box(mask)))
    return InstanceMasks(categories, tuple(instances), view, threshold, method)


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


def _stage_names(model: LoadedModel) -> list[str]:
    net = model.model
    modules = dict(net.named_modules())
    if isinstance(net, segmenters.FCNMini):
        return list(segmenters.STAGES)
    family = model.spec.family
    if family in ("FCN", "DeepLabV3"):
        return [f"backbone.{n}" for n in ("conv1", "maxpool", "layer1", "layer2", "layer3", "layer4")] + [
            "classifier"
        ]
    if family == "LR-ASPP":
        backbone = [f"backbone.{n}" for n, _ in net.get_submodule("backbone").named_children()]
        return [*backbone, "classifier"]
    if family == "Mask R-CNN":
        body = [f"backbone.body.{n}" for n in ("conv1", "maxpool", "layer1", "layer2", "layer3", "layer4")]
        heads = ["backbone.fpn", "roi_heads.mask_head", "roi_heads.mask_predictor.conv5_mask"]
        return [*body, *[h for h in heads if h in modules]]
    return [n for n, _ in net.named_children()]


def size_path(model: LoadedModel, image: Image.Image) -> SizePath:
    """Records the output size of each stage of `model` while it segments `image`.

    Stages are the encoder's and decoder's blocks for the bundled segmenters; the backbone's stages and the
    head for torchvision's. The path starts at the input the model gets and ends at the mask, whose size
    equals the input's (FCN-mini adds its last skip to the last transposed convolution; torchvision's models
    interpolate their last map back up; Mask R-CNN pastes each box's 28×28 mask into the image).

    Returns:
        The stages, as captured (with `cnnviz.hooks`), not as computed from a formula.
    """
    x = model.preprocess(image)
    names = _stage_names(model)
    modules = dict(model.model.named_modules())
    with torch.no_grad(), capture(model.model, layers=names, store=False) as cap:
        out = model.model(x)
    stages = [Stage("input", "image", int(x.shape[1]), int(x.shape[2]), int(x.shape[3]), "input")]
    mask_rcnn = _is_mask_rcnn(model)
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
        kind = "up1 + score0" if isinstance(model.model, segmenters.FCNMini) else "F.interpolate"
    stages.append(Stage("mask", kind, len(model.categories), h, w, "same"))
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
    return SizePath(model.spec.name, tuple(phased))


# ------------------------------------------------------------------------------------ transposed convolution

MAX_TRANSPOSED_INPUT = 6
"""Largest input side of the transposed-convolution demo (its matrices must stay readable)."""


@dataclass(frozen=True)
class TransposedConv:
    """A transposed convolution (the upsampling a decoder uses), by hand and by PyTorch.

    Every input value stamps a copy of the kernel, scaled by that value, into the output at (row·S, col·S);
    overlapping stamps add up; then P rows and columns are cut from each side. That is
    `torch.nn.functional.conv_transpose2d` with one channel, and its output side is O = (I − 1)S − 2P + F.

    Attributes:
        input: `(I, I)`.
        kernel: `(F, F)`.
        stride: S.
        padding: P.
        stamps: `(I, I, Q, Q)` with Q = (I − 1)S + F: input[r, c] · kernel placed at (r·S, c·S).
        full: `(Q, Q)`, the sum of all stamps, before the padding is cut off.
        output: `(O, O)`, `full` without P rows/columns on each side: the result by hand.
        torch_output: `(O', O')` from `F.conv_transpose2d`.
        size: O from the formula (`cnnviz.analysis.conv.transposed_output_size`).
    """

    input: np.ndarray = field(repr=False)
    kernel: np.ndarray = field(repr=False)
    stride: int
    padding: int
    stamps: np.ndarray = field(repr=False)
    full: np.ndarray = field(repr=False)
    output: np.ndarray = field(repr=False)
    torch_output: np.ndarray = field(repr=False)
    size: int

    @property
    def matches(self) -> bool:
        """Whether the hand computation, PyTorch and the formula agree (shape and values)."""
        return self.output.shape == self.torch_output.shape == (self.size, self.size) and bool(
            np.allclose(self.output, self.torch_output)
        )


def _square(value: npt.ArrayLike, name: str) -> np.ndarray:
    arr = np.array(value, dtype=np.float64)  # a copy: the caller's array is never frozen
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.size == 0:
        raise ConvSettingsError("ndim", name=name, expected="a non-empty square matrix", shape=arr.shape)
    if not np.isfinite(arr).all():
        raise ConvSettingsError("not_finite", name=name)
    return arr


def transposed_conv(
    x: npt.ArrayLike, kernel: npt.ArrayLike, stride: int = 2, padding: int = 0
) -> TransposedConv:
    """A one-channel transposed convolution computed stamp by stamp and checked against PyTorch.

    Args:
        x: `(I, I)` input.
        kernel: `(F, F)` kernel.
        stride: S, the spacing of the stamps in the output (the upsampling factor).
        padding: P, rows and columns cut from each side of the result.

    Raises:
        ConvSettingsError: a matrix is not square or not finite, the input is larger than
            `MAX_TRANSPOSED_INPUT`, or the settings give an output below 1 pixel (the sentence names the
            setting).
    """
    inp = _square(x, "input")
    ker = _square(kernel, "kernel")
    i, f = inp.shape[0], ker.shape[0]
    if i > MAX_TRANSPOSED_INPUT:
        raise ConvSettingsError("image_size", maximum=MAX_TRANSPOSED_INPUT, value=i)
    size = transposed_output_size(i, f, stride, padding)  # validates stride/padding, raises if O < 1
    q = (i - 1) * stride + f
    stamps = np.zeros((i, i, q, q))
    for r in range(i):
        for c in range(i):
            stamps[r, c, r * stride : r * stride + f, c * stride : c * stride + f] = inp[r, c] * ker
    full = stamps.sum(axis=(0, 1))
    output = full[padding : q - padding, padding : q - padding]
    torch_out = F.conv_transpose2d(
        torch.from_numpy(inp)[None, None], torch.from_numpy(ker)[None, None], stride=stride, padding=padding
    )[0, 0].numpy()
    frozen = []
    for arr in (inp, ker, stamps, full, output.copy(), torch_out.copy()):
        arr.flags.writeable = False
        frozen.append(arr)
    return TransposedConv(
        input=frozen[0],
        kernel=frozen[1],
        stride=stride,
        padding=padding,
        stamps=frozen[2],
        full=frozen[3],
        output=frozen[4],
        torch_output=frozen[5],
        size=size,
    )


def transposed_example(
    input_size: int, kernel_size: int, kernel: str = "ones"
) -> tuple[np.ndarray, np.ndarray]:
    """A small input `1, 2, …, I²` and a kernel to try transposed convolution on.

    Args:
        input_size: I.
        kernel_size: F.
        kernel: "ones" (every stamp is its input value, so overlaps show as sums) or "counting" (1, 2, …, F²,
            so each stamp's position in the output is readable).

    Raises:
        ConvSettingsError: a size below 1, or `kernel` is not "ones" or "counting".
    """
    for value, name in ((input_size, "input size"), (kernel_size, "kernel size")):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ConvSettingsError("count", name=name, value=value)
    if kernel not in ("ones", "counting"):
        raise ConvSettingsError("preset_unknown", value=kernel, choices="ones, counting")
    x = np.arange(1, input_size * input_size + 1, dtype=np.float64).reshape(input_size, input_size)
    if kernel == "ones":
        k = np.ones((kernel_size, kernel_size))
    else:
        k = np.arange(1, kernel_size * kernel_size + 1, dtype=np.float64).reshape(kernel_size, kernel_size)
    return x, k

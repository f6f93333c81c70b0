"""Segmentation models: every pixel gets a class (semantic), or every object its own mask (instance).

A classifier shrinks the image layer by layer; a segmenter must answer at the input's size
("입력 이미지 크기 = 출력 이미지 크기"), so after the encoder's convolutions and pooling a decoder
grows the maps back with transposed convolutions (the reverse of a strided convolution) until the mask is as
large as the input.

Bundled, trained on synthetic shapes scenes (`cnnviz.data.shapes.scene`, 96×96, classes: background and the
six shapes):

- `fcn-mini` (`FCNMini`): a fully convolutional network in the manner of FCN-8s (Long et al., 2015). The
  encoder is ResNet-mini, the shapes classifier of `cnnviz.models.mini`, started from its trained weights:
  `conv1 → maxpool → layer1 → layer2 → layer3 → layer4` shrinks 96 → 48 → 24 → 12 → 6 pixels. Its FC layer
  becomes a 1×1 convolution (`score4`) that scores every class at each of the 6×6 positions, and the decoder
  grows that coarse score map back 6 → 12 → 24 → 48 → 96 with four 4×4 stride-2 transposed convolutions
  (`up4` … `up1`, started as bilinear upsampling), adding at each size the scores of the encoder map of that
  size (`score3` … `score0`, skip connections) so the fine edges come back.
- `fcn-mini-instance` (`InstanceFCNMini`): the same network with three more output maps, in the manner of
  Panoptic-DeepLab (Cheng et al., 2020): `center`, a heatmap that peaks at each object's centre, and
  `offset`, for each pixel the vector to the centre of its object. `group_instances` turns them into one mask
  per object: peaks of the heatmap are the objects, every foreground pixel of the semantic scores joins the
  peak its offset points to, and each object takes the majority class of its pixels. So two touching circles
  get two masks, which connected components of the semantic map could not separate.

From torchvision, with pretrained weights when they are in the torch hub cache (otherwise untrained, when the
person asks for it): FCN-ResNet50, DeepLabV3-ResNet50 and LR-ASPP-MobileNetV3 (semantic, the 20 PASCAL VOC
classes and background) and Mask R-CNN (instance, the COCO classes).

Each bundled model is trained by `python -m cnnviz.train NAME` and stored as
`cnnviz/models/bundled/NAME.safetensors` with a `NAME.json` card that gives its held-out numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision
from torch import nn
from torch.nn import functional as F

from cnnviz.data import shapes
from cnnviz.models.mini import ShapesTransform, resnet_mini
from cnnviz.models.registry import BundledWeights, ModelSpec, register
from cnnviz.models.training import Batch, Stopwatch, fit, one_cycle, write_card
from cnnviz.models.zoo import HubWeights, TorchvisionBuilder

__all__ = [
    "CENTER_SIGMA",
    "DEFAULT_CENTER_THRESHOLD",
    "HELD_OUT_COUNT",
    "INPUT_SIZE",
    "OFFSET_SCALE",
    "SEGMENTATION_CLASSES",
    "SPECS",
    "STAGES",
    "FCNMini",
    "InstanceFCNMini",
    "PredictedInstance",
    "bilinear_kernel",
    "confusion_matrix",
    "evaluate_instances",
    "evaluate_semantic",
    "group_instances",
    "held_out_scenes",
    "instance_partner",
    "instance_targets",
    "iou_per_class",
    "match_instances",
    "train_fcn_mini",
    "train_fcn_mini_instance",
]

SEGMENTATION_CLASSES: tuple[str, ...] = ("background", *shapes.CLASSES)
"""Output k of the bundled segmenters: 0 is background, k is `shapes.CLASSES[k - 1]` (the semantic map's
values)."""
INPUT_SIZE = (shapes.SCENE_SIZE, shapes.SCENE_SIZE)
HELD_OUT_COUNT = 500
"""Every card's held-out numbers are measured on the scenes of `shapes.held_out_seeds(HELD_OUT_COUNT)`."""

STAGES: tuple[str, ...] = (
    "conv1",
    "maxpool",
    "layer1",
    "layer2",
    "layer3",
    "layer4",
    "score4",
    "up4",
    "up3",
    "up2",
    "up1",
)
"""The FCN's stages in the order they run: encoder down to 6×6, class scores, decoder up to 96×96."""

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
_DOWNSAMPLING = 16  # maxpool, layer2, layer3 and layer4 each halve the size


# -------------------------------------------------------------------------------------------------- FCN


def bilinear_kernel(size: int) -> torch.Tensor:
    """The `(size, size)` kernel that makes a stride-`size // 2` transposed convolution bilinear upsampling.

    FCN starts its upsampling layers with it, so before training they already grow a map smoothly.
    """
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    ramp = 1 - (torch.arange(size, dtype=torch.float32) - center).abs() / factor
    return ramp[:, None] * ramp[None, :]


def _upsampler(channels: int) -> nn.ConvTranspose2d:
    # O = (I − 1)·2 − 2·1 + 4 = 2I: a 4×4 kernel with stride 2 and padding 1 doubles the size exactly.
    up = nn.ConvTranspose2d(channels, channels, kernel_size=4, stride=2, padding=1, bias=False)
    with torch.no_grad():
        up.weight.zero_()
        for c in range(channels):
            up.weight[c, c] = bilinear_kernel(4)
    return up


def _check_input(x: torch.Tensor) -> torch.Tensor:
    """`x` itself, after checking that the decoder can grow its maps back to exactly its size."""
    if x.ndim != 4 or x.shape[-1] % _DOWNSAMPLING or x.shape[-2] % _DOWNSAMPLING:
        raise ValueError(
            f"input must be (N, C, H, W) with H and W divisible by {_DOWNSAMPLING}, got {tuple(x.shape)}"
        )
    return x


# A leaf of torch.fx graphs, so the check's `if` does not stop torchvision's feature extraction from tracing.
torch.fx.wrap("_check_input")


class FCNMini(nn.Module):
    """A fully convolutional network: ResNet-mini shrinks the image 16×, transposed convolutions grow it back.

    Input `(N, 3, H, W)` with H and W divisible by 16 -> class scores `(N, num_classes, H, W)`.

    Module names: the encoder's are ResNet-mini's (`conv1`, `bn1`, `relu`, `maxpool`, `layer1` … `layer4`),
    so the classifier's trained weights load directly; `score4` … `score0` are the 1×1 convolutions that turn
    each encoder map into class scores, `up4` … `up1` the transposed convolutions that double the size.

    Args:
        num_classes: class scores per pixel (background included).
        extra: further output maps beyond the class scores (the instance heads of `InstanceFCNMini`).
    """

    def __init__(self, num_classes: int = len(SEGMENTATION_CLASSES), extra: int = 0) -> None:
        super().__init__()
        encoder = resnet_mini()
        self.conv1, self.bn1, self.relu = encoder.conv1, encoder.bn1, encoder.relu  # (N, 16, H, W)
        self.maxpool = encoder.maxpool  # (N, 16, H/2, W/2)
        # ResNet-mini adds its stages with add_module, so they are fetched by name.
        self.layer1 = encoder.get_submodule("layer1")  # (N, 16, H/2, W/2)
        self.layer2 = encoder.get_submodule("layer2")  # (N, 32, H/4, W/4)
        self.layer3 = encoder.get_submodule("layer3")  # (N, 64, H/8, W/8)
        self.layer4 = encoder.get_submodule("layer4")  # (N, 128, H/16, W/16)
        out = num_classes + extra
        self.score4 = nn.Conv2d(128, out, kernel_size=1)  # the classifier's FC as a 1×1 convolution
        self.up4 = _upsampler(out)  # H/16 -> H/8
        self.score3 = nn.Conv2d(64, out, kernel_size=1)
        self.up3 = _upsampler(out)  # H/8 -> H/4
        self.score2 = nn.Conv2d(32, out, kernel_size=1)
        self.up2 = _upsampler(out)  # H/4 -> H/2
        self.score1 = nn.Conv2d(16, out, kernel_size=1)
        self.up1 = _upsampler(out)  # H/2 -> H
        self.score0 = nn.Conv2d(16, out, kernel_size=1)
        # FCN's choice: the skips start at zero, so at first the decoder only upsamples the coarse scores.
        for score in (self.score3, self.score2, self.score1, self.score0):
            nn.init.zeros_(score.weight)
            nn.init.zeros_(score.get_parameter("bias"))
        self.num_classes = num_classes

    def maps(self, x: torch.Tensor) -> torch.Tensor:
        """All output maps `(N, num_classes + extra, H, W)`."""
        x0 = self.relu(self.bn1(self.conv1(_check_input(x))))  # (N, 16, H, W)
        x1 = self.layer1(self.maxpool(x0))
        x2 = self.layer2(x1)
        x3 = self.layer3(x2)
        x4 = self.layer4(x3)
        # Grow the coarse scores back, adding at each size what the encoder saw there (skip connections).
        y = self.up4(self.score4(x4)) + self.score3(x3)
        y = self.up3(y) + self.score2(x2)
        y = self.up2(y) + self.score1(x1)
        return self.up1(y) + self.score0(x0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.maps(x)[:, : self.num_classes]

    def load_classifier(self, state: Mapping[str, torch.Tensor]) -> None:
        """Starts from a trained ResNet-mini shapes classifier: its encoder as is, its FC as `score4`'s class
        rows 1..6 (the background row starts at zero).

        Raises:
            ValueError: `state` is not a ResNet-mini state dict with `num_classes - 1` classes.
        """
        encoder = {k: v for k, v in state.items() if not k.startswith("fc.")}
        fc_weight, fc_bias = state.get("fc.weight"), state.get("fc.bias")
        if fc_weight is None or fc_bias is None or fc_weight.shape != (self.num_classes - 1, 128):
            raise ValueError(f"state must be a ResNet-mini classifier with {self.num_classes - 1} classes")
        missing = self.load_state_dict(encoder, strict=False)
        if missing.unexpected_keys:
            raise ValueError(f"state has layers ResNet-mini does not: {missing.unexpected_keys[:3]}")
        bias = self.score4.get_parameter("bias")
        with torch.no_grad():
            self.score4.weight.zero_()
            bias.zero_()
            self.score4.weight[1 : self.num_classes, :, 0, 0] = fc_weight
            bias[1 : self.num_classes] = fc_bias


class InstanceFCNMini(FCNMini):
    """`FCNMini` with a centre heatmap and an offset map for instance segmentation (Panoptic-DeepLab style).

    Input `(N, 3, H, W)` -> a dict like torchvision's segmentation models: `"out"` class scores
    `(N, num_classes, H, W)`, `"center"` heatmap `(N, 1, H, W)` (about 1 at an object's centre, 0 far from
    any), `"offset"` `(N, 2, H, W)`, the (dy, dx) from each pixel to the centre of its object in units of
    `OFFSET_SCALE` pixels. `group_instances` turns them into masks.
    """

    def __init__(self, num_classes: int = len(SEGMENTATION_CLASSES)) -> None:
        super().__init__(num_classes, extra=3)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:  # type: ignore[override]
        y = self.maps(x)
        k = self.num_classes
        return {"out": y[:, :k], "center": y[:, k : k + 1], "offset": y[:, k + 1 : k + 3]}

    def load_semantic(self, state: Mapping[str, torch.Tensor]) -> None:
        """Starts from a trained `FCNMini`: every weight as is, the three new maps at their initial values.

        Raises:
            ValueError: `state` does not come from an `FCNMini` with the same classes.
        """
        own = self.state_dict()
        if set(state) != set(own):
            raise ValueError("state must come from an FCNMini")
        merged = {}
        for key, value in state.items():
            target = own[key].clone()
            if target.shape == value.shape:
                target = value.clone()
            elif key.startswith(("score", "up")) and value.ndim == target.ndim:
                # Class rows (and the class block of the upsamplers) come from the semantic network.
                target[tuple(slice(0, n) for n in value.shape)] = value
            else:
                raise ValueError(f"{key} has shape {tuple(value.shape)}, expected {tuple(target.shape)}")
            merged[key] = target
        self.load_state_dict(merged)


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


# -------------------------------------------------------------------------------------------- training

_TRAIN_COUNT = 3600
_VALIDATION_START = 500_000
"""Seeds of the scenes the instance threshold is chosen on: neither trained on nor held out."""
_VALIDATION_COUNT = 200
_BATCH_SIZE = 8
_SEED = 0
_WEIGHT_DECAY = 1e-4
_TRAIN_DEFAULTS: dict[str, dict[str, Any]] = {
    "fcn-mini": {"epochs": 4, "lr": 3e-3, "start": "resnet-mini"},
    "fcn-mini-instance": {"epochs": 3, "lr": 2e-3, "start": "fcn-mini"},
}
# Panoptic-DeepLab's weights: the centre heatmap's squared error is small per pixel, so it is scaled up.
_CENTER_WEIGHT = 200.0
_OFFSET_WEIGHT = 1.0
_THRESHOLDS = (0.2, 0.3, 0.4, 0.5)


def _flip(x: torch.Tensor, flip_y: bool, flip_x: bool) -> torch.Tensor:
    dims = [d for d, f in ((-2, flip_y), (-1, flip_x)) if f]
    return x.flip(dims) if dims else x


def _start_weights(name: str, out_dir: Path) -> tuple[dict[str, torch.Tensor], Path]:
    """The trained weights a bundled segmenter starts from: those in `out_dir` if it was trained there, else
    the committed ones."""
    from safetensors.torch import load_file

    from cnnviz.weights import BUNDLED_DIR, bundled_path

    for folder in (out_dir, BUNDLED_DIR):
        path = bundled_path(name, ".safetensors", folder)
        if path.is_file():
            return load_file(str(path)), path
    raise FileNotFoundError(f"train {name} first (`python -m cnnviz.train {name}`): it is the starting point")


def _instance_loss(
    out: dict[str, torch.Tensor], y: torch.Tensor, c: torch.Tensor, o: torch.Tensor
) -> torch.Tensor:
    on_object = (y > 0).unsqueeze(1).float()
    offset_l1 = (F.l1_loss(out["offset"], o, reduction="none") * on_object).sum() / on_object.sum().clamp(
        min=1
    )
    return (
        F.cross_entropy(out["out"], y)
        + _CENTER_WEIGHT * F.mse_loss(out["center"], c)
        + _OFFSET_WEIGHT * offset_l1
    )


def _train(name: str, epochs: int | None, out_dir: Path, progress: bool) -> dict[str, Any]:
    """Train one bundled segmenter on shapes scenes, measure it on the held-out scenes, write weights + card.

    Deterministic for a given machine, thread count and starting weights: data, initial weights, batch order
    and flips follow `_SEED`; the global random state is left as it was.
    """
    from cnnviz.weights import sha256_file

    settings = _TRAIN_DEFAULTS[name]
    epochs = settings["epochs"] if epochs is None else epochs
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    instance = name == "fcn-mini-instance"
    watch = Stopwatch()
    start_state, start_path = _start_weights(settings["start"], out_dir)
    scenes = [shapes.scene(seed) for seed in shapes.train_seeds(_TRAIN_COUNT)]
    images = _images(scenes)
    semantic = torch.from_numpy(np.stack([s.semantic for s in scenes]).astype(np.int64))
    if instance:
        targets = [instance_targets(torch.from_numpy(s.masks)) for s in scenes]
        centers = torch.stack([c for c, _ in targets])
        offsets = torch.stack([o for _, o in targets])
    del scenes
    held = held_out_scenes()

    def build() -> FCNMini:
        if instance:
            instance_net = InstanceFCNMini()
            instance_net.load_semantic(start_state)
            return instance_net
        net = FCNMini()
        net.load_classifier(start_state)
        return net

    def loss(model: FCNMini, batch: Batch) -> torch.Tensor:
        idx = batch.index
        # Every shape class is closed under flips, so a flipped scene is another valid scene.
        flip_y, flip_x = (bool(v) for v in torch.randint(0, 2, (2,)))
        x = shapes.normalize(_flip(images[idx], flip_y, flip_x))
        y = _flip(semantic[idx], flip_y, flip_x)
        if not instance:
            return F.cross_entropy(model(x), y)
        # A flip turns the vectors too: flipping rows negates dy, flipping columns negates dx.
        sign = torch.tensor([-1.0 if flip_y else 1.0, -1.0 if flip_x else 1.0]).view(1, 2, 1, 1)
        c = _flip(centers[idx], flip_y, flip_x)
        o = _flip(offsets[idx], flip_y, flip_x) * sign
        return _instance_loss(model(x), y, c, o)

    def after_epoch(model: FCNMini, epoch: int) -> str | None:
        if not progress:
            return None
        return f"held-out mean IoU (first 100) {evaluate_semantic(model, held[:100])['mean_iou']:.4f}"

    model = fit(
        build,
        size=len(images),
        batch_size=_BATCH_SIZE,
        epochs=epochs,
        seed=_SEED,
        optimizer=lambda m: torch.optim.AdamW(m.parameters(), lr=settings["lr"], weight_decay=_WEIGHT_DECAY),
        loss=loss,
        schedule=one_cycle(settings["lr"], pct_start=0.15),
        drop_last=True,
        on_epoch=after_epoch,
        name=name,
        progress=progress,
    ).model
    timing = watch.read()
    semantic_metrics = evaluate_semantic(model, held)
    card: dict[str, Any] = {
        "architecture": f"cnnviz.models.segmenters.{type(model).__name__}",
        "task": "segmentation",
        "kind": "instance" if instance else "semantic",
        "data": (
            "synthetic shapes scenes (cnnviz.data.shapes.scene), 96x96 RGB, 1-4 shapes per scene with "
            "limited overlap; classes: background + " + ", ".join(shapes.CLASSES)
        ),
        "categories": list(SEGMENTATION_CLASSES),
        "normalize": {"mean": list(shapes.MEAN), "std": list(shapes.STD)},
        "started_from": {"model": settings["start"], "weights_sha256": sha256_file(start_path)},
        "train_seeds": [0, _TRAIN_COUNT],
        "train_count": _TRAIN_COUNT,
        "held_out_seeds": [shapes.HELD_OUT_START, shapes.HELD_OUT_START + HELD_OUT_COUNT],
        "held_out_count": HELD_OUT_COUNT,
        "seed": _SEED,
        "epochs": epochs,
        "batch_size": _BATCH_SIZE,
        "optimizer": f"AdamW(lr={settings['lr']}, weight_decay={_WEIGHT_DECAY}), one-cycle schedule",
        "augmentation": "random vertical and horizontal flips per batch",
        # Rounded down, so a re-measurement on the same scenes is never below the card.
        "held_out_mean_iou": math.floor(semantic_metrics["mean_iou"] * 10_000) / 10_000,
        "held_out_iou_per_class": semantic_metrics["iou"],
        "held_out_pixel_accuracy": round(semantic_metrics["pixel_accuracy"], 4),
        "mean_iou_definition": (
            "per class IoU = TP / (TP + FP + FN) over all pixels of the held-out scenes, averaged over the 7 "
            "classes including background"
        ),
    }
    if instance:
        assert isinstance(model, InstanceFCNMini)
        validation = [
            shapes.scene(s) for s in range(_VALIDATION_START, _VALIDATION_START + _VALIDATION_COUNT)
        ]
        by_threshold = {t: evaluate_instances(model, validation, t)["panoptic_quality"] for t in _THRESHOLDS}
        threshold = max(_THRESHOLDS, key=lambda t: by_threshold[t])  # chosen on validation, never held-out
        inst = evaluate_instances(model, held, threshold)
        card.update(
            {
                "loss": (
                    f"cross-entropy (semantic) + {_CENTER_WEIGHT:g} x MSE (centre heatmap, Gaussian sigma "
                    f"{CENTER_SIGMA:g} px at each visible mask's centre of mass) + {_OFFSET_WEIGHT:g} x L1 "
                    f"(offset to the centre in units of {OFFSET_SCALE:g} px, on object pixels)"
                ),
                "instance_method": (
                    "learned: Panoptic-DeepLab-style centre heatmap and offset maps as three more outputs "
                    f"of the FCN; objects = heatmap peaks >= {threshold:g} (7x7 local maxima), each "
                    "foreground pixel joins the peak its offset points to, class = majority vote of the "
                    "semantic scores"
                ),
                "center_threshold": threshold,
                "validation_pq_by_threshold": {f"{t:g}": round(v, 4) for t, v in by_threshold.items()},
                "validation_seeds": [_VALIDATION_START, _VALIDATION_START + _VALIDATION_COUNT],
                "held_out_instance_precision": math.floor(inst["precision"] * 10_000) / 10_000,
                "held_out_instance_recall": math.floor(inst["recall"] * 10_000) / 10_000,
                "held_out_panoptic_quality": math.floor(inst["panoptic_quality"] * 10_000) / 10_000,
                "held_out_matched_iou": round(inst["matched_iou"], 4),
                "instance_metric_definition": (
                    "a predicted mask is a true positive when its class is right and IoU > 0.5 with a true "
                    "visible mask (one-to-one); PQ = sum of matched IoUs / (TP + FP/2 + FN/2), pooled over "
                    "all objects of the held-out scenes"
                ),
            }
        )
    else:
        card["loss"] = "cross-entropy on logits"
    record = ("params", "train_time_s", "train_cpu_s", "threads", "torch", "python")
    return write_card(name, model, card, out_dir, timing=timing, record=record)


def train_fcn_mini(epochs: int | None, out_dir: Path, progress: bool) -> dict[str, Any]:
    """Train FCN-mini (semantic) on shapes scenes, starting from ResNet-mini; returns the written card."""
    return _train("fcn-mini", epochs, out_dir, progress)


def train_fcn_mini_instance(epochs: int | None, out_dir: Path, progress: bool) -> dict[str, Any]:
    """Train FCN-mini-instance (classes + centre + offset) on shapes scenes, starting from FCN-mini; returns
    the written card."""
    return _train("fcn-mini-instance", epochs, out_dir, progress)


# ------------------------------------------------------------------------------------------------ specs


def _bundled_spec(name: str, build: type[FCNMini], tags: tuple[str, ...]) -> ModelSpec:
    return ModelSpec(
        name=name,
        family="FCN",
        task="segmentation",
        in_channels=3,
        input_size=INPUT_SIZE,
        source="bundled",
        build=build,
        transform=ShapesTransform(INPUT_SIZE),
        categories=SEGMENTATION_CLASSES,
        weights=BundledWeights(name),
        mean=shapes.MEAN,
        std=shapes.STD,
        year=2015,
        tags=tags,
    )


@dataclass(frozen=True)
class _TvEntry:
    arch: str
    weights: str
    family: str
    year: int
    tags: tuple[str, ...]


_TORCHVISION: tuple[_TvEntry, ...] = (
    _TvEntry(
        "fcn_resnet50",
        "COCO_WITH_VOC_LABELS_V1",
        "FCN",
        2015,
        ("semantic",),
    ),
    _TvEntry(
        "deeplabv3_resnet50",
        "COCO_WITH_VOC_LABELS_V1",
        "DeepLabV3",
        2017,
        ("semantic",),
    ),
    _TvEntry(
        "lraspp_mobilenet_v3_large",
        "COCO_WITH_VOC_LABELS_V1",
        "LR-ASPP",
        2019,
        ("semantic",),
    ),
    _TvEntry(
        "maskrcnn_resnet50_fpn",
        "COCO_V1",
        "Mask R-CNN",
        2017,
        ("instance",),
    ),
)


def _torchvision_spec(entry: _TvEntry) -> ModelSpec:
    weights = torchvision.models.get_model_weights(entry.arch)[entry.weights]
    transform = weights.transforms()
    instance = "instance" in entry.tags
    # Untrained: weights=None *and* weights_backbone=None, else torchvision fetches ImageNet backbone weights.
    build = TorchvisionBuilder(entry.arch, (("weights_backbone", None),))
    # Segmentation transforms resize the shorter side to 520 and normalise; Mask R-CNN only scales to [0, 1]
    # (it normalises and resizes inside the model, and answers at the input's size).
    size = 800 if instance else int(transform.resize_size[0])
    return ModelSpec(
        name=entry.arch,
        family=entry.family,
        task="segmentation",
        in_channels=3,
        input_size=(size, size),
        source="torchvision",
        build=build,
        transform=transform,
        categories=tuple(weights.meta["categories"]),
        weights=HubWeights(weights, entry.arch),
        mean=(0.0,) if instance else tuple(transform.mean),
        std=(1.0,) if instance else tuple(transform.std),
        year=entry.year,
        tags=entry.tags,
    )


_BUNDLED = (
    _bundled_spec(
        "fcn-mini",
        FCNMini,
        ("semantic", "encoder-decoder", "transposed convolution"),
    ),
    _bundled_spec(
        "fcn-mini-instance",
        InstanceFCNMini,
        ("instance", "semantic", "encoder-decoder", "transposed convolution"),
    ),
)

SPECS: tuple[ModelSpec, ...] = tuple(
    register(spec) for spec in (*_BUNDLED, *(_torchvision_spec(e) for e in _TORCHVISION))
)
"""The registered segmenters: the bundled pair first, then torchvision's."""

_PARTNERS = {
    "fcn-mini": "fcn-mini-instance",
    "fcn_resnet50": "maskrcnn_resnet50_fpn",
    "deeplabv3_resnet50": "maskrcnn_resnet50_fpn",
    "lraspp_mobilenet_v3_large": "maskrcnn_resnet50_fpn",
}


def instance_partner(name: str) -> str:
    """The model that gives instance masks next to `name`: itself for an instance model, else its partner
    trained on the same kind of images (FCN-mini's instance twin; Mask R-CNN for the VOC models).

    Raises:
        KeyError: `name` is not a segmenter.
    """
    specs = {s.name: s for s in SPECS}
    if name not in specs:
        raise KeyError(f"{name!r} is not a segmentation model; known: {', '.join(specs)}")
    return name if "instance" in specs[name].tags else _PARTNERS[name]

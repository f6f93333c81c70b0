"""Grad-CAM: where a classifier looks for one class, and the top-k predictions.

Grad-CAM (Selvaraju et al., 2017) weighs each channel `A_k` of a convolutional feature map by how much the
class score (the logit, before softmax) grows with it on average, `w_k = mean_ij d score / d A_k[i, j]`,
and keeps the places that speak for the class: `cam = ReLU(sum_k w_k A_k)`. The map is then stretched to
the input's size and scaled to 0..1 so it can lie over the image.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.hooks import capture

__all__ = ["CamResult", "Prediction", "default_cam_layer", "grad_cam", "top_k"]

# The probe input when default_cam_layer gets none: ImageNet's usual size, so the last stage still has a
# spatial map larger than 1 x 1 (at 32 x 32 a ResNet's layer4 is 1 x 1 and would look like a pooled vector).
_PROBE_SIZE = 224


@dataclass(frozen=True, eq=False)
class CamResult:
    """Grad-CAM of one class at one layer for one image.

    Arrays are read-only. `eq=False`: results compare by identity, as numpy arrays have no single truth value.

    Attributes:
        layer: module name of the feature map (a name of `model.named_modules()`).
        target: the class explained.
        score: that class's logit (before softmax).
        probability: that class's softmax probability.
        heatmap: (H, W) of the input, float32 in 0..1 (min-max scaled); all zeros when `empty`.
        raw: (h, w) at the layer's resolution, float32: `ReLU(sum_k w_k A_k)` before upsampling and scaling.
        channel_weights: (C,) float32, the Grad-CAM weight `w_k` of every channel.
        empty: True when `raw` is zero everywhere: no place in the image raises the class score, so there is
            nothing to show (the heatmap is zeros rather than noise scaled up).
    """

    layer: str
    target: int
    score: float
    probability: float
    heatmap: np.ndarray
    raw: np.ndarray
    channel_weights: np.ndarray
    empty: bool


@dataclass(frozen=True)
class Prediction:
    """One of the top-k classes.

    Attributes:
        index: class index into the model's output.
        name: class name from the categories list.
        probability: softmax probability.
    """

    index: int
    name: str
    probability: float


def _frozen(t: torch.Tensor) -> np.ndarray:
    arr = t.detach().to("cpu", torch.float32).numpy().copy()
    arr.setflags(write=False)
    return arr


def _normalise(cam: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """Min-max scales a non-negative (H, W) map to 0..1; returns (map, empty).

    The same scaling as pytorch-grad-cam and torchcam, so heatmaps look alike across tools. An all-zero map
    stays zeros and is flagged empty; a constant positive map (every place counts the same) becomes ones.
    """
    lo, hi = cam.min(), cam.max()
    if hi <= 0:
        return torch.zeros_like(cam), True
    if hi <= lo:
        return torch.ones_like(cam), False
    return ((cam - lo) / (hi - lo)).clamp_(0.0, 1.0), False


def _check_input(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[0] != 1:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be one preprocessed image of shape (1, C, H, W), got {shape}.")


def grad_cam(model: nn.Module, x: torch.Tensor, layer: str, target: int | None = None) -> CamResult:
    """Grad-CAM of class `target` at `layer` for the image `x`.

    The model runs once with gradients inside `capture`, which holds the model's lock, and leaves hooks,
    train/eval flags, `requires_grad` and `.grad` as they were; `x` is not changed.

    Args:
        model: a classifier returning logits of shape (1, K).
        x: the preprocessed image, (1, C, H, W), on the model's device.
        layer: module name whose output is a (1, C, h, w) feature map, e.g. `default_cam_layer(model)`.
        target: class index to explain; None explains the top class.

    Returns:
        The heatmap at the input's size and its ingredients.

    Raises:
        ValueError: `x` is not (1, C, H, W), `layer` is unknown (raised by `capture`, naming it) or does not
            give a 4-D feature map, `target` is out of range, or the model does not return (1, K) logits.
    """
    _check_input(x)
    if target is not None:
        target = operator.index(target)  # accepts numpy integers, rejects floats with a TypeError
    # capture(gradients=True) runs the block under enable_grad, so a caller's no_grad does not matter.
    with capture(model, layers=[layer], gradients=True) as cap:
        out = model(x)
        if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != 1:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(
                f"Grad-CAM needs a classifier returning logits (1, K); the model returned {shape}."
            )
        num_classes = out.shape[1]
        if target is None:
            target = int(out[0].argmax())
        elif not 0 <= target < num_classes:
            raise ValueError(f"target must be a class index in 0..{num_classes - 1}, got {target}.")
        activation = cap.activations[layer]
        if activation.dim() != 4:
            raise ValueError(
                f"layer {layer!r} gives an output of shape {tuple(activation.shape)}; Grad-CAM needs a "
                "feature map (1, C, h, w), such as the last convolutional block."
            )
        score = out[0, target]
        cap.backward(score)
        gradient = cap.gradients[layer]
        logits = out.detach()

    fmap = activation[0].float()  # (C, h, w)
    channel_weights = gradient[0].float().mean(dim=(1, 2))  # (C,): spatial mean of d score / d A_k
    raw = torch.relu((channel_weights[:, None, None] * fmap).sum(dim=0))  # (h, w)
    upsampled = F.interpolate(raw[None, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    heatmap, empty = _normalise(upsampled)
    return CamResult(
        layer=layer,
        target=target,
        score=float(score.detach()),
        probability=float(torch.softmax(logits[0].float(), dim=0)[target]),
        heatmap=_frozen(heatmap),
        raw=_frozen(raw),
        channel_weights=_frozen(channel_weights),
        empty=empty,
    )


def _first_conv(model: nn.Module) -> tuple[str, nn.Conv2d]:
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return name, module
    raise ValueError("model has no Conv2d layer, so there is no spatial feature map for Grad-CAM.")


def _contains(ancestor: str, name: str) -> bool:
    return ancestor == "" or name == ancestor or name.startswith(ancestor + ".")


def _spatial(shape: tuple[int, ...] | None) -> tuple[int, int] | None:
    """(h, w) of a (N, C, h, w) output; None for anything that is not a 4-D feature map."""
    return (shape[2], shape[3]) if shape is not None and len(shape) == 4 else None


def default_cam_layer(model: nn.Module, x: torch.Tensor | None = None) -> str:
    """The last spatial feature map before the classifier pools it away: the usual Grad-CAM layer.

    Found from one forward pass (without gradients) of `x`, or of a zeros image of size 224 x 224 with the
    first convolution's input channels, recording each module's output in the order modules finish:

    1. take the last `Conv2d` that ran with an output larger than 1 x 1 (squeeze-and-excitation blocks run
       1 x 1 convolutions on the pooled vector; they are not feature maps);
    2. follow the modules that finish after it while they still return a 4-D map of the same height and width
       (its normalisation and activation, the block or stage that ends there); a module with another output
       size ends the walk (a pooling, a flatten), unless it runs inside a block that returns the map (the
       squeeze-and-excitation branch of a block);
    3. of those, take the last one, leaving out the model itself and any container that also holds the first
       convolution (the whole backbone, e.g. `features`): its output is the same map, but its name says less.

    So torchvision's resnet18 gives "layer4", vgg11 "features.19" (the ReLU before the last max pooling),
    mobilenet_v2 "features.18", googlenet "inception5b".

    Args:
        model: a CNN classifier.
        x: an example input (1, C, H, W) of the model's own size; needed when the model only accepts one size
            (a fixed-size flatten, as in LeNet-5).

    Returns:
        A module name for `grad_cam`.

    Raises:
        ValueError: the model has no Conv2d, or the probe forward pass fails on the default input.
    """
    first_conv_name, first_conv = _first_conv(model)
    if x is None:
        x = torch.zeros(1, first_conv.in_channels, _PROBE_SIZE, _PROBE_SIZE)
        x = x.to(first_conv.weight.device, first_conv.weight.dtype)
        default_input = True
    else:
        _check_input(x)
        default_input = False
    try:
        # store=False: only the call order and output shapes are needed, not every feature map.
        with torch.no_grad(), capture(model, store=False) as cap:
            model(x)
    except RuntimeError as err:
        if not default_input:
            raise
        raise ValueError(
            f"the model does not run on a {_PROBE_SIZE} x {_PROBE_SIZE} image ({err}); "
            "pass x, an input of the model's own size."
        ) from err
    modules = dict(model.named_modules())
    calls = cap.order  # every module call, in the order the calls finished
    convs = [i for i, call in enumerate(calls) if isinstance(modules[call.name], nn.Conv2d)]
    if not convs:
        raise ValueError(
            "no Conv2d ran in the forward pass, so there is no spatial feature map for Grad-CAM."
        )
    spatial = [i for i in convs if _spatial(calls[i].output_shape) not in (None, (1, 1))]
    start = (spatial or convs)[-1]
    size = _spatial(calls[start].output_shape)
    chosen = calls[start].name
    for i in range(start, len(calls)):
        call = calls[i]
        if _spatial(call.output_shape) == size:
            if not _contains(call.name, first_conv_name):
                chosen = call.name
        elif not any(
            _spatial(later.output_shape) == size
            and later.name != call.name
            and _contains(later.name, call.name)
            for later in calls[i + 1 :]
        ):
            break  # a pooling or flatten outside any block that returns the map: the map is gone
    return chosen


def top_k(logits: torch.Tensor | np.ndarray, categories: Sequence[str], k: int = 5) -> list[Prediction]:
    """The `k` most probable classes, most probable first.

    Args:
        logits: the model's output for one image, (K,) or (1, K), a tensor or a numpy array.
        categories: K class names, in output order.
        k: how many; fewer come back when the model has fewer than `k` classes.

    Returns:
        Predictions with softmax probabilities.

    Raises:
        ValueError: `logits` is not one row, `categories` does not have K names, or `k` < 1.
    """
    logits = torch.as_tensor(logits)
    if logits.dim() == 2 and logits.shape[0] == 1:
        logits = logits[0]
    if logits.dim() != 1:
        raise ValueError(f"logits must be (K,) or (1, K), got {tuple(logits.shape)}.")
    if len(categories) != logits.shape[0]:
        raise ValueError(
            f"categories has {len(categories)} names but the model has {logits.shape[0]} classes."
        )
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}.")
    probabilities = torch.softmax(logits.detach().float(), dim=0)
    values, indices = torch.topk(probabilities, min(k, logits.shape[0]))
    return [
        Prediction(index=int(i), name=categories[int(i)], probability=float(p))
        for p, i in zip(values.tolist(), indices.tolist(), strict=True)
    ]

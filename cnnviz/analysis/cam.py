"""Class activation maps: where a classifier looks for one class, by six methods over one capture.

Every method here makes the same kind of map from the same ingredients. One forward pass records the feature
map `A` (C, h, w) of the chosen layer (and, for gradient methods, `dA = d score / d A` from one backward
pass, with `cnnviz.hooks.capture`); a method then only says how much each channel counts, and the map is
`ReLU(sum_k w_k A_k)`, stretched to the input's size and scaled to 0..1 so it can lie over the image:

- Grad-CAM (Selvaraju et al., 2017): `w_k = mean_ij dA_k[i, j]`, the average gradient.
- Grad-CAM++ (Chattopadhay et al., 2018): `w_k = sum_ij alpha_k[i, j] ReLU(dA_k[i, j])` with
  `alpha = dA^2 / (2 dA^2 + sum_ab A_k[a, b] dA^3)` (their eq. 19 with the exponential of the score, so that
  the higher derivatives are powers of the first).
- XGrad-CAM (Fu et al., 2020): `w_k = sum_ij A_k[i, j] dA_k[i, j] / sum_ij A_k[i, j]`, the gradient averaged
  with the activation as weight.
- LayerCAM (Jiang et al., 2021): a weight per place, `w_k[i, j] = ReLU(dA_k[i, j])`, so the map keeps fine
  detail at early layers.
- Score-CAM (Wang et al., 2020): no gradient; each channel, upsampled and scaled to 0..1, masks the input,
  the model scores the masked image, and `w = softmax over channels of those scores`. C extra forward passes
  (`max_channels` limits them).
- Eigen-CAM (Muhammad and Yeasin, 2020): no gradient and no class; the map is the projection of the centred
  feature map on its first principal component.

`score` is the class logit (before softmax), or what a callable target returns. The constants and
conventions follow pytorch-grad-cam 1.5.7 wherever a choice changes the numbers (named where they are used),
so maps agree across tools; the tests compare every method with it.

One file on purpose (a little over 600 lines): the six methods are small classes over one shared capture
(`cam`), and the file reads top to bottom as the lecture's list of methods, so splitting it would only
scatter that list.
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnviz.hooks import Layer, capture, layer_name, model_lock

__all__ = [
    "CAM_METHODS",
    "CamResult",
    "CamTarget",
    "Prediction",
    "cam",
    "default_cam_layer",
    "grad_cam",
    "top_k",
]

CamTarget = int | Callable[[Any], Tensor] | None
"""What a CAM explains: a class index, None for the top class, or a callable that takes the model's output
for the one image (as the model returns it, e.g. (1, K) logits) and returns a one-element tensor."""

# The probe input when default_cam_layer gets none: ImageNet's usual size, so the last stage still has a
# spatial map larger than 1 x 1 (at 32 x 32 a ResNet's layer4 is 1 x 1 and would look like a pooled vector).
_PROBE_SIZE = 224

# pytorch-grad-cam's guards against division by zero, kept so that maps agree with it. They are not
# negligible for Grad-CAM++: the gradient of one of 1000 logits is ~1e-3, so dA^2 ~ 1e-6 is the size of the
# guard and shrinks alpha by several percent (measured on an untrained resnet18: ~7% of the largest weight).
_GRADCAM_PP_EPS = 1e-6
_XGRADCAM_EPS = 1e-7


@dataclass(frozen=True, eq=False)
class CamResult:
    """A class activation map of one target at one layer for one image.

    Arrays are read-only. `eq=False`: results compare by identity, as numpy arrays have no single truth value.

    Attributes:
        layer: module name of the feature map (a name of `model.named_modules()`).
        target: the class explained; None when the target was a callable.
        score: the target's score: that class's logit (before softmax), or the callable's value.
        probability: that class's softmax probability; NaN when the target was a callable.
        heatmap: (H, W) of the input, float32 in 0..1 (min-max scaled); all zeros when `empty`.
        raw: (h, w) at the layer's resolution, float32: `ReLU(sum_k w_k A_k)` before upsampling and scaling
            (Eigen-CAM: `ReLU(sum_k w_k (A_k - mean A_k))`, the centred projection).
        channel_weights: (C,) float32, the weight `w_k` of every channel (LayerCAM, which weighs every place:
            the spatial mean of its weights; Eigen-CAM: the first principal direction, unit length).
        empty: True when `raw` is zero everywhere: no place in the image raises the score, so there is
            nothing to show (the heatmap is zeros rather than noise scaled up).
        method: the method that made the map, one of `CAM_METHODS`.
    """

    layer: str
    target: int | None
    score: float
    probability: float
    heatmap: np.ndarray
    raw: np.ndarray
    channel_weights: np.ndarray
    empty: bool
    method: str


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


# --- what one capture gives every method --------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Captured:
    """The ingredients one forward (and backward) pass gave, shared by every method.

    Attributes:
        activation: (C, h, w) float32, the layer's feature map `A` as the layer produced it.
        gradient: (C, h, w) float32, `d score / d A`; None for methods without gradients.
        x: (1, C_in, H, W), the input on the model's device.
        scores: runs the model (without gradients) on a batch (N, C_in, H, W) and returns the (N,) scores of
            the same target; Score-CAM's masked images.
    """

    activation: Tensor
    gradient: Tensor | None
    x: Tensor
    scores: Callable[[Tensor], Tensor]

    @property
    def grad(self) -> Tensor:
        if self.gradient is None:  # a method that says needs_gradient = False asked for one: a bug here
            raise RuntimeError("this CAM method was run without gradients")
        return self.gradient


class _Method:
    """How one CAM method weighs the channels of the captured feature map.

    A method says whether it needs the gradient and implements `weights`; `combine` makes the signed map
    `sum_k w_k A_k` (before the ReLU) from them. Eigen-CAM, which is no weighted sum of `A`, overrides it.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    needs_gradient: ClassVar[bool] = True

    def weights(self, cap: _Captured) -> Tensor:
        """(C,) one weight per channel, or (C, h, w) one per place."""
        raise NotImplementedError

    def combine(self, cap: _Captured) -> tuple[Tensor, Tensor]:
        """Returns the channel weights (C,) and the signed map (h, w)."""
        weights = self.weights(cap)
        if weights.dim() == 1:
            return weights, (weights[:, None, None] * cap.activation).sum(dim=0)
        return weights.mean(dim=(1, 2)), (weights * cap.activation).sum(dim=0)


class _GradCAM(_Method):
    name, title = "gradcam", "Grad-CAM"

    def weights(self, cap: _Captured) -> Tensor:
        return cap.grad.mean(dim=(1, 2))  # the spatial mean of d score / d A_k


class _GradCAMPlusPlus(_Method):
    name, title = "gradcam++", "Grad-CAM++"

    def weights(self, cap: _Captured) -> Tensor:
        grad = cap.grad
        grad_2 = grad * grad
        total = cap.activation.sum(dim=(1, 2), keepdim=True)  # sum_ab A_k[a, b]
        # alpha only where it is multiplied by ReLU(grad) > 0: elsewhere it does not count, and where
        # 2 + total * grad = 0 (a negative gradient) it would be infinite and 0 * inf = NaN.
        alpha = torch.where(grad > 0, grad_2 / (2 * grad_2 + total * grad_2 * grad + _GRADCAM_PP_EPS), 0.0)
        return (alpha * torch.relu(grad)).sum(dim=(1, 2))


class _XGradCAM(_Method):
    name, title = "xgradcam", "XGrad-CAM"

    def weights(self, cap: _Captured) -> Tensor:
        activation = cap.activation
        total = activation.sum(dim=(1, 2))
        return (cap.grad * activation).sum(dim=(1, 2)) / (total + _XGRADCAM_EPS)


class _LayerCAM(_Method):
    name, title = "layercam", "LayerCAM"

    def weights(self, cap: _Captured) -> Tensor:
        return torch.relu(cap.grad)  # (C, h, w): each place keeps its own positive gradient


class _ScoreCAM(_Method):
    name, title = "scorecam", "Score-CAM"
    needs_gradient = False

    def __init__(self, batch_size: int, max_channels: int | None) -> None:
        self.batch_size = batch_size
        self.max_channels = max_channels

    def weights(self, cap: _Captured) -> Tensor:
        activation = cap.activation
        channels = activation.shape[0]
        size = cap.x.shape[-2:]
        flat = activation.flatten(1)
        chosen = torch.arange(channels, device=activation.device)
        if self.max_channels is not None and self.max_channels < channels:
            # An approximation for speed: only the channels whose maps vary most become masks (a near-flat map
            # masks little); the others weigh 0, as if the softmax had given them nothing.
            chosen = torch.topk(flat.var(dim=1), self.max_channels).indices.sort().values
        varies = (flat.amax(dim=1) > flat.amin(dim=1))[chosen]
        varying, constant = chosen[varies].tolist(), chosen[~varies].tolist()
        scores = torch.full((channels,), -torch.inf, device=activation.device)  # softmax gives -inf a 0
        if constant:
            # A constant channel (a dead one: all zeros) scales to an all-zero mask, so its masked image is
            # the same black image for all of them: score it once instead of once per channel.
            scores[constant] = cap.scores(torch.zeros_like(cap.x))[0].to(scores)
        for start in range(0, len(varying), self.batch_size):
            index = varying[start : start + self.batch_size]
            # pytorch-grad-cam upsamples with nn.UpsamplingBilinear2d, i.e. align_corners=True.
            masks = F.interpolate(activation[None, index], size=size, mode="bilinear", align_corners=True)[0]
            lo = masks.amin(dim=(1, 2), keepdim=True)
            hi = masks.amax(dim=(1, 2), keepdim=True)
            masks = (masks - lo) / (hi - lo).clamp_min(torch.finfo(masks.dtype).tiny)
            scores[index] = cap.scores(cap.x * masks[:, None].to(cap.x.dtype)).to(scores)  # (b, C_in, H, W)
        # pytorch-grad-cam's choice: softmax over channels of the masked images' scores (logits). A baseline
        # subtracted from every score (the paper's score of a black image) would not change it.
        return torch.softmax(scores, dim=0)


class _EigenCAM(_Method):
    name, title = "eigencam", "Eigen-CAM"
    needs_gradient = False

    def combine(self, cap: _Captured) -> tuple[Tensor, Tensor]:
        activation = cap.activation
        channels = activation.shape[0]
        # (h w, C): each place is a sample of C channels, centred per channel as in pytorch-grad-cam. The SVD
        # is small (places x channels); it runs in float64 on the CPU, which every device can hand back.
        places = activation.reshape(channels, -1).T.to("cpu", torch.float64)
        centred = places - places.mean(dim=0)
        _, _, vh = torch.linalg.svd(centred, full_matrices=False)
        direction = vh[0]
        # The SVD's sign is arbitrary. Take the direction whose channels add up positively: as it is an
        # eigenvector of the covariance, that is the sign whose projection rises with the sum of all
        # channels, so the map is bright where the layer is most active.
        if direction.sum() < 0:
            direction = -direction
        projection = (centred @ direction).reshape(activation.shape[1:])
        return direction.to(activation), projection.to(activation)


_METHODS: dict[str, type[_Method]] = {
    m.name: m for m in (_GradCAM, _GradCAMPlusPlus, _XGradCAM, _LayerCAM, _ScoreCAM, _EigenCAM)
}

CAM_METHODS: tuple[str, ...] = tuple(_METHODS)
"""The names `cam(method=...)` takes, in the order a picker lists them: Grad-CAM first."""


def _method(method: str, batch_size: int, max_channels: int | None) -> _Method:
    if not isinstance(method, str):
        raise TypeError(f"method must be a name from CAM_METHODS (a str), got {type(method).__name__}.")
    key = method.lower().replace("-", "").replace("_", "").replace(" ", "")  # "Grad-CAM++" -> "gradcam++"
    if key not in _METHODS:
        close = difflib.get_close_matches(key, CAM_METHODS, n=2, cutoff=0.5)
        hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
        raise ValueError(
            f"method {method!r} is not a CAM method{hint}; choose one of {', '.join(CAM_METHODS)}."
        )
    if key == _ScoreCAM.name:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a whole number of at least 1, got {batch_size!r}.")
        if max_channels is not None and (
            isinstance(max_channels, bool) or not isinstance(max_channels, int) or max_channels < 1
        ):
            raise ValueError(
                f"max_channels must be None or a whole number of at least 1, got {max_channels!r}."
            )
        return _ScoreCAM(batch_size, max_channels)
    return _METHODS[key]()


# --- the one capture ---------------------------------------------------------------------------------------


def _check_input(x: torch.Tensor) -> None:
    if isinstance(x, torch.Tensor) and x.dim() == 4 and x.shape[0] > 1:
        raise ValueError(
            f"x must be one image, but it holds a batch of {x.shape[0]}; a CAM explains one image at a time, "
            "so pass x[i : i + 1]."
        )
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[0] != 1:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be one preprocessed image of shape (1, C, H, W), got {shape}.")


def _on_model(model: nn.Module, x: Tensor) -> Tensor:
    """`x` on the device (and floating dtype) of the model's first parameter; `x` itself when it is there."""
    param = next(model.parameters(), None)
    if param is None:
        return x
    dtype = param.dtype if param.is_floating_point() and x.is_floating_point() else x.dtype
    return x.to(device=param.device, dtype=dtype)


def _check_eval(model: nn.Module) -> None:
    mixing = (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd)
    training = [name for name, m in model.named_modules() if m.training and isinstance(m, mixing)]
    if training:
        raise ValueError(
            f"Score-CAM runs the model on batches of masked images, but {training[0]!r} is in training mode, "
            "where batch normalisation and dropout mix the images of a batch (and update running "
            "statistics); call model.eval() first."
        )


def _one_row(output: Any, i: int) -> Any:
    """The output of image `i` of a batch, shaped as for a batch of one: tensors sliced [i : i + 1]."""
    if isinstance(output, Tensor):
        return output[i : i + 1]
    if isinstance(output, Mapping):
        return {key: _one_row(value, i) for key, value in output.items()}
    if isinstance(output, tuple | list):
        return type(output)(_one_row(value, i) for value in output)
    return output


def _scalar(value: Any) -> Tensor:
    if not isinstance(value, Tensor) or value.numel() != 1:
        got = f"a tensor of shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__
        raise ValueError(
            f"target(output) must return a one-element tensor (the score to explain), got {got}."
        )
    return value.reshape(())


def _batch_scores(model: nn.Module, target: int | Callable[[Any], Tensor], inputs: Tensor) -> Tensor:
    """(N,) scores of `target` for a batch of inputs (N, C_in, H, W), without gradients.

    The model's lock is held for this batch's pass only, so that other sessions' passes of a shared model can
    run between Score-CAM's batches (and no other session's hooks see these inputs)."""
    with model_lock(model), torch.no_grad():
        output = model(inputs)
        if isinstance(target, int):
            return output[:, target].float()
        return torch.stack([_scalar(target(_one_row(output, i))).float() for i in range(inputs.shape[0])])


def _class_output(output: Any, title: str) -> Tensor:
    if isinstance(output, Tensor) and output.dim() == 2 and output.shape[0] == 1:
        return output
    shape = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
    raise ValueError(
        f"{title} of a class needs a classifier returning logits (1, K); the model returned {shape}. "
        "For another output, pass target as a callable that picks the score from it."
    )


def cam(
    model: nn.Module,
    x: torch.Tensor,
    layer: Layer,
    target: CamTarget = None,
    method: str = "gradcam",
    *,
    batch_size: int = 32,
    max_channels: int | None = None,
) -> CamResult:
    """The class activation map of `target` at `layer` for the image `x`, by `method`.

    The model runs once inside `capture` (with one backward pass for the gradient methods), which leaves
    hooks, train/eval flags, `requires_grad` and `.grad` as they were; `x` is not changed. The model's lock
    is held throughout, also for Score-CAM's masked passes.

    Args:
        model: a classifier returning logits (1, K), or any model when `target` is a callable.
        x: the preprocessed image, (1, C, H, W); moved to the device (and floating dtype) of the model's first
            parameter.
        layer: the layer whose output is a (1, C, h, w) feature map, as a `named_modules()` name or the module
            object, e.g. `default_cam_layer(model)`.
        target: a class index, None for the top class, or a callable that takes the model's output (as the
            model returns it for this one image) and returns a one-element tensor: the score to explain.
        method: one of `CAM_METHODS`; spelling such as "Grad-CAM++" is accepted too.
        batch_size: Score-CAM only: masked images per forward pass. Score-CAM costs one forward pass per
            channel that is not constant (512 for resnet18's layer4, 1280 for mobilenet_v2's features.18), in
            batches of this size.
        max_channels: Score-CAM only: None uses every channel (as pytorch-grad-cam does); a number uses only
            that many channels, those whose maps have the largest variance, and gives the rest weight 0: fewer
            forward passes, an approximation.

    Returns:
        The heatmap at the input's size and its ingredients.

    Raises:
        ValueError: `x` is not one image (1, C, H, W); `layer` is unknown (the sentence suggests close
            names), does not run, or does not give a 4-D feature map; `method` is unknown; `target` is out of
            range, or an index while the model does not return (1, K) logits; a callable target returns no
            one-element tensor (or, for a gradient method, one that does not depend on the model); Score-CAM
            with batch normalisation or dropout in training mode.
        TypeError: `target` is neither an integer, None nor callable, or `model` is no nn.Module.
    """
    strategy = _method(method, batch_size, max_channels)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    _check_input(x)
    name = layer_name(model, layer)
    if target is not None and not callable(target):
        target = operator.index(target)  # accepts numpy integers, rejects floats with a TypeError
    x = _on_model(model, x)
    title = strategy.title
    with model_lock(model):
        if isinstance(strategy, _ScoreCAM):
            _check_eval(model)
        # Without gradients the one pass needs no graph; capture(gradients=True) runs under enable_grad, so a
        # caller's no_grad does not matter to the gradient methods. Only the layer's own gradient is needed,
        # so the graph starts at the layer (full_graph=False): nothing before it is kept for backward.
        with (
            torch.no_grad() if not strategy.needs_gradient else torch.enable_grad(),
            capture(model, layers=[name], gradients=strategy.needs_gradient, full_graph=False) as cap,
        ):
            output = model(x)
            index: int | None = None
            if callable(target):
                score = _scalar(target(output))
                probability = float("nan")
            else:
                logits = _class_output(output, title)
                num_classes = logits.shape[1]
                if target is None:
                    index = int(logits[0].argmax())
                elif not 0 <= target < num_classes:
                    raise ValueError(f"target must be a class index in 0..{num_classes - 1}, got {target}.")
                else:
                    index = target
                score = logits[0, index]
                probability = float(torch.softmax(logits[0].detach().float(), dim=0)[index])
            if name not in cap.activations:
                raise ValueError(f"layer {name!r} did not run in the model's forward pass, so it has no map.")
            activation = cap.activations[name]
            if activation.dim() != 4:
                raise ValueError(
                    f"layer {name!r} gives an output of shape {tuple(activation.shape)}; {title} needs a "
                    "feature map (1, C, h, w), such as the last convolutional block."
                )
            gradient = None
            if strategy.needs_gradient:
                if not score.requires_grad:
                    raise ValueError(
                        f"target(output) does not depend on the model's output through autograd, so {title} "
                        "has no gradient to weigh the channels by."
                    )
                cap.backward(score)
                gradient = cap.gradients[name][0].float()
    scored: int | Callable[[Any], Tensor] = index if index is not None else target  # type: ignore[assignment]
    captured = _Captured(
        activation=activation[0].float(),
        gradient=gradient,
        x=x,
        scores=lambda inputs: _batch_scores(model, scored, inputs),
    )
    channel_weights, signed = strategy.combine(captured)  # Score-CAM runs the model here, a lock per batch

    raw = torch.relu(signed)  # (h, w)
    upsampled = F.interpolate(raw[None, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    heatmap, empty = _normalise(upsampled)
    return CamResult(
        layer=name,
        target=index,
        score=float(score.detach()),
        probability=probability,
        heatmap=_frozen(heatmap),
        raw=_frozen(raw),
        channel_weights=_frozen(channel_weights),
        empty=empty,
        method=strategy.name,
    )


def grad_cam(model: nn.Module, x: torch.Tensor, layer: Layer, target: CamTarget = None) -> CamResult:
    """Grad-CAM of `target` at `layer` for the image `x`: `cam(model, x, layer, target, method="gradcam")`.

    Grad-CAM weighs each channel `A_k` by how much the score grows with it on average,
    `w_k = mean_ij d score / d A_k[i, j]`, and keeps the places that speak for the class,
    `ReLU(sum_k w_k A_k)`. See `cam` for the arguments and errors.
    """
    return cam(model, x, layer, target, method="gradcam")


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

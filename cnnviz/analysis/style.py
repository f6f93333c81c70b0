"""Style transfer (Gatys et al., 2016): keep the content of one image, take the style of another.

The lecture's style transfer: a pretrained CNN's intermediate features describe an image. A deep layer's
feature map says *what* is where (the content); the Gram matrices of several layers, the correlations between
channels summed over all positions, say which textures and colours occur regardless of where (the style).
Starting from the content image, the pixels are optimised so that

    loss = |F_l(x) − F_l(content)|² / |F_l(content)|²
           + style_weight · mean_k |G_k(x) − G_k(style)|² / |G_k(style)|²  +  tv_weight · TV(x)

falls: the output keeps the content image's layout and takes the style image's textures. Each error is
taken relative to its target's size, so one style weight means the same for every layer choice and backbone
(Gram matrices of different layers differ by orders of magnitude). TV, total variation, is a smoothness
term that keeps the strided backbone's checkerboard artefacts down.

The backbone is VGG-19 or VGG-16 when their pretrained weights are on this machine (Gatys et al. used
VGG-19), otherwise the weight pack's ImageNet MobileNetV2; :func:`pick_backbone` says which, and
:data:`BACKBONES` lists each backbone's layers in the lecture's words.

:func:`style_transfer` is a generator: it yields a :class:`StyleStep` after every optimisation step (the
image so far and the losses), so a page can draw a progress bar and intermediate images and stop by simply
not asking for the next step (or by ``should_stop`` returning True). The backbone is copied once per run, so
the cached model shared by all sessions is never changed and its lock is held only while copying.

One file on purpose (a little over 600 lines): backbones, losses, the feature extractor and the loop are one
optimisation, each part used only by the next, read top to bottom in the lecture's order.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from cnnviz.cpu import torch_threads
from cnnviz.hooks import Layer, layer_name, model_lock
from cnnviz.models import LoadedModel, get_spec, weights_present
from cnnviz.tensors import model_device

__all__ = [
    "BACKBONES",
    "BACKBONE_PREFERENCE",
    "DEFAULT_SIZE",
    "DEFAULT_STEPS",
    "Backbone",
    "StyleExtractor",
    "StyleLog",
    "StyleSettings",
    "StyleStep",
    "content_loss",
    "gram_matrix",
    "pick_backbone",
    "resize_to",
    "style_loss",
    "style_transfer",
    "total_variation",
    "transfer_style",
]

DEFAULT_SIZE = 256
DEFAULT_STEPS = 60
"""60 Adam steps at 256 pixels take about 25 s on one CPU thread of a busy two-core machine."""


@dataclass(frozen=True)
class Backbone:
    """The layers of one backbone that style transfer can use.

    Attributes:
        name: registry name, e.g. ``"vgg19"``.
        title: how the page names it, e.g. ``"VGG-19"``.
        layers: ``(label, module name)`` pairs in network order; labels are what the page shows
            (``"relu4_2"`` for VGG, the block name for MobileNetV2).
        content_layer: the default content layer (a label).
        style_layers: the default style layers (labels).
        style_weight: the default weight of the style loss against a content weight of 1.
    """

    name: str
    title: str
    layers: tuple[tuple[str, str], ...]
    content_layer: str
    style_layers: tuple[str, ...]
    style_weight: float

    @property
    def labels(self) -> list[str]:
        """Layer labels in network order."""
        return [label for label, _ in self.layers]

    def module(self, label: str) -> str:
        """The module name of a layer label.

        Raises:
            ValueError: ``label`` is not one of this backbone's layers (the message lists them).
        """
        for known, module in self.layers:
            if known == label:
                return module
        raise ValueError(f"{self.title} has no style-transfer layer {label!r}; choose from {self.labels}")


def _vgg_layers(blocks: Sequence[int]) -> tuple[tuple[str, str], ...]:
    """VGG's ReLU outputs named reluB_L, from the number of convolutions in each block."""
    layers = []
    index = 0
    for block, convs in enumerate(blocks, start=1):
        for conv in range(1, convs + 1):
            layers.append(
                (f"relu{block}_{conv}", f"features.{index + 1}")
            )  # index: conv, index + 1: its ReLU
            index += 2
        index += 1  # the block's max pooling
    return tuple(layers)


# Gatys et al.: content conv4_2, style conv1_1 ... conv5_1 (their ReLU outputs).
_VGG_STYLE = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")

# MobileNetV2: the ReLU6 output of each block's 1×1 expansion (features.N.conv.0) holds the rectified,
# widened features that Gram matrices describe well; the blocks' own outputs are linear bottlenecks.
_MOBILENET_LAYERS: tuple[tuple[str, str], ...] = (
    ("features.0", "features.0"),  # 3×3 stride-2 stem, ReLU6: 32 channels at 1/2
    ("features.1", "features.1"),  # first block: 16 channels at 1/2 (no expansion)
    *((f"features.{i}.expand", f"features.{i}.conv.0") for i in range(2, 18)),
)

BACKBONES: dict[str, Backbone] = {
    "vgg19": Backbone(
        name="vgg19",
        title="VGG-19",
        layers=_vgg_layers((2, 2, 4, 4, 4)),
        content_layer="relu4_2",
        style_layers=_VGG_STYLE,
        style_weight=10.0,
    ),
    "vgg16": Backbone(
        name="vgg16",
        title="VGG-16",
        layers=_vgg_layers((2, 2, 3, 3, 3)),
        content_layer="relu4_2",
        style_layers=_VGG_STYLE,
        style_weight=10.0,
    ),
    "mobilenet_v2": Backbone(
        name="mobilenet_v2",
        title="MobileNetV2",
        layers=_MOBILENET_LAYERS,
        content_layer="features.7.expand",
        style_layers=(
            "features.1",
            "features.2.expand",
            "features.4.expand",
            "features.7.expand",
            "features.11.expand",
        ),
        style_weight=10.0,
    ),
}
"""Every backbone style transfer knows, by registry name."""

BACKBONE_PREFERENCE: tuple[str, ...] = ("vgg19", "vgg16", "mobilenet_v2")
"""Gatys et al.'s VGG-19 first; MobileNetV2's weights come in a weight pack and work offline."""


def pick_backbone() -> str:
    """The first backbone of :data:`BACKBONE_PREFERENCE` that is registered and has its weights here.

    ``"mobilenet_v2"`` when none has (loading it then says what is missing).
    """
    for name in BACKBONE_PREFERENCE:
        try:
            get_spec(name)
        except KeyError:
            continue
        if weights_present(name):
            return name
    return "mobilenet_v2"


# ------------------------------------------------------------------------------------------------ losses


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Channel correlations of a feature map, summed over positions: the style of one layer.

    ``G[c, d] = Σ_ij F[c, i, j] · F[d, i, j] / (C · H · W)``; dividing by the size makes layers of different
    sizes (and images of different sizes) comparable.

    Args:
        features: ``(N, C, H, W)``.

    Returns:
        ``(N, C, C)``.

    Raises:
        ValueError: ``features`` is not 4-dimensional.
    """
    if features.ndim != 4:
        raise ValueError(f"features must be (N, C, H, W), got shape {tuple(features.shape)}")
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def _relative(error: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``error / mean(target²)``; a target of all zeros leaves the error as it is.

    No fixed floor under the denominator: an untrained backbone's deep Gram matrices have mean squares far
    below 1e-12, and a floor there would shrink their loss by orders of magnitude.
    """
    size = target.pow(2).mean()
    return error / size if bool(size > 0) else error


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between two feature maps ``(N, C, H, W)``, relative to the target's size.

    ``mean((F − P)²) / mean(P²)``: 0 when the content is matched, about 1 or more when it is lost, whatever
    the layer's scale, so one content weight suits every layer and backbone.
    """
    return _relative(F.mse_loss(features, target), target)


def style_loss(grams: Sequence[torch.Tensor], targets: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean over layers of the squared difference between Gram matrices, relative to the target's size.

    Per layer ``mean((G − A)²) / mean(A²)``: Gram matrices of different layers differ in scale by orders of
    magnitude, and without this the largest one alone would set the style.
    """
    if len(grams) != len(targets) or not grams:
        raise ValueError(
            f"grams and targets must be equally long and not empty: {len(grams)}, {len(targets)}"
        )
    total = torch.zeros(())
    for gram, target in zip(grams, targets, strict=True):
        total = total + _relative(F.mse_loss(gram, target.expand_as(gram)), target)
    return total / len(grams)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels of ``(N, C, H, W)``: how noisy an image is."""
    return (image[..., 1:, :] - image[..., :-1, :]).abs().mean() + (
        image[..., :, 1:] - image[..., :, :-1]
    ).abs().mean()


# --------------------------------------------------------------------------------------------- backbone


class _Enough(Exception):
    """Raised by the last wanted hook: the rest of the network is not needed for the losses."""


class StyleExtractor(nn.Module):
    """A private, frozen copy of a network that returns the chosen layers' feature maps.

    For a VGG or MobileNetV2 (a ``features`` Sequential holding every chosen layer) only ``features`` up to
    the deepest chosen layer is copied; any other module is copied whole and its forward pass stops once
    every chosen layer has run. In-place activations are switched off in the copy (a feature map kept for
    the loss must not change afterwards) and its parameters are frozen: only the image is optimised.

    Args:
        model: any network that takes ``(N, C, H, W)`` images.
        modules: layers to return, as names from ``model.named_modules()`` or the modules themselves.
        mean: the normalisation the network expects, applied to images in [0, 1].
        std: likewise.

    Raises:
        ValueError: no layer, or an unknown one (the sentence names it, with close names).
    """

    def __init__(
        self,
        model: nn.Module,
        modules: Sequence[Layer],
        *,
        mean: Sequence[float] = (0.0,),
        std: Sequence[float] = (1.0,),
    ) -> None:
        super().__init__()
        if not modules:
            raise ValueError("modules must name at least one layer")
        names = [layer_name(model, m) for m in modules]
        features = getattr(model, "features", None)
        in_features = isinstance(features, nn.Sequential) and all(
            n.split(".")[0] == "features" and len(n.split(".")) > 1 and n.split(".")[1].isdigit()
            for n in names
        )
        with model_lock(model):
            if in_features:
                assert isinstance(features, nn.Sequential)
                depth = max(int(n.split(".")[1]) + 1 for n in names)
                self.features: nn.Module = copy.deepcopy(features[:depth])
                prefix = "features."
            else:
                self.features = copy.deepcopy(model)
                prefix = ""
        for module in self.features.modules():
            if hasattr(module, "inplace"):
                setattr(module, "inplace", False)  # noqa: B010 (nn.Module's attribute typing says Tensor)
        self.features.eval()
        self.features.requires_grad_(False)
        self.modules_wanted = tuple(names)
        self._mean = torch.tensor(tuple(mean), dtype=torch.float32).view(1, -1, 1, 1)
        self._std = torch.tensor(tuple(std), dtype=torch.float32).view(1, -1, 1, 1)
        named = dict(self.features.named_modules())
        self._targets = {name: named[name.removeprefix(prefix)] for name in names}

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """``(N, C, H, W)`` in [0, 1] -> module name -> feature map ``(N, C', h, w)``."""
        outputs: dict[str, torch.Tensor] = {}
        handles = []
        wanted = len(self._targets)
        for name, module in self._targets.items():

            def keep(_m: nn.Module, _args: object, output: torch.Tensor, name: str = name) -> None:
                outputs[name] = output
                if len(outputs) == wanted:
                    raise _Enough

            handles.append(module.register_forward_hook(keep))
        device = model_device(self.features)
        image = image.to(device)
        try:
            self.features((image - self._mean.to(device)) / self._std.to(device))
        except _Enough:
            pass
        finally:
            for handle in handles:
                handle.remove()
        return outputs


# ------------------------------------------------------------------------------------------ the loop


@dataclass(frozen=True)
class StyleSettings:
    """What a style-transfer run does.

    Attributes:
        content_layer: the layer whose feature map must match the content image (a label of the backbone).
        style_layers: the layers whose Gram matrices must match the style image.
        style_weight: weight of the style loss; the content loss has weight 1.
        steps: optimisation steps (Adam on the pixels).
        size: the output's longer side in pixels (the content image is resized, keeping its aspect ratio).
        tv_weight: weight of the total-variation smoothness term.
        learning_rate: Adam's step size on pixels in [0, 1].
        seed: seed of the small noise added to the starting image (so the run is reproducible).
    """

    content_layer: str
    style_layers: tuple[str, ...]
    style_weight: float = 10.0
    steps: int = DEFAULT_STEPS
    size: int = DEFAULT_SIZE
    tv_weight: float = 0.3
    learning_rate: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")
        if not 16 <= self.size <= 1024:
            raise ValueError(f"size must be between 16 and 1024 pixels, got {self.size}")
        if not self.style_layers:
            raise ValueError("style_layers must name at least one layer")
        if self.style_weight < 0 or self.tv_weight < 0:
            raise ValueError(
                f"style_weight and tv_weight must not be negative, got {self.style_weight}, {self.tv_weight}"
            )
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")


@dataclass(frozen=True)
class StyleStep:
    """The state of a run after one step.

    Attributes:
        step: steps done (1..steps).
        steps: steps asked for.
        image: ``(H, W, 3)`` uint8, the output so far.
        content_loss: the content loss (weight 1).
        style_loss: the style loss before weighting.
        tv_loss: the total variation before weighting.
        total_loss: ``content + style_weight · style + tv_weight · tv``.
        seconds: time since the run started (targets included).
        backbone: the registry name of the backbone.
    """

    step: int
    steps: int
    image: np.ndarray = field(repr=False)
    content_loss: float
    style_loss: float
    tv_loss: float
    total_loss: float
    seconds: float
    backbone: str

    @property
    def done(self) -> bool:
        """Whether this is the last step."""
        return self.step >= self.steps


@dataclass
class StyleLog:
    """A style-transfer run as the page keeps it between reruns: the newest image and every step's losses.

    Attributes:
        steps: steps asked for.
        style_weight: the style loss's weight in the total (the content loss has weight 1).
        tv_weight: the smoothness term's weight.
        backbone: the backbone's title, e.g. "VGG-19".
        step: steps done so far; seconds: time so far; image: the newest output, ``(H, W, 3)`` uint8.
        losses: ``(content, style, tv)`` per step, before weighting.
    """

    steps: int
    style_weight: float
    tv_weight: float
    backbone: str
    step: int = 0
    seconds: float = 0.0
    image: np.ndarray | None = field(default=None, repr=False)
    losses: list[tuple[float, float, float]] = field(default_factory=list)

    def add(self, step: StyleStep) -> None:
        """Records one step (in order)."""
        if step.step != self.step + 1:
            raise ValueError(f"steps must come in order: expected step {self.step + 1}, got {step.step}.")
        self.step, self.seconds, self.image = step.step, step.seconds, step.image
        self.losses.append((step.content_loss, step.style_loss, step.tv_loss))

    @property
    def done(self) -> bool:
        return self.step >= self.steps

    def weighted(self) -> dict[str, np.ndarray]:
        """Each term as it enters the total, per step: content, style_weight · style, tv_weight · tv."""
        losses = np.asarray(self.losses, dtype=np.float64).reshape(-1, 3)
        return {
            "content": losses[:, 0],
            "style": self.style_weight * losses[:, 1],
            "tv": self.tv_weight * losses[:, 2],
        }


def resize_to(image: Image.Image, size: int) -> Image.Image:
    """``image`` as RGB with its longer side ``size`` pixels, aspect ratio kept."""
    image = image.convert("RGB")
    scale = size / max(image.size)
    width, height = (max(1, round(side * scale)) for side in image.size)
    return image.resize((width, height), Image.Resampling.LANCZOS)


def _tensor(image: Image.Image) -> torch.Tensor:
    """RGB PIL image -> ``(1, 3, H, W)`` float32 in [0, 1]."""
    array = np.asarray(image, dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous()


def _uint8(image: torch.Tensor) -> np.ndarray:
    pixels = image.detach()[0].float().cpu().clamp(0.0, 1.0)
    return (pixels * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()


def transfer_style(
    model: nn.Module,
    content: torch.Tensor,
    style: torch.Tensor,
    *,
    content_layer: Layer,
    style_layers: Sequence[Layer],
    style_weight: float = 10.0,
    steps: int = DEFAULT_STEPS,
    tv_weight: float = 0.3,
    learning_rate: float = 0.05,
    seed: int = 0,
    mean: Sequence[float] = (0.0,),
    std: Sequence[float] = (1.0,),
    name: str = "",
    should_stop: Callable[[], bool] | None = None,
    threads: int | None = 1,
) -> Iterator[StyleStep]:
    """Optimise an image to keep ``content``'s content and take ``style``'s style, with any network's
    layers; yield every step.

    Args:
        model: the network whose feature maps define content and style.
        content: ``(1, C, H, W)`` in [0, 1]; the output has its size.
        style: ``(1, C, H', W')`` in [0, 1] (Gram matrices do not depend on the layout).
        content_layer: the layer whose feature map must match the content image (name or module).
        style_layers: the layers whose Gram matrices must match the style image.
        style_weight: weight of the style loss; the content loss has weight 1.
        steps: optimisation steps (Adam on the pixels).
        tv_weight: weight of the total-variation smoothness term.
        learning_rate: Adam's step size on pixels in [0, 1].
        seed: seed of the small noise added to the starting image.
        mean: the normalisation the network expects.
        std: likewise.
        name: what the steps call the network (default its class name).
        should_stop: called before every step; the run ends when it returns True.
        threads: torch's CPU threads while the run computes (restored between and after steps); None leaves
            them as they are. One thread by default: on a machine whose cores are busy with other work, two
            threads that wait for each other made a run ten times slower than one.

    Yields:
        A :class:`StyleStep` after each step. The losses are those of the image before the step's update,
        the image the one after it.

    Raises:
        ValueError: an unknown layer, no style layer, or a setting out of range.
    """
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1 or None, got {threads}")
    if steps < 1 or learning_rate <= 0 or style_weight < 0 or tv_weight < 0:
        raise ValueError(
            "steps must be at least 1, learning_rate positive and the weights not negative; got "
            f"{steps}, {learning_rate}, {style_weight}, {tv_weight}"
        )
    if not style_layers:
        raise ValueError("style_layers must name at least one layer")
    content_module = layer_name(model, content_layer)
    style_modules = [layer_name(model, m) for m in style_layers]
    started = time.perf_counter()
    with torch_threads(threads):
        extractor = StyleExtractor(model, [content_module, *style_modules], mean=mean, std=std)
        device = model_device(extractor.features)
        content_image = content.detach().to(device, torch.float32)
        style_image = style.detach().to(device, torch.float32)
        with torch.no_grad():
            content_target = extractor(content_image)[content_module]
            style_features = extractor(style_image)
            style_targets = [gram_matrix(style_features[m]) for m in style_modules]
        del style_features

    # Start from the content image with a little noise, so flat regions can pick up texture too.
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(content_image.shape, generator=generator).to(device)
    start = (content_image + 0.02 * noise).clamp(0.0, 1.0)
    pixels = start.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([pixels], lr=learning_rate)
    for step in range(1, steps + 1):
        if should_stop is not None and should_stop():
            return
        # Set per step, never across the yield: the caller may draw the page while this generator waits.
        with torch_threads(threads):
            features = extractor(pixels)
            c_loss = content_loss(features[content_module], content_target)
            s_loss = style_loss([gram_matrix(features[m]) for m in style_modules], style_targets)
            tv = total_variation(pixels)
            total = c_loss + style_weight * s_loss + tv_weight * tv
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
            with torch.no_grad():
                pixels.clamp_(0.0, 1.0)
            del features
        yield StyleStep(
            step=step,
            steps=steps,
            image=_uint8(pixels),
            content_loss=float(c_loss.detach()),
            style_loss=float(s_loss.detach()),
            tv_loss=float(tv.detach()),
            total_loss=float(total.detach()),
            seconds=time.perf_counter() - started,
            backbone=name or type(model).__name__,
        )


def style_transfer(
    loaded: LoadedModel,
    content: Image.Image,
    style: Image.Image,
    settings: StyleSettings,
    *,
    should_stop: Callable[[], bool] | None = None,
    threads: int | None = 1,
) -> Iterator[StyleStep]:
    """:func:`transfer_style` with one of the zoo's backbones, its layer labels and two pictures.

    Args:
        loaded: the backbone (one of :data:`BACKBONES`), e.g. ``load(pick_backbone())``.
        content: the content image (resized so its longer side is ``settings.size``).
        style: the style image (resized the same way).
        settings: layers (labels of the backbone), weights, steps and size.
        should_stop: called before every step; the run ends when it returns True.
        threads: see :func:`transfer_style`.

    Raises:
        ValueError: a layer is not one of the backbone's, or a setting is out of range.
        KeyError: the backbone is not in :data:`BACKBONES`.
    """
    if loaded.spec.name not in BACKBONES:
        raise KeyError(f"style transfer knows the backbones {list(BACKBONES)}, not {loaded.spec.name!r}")
    backbone = BACKBONES[loaded.spec.name]
    content_module = backbone.module(settings.content_layer)
    style_modules = [backbone.module(label) for label in settings.style_layers]
    yield from transfer_style(
        loaded.model,
        _tensor(resize_to(content, settings.size)),
        _tensor(resize_to(style, settings.size)),
        content_layer=content_module,
        style_layers=style_modules,
        style_weight=settings.style_weight,
        steps=settings.steps,
        tv_weight=settings.tv_weight,
        learning_rate=settings.learning_rate,
        seed=settings.seed,
        mean=loaded.spec.mean,
        std=loaded.spec.std,
        name=backbone.name,
        should_stop=should_stop,
        threads=threads,
    )

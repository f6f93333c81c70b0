"""The mini networks' architectures (AlexNet, VGG, ResNet with basic, SE and plain blocks) and their builders,
including the untrained ResNet-20/56 stacks and their plain twins."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from cnnviz.data import shapes

__all__ = [
    "INPUT_SIZE",
    "MINI_NAMES",
    "NUM_CLASSES",
    "AlexNetMini",
    "BasicBlock",
    "PlainBlock",
    "ResNetMini",
    "SEBasicBlock",
    "SEBlock",
    "VGGMini",
    "alexnet_mini",
    "build",
    "plain_stack",
    "plainnet_mini",
    "residual_stack",
    "resnet_mini",
    "se_resnet_mini",
    "vgg_mini",
]


NUM_CLASSES = len(shapes.CLASSES)
INPUT_SIZE = (shapes.CLASSIFICATION_SIZE, shapes.CLASSIFICATION_SIZE)


# --------------------------------------------------------------------------------------------- AlexNet


def kaiming_init_(model: nn.Module, *, linear: bool = False, skip: Sequence[nn.Module] = ()) -> None:
    """Kaiming (He) initialisation in `model.modules()` order, as torchvision's ResNet does it: convolutions
    fan-out for ReLU with zero biases, batch norms 1 and 0, and with `linear` the FC layers too; the modules
    in `skip` keep PyTorch's default."""
    skipped = {id(m) for m in skip}
    for m in model.modules():
        if id(m) in skipped:
            continue
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif linear and isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)


class AlexNetMini(nn.Module):
    """AlexNet in miniature: a large strided first filter, ReLU, overlapping max pooling, dropout in the FCs.

    Like torchvision's AlexNet: `features` (5 convolutions, 3 max pools), `avgpool`, `classifier`
    (dropout, FC, ReLU, dropout, FC, ReLU, FC). No batch normalisation: AlexNet had none. Dropout is 0.25
    rather than AlexNet's 0.5, because these FC layers are 192 wide instead of 4096: at 0.5 the small net
    stays at chance.
    Input `(N, 3, 64, 64)` -> logits `(N, num_classes)`.
    """

    def __init__(self, num_classes: int = NUM_CLASSES, dropout: float = 0.25) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 24, kernel_size=5, stride=2, padding=2),  # (N, 24, 32, 32)
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),  # (N, 24, 16, 16)
            nn.Conv2d(24, 48, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),  # (N, 48, 8, 8)
            nn.Conv2d(48, 64, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(64, 64, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(64, 48, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),  # (N, 48, 4, 4)
        )
        self.avgpool = nn.AdaptiveAvgPool2d((4, 4))
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(48 * 4 * 4, 192),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(192, 192),
            nn.ReLU(),
            nn.Linear(192, num_classes),
        )
        # Without batch normalisation, PyTorch's default initialisation shrinks the signal layer by layer and
        # training stalls at chance (the vanishing gradients of the residual-gradients page); Kaiming
        # initialisation keeps it alive.
        kaiming_init_(self, linear=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


# ------------------------------------------------------------------------------------------------- VGG

_VGG_CFG: tuple[int | str, ...] = (16, "M", 32, "M", 32, 32, "M", 64, 64, "M")


class VGGMini(nn.Module):
    """VGG in miniature: stacked 3×3 convolutions (stride 1, padding 1) and 2×2 max pooling only.

    Like torchvision's VGG without batch normalisation (as the original): `features`, `avgpool`,
    `classifier`.
    Input `(N, 3, 64, 64)` -> logits `(N, num_classes)`.
    """

    def __init__(
        self, num_classes: int = NUM_CLASSES, cfg: Sequence[int | str] = _VGG_CFG, dropout: float = 0.3
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for item in cfg:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                width = int(item)
                layers += [nn.Conv2d(channels, width, kernel_size=3, stride=1, padding=1), nn.ReLU()]
                channels = width
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((4, 4))
        self.classifier = nn.Sequential(
            nn.Linear(channels * 4 * 4, 128),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(128, num_classes),
        )
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


# ---------------------------------------------------------------------------------------------- ResNet


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


NormLayer = Callable[[int], nn.Module]
"""Builds the normalisation after a convolution from its channel count: `nn.BatchNorm2d`, or `nn.Identity`
(which ignores the count) for a network without normalisation."""


def _projection(cin: int, cout: int, stride: int, norm_layer: NormLayer = nn.BatchNorm2d) -> nn.Sequential:
    """The 1×1 convolution (+ BN) skip that matches shapes when a block changes width or resolution."""
    return nn.Sequential(nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False), norm_layer(cout))


class SEBlock(nn.Module):
    """Squeeze-and-excitation: reweight each channel by a learned importance in (0, 1).

    - squeeze: `avgpool` (global average pooling) turns `(N, C, H, W)` into one number per channel,
      `(N, C, 1, 1)`;
    - excitation: `fc1` reduces C to C / r channels, `relu`, `fc2` expands back to C, `sigmoid` maps each to
      (0, 1), the channel weights;
    - scale: the input times the weights, `(N, C, H, W)`.

    `fc1` and `fc2` are 1×1 convolutions on the `(N, C, 1, 1)` vector, which is exactly a fully connected
    layer (as in torchvision's `SqueezeExcitation`). Each step is its own hookable module: squeeze vector =
    `avgpool` output, reduced vector = `relu` output, channel weights = `sigmoid` output, reweighted feature
    map = this module's output.
    """

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        if reduction < 1 or channels % reduction:
            raise ValueError(f"reduction must divide channels ({channels}), got {reduction}")
        self.reduction = reduction
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, kernel_size=1)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2d(channels // reduction, channels, kernel_size=1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.sigmoid(self.fc2(self.relu(self.fc1(self.avgpool(x)))))  # (N, C, 1, 1)
        return x * weights


class BasicBlock(nn.Module):
    """ResNet's basic block: H(x) = F(x) + x with F = conv-BN-ReLU-conv-BN, then ReLU.

    The skip is the identity, or `downsample` (1×1 convolution with stride 2 + BN) where the shape changes.
    """

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        norm_layer: NormLayer = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        self.conv1 = _conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU()
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """F(x), the residual branch."""
        return self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.residual(x)
        out = out + identity
        return self.relu(out)


class SEBasicBlock(BasicBlock):
    """SE-ResNet module: the basic block with `se` (an `SEBlock`) on the residual branch, before the add."""

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        norm_layer: NormLayer = nn.BatchNorm2d,
        reduction: int = 4,
    ) -> None:
        super().__init__(inplanes, planes, stride, downsample, norm_layer)
        self.se = SEBlock(planes, reduction)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """F(x) reweighted channel by channel: se(bn2(conv2(relu(bn1(conv1(x))))))."""
        return self.se(super().residual(x))


class PlainBlock(BasicBlock):
    """The basic block without its skip: H(x) = F(x), then ReLU (a "plain" network of the ResNet paper).

    Same layers and names as `BasicBlock`, so the two nets differ in the skip alone.
    """

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        norm_layer: NormLayer = nn.BatchNorm2d,
    ) -> None:
        del downsample  # no skip, so nothing to match shapes for
        super().__init__(inplanes, planes, stride, None, norm_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.residual(x))


BlockFactory = Callable[..., nn.Module]


class ResNetMini(nn.Module):
    """A ResNet laid out like torchvision's: `conv1`, `bn1`, `relu`, `maxpool`, `layer1..N`, `avgpool`, `fc`.

    Args:
        block: `BasicBlock`, `SEBasicBlock` or `PlainBlock` (anything built as
            `block(inplanes, planes, stride, downsample, norm_layer=...)`).
        layers: blocks per stage.
        widths: channels per stage; every stage after the first halves the resolution (stride-2 first block).
        num_classes: size of the output.
        stem_stride: stride of `conv1` (a 3×3 convolution).
        maxpool: whether the stem ends in a 2×2 max pool (otherwise `maxpool` is an `nn.Identity`).
        skip_projection: build `downsample` projections where a block changes shape (False for plain blocks).
        norm_layer: `nn.BatchNorm2d` (ResNet) or `nn.Identity` (no normalisation).
        kaiming_init: torchvision's ResNet initialisation (Kaiming normal, fan-out); otherwise every layer
            keeps PyTorch's default initialisation.
    """

    def __init__(
        self,
        block: BlockFactory,
        layers: Sequence[int],
        widths: Sequence[int],
        num_classes: int = NUM_CLASSES,
        stem_stride: int = 1,
        maxpool: bool = True,
        skip_projection: bool = True,
        norm_layer: NormLayer = nn.BatchNorm2d,
        kaiming_init: bool = True,
    ) -> None:
        super().__init__()
        if len(layers) != len(widths) or not layers:
            raise ValueError(f"layers and widths need the same, non-zero length, got {layers} and {widths}")
        self.inplanes = widths[0]
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size=3, stride=stem_stride, padding=1, bias=False)
        self.bn1 = norm_layer(widths[0])
        self.relu = nn.ReLU()
        self.maxpool: nn.Module = nn.MaxPool2d(kernel_size=2, stride=2) if maxpool else nn.Identity()
        self.num_stages = len(layers)
        for i, (count, width) in enumerate(zip(layers, widths, strict=True)):
            stride = 1 if i == 0 else 2
            layer = self._make_layer(block, width, count, stride, skip_projection, norm_layer)
            self.add_module(f"layer{i + 1}", layer)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[-1], num_classes)
        # torchvision's ResNet initialisation; the SE excitation layers keep PyTorch's default.
        if kaiming_init:
            se_convs = [c for m in self.modules() if isinstance(m, SEBlock) for c in (m.fc1, m.fc2)]
            kaiming_init_(self, skip=se_convs)

    def _make_layer(
        self,
        block: BlockFactory,
        planes: int,
        count: int,
        stride: int,
        skip_projection: bool,
        norm_layer: NormLayer,
    ) -> nn.Sequential:
        downsample = None
        if skip_projection and (stride != 1 or self.inplanes != planes):
            downsample = _projection(self.inplanes, planes, stride, norm_layer)
        blocks = [block(self.inplanes, planes, stride, downsample, norm_layer=norm_layer)]
        self.inplanes = planes
        blocks += [block(planes, planes, norm_layer=norm_layer) for _ in range(1, count)]
        return nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


# --------------------------------------------------------------------------------------------- builders

_MINI_LAYERS = (1, 1, 1, 1)
_MINI_WIDTHS = (16, 32, 64, 128)


def alexnet_mini(num_classes: int = NUM_CLASSES) -> AlexNetMini:
    """AlexNet-mini, untrained."""
    return AlexNetMini(num_classes)


def vgg_mini(num_classes: int = NUM_CLASSES) -> VGGMini:
    """VGG-mini, untrained."""
    return VGGMini(num_classes)


def resnet_mini(num_classes: int = NUM_CLASSES) -> ResNetMini:
    """ResNet-mini (ResNet-10 layout: stem + four stages of one basic block), untrained."""
    return ResNetMini(BasicBlock, _MINI_LAYERS, _MINI_WIDTHS, num_classes)


def se_resnet_mini(num_classes: int = NUM_CLASSES, reduction: int = 4) -> ResNetMini:
    """SE-ResNet-mini: ResNet-mini with an SE block (reduction r = `reduction`) in every block, untrained."""

    def block(
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        norm_layer: NormLayer = nn.BatchNorm2d,
    ) -> SEBasicBlock:
        return SEBasicBlock(inplanes, planes, stride, downsample, norm_layer, reduction=reduction)

    return ResNetMini(block, _MINI_LAYERS, _MINI_WIDTHS, num_classes)


def plainnet_mini(num_classes: int = NUM_CLASSES) -> ResNetMini:
    """PlainNet-mini: ResNet-mini's depth and widths without skips (and so without projections), untrained."""
    return ResNetMini(PlainBlock, _MINI_LAYERS, _MINI_WIDTHS, num_classes, skip_projection=False)


def _stack_blocks(depth: int) -> int:
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth must be 6n + 2 (20, 32, 44, 56, 110), got {depth}")
    return (depth - 2) // 6


def _stack(depth: int, block: BlockFactory, num_classes: int, batch_norm: bool) -> ResNetMini:
    n = _stack_blocks(depth)
    return ResNetMini(
        block,
        (n, n, n),
        (16, 32, 64),
        num_classes,
        maxpool=False,
        skip_projection=block is BasicBlock,
        norm_layer=nn.BatchNorm2d if batch_norm else nn.Identity,
        kaiming_init=batch_norm,
    )


def residual_stack(depth: int, num_classes: int = NUM_CLASSES, *, batch_norm: bool = False) -> ResNetMini:
    """CIFAR-style ResNet-`depth`, untrained: 6n + 2 layers (stem, three stages of n basic blocks, FC).

    Stages of 16/32/64 channels, projection skips (1×1 convolution, stride 2) where the shape changes, no max
    pool; for 64×64 inputs. Module names as in ResNet-mini (`layer1.0.conv1`, …).

    Args:
        depth: 6n + 2, e.g. 20 or 56.
        num_classes: size of the output.
        batch_norm: with batch normalisation and torchvision's Kaiming initialisation. The default, without
            it and with PyTorch's default initialisation, is the set-up where a deep plain stack's gradient
            vanishes at initialisation (the first layer of `plain_stack(56)` gets a gradient near 0) while the
            skips here carry it back (∂H/∂x = F'(x) + 1). With batch normalisation the plain stack's early
            gradients grow instead of vanishing; the residual stack's stay moderate.

    Raises:
        ValueError: if `depth` is not 6n + 2.
    """
    return _stack(depth, BasicBlock, num_classes, batch_norm)


def plain_stack(depth: int, num_classes: int = NUM_CLASSES, *, batch_norm: bool = False) -> ResNetMini:
    """The plain twin of `residual_stack(depth)`: the same convolutions without any skip, untrained.

    Raises:
        ValueError: if `depth` is not 6n + 2.
    """
    return _stack(depth, PlainBlock, num_classes, batch_norm)


_BUILDERS: dict[str, Callable[[], nn.Module]] = {
    "alexnet-mini": alexnet_mini,
    "vgg-mini": vgg_mini,
    "resnet-mini": resnet_mini,
    "se-resnet-mini": se_resnet_mini,
    "plainnet-mini": plainnet_mini,
}
MINI_NAMES: tuple[str, ...] = tuple(_BUILDERS)


def build(name: str) -> nn.Module:
    """An untrained mini network by its bundled name (one of `MINI_NAMES`).

    Raises:
        KeyError: naming the unknown model.
    """
    try:
        return _BUILDERS[name]()
    except KeyError:
        raise KeyError(f"unknown mini model {name!r}; known: {', '.join(MINI_NAMES)}") from None

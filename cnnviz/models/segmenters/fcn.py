"""FCN-mini and FCN-mini-instance: a ResNet-mini encoder, 1×1 class scores and a transposed-convolution
decoder with skip connections."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from cnnviz.data import shapes
from cnnviz.models.mini import resnet_mini

__all__ = ["INPUT_SIZE", "SEGMENTATION_CLASSES", "STAGES", "FCNMini", "InstanceFCNMini", "bilinear_kernel"]


SEGMENTATION_CLASSES: tuple[str, ...] = ("background", *shapes.CLASSES)
"""Output k of the bundled segmenters: 0 is background, k is `shapes.CLASSES[k - 1]` (the semantic map's
values)."""
INPUT_SIZE = (shapes.SCENE_SIZE, shapes.SCENE_SIZE)


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

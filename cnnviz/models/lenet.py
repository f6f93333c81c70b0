"""LeNet-5 exactly as the lecture's table, trained by the project on scikit-learn's digits.

=================  ==========  ===========  ======  ====================  ==========
layer              #filters    filter size  stride  size of feature map   activation
=================  ==========  ===========  ======  ====================  ==========
input              -           -            -       32 × 32 × 1
conv1              6           5 × 5        1       28 × 28 × 6           tanh
pool1 (average)                2 × 2        2       14 × 14 × 6
conv2              16          5 × 5        1       10 × 10 × 16          tanh
pool2 (average)                2 × 2        2       5 × 5 × 16
conv3              120         5 × 5        1       120 (1 × 1 × 120)     tanh
fc1                84          -            -       84                    tanh
fc2                10          -            -       10                    softmax
=================  ==========  ===========  ======  ====================  ==========

The network returns the 10 logits; the softmax of the last row is applied where probabilities are shown
(``torch.softmax(logits, dim=1)`` in the analysis), because training uses cross-entropy on logits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from cnnviz.cpu import torch_threads
from cnnviz.data.digits import CLASSES, DIGITS_SEED, HELD_OUT_FRACTION, digit_grid, split_digits, upscale
from cnnviz.models.registry import BundledWeights, ModelSpec, register
from cnnviz.models.training import Batch, Stopwatch, fit, one_cycle, write_card

__all__ = ["LENET5", "DigitTransform", "LeNet5", "evaluate", "train_lenet5"]

DEFAULT_EPOCHS = 30
_BATCH_SIZE = 32
_LEARNING_RATE = 2e-3
_MAX_ROTATION_DEG = 10.0
_SCALE_RANGE = (0.9, 1.1)
_MAX_SHIFT_PX = 3.0


class LeNet5(nn.Module):
    """LeNet-5: 32×32×1 -> 10 logits, with every layer and every tanh a named module."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5)
        self.tanh1 = nn.Tanh()
        self.pool1 = nn.AvgPool2d(kernel_size=2, stride=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.tanh2 = nn.Tanh()
        self.pool2 = nn.AvgPool2d(kernel_size=2, stride=2)
        self.conv3 = nn.Conv2d(16, 120, kernel_size=5)
        self.tanh3 = nn.Tanh()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(120, 84)
        self.tanh4 = nn.Tanh()
        self.fc2 = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.tanh1(self.conv1(x)))  # (N, 1, 32, 32) -> (N, 6, 28, 28) -> (N, 6, 14, 14)
        x = self.pool2(self.tanh2(self.conv2(x)))  # -> (N, 16, 10, 10) -> (N, 16, 5, 5)
        x = self.flatten(self.tanh3(self.conv3(x)))  # -> (N, 120, 1, 1) -> (N, 120)
        x = self.tanh4(self.fc1(x))  # -> (N, 84)
        return self.fc2(x)  # -> (N, 10) logits


@dataclass(frozen=True)
class DigitTransform:
    """LeNet-5's preprocessing of a new image: the steps that made the training digits.

    Grayscale, ink made bright, cropped and centred, averaged into the data set's 8×8 grid of 17 levels, then
    upscaled to 32×32 exactly as the training digits were (see :mod:`cnnviz.data.digits`).
    """

    def __call__(self, image: Image.Image) -> torch.Tensor:
        """Returns ``(1, 32, 32)`` float32 in [0, 1]."""
        return upscale(digit_grid(image))[0]


LENET5 = register(
    ModelSpec(
        name="lenet5",
        family="LeNet-5",
        task="classification",
        in_channels=1,
        input_size=(32, 32),
        source="bundled",
        build=LeNet5,
        transform=DigitTransform(),
        categories=CLASSES,
        weight_source=BundledWeights("lenet5"),
        mean=(0.0,),
        std=(1.0,),
        year=1998,
        tags=(),
    )
)


def evaluate(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of ``inputs`` ``(N, 1, 32, 32)`` whose arg-max logit is the label (model left in eval mode)."""
    model.eval()
    with torch.no_grad():
        predictions = model(inputs).argmax(dim=1)
    return float((predictions == labels).float().mean())


def _augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Small random rotations, scalings and shifts, so digits drawn off-centre or tilted are still read."""
    n = batch.shape[0]
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(_MAX_ROTATION_DEG)
    low, high = _SCALE_RANGE
    scale = low + torch.rand(n, generator=generator) * (high - low)
    # affine_grid works in [-1, 1] coordinates: a shift of s pixels is 2 s / size.
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * (2 * _MAX_SHIFT_PX / batch.shape[-1])
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], dim=1), torch.stack([sin, cos, shift[:, 1]], dim=1)], dim=1
    )
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def train_lenet5(epochs: int | None, out_dir: Path, progress: bool = True) -> dict[str, Any]:
    """Train LeNet-5 on the digits and write ``lenet5.safetensors`` and ``lenet5.json`` to ``out_dir``.

    Deterministic for a given machine: the split, the initial weights, the batches and the augmentation all
    come from :data:`~cnnviz.data.digits.DIGITS_SEED`; the global random state is left as it was.

    Args:
        epochs: passes over the training digits (default 30).
        out_dir: folder for the weights and the model card.
        progress: print one line per epoch to stderr.

    Returns:
        The model card as written.

    Raises:
        ValueError: ``epochs`` is not positive.
    """
    epochs = DEFAULT_EPOCHS if epochs is None else epochs
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    # A network this small runs fastest on one thread; more threads mostly wait for each other.
    with torch_threads(1):
        return _train(epochs, Path(out_dir), progress)


def _train(epochs: int, out_dir: Path, progress: bool) -> dict[str, Any]:
    watch = Stopwatch()
    split = split_digits(DIGITS_SEED, HELD_OUT_FRACTION)
    train_x, train_y = upscale(split.train_grids), torch.from_numpy(split.train_labels)
    held_x, held_y = upscale(split.held_out_grids), torch.from_numpy(split.held_out_labels)
    # The shuffles and the augmentation draw from one generator of their own.
    generator = torch.Generator().manual_seed(DIGITS_SEED)
    held_out_accuracy = 0.0

    def loss(model: LeNet5, batch: Batch) -> torch.Tensor:
        return F.cross_entropy(model(_augment(train_x[batch.index], generator)), train_y[batch.index])

    def after_epoch(model: LeNet5, epoch: int) -> str:
        nonlocal held_out_accuracy
        held_out_accuracy = evaluate(model, held_x, held_y)
        return f"held-out accuracy {100 * held_out_accuracy:.2f}%"

    model = fit(
        LeNet5,
        size=len(train_x),
        batch_size=_BATCH_SIZE,
        epochs=epochs,
        seed=DIGITS_SEED,
        optimizer=lambda m: torch.optim.Adam(m.parameters(), lr=_LEARNING_RATE),
        loss=loss,
        schedule=one_cycle(_LEARNING_RATE),
        generator=generator,
        on_epoch=after_epoch,
        name="lenet5",
        progress=progress,
    ).model
    card = {
        "architecture": (
            "LeNet-5 as the lecture's table: 32×32×1 -> conv1 6@5×5 tanh -> avg pool 2×2/2 -> "
            "conv2 16@5×5 tanh -> avg pool 2×2/2 -> conv3 120@5×5 tanh -> fc1 84 tanh -> "
            "fc2 10 (logits; softmax where shown)"
        ),
        "data": (
            "scikit-learn digits (UCI optdigits): 1797 8×8 grids of ink counts 0..16, scaled to [0, 1] and "
            "upscaled bilinearly to 32×32"
        ),
        "split": {
            "seed": split.seed,
            "held_out_fraction": split.held_out_fraction,
            "stratified": True,
            "train": len(train_x),
            "held_out": len(held_x),
        },
        "augmentation": (
            f"random affine per image and epoch: rotation ±{_MAX_ROTATION_DEG:g}°, scale "
            f"{_SCALE_RANGE[0]:g}–{_SCALE_RANGE[1]:g}, shift ±{_MAX_SHIFT_PX:g} px"
        ),
        "training": (
            f"Adam, one-cycle learning rate up to {_LEARNING_RATE:g}, batch {_BATCH_SIZE}, "
            "cross-entropy on logits"
        ),
        "seed": DIGITS_SEED,
        "epochs": epochs,
        "held_out_accuracy": round(held_out_accuracy, 6),
        "train_accuracy": round(evaluate(model, train_x, train_y), 6),
        "categories": list(CLASSES),
    }
    record = ("parameters", "date", "torch", "seconds")
    return write_card("lenet5", model, card, out_dir, timing=watch.read(), record=record)

"""Training and evaluating the mini networks on shapes (`python -m cnnviz.train NAME`): the held-out set,
accuracy, the augmentation and one trainer per network."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnviz.data import shapes
from cnnviz.models.mini.nets import _BUILDERS, INPUT_SIZE, build
from cnnviz.models.training import Batch, Stopwatch, fit, one_cycle, write_card

__all__ = [
    "HELD_OUT_COUNT",
    "evaluate",
    "held_out_set",
    "train_alexnet_mini",
    "train_plainnet_mini",
    "train_resnet_mini",
    "train_se_resnet_mini",
    "train_vgg_mini",
]


HELD_OUT_COUNT = 1000
"""Every card's held-out accuracy is measured on `shapes.held_out_seeds(HELD_OUT_COUNT)`."""


# --------------------------------------------------------------------------------------------- training


def held_out_set(count: int = HELD_OUT_COUNT) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed held-out images `(N, 3, 64, 64)` uint8 and labels `(N,)` every card is measured on."""
    return shapes.classification_tensors(shapes.held_out_seeds(count))


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 250) -> float:
    """Top-1 accuracy of `model` (put in eval mode) on uint8 `images` `(N, 3, H, W)`."""
    model.eval()
    correct = 0
    for start in range(0, len(images), batch_size):
        logits = model(shapes.normalize(images[start : start + batch_size]))
        correct += int((logits.argmax(1) == labels[start : start + batch_size]).sum())
    return correct / len(images)


def _augmenter() -> Callable[[torch.Tensor], torch.Tensor]:
    """AlexNet-style augmentation of one uint8 `(3, H, W)` image: random crops, flips, colour jitter.

    AlexNet trained on random crops and horizontal flips of its images and shifted their colours; here a
    random resized crop (a small scale-and-shift affine move without empty borders), horizontal and vertical
    flips (every shape class is closed under flips, so labels stay right) and brightness/contrast/saturation
    jitter, all from `torchvision.transforms.v2`, drawn anew for each image.
    """
    from torchvision.transforms import v2

    return v2.Compose(
        [
            v2.RandomResizedCrop(INPUT_SIZE, scale=(0.75, 1.0), ratio=(0.9, 1.1), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.RandomVerticalFlip(),
            v2.ColorJitter(brightness=0.25, contrast=0.25, saturation=0.25),
        ]
    )


_AUGMENTATION_TEXT = (
    "torchvision.transforms.v2 per image: RandomResizedCrop(64, scale 0.75-1, ratio 0.9-1.1), "
    "RandomHorizontalFlip, RandomVerticalFlip, ColorJitter(brightness 0.25, contrast 0.25, saturation 0.25)"
)
_TRAIN_DEFAULTS: dict[str, dict[str, Any]] = {
    "alexnet-mini": {"epochs": 8, "lr": 1.5e-3, "augment": True},
    "vgg-mini": {"epochs": 5, "lr": 2e-3, "augment": False},
    "resnet-mini": {"epochs": 6, "lr": 3e-3, "augment": False},
    "se-resnet-mini": {"epochs": 6, "lr": 3e-3, "augment": False},
    "plainnet-mini": {"epochs": 6, "lr": 3e-3, "augment": False},
}
_TRAIN_COUNT = 6000
_BATCH_SIZE = 64
_WEIGHT_DECAY = 5e-4
_SEED = 0


def _train(name: str, epochs: int | None, out_dir: Path, progress: bool) -> dict[str, Any]:
    """Train one mini net on shapes, measure it on the held-out seeds, write NAME.safetensors + NAME.json.

    Deterministic for a given machine and thread count: data, initial weights, batch order, dropout and
    augmentation all follow `_SEED`; the global random state is left as it was.
    """
    settings = _TRAIN_DEFAULTS[name]
    epochs = settings["epochs"] if epochs is None else epochs
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    watch = Stopwatch()
    images, labels = shapes.classification_tensors(shapes.train_seeds(_TRAIN_COUNT))
    held_images, held_labels = held_out_set()
    augment = _augmenter() if settings["augment"] else None

    def loss(model: nn.Module, batch: Batch) -> torch.Tensor:
        x = images[batch.index]
        if augment is not None:
            x = torch.stack([augment(img) for img in x])
        return nn.functional.cross_entropy(model(shapes.normalize(x)), labels[batch.index])

    def after_epoch(model: nn.Module, epoch: int) -> str | None:
        # Only for the progress line: evaluation draws nothing, so training is the same either way.
        return f"held-out accuracy {evaluate(model, held_images, held_labels):.4f}" if progress else None

    model = fit(
        lambda: build(name),
        size=len(images),
        batch_size=_BATCH_SIZE,
        epochs=epochs,
        seed=_SEED,
        optimizer=lambda m: torch.optim.AdamW(m.parameters(), lr=settings["lr"], weight_decay=_WEIGHT_DECAY),
        loss=loss,
        schedule=one_cycle(settings["lr"], pct_start=0.2),
        on_epoch=after_epoch,
        name=name,
        progress=progress,
    ).model
    accuracy = evaluate(model, held_images, held_labels)
    timing = watch.read()
    card = {
        "architecture": f"cnnviz.models.mini.{_BUILDERS[name].__name__}",
        "task": "classification",
        "data": (
            "synthetic shapes, classification mode (cnnviz.data.shapes.classification_sample), "
            f"{INPUT_SIZE[0]}x{INPUT_SIZE[1]} RGB, one shape per image"
        ),
        "categories": list(shapes.CLASSES),
        "normalize": {"mean": list(shapes.MEAN), "std": list(shapes.STD)},
        "train_seeds": [0, _TRAIN_COUNT],
        "train_count": _TRAIN_COUNT,
        "held_out_seeds": [shapes.HELD_OUT_START, shapes.HELD_OUT_START + HELD_OUT_COUNT],
        "seed": _SEED,
        "epochs": epochs,
        "batch_size": _BATCH_SIZE,
        "optimizer": f"AdamW(lr={settings['lr']}, weight_decay={_WEIGHT_DECAY}), one-cycle schedule",
        "loss": "cross-entropy on logits",
        "augmentation": _AUGMENTATION_TEXT if settings["augment"] else "none",
        "held_out_accuracy": round(accuracy, 4),
        "held_out_count": HELD_OUT_COUNT,
    }
    record = ("params", "train_time_s", "threads", "torch", "python")
    return write_card(name, model, card, out_dir, timing=timing, record=record)


def train_alexnet_mini(epochs: int | None, out_dir: Path, progress: bool) -> dict[str, Any]:
    """Train AlexNet-mini (with augmentation); returns the written model card."""
    return _train("alexnet-mini", epochs, out_dir, progress)


def train_vgg_mini(epochs: int | None, out_dir: Path, progress: bool) -> dict[str, Any]:
    """Train VGG-mini; returns the written model card."""
    return _train("vgg-mini", epochs, out_dir, progress)


def train_resnet_mini(epochs: int | None, out_dir: Path, progress: bool) -> dict[str, Any]:
    """Train ResNet-mini; returns the written model card."""
    return _train("resnet-mini", epochs, out_dir, progress)


def train_se_resnet_mini(epochs: int | None, out_dir: Path, progress: bool) -> dict[str, Any]:
    """Train SE-ResNet-mini; returns the written model card."""
    return _train("se-resnet-mini", epochs, out_dir, progress)


def train_plainnet_mini(epochs: int | None, out_dir: Path, progress: bool) -> dict[str, Any]:
    """Train PlainNet-mini; returns the written model card."""
    return _train("plainnet-mini", epochs, out_dir, progress)

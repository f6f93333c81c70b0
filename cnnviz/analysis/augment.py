"""AlexNet's data augmentation, and the lecture's reason for it: a CNN is not robust to where an object is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision.transforms import v2

from cnnviz.analysis.dataflow import check_image_batch
from cnnviz.locks import model_lock
from cnnviz.tensors import forward, model_view, on_model_device

__all__ = ["AUGMENTATIONS", "TranslationTest", "augment", "translation_test"]

AUGMENTATIONS: tuple[str, ...] = ("flip", "crop", "rotation", "color")


def _pipeline(ops: Sequence[str], size: int) -> v2.Compose:
    unknown = sorted(set(ops) - set(AUGMENTATIONS))
    if unknown:
        raise ValueError(f"Unknown augmentation(s) {unknown}; choose from {AUGMENTATIONS}.")
    steps: list[torch.nn.Module] = [v2.Resize(size)]
    if "crop" in ops:
        steps.append(v2.RandomResizedCrop(size, scale=(0.4, 1.0), antialias=True))
    else:
        steps.append(v2.CenterCrop(size))
    if "flip" in ops:
        steps.append(v2.RandomHorizontalFlip(p=0.5))
    if "rotation" in ops:
        steps.append(v2.RandomRotation(25))
    if "color" in ops:
        steps.append(v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.08))
    return v2.Compose(steps)


def augment(
    image: Image.Image, ops: Sequence[str], n: int = 8, seed: int = 0, size: int = 160
) -> list[Image.Image]:
    """`n` random augmented copies of `image` with torchvision.transforms.v2, reproducible by `seed`."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}.")
    pipeline = _pipeline(ops, size)
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)  # v2 draws from torch's global generator; restored below
        return [pipeline(image.convert("RGB")) for _ in range(n)]
    finally:
        torch.random.set_rng_state(generator_state)


@dataclass(frozen=True)
class TranslationTest:
    """A model's prediction as the image slides sideways.

    Attributes:
        shifts: horizontal shifts in pixels of the model's input, from left to right; 0 is included.
        target: the class predicted on the unshifted image.
        target_probability: (len(shifts),) probability of `target` at each shift.
        predicted: (len(shifts),) the class predicted at each shift.
        images: the shifted inputs, as the model sees them (uint8).
    """

    shifts: tuple[int, ...]
    target: int
    target_probability: np.ndarray
    predicted: np.ndarray
    images: tuple[np.ndarray, ...]


def translation_test(
    model: nn.Module,
    x: torch.Tensor,
    max_shift: int,
    step: int = 1,
    *,
    mean: Sequence[float] = (0.0,),
    std: Sequence[float] = (1.0,),
) -> TranslationTest:
    """Shifts the model's input by -max_shift..max_shift pixels (uncovered pixels become 0, the normalised
    mean) in steps of `step`, and records the prediction at each shift in one batch.

    Args:
        model: a classifier: (N, K) scores for (N, C, H, W) inputs.
        x: one preprocessed image, (1, C, H, W).
        max_shift: the largest shift, in the input's pixels (capped at its width - 1).
        step: pixels between two shifts.
        mean: the normalisation `x` was made with, to show the shifted inputs as the model sees them.
        std: likewise.

    Raises:
        ValueError: a negative shift or a step below 1; `x` is not one image; an output that is not (N, K).
    """
    if max_shift < 0 or step < 1:
        raise ValueError(f"max_shift must be >= 0 and step >= 1, got {max_shift} and {step}.")
    check_image_batch(x)
    width = x.shape[-1]
    max_shift = min(max_shift, width - 1)
    shifts = tuple(range(-(max_shift // step) * step, max_shift + 1, step))
    batch = torch.cat([_shift(x, s) for s in shifts])
    with model_lock(model), torch.no_grad():
        out = forward(model, on_model_device(model, batch))
    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"the translation test needs a classifier's (N, K) scores, got {shape}.")
    probs = torch.softmax(out.float(), dim=1).cpu()
    target = int(probs[shifts.index(0)].argmax())
    views = tuple(model_view(b, mean, std) for b in batch)
    return TranslationTest(
        shifts=shifts,
        target=target,
        target_probability=probs[:, target].numpy(),
        predicted=probs.argmax(dim=1).numpy(),
        images=views,
    )


def _shift(x: torch.Tensor, dx: int) -> torch.Tensor:
    """Moves (1, C, H, W) right by dx pixels (left if negative); uncovered columns become 0."""
    if dx == 0:
        return x.clone()
    out = torch.zeros_like(x)
    if dx > 0:
        out[..., dx:] = x[..., :-dx]
    else:
        out[..., :dx] = x[..., -dx:]
    return out

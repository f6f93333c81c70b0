"""Small tensor helpers every layer above shares: where a model lives, and what its input looks like.

At the bottom of the package (it imports nothing of cnnviz), so the analysis cores, the registry and the
command line agree on devices and on undoing a model's normalisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["forward", "model_device", "model_view", "on_model_device"]


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer); the CPU for a module with neither."""
    for param in model.parameters():
        return param.device
    for buffer in model.buffers():
        return buffer.device
    return torch.device("cpu")


def on_model_device(model: nn.Module, x: Tensor) -> Tensor:
    """`x` on the model's device (the same tensor when already there): a CUDA model takes a CPU input."""
    device = model_device(model)
    return x if x.device == device else x.to(device)


def forward(model: nn.Module, x: Any) -> Any:
    """`model(x)`, with a sentence instead of a traceback from deep inside torch when `x` does not fit.

    Raises:
        ValueError: the model cannot take an input of this shape or type (the sentence gives the shape and
            torch's own first line).
    """
    try:
        return model(x)
    except (RuntimeError, ValueError, TypeError, IndexError) as err:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"{type(model).__name__} cannot take an input of shape {shape}: {first[:300]}"
        ) from err


def model_view(x: Tensor, mean: Sequence[float] = (0.0,), std: Sequence[float] = (1.0,)) -> np.ndarray:
    """What the model sees: an input with its normalisation undone, as an image.

    Args:
        x: ``(C, H, W)`` or ``(1, C, H, W)``, normalised as ``(pixels - mean) / std``.
        mean: one value, or one per channel.
        std: one value, or one per channel.

    Returns:
        ``(H, W, C)`` uint8.
    """
    tensor = x.detach()
    if tensor.ndim == 4:
        tensor = tensor[0]
    tensor = tensor.float().cpu()
    m = torch.tensor(tuple(mean), dtype=torch.float32).view(-1, 1, 1)
    s = torch.tensor(tuple(std), dtype=torch.float32).view(-1, 1, 1)
    pixels = (tensor * s + m).clamp(0.0, 1.0)
    return (pixels * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()

"""Feature maps of every layer for one input, their per-channel statistics, and the channel order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from cnnviz.analysis.dataflow import check_image_batch
from cnnviz.hooks import capture
from cnnviz.tensors import forward, model_view, on_model_device

__all__ = ["FeatureMapStats", "FeatureMaps", "feature_map_stats", "feature_maps", "rank_channels"]


@dataclass(frozen=True)
class FeatureMaps:
    """Outputs of every module for one image.

    Attributes:
        layers: module names in the order they ran (the input excluded).
        maps: module name -> (C, H, W) float32 array; vectors (FC layers) are (C, 1, 1).
        logits: the model's output for a classifier, (K,), else None.
        input_shape: the tensor the model saw, (1, C, H, W).
        view: that tensor as an image, normalisation undone, (H, W, C) uint8 (`cnnviz.tensors.model_view`).
    """

    layers: tuple[str, ...]
    maps: dict[str, np.ndarray] = field(repr=False)
    logits: np.ndarray | None
    input_shape: tuple[int, ...]
    view: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class FeatureMapStats:
    """Per-channel statistics of one layer's (C, H, W) feature map, each (C,).

    Not `cnnviz.hooks.ChannelStats`, which a hook reduces over a whole batch while the model runs; these
    are read off one stored map and add the spread and the share of zeros.
    """

    mean: np.ndarray
    std: np.ndarray
    min: np.ndarray
    max: np.ndarray
    zero_fraction: np.ndarray  # share of exact zeros: how much a ReLU switched off


def feature_maps(
    model: nn.Module, x: torch.Tensor, *, mean: Sequence[float] = (0.0,), std: Sequence[float] = (1.0,)
) -> FeatureMaps:
    """Runs `model` once on `x` and keeps every module's output that is a feature map or a vector.

    Args:
        model: any module; it runs on its own device and `x` is moved there.
        x: one preprocessed image, (1, C, H, W).
        mean: the normalisation `x` was made with (one value or one per channel), to show what the model saw.
        std: likewise.

    Raises:
        ValueError: `x` is not one image, or the model cannot take it (the sentence says why).
    """
    check_image_batch(x)
    x = on_model_device(model, x)
    with torch.no_grad(), capture(model) as cap:
        out = forward(model, x)
    maps: dict[str, np.ndarray] = {}
    for name, t in cap.activations.items():
        if not name or "[" in name:  # the root module (== the output) and extra tuple parts
            continue
        if t.dim() == 4:  # (1, C, H, W)
            maps[name] = t[0].float().cpu().numpy()
        elif t.dim() == 2:  # (1, F): a vector, drawn as F channels of 1 × 1
            maps[name] = t[0].float().cpu().numpy()[:, None, None]
    logits = None
    if isinstance(out, torch.Tensor) and out.dim() == 2:
        logits = out[0].float().cpu().numpy()
    return FeatureMaps(
        layers=tuple(maps),
        maps=maps,
        logits=logits,
        input_shape=tuple(x.shape),
        view=model_view(x, mean, std),
    )


def feature_map_stats(fmap: np.ndarray) -> FeatureMapStats:
    """Statistics of a (C, H, W) map per channel."""
    flat = fmap.reshape(fmap.shape[0], -1)
    return FeatureMapStats(
        mean=flat.mean(axis=1),
        std=flat.std(axis=1),
        min=flat.min(axis=1),
        max=flat.max(axis=1),
        zero_fraction=(flat == 0).mean(axis=1),
    )


def rank_channels(fmap: np.ndarray, by: str = "mean") -> np.ndarray:
    """Channel indices, most active first ("mean" of the map, or "max")."""
    if by not in ("mean", "max"):
        raise ValueError(f"by must be 'mean' or 'max', not {by!r}.")
    flat = fmap.reshape(fmap.shape[0], -1)
    key = flat.mean(axis=1) if by == "mean" else flat.max(axis=1)
    return np.argsort(-key, kind="stable")

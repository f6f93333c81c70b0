"""Feature maps of every layer for one image, their per-channel statistics, and the channel order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from cnnviz.hooks import capture

if TYPE_CHECKING:
    from PIL import Image

    from cnnviz.models import LoadedModel

__all__ = ["ChannelStats", "FeatureMaps", "channel_stats", "feature_maps", "rank_channels"]


@dataclass(frozen=True)
class FeatureMaps:
    """Outputs of every module for one image.

    Attributes:
        layers: module names in the order they ran (the input excluded).
        maps: module name -> (C, H, W) float32 array; vectors (FC layers) are (C, 1, 1).
        logits: the model's output for a classifier, (K,), else None.
        input_shape: the tensor the model saw, (1, C, H, W).
        view: that tensor as an image, normalisation undone, (H, W, C) uint8 (`LoadedModel.model_view`).
    """

    layers: tuple[str, ...]
    maps: dict[str, np.ndarray] = field(repr=False)
    logits: np.ndarray | None
    input_shape: tuple[int, ...]
    view: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class ChannelStats:
    """Per-channel statistics of one layer's feature map, each (C,)."""

    mean: np.ndarray
    std: np.ndarray
    min: np.ndarray
    max: np.ndarray
    zero_fraction: np.ndarray  # share of exact zeros: how much a ReLU switched off


def _as_chw(t: torch.Tensor) -> np.ndarray | None:
    """(1, C, H, W) -> (C, H, W); (1, F) -> (F, 1, 1); anything else is not a feature map."""
    if t.dim() == 4:
        return t[0].float().numpy()
    if t.dim() == 2:
        return t[0].float().numpy()[:, None, None]
    if t.dim() == 3:  # (1, L, C)-style sequences are not CNN maps; (C, H, W) without batch is.
        return None
    return None


def feature_maps(model: LoadedModel, image: Image.Image) -> FeatureMaps:
    """Runs `model` once on `image` and keeps every module's output as a (C, H, W) map."""
    x = model.preprocess(image)
    with torch.no_grad(), capture(model.model) as cap:
        out = model.model(x)
    maps: dict[str, np.ndarray] = {}
    for name, t in cap.activations.items():
        if not name or "[" in name:  # the root module (== the output) and extra tuple parts
            continue
        arr = _as_chw(t)
        if arr is not None:
            maps[name] = arr
    logits = None
    if isinstance(out, torch.Tensor) and out.dim() == 2:
        logits = out[0].float().numpy()
    return FeatureMaps(
        layers=tuple(maps), maps=maps, logits=logits, input_shape=tuple(x.shape), view=model.model_view(x)
    )


def channel_stats(fmap: np.ndarray) -> ChannelStats:
    """Statistics of a (C, H, W) map per channel."""
    flat = fmap.reshape(fmap.shape[0], -1)
    return ChannelStats(
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

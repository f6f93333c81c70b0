"""Flatten -> FC -> softmax: feature maps as one vector, scored by an FC layer, turned into probabilities.

The page's weights are seeded (`fc_weights`), drawn the way `nn.Linear` initialises its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from cnnviz.analysis.conv._arrays import _array, _biases, _count, _frozen, _t
from cnnviz.analysis.conv.errors import ConvSettingsError

__all__ = ["FCResult", "fc_demo", "fc_weights"]


@dataclass(frozen=True, eq=False)
class FCResult:
    """Feature maps flattened into a vector, an FC layer's scores, and softmax probabilities.

    Attributes:
        feature_map_shape: Shape of the feature maps before flattening, e.g. (C, H, W).
        flattened: (N,) the vector, in (C, H, W) order like `torch.flatten`; N = C·H·W.
        weight: (K, N) the FC weights, one row per class.
        bias: (K,) the FC biases.
        scores: (K,) W·x + b (`F.linear`), the logits.
        probabilities: (K,) softmax of the scores (`F.softmax`), summing to 1.
        predicted: Index of the largest probability.
    """

    feature_map_shape: tuple[int, ...]
    flattened: np.ndarray
    weight: np.ndarray
    bias: np.ndarray
    scores: np.ndarray
    probabilities: np.ndarray
    predicted: int


def fc_demo(feature_map: npt.ArrayLike, weight: npt.ArrayLike, bias: npt.ArrayLike | None = None) -> FCResult:
    """Flatten feature maps, apply one fully connected layer, and turn the scores into probabilities.

    Args:
        feature_map: (C, H, W) feature maps (any shape; it is flattened in C order like `torch.flatten`).
        weight: (K, N) weights with N = C·H·W.
        bias: (K,) biases; zeros when None.

    Returns:
        The flattened vector, the scores and the probabilities.

    Raises:
        ConvSettingsError: a weight or bias whose shape does not fit.
    """
    fm = _array(feature_map, "feature map", (1, 2, 3), "a 1-D, 2-D or 3-D array")
    flat = torch.flatten(_t(fm))
    n = flat.numel()
    wt = _array(weight, "FC weight", (1, 2), "a 2-D (K, N) array")
    if wt.ndim != 2 or wt.shape[1] != n:
        raise ConvSettingsError("fc_weight_shape", expected=n, shape=tuple(wt.shape))
    k = wt.shape[0]
    b = _biases(bias, k)
    scores = F.linear(flat, _t(wt), _t(b))
    probs = F.softmax(scores, dim=0)
    return FCResult(
        feature_map_shape=tuple(fm.shape),
        flattened=_frozen(flat.numpy()),
        weight=_frozen(wt),
        bias=_frozen(b),
        scores=_frozen(scores.numpy()),
        probabilities=_frozen(probs.numpy()),
        predicted=int(torch.argmax(probs)),
    )


def fc_weights(n_inputs: int, n_classes: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded FC weights for the page, drawn like `nn.Linear`'s initialisation: U(−1/√N, 1/√N).

    Args:
        n_inputs: N, the length of the flattened vector.
        n_classes: K, the number of scores.
        seed: Same seed, same weights.

    Returns:
        weight (K, N) and bias (K,), float64.
    """
    n, k = _count(n_inputs, "number of inputs"), _count(n_classes, "number of classes")
    rng = np.random.default_rng(seed)
    bound = 1.0 / math.sqrt(n)
    weight = rng.uniform(-bound, bound, size=(k, n))
    bias = rng.uniform(-bound, bound, size=k)
    return _frozen(weight), _frozen(bias)

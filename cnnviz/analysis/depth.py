"""The gradient against depth in untrained CIFAR-style stacks, plain and residual: the lecture's "vanishing
gradients" picture (`depth_profile`, `compare_depth`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.hooks import capture

__all__ = [
    "DEPTH_MEASURES",
    "STACK_DEPTHS",
    "DepthComparison",
    "DepthProfile",
    "compare_depth",
    "depth_profile",
]


DEPTH_MEASURES: tuple[str, ...] = ("activation", "weight")
"""What a depth profile's chart shows: ‖∂L/∂(output of layer ℓ)‖ or ‖∂L/∂W_ℓ‖."""


STACK_DEPTHS: tuple[int, ...] = (20, 32, 44, 56)
"""Depths of the CIFAR-style stacks (6n + 2) for `depth_profile`."""


# --------------------------------------------------------------------------------------------- depth


@dataclass(frozen=True, eq=False)
class DepthProfile:
    """The gradient against depth of one untrained CIFAR-style stack (`cnnviz.models.mini`).

    Attributes:
        depth: number of weight layers (6n + 2).
        residual: with skip connections (`residual_stack`) or without (`plain_stack`).
        batch_norm: with batch normalisation (in training mode: batch statistics, as in a first training
            step) and Kaiming initialisation; without, PyTorch's default initialisation.
        seed: seed of the weights, the images and the labels.
        layers: the weight layers along the main path in forward order: the stem convolution, the blocks'
            convolutions, the FC; a residual stack's projection skips are left out, so both stacks list the
            same layers.
        grad_norms: (len(layers),) float64, ‖∂L/∂(output of layer ℓ)‖: the gradient that backpropagation
            hands to layer ℓ.
        weight_grad_norms: (len(layers),) float64, ‖∂L/∂W_ℓ‖: what a training step would change layer ℓ by.
        loss: L, the mean cross-entropy of the batch.
    """

    depth: int
    residual: bool
    batch_norm: bool
    seed: int
    layers: tuple[str, ...]
    grad_norms: np.ndarray
    weight_grad_norms: np.ndarray
    loss: float

    def norms(self, measure: str = "activation") -> np.ndarray:
        """`grad_norms` for measure "activation", `weight_grad_norms` for "weight" (`DEPTH_MEASURES`).

        Raises:
            ValueError: another measure.
        """
        if measure == "activation":
            return self.grad_norms
        if measure == "weight":
            return self.weight_grad_norms
        raise ValueError(f"measure must be one of {DEPTH_MEASURES}, got {measure!r}")

    def first_over_last(self, measure: str = "activation") -> float:
        """How the gradient changed on its way back: its norm at the first layer divided by its norm at the
        last (the FC, where backpropagation starts). Below 1 it shrank (vanishing gradients), above 1 it grew
        (exploding gradients); inf when the last layer's norm is 0 and the first's is not.
        """
        values = self.norms(measure)
        first, last = float(values[0]), float(values[-1])
        if last == 0.0:
            return 1.0 if first == 0.0 else math.inf
        return first / last


@dataclass(frozen=True)
class DepthComparison:
    """A plain stack against a residual one of the same depth, at the first layer (what the page writes).

    Attributes:
        plain_first: the plain stack's gradient norm at its first layer.
        residual_first: the residual stack's.
        residual_over_plain: how many times larger the residual stack's first-layer gradient is (inf when the
            plain one is 0 and the residual one is not).
        plain_change: `DepthProfile.first_over_last` of the plain stack (< 1: it shrank on the way back).
        residual_change: the same of the residual stack.
    """

    plain_first: float
    residual_first: float
    residual_over_plain: float
    plain_change: float
    residual_change: float

    @property
    def plain_shrinks(self) -> bool:
        """Whether the plain stack's gradient shrank from the FC back to the first layer."""
        return self.plain_change < 1


def compare_depth(
    plain: DepthProfile, residual: DepthProfile, measure: str = "activation"
) -> DepthComparison:
    """The numbers under a depth chart: the two first-layer gradients, their ratio, each stack's change.

    Raises:
        ValueError: the two profiles are not a plain and a residual stack of one depth, or a bad measure.
    """
    if plain.residual or not residual.residual or plain.depth != residual.depth:
        raise ValueError("compare_depth takes a plain and a residual profile of the same depth.")
    first_plain, first_residual = float(plain.norms(measure)[0]), float(residual.norms(measure)[0])
    ratio = first_residual / first_plain if first_plain > 0 else 1.0 if first_residual == 0 else math.inf
    return DepthComparison(
        plain_first=first_plain,
        residual_first=first_residual,
        residual_over_plain=ratio,
        plain_change=plain.first_over_last(measure),
        residual_change=residual.first_over_last(measure),
    )


def depth_profile(
    depth: int,
    residual: bool,
    *,
    batch_norm: bool = False,
    seed: int = 0,
    batch_size: int = 1,
    input_size: int = 16,
) -> DepthProfile:
    """Gradient norms layer by layer at initialisation, for a plain or a residual stack of `depth` layers.

    The network (`cnnviz.models.mini.plain_stack` / `residual_stack`) is built with `seed`, and so are a
    batch of Gaussian images (N(0, 1), like normalised pixels) and random labels; L is their mean
    cross-entropy. Everything runs in float64, so the tiny gradients of a deep plain stack are not rounded to
    0 (in float32 the first layers of `plain_stack(56)` get exactly 0). The global random state is left as it
    was.

    Args:
        depth: 6n + 2, e.g. 20 or 56 (`STACK_DEPTHS`).
        residual: the stack with skip connections.
        batch_norm: with batch normalisation (see `DepthProfile.batch_norm`).
        seed: seed of weights, images and labels.
        batch_size: images in the batch.
        input_size: height and width of the images (the stacks are fully convolutional; 16 keeps the
            56-layer pair quick, and the picture is the same as at 32 or 64).

    Raises:
        ValueError: `depth` is not 6n + 2 (raised by the stack builder), `batch_size` < 1 or `input_size` < 8.
    """
    from cnnviz.analysis.residual import find_residual_blocks  # here: residual re-exports this module
    from cnnviz.models.mini import plain_stack, residual_stack  # here: importing mini registers its models

    if batch_size < 1 or input_size < 8:
        raise ValueError(f"batch_size must be >= 1 and input_size >= 8, got {batch_size} and {input_size}.")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        build = residual_stack if residual else plain_stack
        net = build(depth, batch_norm=batch_norm).double().eval()
        generator = torch.Generator().manual_seed(seed)
        images = torch.randn(batch_size, 3, input_size, input_size, generator=generator, dtype=torch.float64)
        num_classes = net.fc.out_features
        labels = torch.randint(0, num_classes, (batch_size,), generator=generator)
    skips = [s for block in find_residual_blocks(net, images[:1]) for s in block.skip_modules]
    layers = [
        name
        for name, module in net.named_modules()
        if isinstance(module, nn.Conv2d | nn.Linear)
        and not any(name == s or name.startswith(s + ".") for s in skips)
    ]
    net.train(batch_norm)  # batch statistics at initialisation, as in the first training step
    modules = dict(net.named_modules())
    weights = [m.weight for m in (modules[name] for name in layers) if isinstance(m, nn.Conv2d | nn.Linear)]
    with capture(net, layers, gradients=True) as cap:
        loss = F.cross_entropy(net(images), labels)
        weight_grads = torch.autograd.grad(loss, weights, retain_graph=True)
        cap.backward(loss)
    grad_norms = np.array([float(cap.gradients[name].norm()) for name in layers])
    weight_norms = np.array([float(g.norm()) for g in weight_grads])
    grad_norms.setflags(write=False)
    weight_norms.setflags(write=False)
    return DepthProfile(
        depth=depth,
        residual=residual,
        batch_norm=batch_norm,
        seed=seed,
        layers=tuple(layers),
        grad_norms=grad_norms,
        weight_grad_norms=weight_norms,
        loss=float(loss.detach()),
    )

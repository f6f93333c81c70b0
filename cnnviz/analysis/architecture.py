"""Numbers for the lecture's architecture comparisons, computed from real modules, never typed in.

- LeNet-5 vs AlexNet: which activation, which pooling, dropout or not (read off the modules).
- Two stacked 3×3 convolutions vs one 5×5: the same receptive field, 2·3²·C² vs 5²·C² weights.
- VGG-16 vs ResNet-18: depth (layers with weights) and parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from cnnviz.analysis.summary import summary

__all__ = ["StackComparison", "Traits", "compare_stacks", "count_params", "traits", "weight_depth"]

_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.Tanh, nn.Sigmoid, nn.SiLU, nn.Hardswish, nn.GELU, nn.LeakyReLU, nn.ELU)
_POOLS = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


@dataclass(frozen=True)
class Traits:
    """What a network is made of, as the lecture's LeNet-5 vs AlexNet table asks."""

    activations: tuple[str, ...]  # module class names, in first-seen order
    pooling: tuple[str, ...]
    dropout: bool
    batch_norm: bool
    conv_layers: int
    fc_layers: int
    params: int


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def weight_depth(model: nn.Module) -> int:
    """Layers with weights (Conv2d and Linear) on the main path: how the papers count VGG-16's 16 and
    ResNet-18's 18. Projection shortcuts (1×1 convolutions in a module named `downsample` or `shortcut`, as
    torchvision and the bundled nets name them) sit beside the path, so they are not counted."""
    return sum(
        isinstance(m, nn.Conv2d | nn.Linear)
        and not any(p in ("downsample", "shortcut") for p in name.split("."))
        for name, m in model.named_modules()
    )


def traits(model: nn.Module) -> Traits:
    acts: list[str] = []
    pools: list[str] = []
    for m in model.modules():
        name = type(m).__name__
        if isinstance(m, _ACTIVATIONS) and name not in acts:
            acts.append(name)
        if isinstance(m, _POOLS) and name not in pools:
            pools.append(name)
    mods = list(model.modules())
    return Traits(
        activations=tuple(acts),
        pooling=tuple(pools),
        dropout=any(isinstance(m, nn.Dropout) for m in mods),
        batch_norm=any(isinstance(m, nn.BatchNorm2d) for m in mods),
        conv_layers=sum(isinstance(m, nn.Conv2d) for m in mods),
        fc_layers=sum(isinstance(m, nn.Linear) for m in mods),
        params=count_params(model),
    )


@dataclass(frozen=True)
class StackComparison:
    """Two 3×3 convolutions against one 5×5, both C -> C channels, without bias (as the lecture counts)."""

    channels: int
    params_two_3x3: int
    params_one_5x5: int
    receptive_field_two_3x3: int
    receptive_field_one_5x5: int
    output_size_two_3x3: int  # on a 5×5 input, like the lecture's picture
    output_size_one_5x5: int
    nonlinearities_two_3x3: int
    nonlinearities_one_5x5: int


def compare_stacks(channels: int) -> StackComparison:
    """Builds both stacks as real modules and reads parameters, receptive fields and sizes off them."""
    if channels < 1:
        raise ValueError(f"channels must be at least 1, got {channels}.")
    two = nn.Sequential(
        nn.Conv2d(channels, channels, 3, bias=False),
        nn.ReLU(),
        nn.Conv2d(channels, channels, 3, bias=False),
        nn.ReLU(),
    )
    one = nn.Sequential(nn.Conv2d(channels, channels, 5, bias=False), nn.ReLU())
    rows_two = summary(two, (1, channels, 5, 5))
    rows_one = summary(one, (1, channels, 5, 5))
    return StackComparison(
        channels=channels,
        params_two_3x3=count_params(two),
        params_one_5x5=count_params(one),
        receptive_field_two_3x3=int(_first(rows_two[-1].receptive_field)),
        receptive_field_one_5x5=int(_first(rows_one[-1].receptive_field)),
        output_size_two_3x3=int(_first(rows_two[-1].output_shape, -1)),
        output_size_one_5x5=int(_first(rows_one[-1].output_shape, -1)),
        nonlinearities_two_3x3=sum(isinstance(m, nn.ReLU) for m in two),
        nonlinearities_one_5x5=sum(isinstance(m, nn.ReLU) for m in one),
    )


def _first(values: tuple[float, ...] | None, index: int = 0) -> float:
    if values is None:  # the stacks always run, so this would be a bug in summary()
        raise RuntimeError("summary() returned no shape for a layer that ran.")
    return values[index]

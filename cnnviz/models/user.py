"""A model the zoo has never seen: wrap any `nn.Module` so every page, the command line and Python can use it.

    >>> loaded = from_module(my_net, name="my-net", categories=["cat", "dog"], input_size=64)
    >>> loaded.preprocess(image).shape     # (1, C, 64, 64), C read from my_net's first convolution

The model is trusted code: it comes from whoever runs the program (Python, or
`--model package.module:callable` on the command line), never from a browser. Its weights may come from an
upload, read as data only (`cnnviz.models.checkpoint`).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from PIL import Image
from torch import nn

from cnnviz.locks import model_lock
from cnnviz.models.registry import LoadedModel, ModelSpec, Task
from cnnviz.tensors import forward, model_device

if TYPE_CHECKING:
    from cnnviz.models.checkpoint import LoadReport

__all__ = [
    "DEFAULT_MEAN",
    "DEFAULT_STD",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "add_user_model",
    "first_conv_channels",
    "from_checkpoint",
    "from_module",
    "user_model",
    "user_models",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_MEAN = (0.0,)
"""Mean for a model that is not 3-channel and was given none: the pixels stay in 0..1."""
DEFAULT_STD = (1.0,)


def first_conv_channels(module: nn.Module) -> int | None:
    """Input channels of the first convolution in `module.modules()` order (None when there is none)."""
    for m in module.modules():
        if isinstance(m, nn.Conv1d | nn.Conv2d | nn.Conv3d):
            return int(m.in_channels)
    return None


class _Resize:
    """Shorter side to the input size, then a centre crop, then a tensor, normalised (torchvision's habit)."""

    def __init__(self, size: tuple[int, int], mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        self.size, self.mean, self.std = size, mean, std

    def __call__(self, image: Image.Image) -> torch.Tensor:
        from torchvision.transforms import v2

        steps = v2.Compose(
            [
                v2.PILToTensor(),
                v2.Resize(min(self.size), antialias=True),
                v2.CenterCrop(self.size),
                v2.ToDtype(torch.float32, scale=True),
                v2.Normalize(list(self.mean), list(self.std)),
            ]
        )
        return steps(image)

    def __repr__(self) -> str:
        return f"resize {self.size[0]}×{self.size[1]}, mean {self.mean}, std {self.std}"


def _size(input_size: int | Sequence[int]) -> tuple[int, int]:
    size = (input_size, input_size) if isinstance(input_size, int) else tuple(int(v) for v in input_size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"input_size must be a positive int or (H, W), got {input_size!r}.")
    return size


def _per_channel(
    values: Sequence[float] | float | None, default: tuple[float, ...], what: str, c: int
) -> tuple[float, ...]:
    if values is None:
        return default
    vals = (float(values),) if isinstance(values, int | float) else tuple(float(v) for v in values)
    if len(vals) not in (1, c):
        raise ValueError(f"{what} needs 1 or {c} values (one per input channel), got {len(vals)}.")
    if what == "std" and any(v <= 0 for v in vals):
        raise ValueError(f"std must be positive, got {vals}.")
    return vals


def _task_and_classes(output: Any) -> tuple[Task, int]:
    """What the output says about the model: (1, K) scores -> a classifier; (1, K, H, W) -> a segmenter."""
    if isinstance(output, dict) and isinstance(output.get("out"), torch.Tensor):
        output = output["out"]
    if isinstance(output, torch.Tensor) and output.ndim == 2 and output.shape[0] == 1:
        return "classification", int(output.shape[1])
    if isinstance(output, torch.Tensor) and output.ndim == 4 and output.shape[0] == 1:
        return "segmentation", int(output.shape[1])
    shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
    raise ValueError(
        f"the model's output {shape} has no class axis: cnnviz reads a classifier's (1, K) scores or a "
        "segmenter's (1, K, H, W) scores."
    )


def _fingerprint(name: str, module: nn.Module) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{name}\0{type(module).__module__}.{type(module).__qualname__}".encode())
    for key, tensor in module.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{key}{tuple(t.shape)}{t.dtype}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return f"user:{name}:{digest.hexdigest()}"


def from_module(
    module: nn.Module,
    *,
    name: str,
    categories: Sequence[str] | None = None,
    input_size: int | Sequence[int] = 224,
    in_channels: int | None = None,
    mean: Sequence[float] | float | None = None,
    std: Sequence[float] | float | None = None,
    transform: Callable[[Image.Image], torch.Tensor] | None = None,
    weights_name: str = "",
) -> LoadedModel:
    """Wraps any module as a `LoadedModel` (source "user", shown as "your model") for every page and analysis.

    The module is put in eval mode. One forward pass of a zeros image reads what the model gives: (1, K)
    scores make it a classifier with K classes, (1, K, H, W) scores a semantic segmenter.

    Args:
        module: the network. Its weights are whatever it holds now.
        name: what the pages call it.
        categories: one name per output class; default ``"class 0" … "class K-1"``.
        input_size: the side (or ``(H, W)``) the default transform sizes an image to.
        in_channels: input channels; default those of the first convolution.
        mean: per-channel mean the default transform subtracts (one value or one per channel); default
            ImageNet's (0.485, 0.456, 0.406) for 3 channels, else 0 (pixels stay in 0..1).
        std: per-channel standard deviation it divides by; default ImageNet's (0.229, 0.224, 0.225) for 3
            channels, else 1.
        transform: PIL image -> ``(C, H, W)`` float tensor, replacing the default (shorter side resized to
            ``input_size``, centre crop, scaled to 0..1, normalised by ``mean`` and ``std``). ``mean`` and
            ``std`` are still used to show what the model sees.
        weights_name: where the weights came from (a checkpoint's file name), for the pages' captions.

    Raises:
        TypeError: `module` is not an nn.Module.
        ValueError: no name; no convolution to read the input channels from and none given; categories
            that do not match the output's class count; an output with no class axis; a model that cannot
            take an input of `input_size` (the sentence says why).
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}.")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("name must be a non-empty string: the pages show it.")
    channels = in_channels if in_channels is not None else first_conv_channels(module)
    if channels is None:
        raise ValueError(
            f"{type(module).__name__} has no convolution to read its input channels from; pass in_channels."
        )
    if channels < 1:
        raise ValueError(f"in_channels must be at least 1, got {channels}.")
    size = _size(input_size)
    rgb = channels == 3
    mean_t = _per_channel(mean, IMAGENET_MEAN if rgb else DEFAULT_MEAN, "mean", channels)
    std_t = _per_channel(std, IMAGENET_STD if rgb else DEFAULT_STD, "std", channels)
    module.eval()
    probe = torch.zeros(1, channels, *size, device=model_device(module))
    with model_lock(module), torch.no_grad():
        task, classes = _task_and_classes(forward(module, probe))
    if categories is None:
        names = tuple(f"class {k}" for k in range(classes))
    else:
        names = tuple(str(c) for c in categories)
        if len(names) != classes:
            raise ValueError(
                f"categories has {len(names)} names but the model's output has {classes} classes."
            )

    def _no_build() -> nn.Module:
        raise TypeError(f"{name} is a user's model: cnnviz cannot build it untrained.")

    spec = ModelSpec(
        name=name,
        family=type(module).__name__,
        task=task,
        in_channels=channels,
        input_size=size,
        source="user",
        build=_no_build,
        transform=transform or _Resize(size, mean_t, std_t),
        categories=names,
        mean=mean_t,
        std=std_t,
    )
    return LoadedModel(
        spec=spec,
        model=module,
        categories=list(names),
        weights="user",
        weights_name=weights_name or "as given",
        fingerprint=_fingerprint(name, module),
    )


_USER: dict[str, LoadedModel] = {}
_USER_LOCK = threading.Lock()


def add_user_model(loaded: LoadedModel) -> None:
    """Offers `loaded` to the app's model pickers, first, under its name (`python -m cnnviz serve`)."""
    if loaded.spec.source != "user":
        raise ValueError(f"{loaded.spec.name} is a zoo model; wrap your module with from_module first.")
    with _USER_LOCK:
        _USER[loaded.spec.name] = loaded


def user_models() -> list[LoadedModel]:
    """The user's models offered to the app, in the order they were added."""
    with _USER_LOCK:
        return list(_USER.values())


def user_model(name: str) -> LoadedModel:
    """The user's model called `name`.

    Raises:
        KeyError: none is called that.
    """
    with _USER_LOCK:
        try:
            return _USER[name]
        except KeyError:
            raise KeyError(f"no user model named {name!r}; offered: {', '.join(_USER) or 'none'}") from None


def from_checkpoint(
    arch: str,
    weights: bytes | str | Path,
    *,
    labels: bytes | str | Path | None = None,
    name: str | None = None,
    weights_name: str = "",
) -> tuple[LoadedModel, LoadReport]:
    """A zoo architecture with a user's checkpoint: its classifier head takes the checkpoint's class count.

    The checkpoint is read as data only (`cnnviz.models.checkpoint.read_state_dict`) and must then fit the
    architecture strictly (after stripping a common prefix such as ``module.``). The zoo's own preprocessing
    is kept.

    Args:
        arch: a zoo name, e.g. ``"resnet18"``.
        weights: the checkpoint's bytes or path.
        labels: class names (a text file, one per line, or a JSON list); default the zoo's names when the
            class count is the zoo's, else ``"class 0"`` ….
        name: what the pages call it (default ``"<arch> · <file>"``).
        weights_name: the checkpoint's file name, for messages and captions.

    Raises:
        KeyError: `arch` is not a zoo name.
        CheckpointError: the file is not a state dict, holds objects, or does not fit (keys named).
        ValueError: labels that do not match the class count.
    """
    from cnnviz.models.checkpoint import fit_state_dict, read_labels, read_state_dict
    from cnnviz.models.registry import build_untrained, get_spec

    spec = get_spec(arch)
    state = read_state_dict(weights, name=weights_name)
    net = build_untrained(spec)
    report = fit_state_dict(net, state, resize_head=True, name=weights_name)
    if labels is not None:
        categories: Sequence[str] | None = read_labels(labels, name="labels")
    elif report.new_classes is None or report.new_classes == len(spec.categories):
        categories = spec.categories or None
    else:
        categories = None
    loaded = from_module(
        net,
        name=name or f"{arch} · {weights_name or 'checkpoint'}",
        categories=categories,
        input_size=spec.input_size,
        in_channels=spec.in_channels,
        mean=spec.mean,
        std=spec.std,
        transform=spec.transform,
        weights_name=weights_name or "checkpoint",
    )
    return loaded, report

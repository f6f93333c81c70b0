"""torchvision's ImageNet classifiers: the lecture's history at full size, and MobileNetV2 from a weight pack.

Pretrained weights live in the torch hub cache (``torch.hub.get_dir()/checkpoints``) under the basename of
``weights.url``. The cache is checked before torchvision is asked for anything, so a missing file never
turns into a silent download that a firewall could hang: it is downloaded explicitly (with a timeout and
progress), or a :class:`~cnnviz.models.registry.WeightsMissingError` says in one sentence what is missing.
Class names and preprocessing come from torchvision's weights enum, which needs no file.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torchvision
from torch import nn
from torchvision.models import WeightsEnum

from cnnviz.models.registry import ModelSpec, Progress, Source, WeightsLabel, WeightsMissingError, register
from cnnviz.weights import WeightsCheckError, download_url, hub_checkpoints_dir

__all__ = ["ZOO", "HubWeights", "TorchvisionBuilder"]

_FETCH_HINT = "run `python -m cnnviz.weights fetch`"


@dataclass(frozen=True)
class TorchvisionBuilder:
    """Builds a torchvision model with untrained weights (``weights=None``), which needs no network.

    Attributes:
        arch: torchvision's model name, e.g. ``"resnet18"``.
        kwargs: extra builder arguments as ``(key, value)`` pairs (detectors need ``weights_backbone=None``).
    """

    arch: str
    kwargs: tuple[tuple[str, Any], ...] = ()

    def __call__(self) -> nn.Module:
        return torchvision.models.get_model(self.arch, weights=None, **dict(self.kwargs))


@dataclass(frozen=True)
class HubWeights:
    """Pretrained torchvision weights, read from the torch hub cache.

    Attributes:
        weights: the torchvision weights enum member, e.g. ``ResNet18_Weights.IMAGENET1K_V1``.
        arch: torchvision's model name passed to ``torchvision.models.get_model``.
        label: "torchvision pretrained", or "weight pack" for a file that a weight pack places in the cache.
        download: whether a missing file may be downloaded from ``weights.url``; a weight-pack file is not.
    """

    weights: WeightsEnum
    arch: str
    label: WeightsLabel = "torchvision pretrained"
    download: bool = True

    def path(self) -> Path:
        return hub_checkpoints_dir() / Path(self.weights.url).name

    def present(self) -> bool:
        return self.path().is_file()

    def describe(self) -> str:
        return f"{type(self.weights).__name__}.{self.weights.name}"

    def load(self, spec: ModelSpec, progress: Progress) -> nn.Module:
        path = self.path()
        if not path.is_file():
            if not self.download:
                raise WeightsMissingError(
                    f"The weight pack file for {spec.name} is not on this machine ({path}); {_FETCH_HINT} "
                    "or choose untrained weights.",
                    key="pack_missing",
                    model=spec.name,
                    detail=str(path),
                )
            try:
                download_url(self.weights.url, path, progress=progress)
            except (OSError, WeightsCheckError) as err:
                raise WeightsMissingError(
                    f"Pretrained weights for {spec.name} are not in the torch hub cache ({path}) and "
                    f"could not be downloaded ({err}); connect to the internet once or choose untrained "
                    "weights.",
                    key="offline",
                    model=spec.name,
                    detail=f"{path}: {err}",
                ) from err
        try:
            # The file is in the cache now, so torchvision's loader reads it and downloads nothing.
            return torchvision.models.get_model(self.arch, weights=self.weights, progress=False)
        except (RuntimeError, EOFError, pickle.UnpicklingError) as err:
            raise WeightsMissingError(
                f"The pretrained weights file {path} for {spec.name} cannot be read ({type(err).__name__}); "
                "delete it so it is fetched again, or choose untrained weights.",
                key="unreadable",
                model=spec.name,
                detail=f"{path}: {type(err).__name__}",
            ) from err


@dataclass(frozen=True)
class _Entry:
    arch: str
    weights: str
    family: str
    year: int
    tags: tuple[str, ...]


# Names, families, years and tags; weights: torchvision's best ImageNet-1K weights for each. Each model's note
# is "model.note.<arch>" in cnnviz/ui/texts/models.py.
_TORCHVISION: tuple[_Entry, ...] = (
    _Entry(
        "alexnet",
        "IMAGENET1K_V1",
        "AlexNet",
        2012,
        (),
    ),
    _Entry(
        "vgg16",
        "IMAGENET1K_V1",
        "VGG",
        2014,
        (),
    ),
    _Entry(
        "resnet18",
        "IMAGENET1K_V1",
        "ResNet",
        2015,
        ("residual",),
    ),
    _Entry(
        "resnet50",
        "IMAGENET1K_V2",
        "ResNet",
        2015,
        ("residual",),
    ),
    _Entry(
        "efficientnet_b0",
        "IMAGENET1K_V1",
        "EfficientNet",
        2019,
        ("residual", "se"),
    ),
    _Entry(
        "mobilenet_v3_large",
        "IMAGENET1K_V2",
        "MobileNet",
        2019,
        ("residual", "se"),
    ),
    _Entry(
        "regnet_y_400mf",
        "IMAGENET1K_V2",
        "RegNet",
        2020,
        ("residual", "se"),
    ),
)


def _classification_spec(
    entry: _Entry, *, source: Source = "torchvision", label: WeightsLabel = "torchvision pretrained"
) -> ModelSpec:
    weights = torchvision.models.get_model_weights(entry.arch)[entry.weights]
    transform = weights.transforms()
    return ModelSpec(
        name=entry.arch,
        family=entry.family,
        task="classification",
        in_channels=3,
        input_size=(transform.crop_size[0], transform.crop_size[0]),
        source=source,
        build=TorchvisionBuilder(entry.arch),
        transform=transform,
        categories=tuple(weights.meta["categories"]),
        weight_source=HubWeights(weights, entry.arch, label=label, download=source == "torchvision"),
        mean=tuple(transform.mean),
        std=tuple(transform.std),
        year=entry.year,
        tags=entry.tags,
    )


MOBILENET_V2 = register(
    _classification_spec(
        _Entry(
            "mobilenet_v2",
            "IMAGENET1K_V1",  # the file the weight pack carries (mobilenet_v2-b0353104.pth)
            "MobileNet",
            2018,
            ("residual",),
        ),
        source="weight pack",
        label="weight pack",
    )
)

ZOO: tuple[ModelSpec, ...] = tuple(register(_classification_spec(entry)) for entry in _TORCHVISION)
"""The torchvision classifiers, registered in the order of the lecture's history."""

"""The segmenters' specs, registered on import: the bundled pair first, then torchvision's."""

from __future__ import annotations

from dataclasses import dataclass

import torchvision

from cnnviz.data import shapes
from cnnviz.models.mini import ShapesTransform
from cnnviz.models.registry import BundledWeights, ModelSpec, register
from cnnviz.models.segmenters.fcn import INPUT_SIZE, SEGMENTATION_CLASSES, FCNMini, InstanceFCNMini
from cnnviz.models.zoo import HubWeights, TorchvisionBuilder

__all__ = ["SPECS", "instance_partner"]


# ------------------------------------------------------------------------------------------------ specs


def _bundled_spec(name: str, build: type[FCNMini], tags: tuple[str, ...]) -> ModelSpec:
    return ModelSpec(
        name=name,
        family="FCN",
        task="segmentation",
        in_channels=3,
        input_size=INPUT_SIZE,
        source="bundled",
        build=build,
        transform=ShapesTransform(INPUT_SIZE),
        categories=SEGMENTATION_CLASSES,
        weight_source=BundledWeights(name),
        mean=shapes.MEAN,
        std=shapes.STD,
        year=2015,
        tags=tags,
    )


@dataclass(frozen=True)
class _TvEntry:
    arch: str
    weights: str
    family: str
    year: int
    tags: tuple[str, ...]


_TORCHVISION: tuple[_TvEntry, ...] = (
    _TvEntry(
        "fcn_resnet50",
        "COCO_WITH_VOC_LABELS_V1",
        "FCN",
        2015,
        ("semantic",),
    ),
    _TvEntry(
        "deeplabv3_resnet50",
        "COCO_WITH_VOC_LABELS_V1",
        "DeepLabV3",
        2017,
        ("semantic",),
    ),
    _TvEntry(
        "lraspp_mobilenet_v3_large",
        "COCO_WITH_VOC_LABELS_V1",
        "LR-ASPP",
        2019,
        ("semantic",),
    ),
    _TvEntry(
        "maskrcnn_resnet50_fpn",
        "COCO_V1",
        "Mask R-CNN",
        2017,
        ("instance",),
    ),
)


def _torchvision_spec(entry: _TvEntry) -> ModelSpec:
    weights = torchvision.models.get_model_weights(entry.arch)[entry.weights]
    transform = weights.transforms()
    instance = "instance" in entry.tags
    # Untrained: weights=None *and* weights_backbone=None, else torchvision fetches ImageNet backbone weights.
    build = TorchvisionBuilder(entry.arch, (("weights_backbone", None),))
    # Segmentation transforms resize the shorter side to 520 and normalise; Mask R-CNN only scales to [0, 1]
    # (it normalises and resizes inside the model, and answers at the input's size).
    size = 800 if instance else int(transform.resize_size[0])
    return ModelSpec(
        name=entry.arch,
        family=entry.family,
        task="segmentation",
        in_channels=3,
        input_size=(size, size),
        source="torchvision",
        build=build,
        transform=transform,
        categories=tuple(weights.meta["categories"]),
        weight_source=HubWeights(weights, entry.arch),
        mean=(0.0,) if instance else tuple(transform.mean),
        std=(1.0,) if instance else tuple(transform.std),
        year=entry.year,
        tags=entry.tags,
    )


_BUNDLED = (
    _bundled_spec(
        "fcn-mini",
        FCNMini,
        ("semantic", "encoder-decoder", "transposed convolution"),
    ),
    _bundled_spec(
        "fcn-mini-instance",
        InstanceFCNMini,
        ("instance", "semantic", "encoder-decoder", "transposed convolution"),
    ),
)

SPECS: tuple[ModelSpec, ...] = tuple(
    register(spec) for spec in (*_BUNDLED, *(_torchvision_spec(e) for e in _TORCHVISION))
)
"""The registered segmenters: the bundled pair first, then torchvision's."""

_PARTNERS = {
    "fcn-mini": "fcn-mini-instance",
    "fcn_resnet50": "maskrcnn_resnet50_fpn",
    "deeplabv3_resnet50": "maskrcnn_resnet50_fpn",
    "lraspp_mobilenet_v3_large": "maskrcnn_resnet50_fpn",
}


def instance_partner(name: str) -> str:
    """The model that gives instance masks next to `name`: itself for an instance model, else its partner
    trained on the same kind of images (FCN-mini's instance twin; Mask R-CNN for the VOC models).

    Raises:
        KeyError: `name` is not a segmenter.
    """
    specs = {s.name: s for s in SPECS}
    if name not in specs:
        raise KeyError(f"{name!r} is not a segmentation model; known: {', '.join(specs)}")
    return name if "instance" in specs[name].tags else _PARTNERS[name]

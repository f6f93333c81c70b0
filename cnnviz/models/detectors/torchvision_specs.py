"""torchvision's COCO detectors: Faster R-CNN (2-stage), RetinaNet, FCOS and SSDlite (1-stage).

Pretrained weights are read from the torch hub cache; untrained means untrained all the way (no ImageNet
backbone is fetched either).
"""

from __future__ import annotations

from dataclasses import dataclass

import torchvision

from cnnviz.models.registry import ModelSpec, register
from cnnviz.models.zoo import HubWeights, TorchvisionBuilder

__all__ = ["TORCHVISION_DETECTORS"]


@dataclass(frozen=True)
class _Detector:
    arch: str
    family: str
    kind: str
    year: int


_TORCHVISION: tuple[_Detector, ...] = (
    _Detector(
        "fasterrcnn_resnet50_fpn",
        "Faster R-CNN",
        "2-stage",
        2015,
    ),
    _Detector(
        "fasterrcnn_mobilenet_v3_large_320_fpn",
        "Faster R-CNN",
        "2-stage",
        2019,
    ),
    _Detector(
        "retinanet_resnet50_fpn",
        "RetinaNet",
        "1-stage",
        2017,
    ),
    _Detector(
        "fcos_resnet50_fpn",
        "FCOS",
        "1-stage",
        2019,
    ),
    _Detector(
        "ssdlite320_mobilenet_v3_large",
        "SSD",
        "1-stage",
        2016,
    ),
)


def _torchvision_spec(entry: _Detector) -> ModelSpec:
    weights = torchvision.models.get_model_weights(entry.arch)["COCO_V1"]
    side = 320 if "320" in entry.arch else 800
    return ModelSpec(
        name=entry.arch,
        family=entry.family,
        task="detection",
        in_channels=3,
        input_size=(side, side),
        source="torchvision",
        # Untrained means untrained all the way: no ImageNet backbone is fetched either.
        build=TorchvisionBuilder(entry.arch, (("weights_backbone", None),)),
        transform=weights.transforms(),  # PIL -> float 0..1; the model resizes and normalises inside
        categories=tuple(weights.meta["categories"]),
        weight_source=HubWeights(weights, entry.arch),
        mean=(0.0,),
        std=(1.0,),
        year=entry.year,
        tags=(entry.kind,),
    )


TORCHVISION_DETECTORS: tuple[ModelSpec, ...] = tuple(register(_torchvision_spec(e)) for e in _TORCHVISION)
"""torchvision's COCO detectors; their pretrained weights are read from the torch hub cache."""

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
    note: str
    note_ko: str


_TORCHVISION: tuple[_Detector, ...] = (
    _Detector(
        "fasterrcnn_resnet50_fpn",
        "Faster R-CNN",
        "2-stage",
        2015,
        "Faster R-CNN (2015), the 2-stage R-CNN family: a region proposal network suggests regions of "
        "interest "
        "(RoI), then RoI heads classify each one and refine its box; ResNet-50 with a feature pyramid.",
        "Faster R-CNN (2015), R-CNN 계열의 2-stage detector: 영역 제안 네트워크(RPN)가 RoI(객체가 있을 "
        "것으로 "
        "예상되는 위치)를 고르고, RoI head가 각 영역을 분류하고 bbox를 수정함; ResNet-50 + FPN.",
    ),
    _Detector(
        "fasterrcnn_mobilenet_v3_large_320_fpn",
        "Faster R-CNN",
        "2-stage",
        2019,
        "Faster R-CNN on a light MobileNetV3 backbone at 320 pixels: the same two stages (proposals, then "
        "RoI "
        "heads), fast enough for a laptop.",
        "가벼운 MobileNetV3 backbone을 쓰는 320 픽셀 Faster R-CNN: 같은 두 단계(영역 제안 → RoI head), "
        "노트북에서도 빠름.",
    ),
    _Detector(
        "retinanet_resnet50_fpn",
        "RetinaNet",
        "1-stage",
        2017,
        "RetinaNet (2017), a 1-stage detector: every position of every pyramid level predicts classes and "
        "boxes for its anchors in one pass; the focal loss made it as accurate as 2-stage detectors.",
        "RetinaNet (2017), 1-stage detector: 피라미드의 모든 위치가 anchor마다 클래스와 bbox를 한 번에 예측; "
        "focal loss로 2-stage만큼 정확해짐.",
    ),
    _Detector(
        "fcos_resnet50_fpn",
        "FCOS",
        "1-stage",
        2019,
        "FCOS (2019), a 1-stage detector without anchors: every position of the feature pyramid predicts a "
        "class, its distances to the four box sides and a centre-ness score.",
        "FCOS (2019), anchor 없는 1-stage detector: 특징 피라미드의 모든 위치가 클래스, bbox 네 변까지의 "
        "거리와 중심도(centre-ness)를 예측.",
    ),
    _Detector(
        "ssdlite320_mobilenet_v3_large",
        "SSD",
        "1-stage",
        2016,
        "SSDlite (SSD, 2016) on MobileNetV3 at 320 pixels: a 1-stage detector that predicts boxes from "
        "feature maps of several sizes in one pass; small and fast.",
        "MobileNetV3 기반 320 픽셀 SSDlite (SSD, 2016): 여러 크기의 특징 맵에서 한 번에 bbox를 예측하는 "
        "1-stage detector; 작고 빠름.",
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
        note=entry.note,
        note_ko=entry.note_ko,
        # Untrained means untrained all the way: no ImageNet backbone is fetched either.
        build=TorchvisionBuilder(entry.arch, (("weights_backbone", None),)),
        transform=weights.transforms(),  # PIL -> float 0..1; the model resizes and normalises inside
        categories=tuple(weights.meta["categories"]),
        weights=HubWeights(weights, entry.arch),
        mean=(0.0,),
        std=(1.0,),
        year=entry.year,
        tags=(entry.kind,),
    )


TORCHVISION_DETECTORS: tuple[ModelSpec, ...] = tuple(register(_torchvision_spec(e)) for e in _TORCHVISION)
"""torchvision's COCO detectors; their pretrained weights are read from the torch hub cache."""

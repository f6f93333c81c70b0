"""Segmentation models: every pixel gets a class (semantic), or every object its own mask (instance).

A classifier shrinks the image layer by layer; a segmenter must answer at the input's size
("입력 이미지 크기 = 출력 이미지 크기"), so after the encoder's convolutions and pooling a decoder
grows the maps back with transposed convolutions (the reverse of a strided convolution) until the mask is as
large as the input.

Bundled, trained on synthetic shapes scenes (`cnnviz.data.shapes.scene`, 96×96, classes: background and the
six shapes):

- `fcn-mini` (`FCNMini`): a fully convolutional network in the manner of FCN-8s (Long et al., 2015). The
  encoder is ResNet-mini, the shapes classifier of `cnnviz.models.mini`, started from its trained weights:
  `conv1 → maxpool → layer1 → layer2 → layer3 → layer4` shrinks 96 → 48 → 24 → 12 → 6 pixels. Its FC layer
  becomes a 1×1 convolution (`score4`) that scores every class at each of the 6×6 positions, and the decoder
  grows that coarse score map back 6 → 12 → 24 → 48 → 96 with four 4×4 stride-2 transposed convolutions
  (`up4` … `up1`, started as bilinear upsampling), adding at each size the scores of the encoder map of that
  size (`score3` … `score0`, skip connections) so the fine edges come back.
- `fcn-mini-instance` (`InstanceFCNMini`): the same network with three more output maps, in the manner of
  Panoptic-DeepLab (Cheng et al., 2020): `center`, a heatmap that peaks at each object's centre, and
  `offset`, for each pixel the vector to the centre of its object. `group_instances` turns them into one mask
  per object: peaks of the heatmap are the objects, every foreground pixel of the semantic scores joins the
  peak its offset points to, and each object takes the majority class of its pixels. So two touching circles
  get two masks, which connected components of the semantic map could not separate.

From torchvision, with pretrained weights when they are in the torch hub cache (otherwise untrained, when the
person asks for it): FCN-ResNet50, DeepLabV3-ResNet50 and LR-ASPP-MobileNetV3 (semantic, the 20 PASCAL VOC
classes and background) and Mask R-CNN (instance, the COCO classes).

Each bundled model is trained by `python -m cnnviz.train NAME` and stored as
`cnnviz/models/bundled/NAME.safetensors` with a `NAME.json` card that gives its held-out numbers.

The package: `fcn` (the models), `instances` (grouping pixels into objects), `evaluation` (metrics and the
held-out numbers), `training`, and `specs` (the specs, registered when this package is imported). Every
public name is importable from ``cnnviz.models.segmenters``.
"""

from __future__ import annotations

from cnnviz.models.segmenters.evaluation import (
    HELD_OUT_COUNT,
    confusion_matrix,
    evaluate_instances,
    evaluate_semantic,
    held_out_scenes,
    iou_per_class,
    match_instances,
)
from cnnviz.models.segmenters.fcn import (
    INPUT_SIZE,
    SEGMENTATION_CLASSES,
    STAGES,
    FCNMini,
    InstanceFCNMini,
    bilinear_kernel,
)
from cnnviz.models.segmenters.instances import (
    CENTER_SIGMA,
    DEFAULT_CENTER_THRESHOLD,
    OFFSET_SCALE,
    PredictedInstance,
    group_instances,
    instance_targets,
)
from cnnviz.models.segmenters.specs import SPECS, instance_partner
from cnnviz.models.segmenters.training import train_fcn_mini, train_fcn_mini_instance

__all__ = [
    "CENTER_SIGMA",
    "DEFAULT_CENTER_THRESHOLD",
    "HELD_OUT_COUNT",
    "INPUT_SIZE",
    "OFFSET_SCALE",
    "SEGMENTATION_CLASSES",
    "SPECS",
    "STAGES",
    "FCNMini",
    "InstanceFCNMini",
    "PredictedInstance",
    "bilinear_kernel",
    "confusion_matrix",
    "evaluate_instances",
    "evaluate_semantic",
    "group_instances",
    "held_out_scenes",
    "instance_partner",
    "instance_targets",
    "iou_per_class",
    "match_instances",
    "train_fcn_mini",
    "train_fcn_mini_instance",
]

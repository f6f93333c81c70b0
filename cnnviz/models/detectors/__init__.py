"""Detectors: a bundled 1-stage grid detector, the MTCNN face cascade, and torchvision's COCO detectors.

The lecture's two families of object detection (객체 탐지):

- **1-stage**, YOLO style: one network looks at the whole image once and every cell of an S×S grid
  predicts B boxes ``(x, y, w, h, confidence)`` and class probabilities at the same time.
  :class:`YoloMini` does this on synthetic shapes scenes (96×96, S = 6, B = 2) and is trained by
  ``python -m cnnviz.train yolo-mini``; torchvision's RetinaNet, FCOS and SSDlite are the full-size
  1-stage detectors.
- **2-stage**, R-CNN style: first propose regions where an object may be, then classify and refine each one.
  torchvision's Faster R-CNN (a region proposal network, then RoI heads) is the full-size one. The MTCNN face
  detector (Zhang et al., 2016) is a cascade in the same spirit: P-Net scores a 12×12 window at every
  position of an image pyramid and proposes boxes, R-Net and O-Net re-score crops of them.

One file per model, plus what they share and the metric:

- :mod:`~cnnviz.models.detectors.base`: the detector kinds, the stretch-resize transform, class-wise NMS;
- :mod:`~cnnviz.models.detectors.metrics`: PASCAL VOC matching, AP and mAP, each weights' published mAP;
- :mod:`~cnnviz.models.detectors.yolo`: YOLO-mini, its decoding, loss, training and held-out mAP;
- :mod:`~cnnviz.models.detectors.mtcnn`: the MTCNN cascade and its weight-pack files;
- :mod:`~cnnviz.models.detectors.torchvision_specs`: torchvision's detectors.

Every public name is re-exported here (``from cnnviz.models.detectors import decode_grid``). Importing the
package registers YOLO-mini, MTCNN, then torchvision's detectors, the order the pages list them in.

Boxes everywhere are ``(x1, y1, x2, y2)`` in pixels of the model's input, pixel-edge coordinates (a box
``(0, 0, 2, 2)`` covers 2×2 pixels), like :mod:`cnnviz.data.shapes` and torchvision.
"""

from __future__ import annotations

from cnnviz.models.detectors.base import KINDS, ResizeTransform, classes_apart, detector_kind
from cnnviz.models.detectors.metrics import (
    average_precision,
    match_detections,
    mean_average_precision,
    reference_map,
)

# isort: split
# Registration order is the sidebar's order: YOLO-mini, MTCNN, then torchvision's detectors.
from cnnviz.models.detectors.yolo import (
    GRID_BOXES,
    GRID_SIZE,
    HELD_OUT_COUNT,
    SCENE_INPUT,
    YOLO_MINI,
    GridDecoding,
    YoloMini,
    decode_grid,
    evaluate_map,
    train_yolo_mini,
    yolo_loss,
    yolo_targets,
)

# isort: split
from cnnviz.models.detectors.mtcnn import MTCNN, MTCNN_SPEC, FaceCascade, MTCNNWeights, ONet, PNet, RNet

# isort: split
from cnnviz.models.detectors.torchvision_specs import TORCHVISION_DETECTORS

__all__ = [
    "GRID_BOXES",
    "GRID_SIZE",
    "HELD_OUT_COUNT",
    "KINDS",
    "MTCNN",
    "MTCNN_SPEC",
    "SCENE_INPUT",
    "TORCHVISION_DETECTORS",
    "YOLO_MINI",
    "FaceCascade",
    "GridDecoding",
    "MTCNNWeights",
    "ONet",
    "PNet",
    "RNet",
    "ResizeTransform",
    "YoloMini",
    "average_precision",
    "classes_apart",
    "decode_grid",
    "detector_kind",
    "evaluate_map",
    "match_detections",
    "mean_average_precision",
    "reference_map",
    "train_yolo_mini",
    "yolo_loss",
    "yolo_targets",
]

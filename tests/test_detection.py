"""Detection: grid decoding, NMS, AP, the bundled grid detector's card, MTCNN on a real face, torchvision."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torchvision.models.detection.ssd import SSD
from torchvision.ops import batched_nms, box_iou, nms

from cnnviz import images, models
from cnnviz.analysis import detection
from cnnviz.models import detectors
from cnnviz.weights import read_card

# The astronaut's face in scikit-image's astronaut (512×512), measured by eye on an enlarged render with a
# 10-pixel grid: cheek to cheek 181..268, forehead below the hairline 84, chin 178. Eyes, nose tip and mouth
# corners measured the same way.
ASTRONAUT_FACE = (181.0, 84.0, 268.0, 178.0)
ASTRONAUT_LANDMARKS = ((204, 100), (246, 104), (225, 125), (202, 142), (251, 142))


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


# --------------------------------------------------------------------------------------------- grid


def test_decode_grid_hand_made_tensor() -> None:
    s, b, c = 2, 2, 6
    out = torch.zeros(1, b * 5 + c, s, s)
    # Cell (row 1, col 0), box 1: x, y offsets 0.25, 0.75; sqrt(w) 0.5, sqrt(h) sqrt(0.5); confidence 0.9.
    for k, p in enumerate((0.25, 0.75, 0.5, math.sqrt(0.5), 0.9)):
        out[0, 5 * 1 + k, 1, 0] = _logit(p)
    out[0, 5 * b + 1, 1, 0] = math.log(3.0)  # class 1: probabilities 3/8 and 1/8 for the other five
    dec = detectors.decode_grid(out, num_boxes=b, image_size=(100, 200))  # H = 100, W = 200

    assert dec.boxes.shape == (1, s * s * b, 4)
    m = (1 * s + 0) * b + 1  # ordered (row, col, box)
    assert dec.cells[m].tolist() == [1, 0, 1]
    # centre x = (0 + 0.25) / 2 * 200 = 25, y = (1 + 0.75) / 2 * 100 = 87.5; w = 0.25 * 200, h = 0.5 * 100.
    torch.testing.assert_close(dec.boxes[0, m], torch.tensor([0.0, 62.5, 50.0, 112.5]))
    assert dec.confidence[0, m].item() == pytest.approx(0.9)
    assert dec.labels[0, m].item() == 1
    assert dec.scores[0, m].item() == pytest.approx(0.9 * 3 / 8)
    # An all-zero cell: sigmoid 0.5 everywhere, a box of a quarter of the image centred in its cell.
    torch.testing.assert_close(dec.boxes[0, 0], torch.tensor([25.0, 12.5, 75.0, 37.5]))
    assert dec.scores[0, 0].item() == pytest.approx(0.5 / 6)
    # Both boxes of a cell share the cell's class probabilities.
    torch.testing.assert_close(dec.class_probs[0, m], dec.class_probs[0, m - 1])


def test_decode_grid_rejects_wrong_shape() -> None:
    with pytest.raises(ValueError, match="output must be"):
        detectors.decode_grid(torch.zeros(1, 10, 6, 6), num_boxes=2)


def test_yolo_targets_put_each_object_in_its_centre_cell() -> None:
    boxes = torch.tensor([[16.0, 32.0, 48.0, 64.0], [60.0, 0.0, 90.0, 12.0]])
    obj, box, cls = detectors.yolo_targets(boxes, torch.tensor([3, 5]))
    # Centre (32, 48) on a 6×6 grid of 16-pixel cells: column 2, row 3, on the cell's corner.
    assert obj.sum().item() == 2 and obj[3, 2] and obj[0, 4]
    torch.testing.assert_close(box[3, 2], torch.tensor([0.0, 0.0, math.sqrt(32 / 96), math.sqrt(32 / 96)]))
    assert cls[3, 2].item() == 3 and cls[0, 4].item() == 5
    rows_cols = detection.responsible_cells(boxes.numpy(), (96, 96), 6)
    assert rows_cols.tolist() == [[3, 2], [0, 4]]


def test_yolo_loss_is_lower_for_the_right_answer() -> None:
    boxes, labels = torch.tensor([[16.0, 32.0, 48.0, 64.0]]), torch.tensor([3])
    obj, box, cls = (t.unsqueeze(0) for t in detectors.yolo_targets(boxes, labels))
    wrong = torch.zeros(1, 16, 6, 6)
    right = torch.full((1, 16, 6, 6), -6.0)
    for k, p in enumerate(box[0, 3, 2].tolist()):
        right[0, k, 3, 2] = _logit(min(max(p, 1e-3), 1 - 1e-3))
    right[0, 4, 3, 2] = 6.0
    right[0, 10 + 3, 3, 2] = 6.0
    assert detectors.yolo_loss(right, obj, box, cls) < 0.1 * detectors.yolo_loss(wrong, obj, box, cls)


# ---------------------------------------------------------------------------------------------- NMS


def _random_boxes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 80, (n, 2))
    wh = rng.uniform(5, 40, (n, 2))
    return np.concatenate([xy, xy + wh], 1).astype(np.float32), rng.uniform(0, 1, n).astype(np.float32)


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.7, 1.0])
def test_nms_steps_equals_torchvision(threshold: float) -> None:
    for seed in range(5):
        boxes, scores = _random_boxes(60, seed)
        trace = detection.nms_steps(boxes, scores, threshold)
        expected = nms(torch.from_numpy(boxes), torch.from_numpy(scores), threshold).numpy()
        np.testing.assert_array_equal(trace.keep, expected)
        iou = box_iou(torch.from_numpy(boxes), torch.from_numpy(boxes)).numpy()
        for i in np.flatnonzero(trace.suppressed_by >= 0):
            k = trace.suppressed_by[i]
            assert k in trace.keep and scores[k] >= scores[i]
            assert iou[i, k] > threshold and trace.overlap[i] == pytest.approx(iou[i, k])


def _raw(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray) -> detection.RawDetections:
    return detection.RawDetections(
        model="test",
        kind="1-stage",
        weights="untrained",
        categories=("a", "b", "c"),
        image_size=(128, 128),
        input_shape=(1, 3, 128, 128),
        boxes=boxes,
        scores=scores,
        labels=labels,
        seconds=0.0,
    )


def test_filter_detections_is_threshold_then_batched_nms() -> None:
    boxes, scores = _random_boxes(80, 7)
    labels = np.random.default_rng(7).integers(0, 3, 80)
    raw = _raw(boxes, scores, labels)
    for score, iou in [(0.0, 0.5), (0.4, 0.3), (0.6, 0.9), (1.0, 0.5)]:
        found = detection.filter_detections(raw, score, iou)
        above = np.flatnonzero(scores >= score)
        keep = batched_nms(
            torch.from_numpy(boxes[above]),
            torch.from_numpy(scores[above]),
            torch.from_numpy(labels[above]),
            iou,
        ).numpy()
        np.testing.assert_array_equal(found.indices, above[keep])
        np.testing.assert_array_equal(found.boxes, boxes[above[keep]])
        assert found.above_threshold == len(above) and found.candidates == 80
        assert found.names == tuple("abc"[k] for k in labels[above[keep]])
        # The step-by-step trace agrees, class by class.
        np.testing.assert_array_equal(detection.explain_nms(raw, score, iou).keep, found.indices)
    assert len(detection.filter_detections(raw, 0.0, 1.0, max_detections=5).boxes) == 5
    with pytest.raises(ValueError, match="score_threshold"):
        detection.filter_detections(raw, 1.5, 0.5)


# ----------------------------------------------------------------------------------------------- AP


def test_average_precision_hand_computed() -> None:
    # Ranked TP, FP, TP, FP, TP with 4 objects: precision 1, .5, 2/3, .5, .6 at recall .25, .25, .5, .5, .75.
    # Interpolated (best precision at any higher recall): 1 at .25, 2/3 at .5, .6 at .75.
    ap = detectors.average_precision([0.9, 0.8, 0.7, 0.6, 0.5], [True, False, True, False, True], num_gt=4)
    assert ap == pytest.approx(0.25 * 1 + 0.25 * (2 / 3) + 0.25 * 0.6)
    # Order comes from the scores, not from the input order.
    shuffled = detectors.average_precision([0.5, 0.7, 0.9, 0.6, 0.8], [True, True, True, False, False], 4)
    assert shuffled == pytest.approx(ap)
    assert math.isnan(detectors.average_precision([], [], num_gt=0))
    assert detectors.average_precision([0.9], [True], num_gt=1) == 1.0


def test_mean_average_precision_hand_computed() -> None:
    t = torch.tensor
    detections = [
        (
            t([[0.0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]]),
            t([0.9, 0.8, 0.7]),
            t([0, 0, 1]),
        ),
        (t([[0.0, 0, 10, 9]]), t([0.6]), t([1])),
    ]
    truth = [(t([[0.0, 0, 10, 10], [20, 20, 30, 30]]), t([0, 1])), (t([[0.0, 0, 10, 10]]), t([1]))]
    # Class 0: TP (0.9), then a duplicate of the same object (IoU 0.68, already taken): FP -> AP 1.
    # Class 1: FP (0.7, no overlap), TP (0.6, IoU 0.9) of 2 objects -> AP 0.5 * 0.5. Class 2: no objects.
    mean, per_class = detectors.mean_average_precision(detections, truth, num_classes=3)
    assert per_class[0] == pytest.approx(1.0) and per_class[1] == pytest.approx(0.25)
    assert math.isnan(per_class[2])
    assert mean == pytest.approx((1.0 + 0.25) / 2)
    tp = detectors.match_detections(detections[0][0][:2], detections[0][1][:2], truth[0][0][:1])
    assert tp.tolist() == [True, False]


def test_bundled_detector_reaches_its_card_map() -> None:
    card = read_card("yolo-mini")
    loaded = models.load("yolo-mini")
    assert loaded.weights == "bundled"
    assert card["held_out_count"] == detectors.HELD_OUT_COUNT
    map50, per_class = detectors.evaluate_map(loaded.model, card["held_out_count"])
    assert map50 >= card["held_out_map"] > 0.5
    assert detectors.reference_map(loaded.spec) == card["held_out_map"]
    assert len(per_class) == len(card["held_out_ap_per_class"])


# --------------------------------------------------------------------------------- analysis: YOLO


def test_detect_with_the_grid_detector_on_a_shapes_scene() -> None:
    loaded = models.load("yolo-mini")
    scene = detection.shapes_scene(1_000_003)
    raw = detection.detect(loaded, images.from_array(scene.image))
    assert raw.kind == "1-stage" and raw.image_size == (96, 96) and raw.input_shape == (1, 3, 96, 96)
    assert raw.boxes.shape == (72, 4) and raw.cells is not None and raw.cells.shape == (72, 3)
    grid = raw.grids[0]
    assert grid.confidence.shape == (6, 6) and grid.cell == (16.0, 16.0) and grid.labels is not None
    # The same numbers as decoding the model's own output.
    with torch.no_grad():
        dec = detectors.decode_grid(loaded.model(loaded.preprocess(images.from_array(scene.image))))
    np.testing.assert_allclose(raw.scores, dec.scores[0].numpy(), rtol=1e-6)
    found = detection.filter_detections(raw, 0.3, 0.5)
    best = box_iou(torch.from_numpy(found.boxes), torch.from_numpy(scene.boxes)).max(dim=0).values
    assert (best >= 0.5).all(), "every shape of this held-out scene is found"


def test_detect_maps_boxes_back_to_a_larger_image() -> None:
    loaded = models.load("yolo-mini")
    scene = detection.shapes_scene(1_000_003)
    big = images.from_array(scene.image).resize((192, 288))  # W = 192, H = 288
    raw = detection.detect(loaded, big)
    small = detection.detect(loaded, images.from_array(scene.image))
    assert raw.image_size == (288, 192)
    assert raw.grids[0].cell == (48.0, 32.0)
    best = int(np.argmax(small.scores))
    np.testing.assert_allclose(raw.boxes[best], small.boxes[best] * [2, 3, 2, 3], rtol=0.05, atol=2.0)


# -------------------------------------------------------------------------------------------- MTCNN

mtcnn_present = pytest.mark.skipif(
    not models.weights_present("mtcnn"),
    reason="the MTCNN weight pack is not here (python -m cnnviz.weights fetch)",
)


@mtcnn_present
def test_mtcnn_nets_match_the_weight_files_and_find_the_astronaut() -> None:
    loaded = models.load("mtcnn")  # load_state_dict is strict: every key and shape matches
    assert loaded.weights == "weight pack"
    raw = detection.detect(loaded, images.load_sample("astronaut"))
    assert raw.kind == "cascade"
    found = detection.filter_detections(raw, 0.7, 0.5)
    iou = box_iou(torch.from_numpy(found.boxes), torch.tensor([ASTRONAUT_FACE]))[:, 0]
    assert len(found.boxes) >= 1 and iou.max().item() >= 0.5
    best = int(iou.argmax())
    assert found.names[best] == "face" and found.scores[best] > 0.9
    assert found.landmarks is not None
    distance = np.linalg.norm(found.landmarks[best] - np.array(ASTRONAUT_LANDMARKS), axis=1)
    assert distance.max() < 10, distance
    # The stages: P-Net maps per pyramid scale, proposals, then fewer refined boxes.
    assert len(raw.grids) >= 5 and raw.grids[0].window == pytest.approx(20.0)
    assert raw.proposals is not None and raw.refined is not None
    assert len(raw.proposals) > len(raw.refined) >= len(found.boxes)
    assert [name for name, _ in raw.stage_seconds] == ["P-Net", "R-Net", "O-Net"]
    # forward() is the same cascade with the paper's last threshold and NMS.
    with torch.no_grad():
        boxes, _, _ = loaded.model(loaded.preprocess(images.load_sample("astronaut")))
    assert box_iou(boxes, torch.tensor([ASTRONAUT_FACE])).max().item() >= 0.5


def test_mtcnn_without_weights_says_so(cnnviz_cache) -> None:
    assert not models.weights_present("mtcnn")
    with pytest.raises(models.WeightsMissingError, match=r"python -m cnnviz\.weights fetch"):
        models.load("mtcnn")
    untrained = models.load("mtcnn", allow_untrained=True)
    assert untrained.weights == "untrained" and untrained.message
    raw = detection.detect(untrained, images.load_sample("astronaut").resize((96, 96)))
    assert raw.kind == "cascade" and raw.boxes.shape[1] == 4


def test_mtcnn_pyramid() -> None:
    net = detectors.MTCNN()
    scales = net.scales(100, 200)
    assert scales[0] == pytest.approx(0.6) and 100 * scales[-1] >= 12 > 100 * scales[-1] * 0.709
    with pytest.raises(ValueError, match="one RGB image"):
        net.cascade(torch.zeros(2, 3, 64, 64))


# -------------------------------------------------------------------------------------- torchvision


def test_detection_registry() -> None:
    names = [s.name for s in models.list_specs("detection")]
    for name in (
        "yolo-mini",
        "mtcnn",
        "fasterrcnn_resnet50_fpn",
        "retinanet_resnet50_fpn",
        "fcos_resnet50_fpn",
    ):
        assert name in names
    for spec in models.list_specs("detection"):
        assert sum(kind in spec.tags for kind in detectors.KINDS) == 1, spec.name
    assert detectors.detector_kind(models.get_spec("fasterrcnn_resnet50_fpn")) == "2-stage"
    assert detectors.reference_map(models.get_spec("fasterrcnn_resnet50_fpn")) == pytest.approx(0.37)
    coco = models.get_spec("retinanet_resnet50_fpn").categories
    assert coco[1] == "person" and len(coco) == 91
    ones, twos = detection.comparison_choices()
    assert "yolo-mini" in ones and "mtcnn" in twos and "fasterrcnn_resnet50_fpn" in twos


@pytest.mark.parametrize("name", ["fasterrcnn_mobilenet_v3_large_320_fpn", "ssdlite320_mobilenet_v3_large"])
def test_torchvision_detectors_untrained_offline(name: str, no_network, torch_home) -> None:
    assert not models.weights_present(name)
    with pytest.raises(models.WeightsMissingError):
        models.load(name)  # the download is attempted and blocked: a sentence, no hang
    loaded = models.load(name, pretrained=False)
    assert loaded.weights == "untrained"
    net = loaded.model
    owner = net.roi_heads if hasattr(net, "roi_heads") else net
    before = (owner.score_thresh, owner.nms_thresh, owner.detections_per_img)
    image = images.load_sample("astronaut").resize((160, 120))
    raw = detection.detect(loaded, image)
    # The post-processing thresholds were loosened only while the model ran; no hook is left behind.
    assert (owner.score_thresh, owner.nms_thresh, owner.detections_per_img) == before
    assert sum(len(m._forward_hooks) for m in net.modules()) == 0
    assert raw.image_size == (120, 160) and raw.seconds > 0
    assert (raw.scores >= detection.CANDIDATE_FLOOR).all()
    if detectors.detector_kind(loaded.spec) == "2-stage":
        assert raw.proposals is not None and len(raw.proposals) > 0
        assert (raw.proposals[:, 2] <= 160 + 1e-3).all() and (raw.proposals[:, 3] <= 120 + 1e-3).all()
    else:
        assert len(raw.grids) == 6 and raw.grids[0].confidence.ndim == 2
        assert raw.grids[0].cell[1] == pytest.approx(160 / raw.grids[0].confidence.shape[1])


def test_torchvision_pretrained_read_from_the_hub_cache(no_network, torch_home) -> None:
    name = "ssdlite320_mobilenet_v3_large"
    spec = models.get_spec(name)
    # A stand-in for the real file: the architecture's own (untrained) weights under the real file name.
    torch.save(models.load(name, pretrained=False).model.state_dict(), spec.weights.path())
    assert spec.weights.path().parent == torch_home and models.weights_present(name)
    loaded = models.load(name)
    assert loaded.weights == "torchvision pretrained" and no_network == []
    assert isinstance(loaded.model, SSD)

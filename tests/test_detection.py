"""Detection: grid decoding, NMS, AP, the bundled grid detector's card, MTCNN on a real face, torchvision."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import pytest
import torch
from torch import Tensor
from torch.nn import functional as F
from torchvision.models.detection.ssd import SSD
from torchvision.models.detection.transform import resize_boxes
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


def _per_class_nms(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, threshold: float) -> np.ndarray:
    """torchvision.ops.nms on each class alone, the kept indices merged best first."""
    kept = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        kept.append(idx[nms(torch.from_numpy(boxes[idx]), torch.from_numpy(scores[idx]), threshold).numpy()])
    keep = np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)
    return keep[np.argsort(-scores[keep], kind="stable")]


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_explain_nms_names_the_box_that_removed_each_one(threshold: float) -> None:
    # 30 clusters of 4 jittered boxes, some past the top-left edge (negative coordinates, as YOLO's), the
    # boxes of a cluster in random classes of three.
    rng = np.random.default_rng(11)
    xy = rng.uniform(-40, 100, (30, 2))
    centres = np.repeat(np.concatenate([xy, xy + rng.uniform(10, 50, (30, 2))], 1), 4, axis=0)
    boxes = (centres + rng.normal(0, 2, (120, 4))).astype(np.float32)
    scores = rng.uniform(0, 1, 120).astype(np.float32)
    labels = rng.integers(0, 3, 120)
    raw = _raw(boxes, scores, labels)
    iou = box_iou(torch.from_numpy(boxes), torch.from_numpy(boxes)).numpy()
    for score in (0.0, 0.4):
        trace = detection.explain_nms(raw, score, threshold)
        above = np.flatnonzero(scores >= score)
        np.testing.assert_array_equal(trace.boxes, above)
        expected = above[_per_class_nms(boxes[above], scores[above], labels[above], threshold)]
        np.testing.assert_array_equal(trace.keep, expected)
        # torchvision's batched_nms shifts class k by k * (max + 1): right once no coordinate is negative.
        moved = torch.from_numpy(boxes[above] - boxes[above].min())
        by_batch = batched_nms(
            moved, torch.from_numpy(scores[above]), torch.from_numpy(labels[above]), threshold
        )
        np.testing.assert_array_equal(trace.keep, above[by_batch.numpy()])
        shown = detection.filter_detections(raw, score, threshold, max_detections=len(boxes))
        np.testing.assert_array_equal(shown.indices, expected)
        # The docstring's rule: a removed box names the best-scoring kept box of its class that overlaps it
        # by more than the threshold, with that IoU; a kept box names no one.
        removed = 0
        for pos, i in enumerate(above):
            if i in expected:
                assert trace.suppressed_by[pos] == -1 and trace.overlap[pos] == 0
                continue
            rivals = [k for k in expected if labels[k] == labels[i] and scores[k] > scores[i]]
            rivals = [k for k in rivals if iou[i, k] > threshold]
            assert rivals, i
            winner = max(rivals, key=lambda k: scores[k])
            assert trace.suppressed_by[pos] == winner
            assert trace.overlap[pos] == pytest.approx(iou[i, winner], abs=1e-5)
            removed += 1
        assert removed >= 5
        # Classes apart: some kept boxes of different classes overlap more than the threshold.
        pairs = iou[np.ix_(expected, expected)] > threshold
        assert (pairs & (labels[expected][:, None] != labels[expected][None, :])).any()


def test_nms_never_crosses_classes_with_negative_coordinates() -> None:
    # Class 1's box shifted by torchvision's max + 1 = 101 lands on (41, 41, 100, 100): IoU 0.72 with class
    # 0's box, which batched_nms would let remove it.
    boxes = np.array([[50, 50, 100, 100], [-60, -60, -1, -1]], dtype=np.float32)
    raw = _raw(boxes, np.array([0.9, 0.8], dtype=np.float32), np.array([0, 1]))
    assert detection.filter_detections(raw, 0.1, 0.5).indices.tolist() == [0, 1]
    assert detection.explain_nms(raw, 0.1, 0.5).keep.tolist() == [0, 1]
    empty = detection.filter_detections(raw, 0.95, 0.5)
    assert len(empty.boxes) == 0 and empty.above_threshold == 0


# ----------------------------------------------------------------------------------------------- AP


def _voc_ap_reference(
    detections: Sequence[tuple[Tensor, Tensor, Tensor]],
    truth: Sequence[tuple[Tensor, Tensor]],
    num_classes: int,
    iou_threshold: float = 0.5,
) -> list[float]:
    """AP per class written from the PASCAL VOC devkit's recipe (VOCevaldet / voc_eval), not from cnnviz.

    cnnviz's convention, which this follows: VOC matching (every detection of a class over all images, best
    score first, goes to the ground truth of its image it overlaps most; a true positive when that IoU reaches
    the threshold and the object is still free, otherwise a false positive, with no fall-back to another
    object as COCO has) and VOC2010+ all-point interpolated AP (not VOC2007's 11 points nor COCO's 101).
    One difference from the devkit: IoU equal to the threshold counts (``>=``, the devkit has ``>``), as the
    cnnviz docstring says.
    """
    aps = []
    for c in range(num_classes):
        gts = [boxes[labels == c] for boxes, labels in truth]
        npos = sum(len(g) for g in gts)
        if npos == 0:
            aps.append(float("nan"))
            continue
        found = [
            (float(score), i, box)
            for i, (boxes, scores, labels) in enumerate(detections)
            for box, score in zip(boxes[labels == c], scores[labels == c], strict=True)
        ]
        found.sort(key=lambda d: -d[0])
        taken = [np.zeros(len(g), dtype=bool) for g in gts]
        tp, fp = np.zeros(len(found)), np.zeros(len(found))
        for d, (_, i, box) in enumerate(found):
            if len(gts[i]) == 0:
                fp[d] = 1
                continue
            overlaps = box_iou(box[None], gts[i])[0]
            j = int(overlaps.argmax())
            if overlaps[j] >= iou_threshold and not taken[i][j]:
                taken[i][j], tp[d] = True, 1
            else:
                fp[d] = 1
        tp, fp = np.cumsum(tp), np.cumsum(fp)
        mrec = np.concatenate([[0.0], tp / npos, [1.0]])
        mpre = np.concatenate([[0.0], tp / np.maximum(tp + fp, 1), [0.0]])
        for k in range(len(mpre) - 2, -1, -1):
            mpre[k] = max(mpre[k], mpre[k + 1])
        steps = np.flatnonzero(mrec[1:] != mrec[:-1])
        aps.append(float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1])))
    return aps


def test_map_equals_an_independent_voc_reference_on_a_hand_made_set() -> None:
    t = torch.tensor
    truth = [
        # Image A: two class-0 objects (IoU 0.43 with each other), one class-1 object.
        (t([[0.0, 0, 10, 10], [4, 0, 14, 10], [20, 20, 40, 40]]), t([0, 0, 1])),
        # Image B: one class-0 and one class-2 object.
        (t([[50.0, 50, 60, 60], [0, 0, 10, 10]]), t([0, 2])),
    ]
    detections = [
        (
            # 0.95 exactly on A's first object; 0.85 overlaps it by 0.82 and the second one by 0.54: its best
            # object is taken, so a FP (COCO would give it the second object); 0.6 exactly on the second.
            # Class 1: IoU exactly 0.5 with A's object (200 / 400 pixels).
            t([[0.0, 0, 10, 10], [1, 0, 11, 10], [4, 0, 14, 10], [20, 20, 40, 30]]),
            t([0.95, 0.85, 0.6, 0.9]),
            t([0, 0, 0, 1]),
        ),
        (
            # Class 0: one hit, one miss; class 1: a FP (no class-1 object here) ranked first; class 3: none
            # exist anywhere (no AP); class 2's object is never detected (AP 0).
            t([[50.0, 50, 60, 60], [70, 70, 80, 80], [0, 0, 10, 10], [0, 0, 10, 10]]),
            t([0.9, 0.3, 0.95, 0.99]),
            t([0, 0, 1, 3]),
        ),
    ]
    # Class 0, 3 objects, ranked TP TP FP TP FP: precision 1, 1, 2/3, 3/4, 3/5 at recall 1/3, 2/3, 2/3, 1, 1
    # -> AP = 1/3 + 1/3 + 1/3 * 3/4 = 11/12. Class 1, 1 object, ranked FP TP -> 1 * 1/2.
    by_hand = [11 / 12, 0.5, 0.0, float("nan")]
    reference = _voc_ap_reference(detections, truth, num_classes=4)
    mean, per_class = detectors.mean_average_precision(detections, truth, num_classes=4)
    np.testing.assert_allclose(reference, by_hand, rtol=0, atol=1e-12)
    np.testing.assert_allclose(per_class, by_hand, rtol=0, atol=1e-12)
    assert mean == pytest.approx((11 / 12 + 0.5 + 0.0) / 3, abs=1e-12)


def test_map_equals_the_voc_reference_on_random_detections() -> None:
    rng = np.random.default_rng(3)
    detections, truth = [], []
    for _ in range(25):
        g = rng.integers(0, 4)
        xy = rng.uniform(0, 80, (g, 2))
        gt = np.concatenate([xy, xy + rng.uniform(8, 30, (g, 2))], 1)
        gl = rng.integers(0, 3, g)
        # Jittered copies of the objects (some good, some duplicates, some off) and a few strays.
        picks = rng.integers(0, max(g, 1), 2 * g) if g else np.zeros(0, dtype=int)
        near = gt[picks] + rng.normal(0, 4, (len(picks), 4)) if g else np.zeros((0, 4))
        xy = rng.uniform(0, 80, (2, 2))
        stray = np.concatenate([xy, xy + rng.uniform(8, 30, (2, 2))], 1)
        boxes = np.concatenate([near, stray])
        labels = np.concatenate([gl[picks] if g else np.zeros(0, dtype=int), rng.integers(0, 3, 2)])
        labels = np.where(rng.uniform(size=len(labels)) < 0.15, rng.integers(0, 3, len(labels)), labels)
        detections.append(
            (
                torch.tensor(boxes).float(),
                torch.tensor(rng.uniform(size=len(boxes))).float(),
                torch.tensor(labels),
            )
        )
        truth.append((torch.tensor(gt).float(), torch.tensor(gl)))
    mean, per_class = detectors.mean_average_precision(detections, truth, num_classes=3)
    reference = _voc_ap_reference(detections, truth, num_classes=3)
    np.testing.assert_allclose(per_class, reference, rtol=0, atol=1e-12)
    assert 0.05 < mean < 0.95 and not np.isnan(per_class).any()  # neither trivial nor empty


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


def test_bundled_detector_reaches_its_card_map(monkeypatch: pytest.MonkeyPatch) -> None:
    card = read_card("yolo-mini")
    loaded = models.load("yolo-mini")
    assert loaded.weights == "bundled"
    assert card["held_out_count"] == detectors.HELD_OUT_COUNT
    # Keep what evaluate_map scores, to score it again with the independent VOC reference.
    seen: dict[str, object] = {}
    real = detectors.mean_average_precision

    def spy(detections, ground_truth, num_classes, iou_threshold=0.5):
        seen.update(detections=detections, truth=ground_truth, num_classes=num_classes, iou=iou_threshold)
        return real(detections, ground_truth, num_classes, iou_threshold)

    monkeypatch.setattr(detectors.yolo, "mean_average_precision", spy)  # where evaluate_map looks it up
    map50, per_class = detectors.evaluate_map(loaded.model, card["held_out_count"])
    # The card holds the mAP rounded down to 3 decimals and each AP rounded to 4: equal, both ways.
    assert card["held_out_map"] > 0.5
    assert card["held_out_map"] <= map50 < card["held_out_map"] + 1e-3
    assert math.floor(map50 * 1000) / 1000 == card["held_out_map"]
    names = list(card["held_out_ap_per_class"])
    assert names == list(loaded.categories)
    for name, ap in zip(names, per_class, strict=True):
        assert ap == pytest.approx(card["held_out_ap_per_class"][name], abs=5e-5 + 1e-9), name
    assert detectors.reference_map(loaded.spec) == card["held_out_map"]
    assert len(seen["detections"]) == len(seen["truth"]) == card["held_out_count"] and seen["iou"] == 0.5
    reference = _voc_ap_reference(seen["detections"], seen["truth"], seen["num_classes"])
    np.testing.assert_allclose(per_class, reference, rtol=0, atol=1e-12)
    assert map50 == pytest.approx(float(np.mean(reference)), abs=1e-12)


# --------------------------------------------------------------------------------- analysis: YOLO


def test_detect_with_the_grid_detector_on_a_shapes_scene() -> None:
    loaded = models.load("yolo-mini")
    scene = detection.shapes_scene(1_000_003)
    raw = detection.detect_image(loaded, images.from_array(scene.image))
    assert raw.kind == "1-stage" and raw.image_size == (96, 96) and raw.input_shape == (1, 3, 96, 96)
    assert raw.boxes.shape == (72, 4) and raw.cells is not None and raw.cells.shape == (72, 3)
    grid = raw.grids[0]
    assert grid.confidence.shape == (6, 6) and grid.cell == (16.0, 16.0) and grid.labels is not None
    # The same numbers as decoding the model's own output.
    with torch.no_grad():
        out = loaded.model(loaded.preprocess(images.from_array(scene.image)))
    dec = detectors.decode_grid(out)
    np.testing.assert_allclose(raw.scores, dec.scores[0].numpy(), rtol=1e-6)
    _check_grid_level(grid, out[0], raw)
    found = detection.filter_detections(raw, 0.3, 0.5)
    best = box_iou(torch.from_numpy(found.boxes), torch.from_numpy(scene.boxes)).max(dim=0).values
    assert (best >= 0.5).all(), "every shape of this held-out scene is found"


def _check_grid_level(level: detection.GridLevel, out: Tensor, raw: detection.RawDetections) -> None:
    """A YOLO grid level against the raw ``(B * 5 + C, S, S)`` output, read with YoloMini's channel layout.

    Channel ``5 * b + 4`` is box b's objectness logit; channels from ``5 * B`` on are the cell's class logits.
    """
    b = detectors.GRID_BOXES
    objectness = torch.stack([out[5 * k + 4] for k in range(b)]).sigmoid()  # (B, S, S)
    np.testing.assert_array_equal(level.confidence, objectness.max(dim=0).values.numpy())
    cell_class = out[5 * b :].argmax(dim=0)  # (S, S): softmax keeps the order of the logits
    np.testing.assert_array_equal(level.labels, cell_class.numpy())
    # Every candidate of a cell carries the cell's class; its score is objectness * best class probability.
    rows, cols, boxes = raw.cells.T
    np.testing.assert_array_equal(raw.labels, cell_class[rows, cols].numpy())
    best = out[5 * b :].softmax(dim=0).max(dim=0).values
    np.testing.assert_allclose(
        raw.scores, (objectness[boxes, rows, cols] * best[rows, cols]).numpy(), rtol=1e-6
    )


def test_detect_maps_boxes_back_to_a_larger_image() -> None:
    loaded = models.load("yolo-mini")
    scene = detection.shapes_scene(1_000_003)
    big = images.from_array(scene.image).resize((192, 288))  # W = 192, H = 288
    raw = detection.detect_image(loaded, big)
    small = detection.detect_image(loaded, images.from_array(scene.image))
    assert raw.image_size == (288, 192)
    assert raw.grids[0].cell == (48.0, 32.0)
    best = int(np.argmax(small.scores))
    np.testing.assert_allclose(raw.boxes[best], small.boxes[best] * [2, 3, 2, 3], rtol=0.05, atol=2.0)
    # Exactly: the boxes of this image's own raw output (96×96 input pixels) times 2 across and 3 down.
    with torch.no_grad():
        out = loaded.model(loaded.preprocess(big))
    in_input = detectors.decode_grid(out).boxes[0].numpy()
    np.testing.assert_array_equal(raw.boxes, in_input * np.float32([2, 3, 2, 3]))
    _check_grid_level(raw.grids[0], out[0], raw)


def test_box_mapping_on_known_boxes() -> None:
    known = torch.tensor([[0.0, 0.0, 96.0, 96.0], [12.0, 24.0, 36.0, 48.0], [-6.0, -3.0, 3.0, 6.0]])
    # scale is (image H / input H, image W / input W) = (3, 2): x doubles, y triples.
    mapped = detection._scaled(known, (3.0, 2.0))
    expected = [[0, 0, 192, 288], [24, 72, 72, 144], [-12, -9, 6, 18]]
    np.testing.assert_array_equal(mapped, np.float32(expected))
    assert mapped.dtype == np.float32
    # A size that is no multiple of the input: 130 × 100 pixels, factors 130 / 96 and 100 / 96.
    loaded = models.load("yolo-mini")
    odd = images.from_array(detection.shapes_scene(1_000_003).image).resize((130, 100))
    raw = detection.detect_image(loaded, odd)
    with torch.no_grad():
        in_input = detectors.decode_grid(loaded.model(loaded.preprocess(odd))).boxes[0].double().numpy()
    np.testing.assert_allclose(raw.boxes, in_input * [130 / 96, 100 / 96, 130 / 96, 100 / 96], rtol=1e-6)
    assert raw.grids[0].cell == pytest.approx((100 / 6, 130 / 6), rel=1e-12)


# -------------------------------------------------------------------------------------------- MTCNN

mtcnn_present = pytest.mark.skipif(
    not models.weights_present("mtcnn"),
    reason="the MTCNN weight pack is not here (python -m cnnviz.weights fetch)",
)


@mtcnn_present
def test_mtcnn_nets_match_the_weight_files_and_find_the_astronaut() -> None:
    loaded = models.load("mtcnn")  # load_state_dict is strict: every key and shape matches
    assert loaded.weights == "weight pack"
    raw = detection.detect_image(loaded, images.load_sample("astronaut"))
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


@mtcnn_present
def test_mtcnn_pnet_maps_cells_and_windows_on_every_scale() -> None:
    loaded = models.load("mtcnn")
    spec = loaded.spec
    # The model sees the 512×512 astronaut at 256×256, so image pixels are 2 input pixels.
    smaller = detectors.ResizeTransform(None, spec.mean, spec.std, max_side=256)
    half = dataclasses.replace(loaded, spec=dataclasses.replace(spec, transform=smaller))
    image = images.load_sample("astronaut")
    raw = detection.detect_image(half, image)
    x = half.preprocess(image)
    assert x.shape == (1, 3, 256, 256) and raw.image_size == (512, 512)
    net = half.model
    # P-Net's stride and receptive field, walked from its layers: 3×3 conv, 2×2 pool, 3×3, 3×3, 1×1.
    stride, field = 1, 1
    for layer in (net.pnet.conv1, net.pnet.pool1, net.pnet.conv2, net.pnet.conv3, net.pnet.conv4_1):
        k = layer.kernel_size if isinstance(layer.kernel_size, int) else layer.kernel_size[0]
        s = layer.stride if isinstance(layer.stride, int) else layer.stride[0]
        field, stride = field + (k - 1) * stride, stride * s
    assert (stride, field) == (2, 12)
    scales = net.scales(256, 256)
    assert len(raw.grids) == len(scales) >= 3
    for level, s in zip(raw.grids, scales, strict=True):
        assert level.name == f"scale {s:.2f}"
        # The pyramid's image is ceil(side * scale) (Zhang et al.'s code), resampled by area averaging.
        side = math.ceil(256 * s)
        with torch.no_grad():
            probs, _ = net.pnet(F.adaptive_avg_pool2d(x, (side, side)))
        assert level.confidence.shape == (math.ceil((side - 2) / 2) - 4,) * 2
        np.testing.assert_allclose(level.confidence, probs[0, 1].numpy(), rtol=1e-6, atol=1e-7)
        assert level.cell == pytest.approx((stride / s * 2, stride / s * 2), rel=1e-12)
        assert level.window == pytest.approx(field / s * 2, rel=1e-12)


def test_mtcnn_without_weights_says_so(cnnviz_cache) -> None:
    assert not models.weights_present("mtcnn")
    with pytest.raises(models.WeightsMissingError, match=r"python -m cnnviz\.weights fetch"):
        models.load("mtcnn")
    untrained = models.load("mtcnn", allow_untrained=True)
    assert untrained.weights == "untrained" and untrained.message
    raw = detection.detect_image(untrained, images.load_sample("astronaut").resize((96, 96)))
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


def test_detectors_package_reexports_its_parts_in_registration_order() -> None:
    """The package split keeps `from cnnviz.models.detectors import X` and the sidebar's order."""
    parts = (detectors.base, detectors.metrics, detectors.yolo, detectors.mtcnn, detectors.torchvision_specs)
    defined = {name: part for part in parts for name in part.__all__}
    assert sorted(defined) == sorted(detectors.__all__) and len(defined) == len(detectors.__all__) == 28
    for name, part in defined.items():
        assert getattr(detectors, name) is getattr(part, name), name
    assert [spec.name for spec in models.list_specs("detection")] == [
        "yolo-mini",
        "mtcnn",
        "fasterrcnn_resnet50_fpn",
        "fasterrcnn_mobilenet_v3_large_320_fpn",
        "retinanet_resnet50_fpn",
        "fcos_resnet50_fpn",
        "ssdlite320_mobilenet_v3_large",
    ]


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
    raw = detection.detect_image(loaded, image)
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
    torch.save(models.load(name, pretrained=False).model.state_dict(), spec.weight_source.path())
    assert spec.weight_source.path().parent == torch_home and models.weights_present(name)
    loaded = models.load(name)
    assert loaded.weights == "torchvision pretrained" and no_network == []
    assert isinstance(loaded.model, SSD)


@pytest.mark.parametrize(
    "name", ["ssdlite320_mobilenet_v3_large", "retinanet_resnet50_fpn", "fcos_resnet50_fpn"]
)
def test_dense_level_maps_from_the_backbone_and_head(
    name: str, no_network, torch_home, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(0)
    loaded = models.load(name, pretrained=False)
    net = loaded.model
    if not isinstance(net, SSD):  # 800 pixels by default: a short side of 128 keeps ResNet-50 quick here
        monkeypatch.setattr(net.transform, "min_size", (128,))
        monkeypatch.setattr(net.transform, "max_size", 192)
    image = images.load_sample("astronaut").resize((160, 120))
    raw = detection.detect_image(loaded, image)
    head = net.head.classification_head
    with torch.no_grad():
        batch, _ = net.transform([loaded.preprocess(image)[0]])
        features = list(net.backbone(batch.tensors).values())
        assert len(raw.grids) == len(features)
        for k, (level, feature) in enumerate(zip(raw.grids, features, strict=True)):
            n, _, h, w = feature.shape
            if isinstance(net, SSD):
                logits, classes = head.module_list[k](feature), head.num_columns
            else:
                logits, classes = head.cls_logits(head.conv(feature)), head.num_classes
            per = logits.view(n, -1, classes, h, w)  # channels: (anchor, class), torchvision's layout
            # SSD: softmax over classes with class 0 the background; RetinaNet and FCOS: one sigmoid a class.
            probs = per.softmax(dim=2)[:, :, 1:] if isinstance(net, SSD) else per.sigmoid()
            expected = probs.amax(dim=(1, 2))[0]
            torch.testing.assert_close(torch.from_numpy(level.confidence), expected, rtol=1e-5, atol=1e-6)
            # A position every padded side / positions resized pixels, mapped back as torchvision maps boxes.
            step = torch.tensor([[0.0, 0.0, batch.tensors.shape[-1] / w, batch.tensors.shape[-2] / h]])
            cell = resize_boxes(step, list(batch.image_sizes[0]), [120, 160])[0]
            assert level.cell == pytest.approx((cell[3].item(), cell[2].item()), rel=1e-6)
    assert batch.image_sizes[0] != (120, 160)  # the mapping is no identity


def test_two_stage_proposals_are_the_rpn_boxes_in_image_pixels(no_network, torch_home) -> None:
    torch.manual_seed(0)
    loaded = models.load("fasterrcnn_mobilenet_v3_large_320_fpn", pretrained=False)
    net = loaded.model
    image = images.load_sample("astronaut").resize((160, 120))
    raw = detection.detect_image(loaded, image)
    with torch.no_grad():
        batch, _ = net.transform([loaded.preprocess(image)[0]])
        proposals, _ = net.rpn(batch, net.backbone(batch.tensors))
    assert tuple(batch.image_sizes[0]) != (120, 160)
    expected = resize_boxes(proposals[0], list(batch.image_sizes[0]), [120, 160])
    assert raw.proposals is not None and len(raw.proposals) == len(expected) > 10
    np.testing.assert_allclose(raw.proposals, expected.numpy(), rtol=1e-6, atol=1e-4)

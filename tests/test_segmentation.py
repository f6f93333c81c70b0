"""Segmentation: the bundled segmenters' cards, mask sizes, instance grouping, sizes per stage, transposed
convolution, each against an independent reference (hand-computed values, torch.nn.functional,
torchvision)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage
from sklearn.metrics import accuracy_score, jaccard_score
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from torch.nn import functional as F
from torchvision.models.feature_extraction import create_feature_extractor

from cnnviz import models, render
from cnnviz.analysis import segmentation as seg
from cnnviz.analysis.conv import ConvSettingsError, transposed_output_size
from cnnviz.data import shapes
from cnnviz.models import segmenters
from cnnviz.weights import read_card

BUNDLED = ("fcn-mini", "fcn-mini-instance")


@pytest.fixture(scope="module")
def fcn() -> models.LoadedModel:
    return models.load("fcn-mini")


@pytest.fixture(scope="module")
def instance_fcn() -> models.LoadedModel:
    return models.load("fcn-mini-instance")


@pytest.fixture(scope="module")
def held_out() -> list[shapes.ShapeScene]:
    return segmenters.held_out_scenes()


@pytest.fixture(scope="module")
def held_out_outputs(
    fcn: models.LoadedModel, instance_fcn: models.LoadedModel, held_out: list[shapes.ShapeScene]
) -> dict[str, list]:
    """Both bundled models' outputs on the held-out scenes, computed once."""
    images = torch.from_numpy(np.stack([s.image for s in held_out])).permute(0, 3, 1, 2)
    out: dict[str, list] = {}
    with torch.no_grad():
        for loaded in (fcn, instance_fcn):
            batches = [
                loaded.model(shapes.normalize(images[i : i + 100])) for i in range(0, len(images), 100)
            ]
            out[loaded.spec.name] = batches
    return out


def _mean_iou_numpy(pred: np.ndarray, true: np.ndarray, k: int) -> float:
    """Mean IoU written out independently: per class, |pred ∩ true| / |pred ∪ true| over all pixels."""
    ious = []
    for c in range(k):
        p, t = pred == c, true == c
        union = np.logical_or(p, t).sum()
        if union:
            ious.append(np.logical_and(p, t).sum() / union)
    return float(np.mean(ious))


def _assert_card(measured: float, card: float, slack: float) -> None:
    """Two-sided: the cards round down to 4 decimals, so a re-measurement lies in [card, card + 1e-4);
    `slack` allows for a few pixels whose arg-max another machine's float rounding could flip."""
    assert card - slack <= measured < card + 1e-4 + slack, (measured, card)


# ---------------------------------------------------------------------------------------------- cards


@pytest.mark.parametrize("name", BUNDLED)
def test_card_describes_the_bundled_weights(name: str) -> None:
    card = read_card(name)
    spec = models.get_spec(name)
    assert card["name"] == name and card["task"] == "segmentation"
    assert card["categories"] == list(spec.categories) == ["background", *shapes.CLASSES]
    assert card["held_out_seeds"] == [shapes.HELD_OUT_START, shapes.HELD_OUT_START + card["held_out_count"]]
    assert card["held_out_count"] == segmenters.HELD_OUT_COUNT
    assert card["train_seeds"][1] <= shapes.HELD_OUT_START  # never trained on a held-out scene
    assert 0.0 < card["held_out_mean_iou"] <= 1.0
    assert models.weights_present(name)


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_mean_iou_equals_the_cards(
    name: str, held_out: list[shapes.ShapeScene], held_out_outputs: dict[str, list]
) -> None:
    logits = torch.cat([o["out"] if isinstance(o, dict) else o for o in held_out_outputs[name]])
    pred = logits.argmax(dim=1).numpy()
    true = np.stack([s.semantic for s in held_out])
    card = read_card(name)
    miou = _mean_iou_numpy(pred, true, len(segmenters.SEGMENTATION_CLASSES))
    # 2e-5 of mean IoU is a dozen pixels of the smallest class among 4.6 million.
    _assert_card(miou, card["held_out_mean_iou"], slack=2e-5)
    # Per class, as the card lists them (rounded to 4 decimals).
    for k, cls in enumerate(segmenters.SEGMENTATION_CLASSES):
        p, t = pred == k, true == k
        iou = np.logical_and(p, t).sum() / np.logical_or(p, t).sum()
        assert iou == pytest.approx(card["held_out_iou_per_class"][cls], abs=5e-5 + 2e-5), cls
    assert (pred == true).mean() == pytest.approx(card["held_out_pixel_accuracy"], abs=5e-4 + 1e-5)
    # Better than the trivial answer "everything is background" by far.
    assert miou > _mean_iou_numpy(np.zeros_like(true), true, len(segmenters.SEGMENTATION_CLASSES)) + 0.3


def test_instance_quality_equals_the_cards(
    held_out: list[shapes.ShapeScene], held_out_outputs: dict[str, list]
) -> None:
    card = read_card("fcn-mini-instance")
    tp = fp = fn = 0
    iou_sum = 0.0
    scenes = iter(held_out)
    for batch in held_out_outputs["fcn-mini-instance"]:
        for j in range(len(batch["out"])):
            scene = next(scenes)
            found = segmenters.group_instances(
                batch["out"][j], batch["center"][j], batch["offset"][j], card["center_threshold"]
            )
            # Independent matching: IoU of every pair, greedy on the same class, IoU > 0.5.
            used: set[int] = set()
            for p in found:
                ious = [
                    (np.logical_and(p.mask, t.mask).sum() / np.logical_or(p.mask, t.mask).sum(), k)
                    for k, t in enumerate(scene.instances)
                    if k not in used and t.label + 1 == p.label
                ]
                best = max(ious, default=(0.0, -1))
                if best[0] > 0.5:
                    used.add(best[1])
                    tp += 1
                    iou_sum += float(best[0])
                else:
                    fp += 1
            fn += len(scene.instances) - len(used)
    # One object more or less moves these by ~1e-3, far outside the slack: the counts must be the card's.
    _assert_card(tp / (tp + fn), card["held_out_instance_recall"], slack=2e-5)
    _assert_card(tp / (tp + fp), card["held_out_instance_precision"], slack=2e-5)
    _assert_card(iou_sum / (tp + fp / 2 + fn / 2), card["held_out_panoptic_quality"], slack=2e-5)
    assert iou_sum / tp == pytest.approx(card["held_out_matched_iou"], abs=5e-5 + 2e-5)


def test_mean_iou_code_against_scikit_learn(
    fcn: models.LoadedModel, held_out: list[shapes.ShapeScene], held_out_outputs: dict[str, list]
) -> None:
    """cnnviz's confusion matrix, IoU per class and mean IoU (what the card holds) against scikit-learn on
    the first 100 held-out scenes."""
    scenes = held_out[:100]
    logits = held_out_outputs["fcn-mini"][0]  # the first batch: those 100 scenes
    assert len(logits) == len(scenes)
    pred = logits.argmax(dim=1).numpy().ravel()
    true = np.stack([s.semantic for s in scenes]).ravel()
    k = len(segmenters.SEGMENTATION_CLASSES)
    labels = list(range(k))
    confusion = segmenters.confusion_matrix(torch.from_numpy(pred), torch.from_numpy(true), k)
    np.testing.assert_array_equal(confusion.numpy(), sk_confusion_matrix(true, pred, labels=labels))
    reference = jaccard_score(true, pred, labels=labels, average=None)
    np.testing.assert_allclose(segmenters.iou_per_class(confusion).numpy(), reference, rtol=1e-12)
    metrics = segmenters.evaluate_semantic(fcn.model, scenes)
    assert metrics["mean_iou"] == pytest.approx(reference.mean(), rel=1e-12)
    assert metrics["mean_iou"] == pytest.approx(jaccard_score(true, pred, labels=labels, average="macro"))
    np.testing.assert_allclose(list(metrics["iou"].values()), reference, atol=5e-5)  # rounded to 4 places
    assert metrics["pixel_accuracy"] == pytest.approx(accuracy_score(true, pred), rel=1e-12)


# ---------------------------------------------------------------------------------------- mask sizes


def _photo(width: int = 120, height: int = 80) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_masks_have_the_input_size(name: str) -> None:
    loaded = models.load(name)
    image = _photo()
    x = loaded.preprocess(image)
    semantic = seg.semantic_masks_image(loaded, image)
    assert semantic.labels.shape == tuple(x.shape[-2:]) == segmenters.INPUT_SIZE
    assert semantic.image.shape == (*x.shape[-2:], 3)
    assert semantic.shares.sum() == pytest.approx(1.0)
    # The class map is the arg-max of a direct forward pass (the bundled models answer at the input's
    # size, no resizing), the shares are its pixel counts.
    with torch.no_grad():
        out = loaded.model(x)
    logits = out["out"] if isinstance(out, dict) else out
    assert logits.shape[-2:] == x.shape[-2:]
    labels = logits.argmax(dim=1)[0].numpy()
    np.testing.assert_array_equal(semantic.labels, labels)
    k = len(segmenters.SEGMENTATION_CLASSES)
    np.testing.assert_allclose(semantic.shares, np.bincount(labels.ravel(), minlength=k) / labels.size)
    assert len(semantic.present) >= 2  # a random photo is not all one class
    assert semantic.categories == segmenters.SEGMENTATION_CLASSES
    if name == "fcn-mini-instance":
        scene_image, _, _ = seg.shapes_truth(1_000_001)
        found = seg.instance_masks_image(loaded, scene_image)
        assert found.masks.shape[1:] == segmenters.INPUT_SIZE
        assert found.instances  # a held-out scene has at least one object
        assert not (found.masks.sum(axis=0) > 1).any()  # each pixel belongs to at most one object


def test_torchvision_semantic_mask_has_the_input_size(no_network) -> None:
    loaded = models.load("lraspp_mobilenet_v3_large", pretrained=False)
    assert loaded.weights == "untrained"
    # Untrained, the head gives one class everywhere; re-drawn class rows make the map worth comparing.
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name in ("low_classifier", "high_classifier"):
            weight = loaded.model.classifier.get_submodule(name).weight
            weight.copy_(torch.randn(weight.shape, generator=generator))
    image = _photo(60, 40)
    x = loaded.preprocess(image)
    assert x.shape[-2:] == (520, 780)  # the weights' transform resizes the shorter side to 520
    semantic = seg.semantic_masks_image(loaded, image)
    assert semantic.labels.shape == (520, 780)
    assert len(semantic.categories) == 21 and semantic.categories[0] == "__background__"
    # torchvision's models interpolate their scores back to the input's size: the map is their arg-max.
    with torch.no_grad():
        labels = loaded.model(x)["out"].argmax(dim=1)[0].numpy()
    np.testing.assert_array_equal(semantic.labels, labels)
    np.testing.assert_allclose(semantic.shares, np.bincount(labels.ravel(), minlength=21) / labels.size)
    assert len(semantic.present) > 2
    path = seg.size_path_image(loaded, image)
    assert (path.stages[0].height, path.stages[-1].height) == (520, 520)
    assert path.smallest.height < 520 // 8  # the backbone shrinks, the head's map is upsampled back
    assert no_network == []


def test_mask_rcnn_instance_masks_have_the_input_size(no_network) -> None:
    loaded = models.load("maskrcnn_resnet50_fpn", pretrained=False)
    # A smaller internal resize keeps the untrained ResNet-50 quick; the masks still come back at input size.
    loaded.model.transform.min_size = (160,)
    loaded.model.transform.max_size = 240
    loaded.model.roi_heads.detections_per_img = 5
    image = _photo(90, 60)
    found = seg.instance_masks_image(loaded, image, threshold=0.0)
    assert found.method == "mask-rcnn"
    assert found.masks.shape[1:] == (60, 90)
    semantic = seg.semantic_masks_image(loaded, image, threshold=0.0)
    assert semantic.source == "instances" and semantic.labels.shape == (60, 90)
    # Mask R-CNN's class map: each object's pixels painted with its class (the masks do not overlap).
    painted = np.zeros((60, 90), dtype=np.int64)
    for inst in found.instances:
        painted[inst.mask] = inst.label
    np.testing.assert_array_equal(semantic.labels, painted)
    k = len(semantic.categories)
    np.testing.assert_allclose(semantic.shares, np.bincount(painted.ravel(), minlength=k) / painted.size)
    path = seg.size_path_image(loaded, image)
    assert path.stages[-1].name == "mask" and (path.stages[-1].height, path.stages[-1].width) == (60, 90)
    assert any(s.per_box and s.height == 28 for s in path.stages)  # the mask head's 28×28 per box
    assert not path.smallest.per_box and path.smallest.name == "backbone.body.layer4"
    assert no_network == []


def test_untrained_torchvision_segmenters_build_offline(no_network, torch_home) -> None:
    for name in ("fcn_resnet50", "deeplabv3_resnet50", "lraspp_mobilenet_v3_large", "maskrcnn_resnet50_fpn"):
        assert not models.weights_present(name)
        spec = models.get_spec(name)
        assert spec.task == "segmentation"
        net = spec.build()
        assert sum(p.numel() for p in net.parameters()) > 1_000_000
    assert no_network == []


# --------------------------------------------------------------------------------------- instances


def _one_hot(semantic: np.ndarray) -> torch.Tensor:
    return F.one_hot(torch.from_numpy(semantic.astype(np.int64)), 7).permute(2, 0, 1).float()


def test_instance_masks_find_the_true_objects_with_the_heatmaps_scores(
    instance_fcn: models.LoadedModel,
) -> None:
    """On held-out scenes, the page's instances against the generator's true masks, and each score against
    the centre heatmap of a direct forward pass at the peak the test finds itself."""
    threshold = seg.default_threshold(instance_fcn)
    assert threshold == read_card("fcn-mini-instance")["center_threshold"]
    matched = total = 0
    for seed in shapes.held_out_seeds(20):
        scene = shapes.scene(seed)
        image = Image.fromarray(scene.image)
        found = seg.instance_masks_image(instance_fcn, image)
        assert found.method == "centre-offset" and found.threshold == threshold
        for t in scene.instances:
            total += 1
            ious = [
                np.logical_and(p.mask, t.mask).sum() / np.logical_or(p.mask, t.mask).sum()
                for p in found.instances
                if p.label == t.label + 1
            ]
            matched += max(ious, default=0.0) > 0.5
        with torch.no_grad():
            heat = instance_fcn.model(instance_fcn.preprocess(image))["center"][0, 0].double().numpy()
        # Peaks: local maxima of a 7×7 window (outside the image counts as lower), at least the threshold.
        window_max = ndimage.maximum_filter(heat, size=7, mode="constant", cval=-np.inf)
        peaks = np.argwhere((heat == window_max) & (heat >= threshold))
        assert len(found.instances) <= len(peaks)
        scores = [inst.score for inst in found.instances]
        assert scores == sorted(scores, reverse=True)
        for inst in found.instances:
            # Each object's peak is the one nearest its mask's centre of mass (the offsets point there).
            centre = np.argwhere(inst.mask).mean(axis=0)
            y, x = peaks[np.hypot(*(peaks - centre).T).argmin()]
            assert inst.mask[y, x]
            assert inst.score == pytest.approx(min(max(heat[y, x], 0.0), 1.0), rel=1e-6)
            assert inst.name == segmenters.SEGMENTATION_CLASSES[inst.label]
            x1, y1, x2, y2 = inst.box
            rows, cols = np.nonzero(inst.mask)
            assert (x1, y1, x2, y2) == (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
    # Most objects are found (the card's recall over 500 scenes is 0.865).
    assert total > 40 and matched / total > 0.8


def test_grouping_the_true_heads_gives_the_true_instances() -> None:
    for seed in shapes.held_out_seeds(10):
        scene = shapes.scene(seed)
        center, offset = segmenters.instance_targets(torch.from_numpy(scene.masks))
        found = segmenters.group_instances(_one_hot(scene.semantic), center, offset)
        assert len(found) == len(scene.instances)
        for inst in scene.instances:
            assert any(p.label == inst.label + 1 and np.array_equal(p.mask, inst.mask) for p in found)


def test_two_touching_shapes_of_one_class_get_two_masks() -> None:
    scene = shapes.draw_scene(
        [shapes.Placement(0, (30.0, 48.0), 16.0), shapes.Placement(0, (61.0, 48.0), 16.0)], seed=3
    )
    # One connected blob in the semantic map ...
    from scipy import ndimage

    assert ndimage.label(scene.semantic > 0)[1] == 1
    # ... but the centre/offset targets separate the two circles.
    center, offset = segmenters.instance_targets(torch.from_numpy(scene.masks))
    found = segmenters.group_instances(_one_hot(scene.semantic), center, offset)
    assert len(found) == 2 and {p.label for p in found} == {1}


def test_instance_targets_point_to_the_centre_of_mass() -> None:
    mask = torch.zeros(1, 20, 20, dtype=torch.bool)
    mask[0, 4:9, 10:15] = True  # centre of mass (6, 12)
    center, offset = segmenters.instance_targets(mask)
    assert center[0, 6, 12] == pytest.approx(1.0)
    assert center[0, 6, 12] == center.max()
    assert offset[:, 4, 10] * segmenters.OFFSET_SCALE == pytest.approx(torch.tensor([2.0, 2.0]))
    assert (offset[:, ~mask[0]] == 0).all()


def test_group_instances_rejects_mismatched_heads() -> None:
    with pytest.raises(ValueError, match="center"):
        segmenters.group_instances(torch.zeros(7, 8, 8), torch.zeros(1, 4, 4), torch.zeros(2, 8, 8))


def test_shapes_truth_masks_tile_the_semantic_map() -> None:
    image, semantic, instances = seg.shapes_truth(1_000_000)
    assert image.size == (shapes.SCENE_SIZE, shapes.SCENE_SIZE)
    painted = instances.semantic()
    assert np.array_equal(painted.labels, semantic.labels)
    assert np.array_equal(instances.masks.any(axis=0), semantic.labels > 0)
    assert semantic.shares.sum() == pytest.approx(1.0)
    assert semantic.present[0] == 0  # the background covers most pixels


# ------------------------------------------------------------------------------------------ metrics


def test_iou_per_class_against_hand_computed_values() -> None:
    true = torch.tensor([[0, 0, 1], [1, 1, 2]])
    pred = torch.tensor([[0, 1, 1], [1, 2, 2]])
    confusion = segmenters.confusion_matrix(pred, true, 4)
    assert confusion.tolist() == [[1, 1, 0, 0], [0, 2, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    iou = segmenters.iou_per_class(confusion)
    # class 0: TP 1, FP 0, FN 1 -> 1/2; class 1: TP 2, FP 1, FN 1 -> 2/4; class 2: TP 1, FP 1 -> 1/2.
    assert iou[:3].tolist() == pytest.approx([0.5, 0.5, 0.5])
    assert math.isnan(float(iou[3]))  # never seen nor predicted: not part of the mean


# ------------------------------------------------------------------------------------- size per stage


def test_fcn_size_path_goes_down_then_up_as_captured(fcn: models.LoadedModel) -> None:
    image, _, _ = seg.shapes_truth(1_000_002)
    path = seg.size_path_image(fcn, image)
    names = [s.name for s in path.stages]
    assert names == ["input", *segmenters.STAGES, "mask"]
    heights = [s.height for s in path.stages]
    assert heights == [96, 96, 48, 48, 24, 12, 6, 6, 12, 24, 48, 96, 96]
    assert [s.phase for s in path.stages if s.name.startswith("up")] == ["up"] * 4
    assert [s.phase for s in path.stages if s.name.startswith("layer")][1:] == ["down"] * 3
    assert (path.smallest.name, path.smallest.height) == ("layer4", 6)
    assert path.stages[-1].channels == len(segmenters.SEGMENTATION_CLASSES)
    # Against torchvision's feature extraction (an FX graph, not hooks).
    extractor = create_feature_extractor(fcn.model, list(segmenters.STAGES))
    with torch.no_grad():
        reference = extractor(fcn.preprocess(image))
    for stage in path.stages[1:-1]:
        assert tuple(reference[stage.name].shape[1:]) == (stage.channels, stage.height, stage.width)
    # capture() left nothing behind.
    assert sum(len(m._forward_hooks) for m in fcn.model.modules()) == 0
    assert not fcn.model.training


def test_fcn_transposed_convolutions_follow_the_formula() -> None:
    net = segmenters.FCNMini().eval()
    x = torch.zeros(1, 3, 64, 80)
    with torch.no_grad():
        assert net(x).shape == (1, len(segmenters.SEGMENTATION_CLASSES), 64, 80)
    for name in ("up4", "up3", "up2", "up1"):
        layer = net.get_submodule(name)
        size = transposed_output_size(5, layer.kernel_size[0], layer.stride[0], layer.padding[0])
        assert size == layer(torch.zeros(1, layer.in_channels, 5, 5)).shape[-1] == 10


def test_fcn_upsamplers_start_as_bilinear_interpolation() -> None:
    up = segmenters.FCNMini().up1
    x = torch.rand(1, up.in_channels, 6, 6)
    with torch.no_grad():
        ours = up(x)
    reference = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    # Equal away from the border (the transposed convolution pads with zeros, interpolate repeats the edge).
    torch.testing.assert_close(ours[..., 1:-1, 1:-1], reference[..., 1:-1, 1:-1])


def test_fcn_starts_from_the_shapes_classifier() -> None:
    classifier = models.load("resnet-mini").model.state_dict()
    net = segmenters.FCNMini()
    net.load_classifier(classifier)
    torch.testing.assert_close(net.layer4[0].conv2.weight, classifier["layer4.0.conv2.weight"])
    torch.testing.assert_close(net.score4.weight[1:, :, 0, 0], classifier["fc.weight"])
    assert (net.score4.weight[0] == 0).all()
    widened = segmenters.InstanceFCNMini()
    widened.load_semantic(net.state_dict())
    torch.testing.assert_close(widened.up2.weight[:7, :7], net.up2.weight)
    x = shapes.normalize(torch.from_numpy(shapes.scene(5).image).permute(2, 0, 1)[None])
    with torch.no_grad():
        torch.testing.assert_close(widened.eval()(x)["out"], net.eval()(x))
    with pytest.raises(ValueError, match="ResNet-mini"):
        net.load_classifier({"fc.weight": torch.zeros(3, 128), "fc.bias": torch.zeros(3)})


def test_fcn_rejects_sizes_it_cannot_restore() -> None:
    with pytest.raises(ValueError, match="divisible by 16"):
        segmenters.FCNMini()(torch.zeros(1, 3, 88, 96))


# ------------------------------------------------------------------------------ transposed convolution

SETTINGS = [(i, f, s, p) for i in (1, 2, 3, 4) for f in (1, 2, 3, 4) for s in (1, 2, 3) for p in (0, 1, 2)]


@pytest.mark.parametrize(("i", "f", "s", "p"), SETTINGS)
def test_transposed_sizes_equal_pytorchs(i: int, f: int, s: int, p: int) -> None:
    expected = (i - 1) * s - 2 * p + f
    if expected < 1:
        with pytest.raises(ConvSettingsError):
            seg.transposed_conv(np.ones((i, i)), np.ones((f, f)), s, p)
        return
    rng = np.random.default_rng(i * 1000 + f * 100 + s * 10 + p)
    x, k = rng.normal(size=(i, i)), rng.normal(size=(f, f))
    demo = seg.transposed_conv(x, k, s, p)
    assert x.flags.writeable  # the caller's array is not frozen
    reference = F.conv_transpose2d(
        torch.from_numpy(x)[None, None], torch.from_numpy(k)[None, None], stride=s, padding=p
    )[0, 0].numpy()
    assert demo.size == expected == reference.shape[0] == reference.shape[1]
    assert demo.output.shape == reference.shape
    np.testing.assert_allclose(demo.output, reference, atol=1e-12)
    assert demo.matches
    # Each stamp is the input value times the kernel, at (row·S, col·S).
    r, c = i - 1, i - 1
    np.testing.assert_allclose(demo.stamps[r, c, r * s : r * s + f, c * s : c * s + f], x[r, c] * k)
    np.testing.assert_allclose(demo.stamps.sum(axis=(0, 1)), demo.full)


def test_transposed_example_by_hand() -> None:
    x, k = seg.transposed_example(2, 2, "ones")
    demo = seg.transposed_conv(x, k, stride=1, padding=0)
    # Stamps of 1, 2, 3, 4 (each a 2×2 block of ones) one pixel apart: overlaps add up.
    assert demo.output.tolist() == [[1, 3, 2], [4, 10, 6], [3, 7, 4]]
    x, k = seg.transposed_example(2, 2, "counting")
    assert k.tolist() == [[1, 2], [3, 4]]
    demo = seg.transposed_conv(x, k, stride=2, padding=0)  # stride = kernel: stamps side by side, 2 -> 4
    assert demo.output.tolist() == [[1, 2, 2, 4], [3, 4, 6, 8], [3, 6, 4, 8], [9, 12, 12, 16]]


def test_transposed_conv_rejects_bad_settings() -> None:
    with pytest.raises(ConvSettingsError) as err:
        seg.transposed_conv(np.ones((2, 2)), np.ones((2, 2)), stride=0)
    assert err.value.key == "stride"
    with pytest.raises(ConvSettingsError):
        seg.transposed_conv(np.ones((2, 3)), np.ones((2, 2)))
    with pytest.raises(ConvSettingsError):
        seg.transposed_conv(np.ones((7, 7)), np.ones((2, 2)))
    with pytest.raises(ConvSettingsError):
        seg.transposed_example(2, 3, "gaussian")


# ------------------------------------------------------------------------------------------- drawing


def test_mask_overlay_paints_the_masks() -> None:
    image = np.full((4, 5, 3), 100, dtype=np.uint8)
    masks = np.zeros((2, 4, 5), dtype=bool)
    masks[0, 0, 0] = True
    masks[1, 3, 4] = True
    out = render.mask_overlay(image, masks, [(255, 0, 0), (0, 0, 255)], alpha=1.0)
    assert out[0, 0].tolist() == [255, 0, 0] and out[3, 4].tolist() == [0, 0, 255]
    assert out[1, 1].tolist() == [100, 100, 100]
    assert np.array_equal(render.mask_overlay(image, masks, [(255, 0, 0)] * 2, alpha=0.0), image)
    assert render.mask_overlay(image, masks[:0], [], scale=3).shape == (12, 15, 3)
    with pytest.raises(ValueError, match="colour"):
        render.mask_overlay(image, masks, [(255, 0, 0)])


def test_palettes() -> None:
    voc = render.class_palette(21)
    assert voc[:4] == [(0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0)]  # PASCAL VOC's colour map
    assert len(set(voc)) == 21
    assert len(set(render.instance_palette(12))) == 12


def test_instance_partners() -> None:
    assert segmenters.instance_partner("fcn-mini") == "fcn-mini-instance"
    assert segmenters.instance_partner("fcn-mini-instance") == "fcn-mini-instance"
    assert segmenters.instance_partner("fcn_resnet50") == "maskrcnn_resnet50_fpn"
    with pytest.raises(KeyError, match="resnet18"):
        segmenters.instance_partner("resnet18")

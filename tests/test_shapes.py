"""The synthetic shapes generator: determinism, boxes vs masks, occlusion, balance, tensors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torchvision.ops import masks_to_boxes
from torchvision.transforms.v2 import functional as TF

from cnnviz.data import shapes
from cnnviz.data.shapes import CLASSES, Placement


def _same_scene(a: shapes.ShapeScene, b: shapes.ShapeScene) -> bool:
    return (
        np.array_equal(a.image, b.image)
        and np.array_equal(a.semantic, b.semantic)
        and np.array_equal(a.masks, b.masks)
        and np.array_equal(a.boxes, b.boxes)
        and np.array_equal(a.labels, b.labels)
    )


@pytest.fixture(scope="module")
def scenes() -> list[shapes.ShapeScene]:
    return [shapes.scene(seed) for seed in range(60)] + [
        shapes.scene(seed, size=128) for seed in range(60, 80)
    ]


@pytest.fixture(scope="module")
def samples() -> list[shapes.ShapeScene]:
    return [shapes.classification_sample(seed) for seed in range(600)]


def test_same_seed_same_arrays_and_different_seeds_differ() -> None:
    for make in (shapes.classification_sample, shapes.scene):
        assert _same_scene(make(123), make(123))
        assert not np.array_equal(make(123).image, make(124).image)
    for mode in shapes.MODES:
        assert _same_scene(shapes.generate(5, mode), shapes.generate(5, mode))
    # detection and segmentation are the same scenes
    assert _same_scene(shapes.generate(9, "detection"), shapes.generate(9, "segmentation"))


def test_images_are_uint8_with_the_right_shape(samples: list[shapes.ShapeScene]) -> None:
    for s in samples[:20]:
        assert s.image.dtype == np.uint8 and s.image.shape == (64, 64, 3)
        assert s.semantic.dtype == np.uint8 and s.semantic.shape == (64, 64)
        assert len(s.instances) == 1 and s.masks.shape == (1, 64, 64) and s.masks.dtype == bool
    big = shapes.scene(3, size=128)
    assert big.image.shape == (128, 128, 3) and big.masks.shape[1:] == (128, 128)
    assert shapes.classification_sample(3, size=32).image.shape == (32, 32, 3)


def test_boxes_are_the_tight_boxes_of_the_masks(
    scenes: list[shapes.ShapeScene], samples: list[shapes.ShapeScene]
) -> None:
    for s in scenes + samples[:100]:
        masks = torch.from_numpy(s.masks)
        assert masks.flatten(1).any(1).all(), "every instance keeps visible pixels"
        # torchvision's boxes hold the last pixel index; ours are pixel edges, one further.
        expected = masks_to_boxes(masks) + torch.tensor([0.0, 0.0, 1.0, 1.0])
        assert torch.equal(torch.from_numpy(s.boxes), expected)


def test_semantic_map_agrees_with_the_instance_masks(scenes: list[shapes.ShapeScene]) -> None:
    counts = []
    for s in scenes:
        masks = s.masks
        counts.append(len(masks))
        assert (masks.sum(0) <= 1).all(), "visible instance masks never overlap"
        assert np.array_equal(masks.any(0), s.semantic > 0)
        for inst in s.instances:
            assert (s.semantic[inst.mask] == inst.label + 1).all()
    assert min(counts) >= 1 and max(counts) <= 4 and len(set(counts)) >= 3


def test_later_shapes_occlude_earlier_ones() -> None:
    square = Placement(label=CLASSES.index("square"), center=(40.0, 40.0), radius=24.0, color=(250, 20, 20))
    circle = Placement(label=CLASSES.index("circle"), center=(60.0, 60.0), radius=18.0, color=(20, 20, 250))
    both = shapes.draw_scene([square, circle], size=96, seed=1)
    alone_square = shapes.draw_scene([square], size=96, seed=1).masks[0]
    alone_circle = shapes.draw_scene([circle], size=96, seed=1).masks[0]
    overlap = alone_square & alone_circle
    assert overlap.sum() > 50
    assert np.array_equal(both.instances[1].mask, alone_circle)
    assert np.array_equal(both.instances[0].mask, alone_square & ~alone_circle)
    assert (both.semantic[overlap] == CLASSES.index("circle") + 1).all()
    # The pixels are painted through the same masks: blue where the circle is, red where the square shows.
    blue = both.image[both.instances[1].mask].astype(int)
    red = both.image[both.instances[0].mask].astype(int)
    assert blue[:, 2].mean() > 200 and blue[:, 0].mean() < 60
    assert red[:, 0].mean() > 200 and red[:, 2].mean() < 60
    # The box follows the visible part: the square's lower right corner is hidden.
    assert both.instances[0].box == tuple(int(v) for v in shapes.draw_scene([square], size=96).boxes[0])


def test_shape_areas_match_geometry() -> None:
    r = 20.0
    inner, half_width = 0.45 * r, 0.32 * r  # the star's inner radius, half the cross's arm width
    star_edge = math.sqrt(r**2 + inner**2 - 2 * r * inner * math.cos(math.pi / 5))
    area_perimeter = {
        "circle": (math.pi * r**2, 2 * math.pi * r),
        "square": (2 * r**2, 4 * math.sqrt(2) * r),  # diagonal 2r
        "triangle": (3 * math.sqrt(3) / 4 * r**2, 3 * math.sqrt(3) * r),
        "hexagon": (3 * math.sqrt(3) / 2 * r**2, 6 * r),
        "star": (5 * r * inner * math.sin(math.pi / 5), 10 * star_edge),
        "cross": (8 * r * half_width - 4 * half_width**2, 8 * r),
    }
    for name, (area, perimeter) in area_perimeter.items():
        for angle in (0.0, 0.3):
            p = Placement(label=CLASSES.index(name), center=(32.0, 32.0), radius=r, angle=angle)
            got = shapes.draw_scene([p], size=64).masks[0].sum()
            # PIL fills the pixels on the outline too: the shape grown by about half a pixel all round.
            expected = area + 0.5 * perimeter
            assert abs(got - expected) / expected < 0.06, (name, angle, got, expected)


def test_classes_are_balanced(samples: list[shapes.ShapeScene]) -> None:
    counts = np.bincount([s.instances[0].label for s in samples], minlength=len(CLASSES))
    assert len(counts) == len(CLASSES)
    # 600 draws of 6 classes: 100 each, standard deviation about 9.
    assert counts.min() >= 65 and counts.max() <= 135, counts
    backgrounds = {s.background for s in samples}
    assert backgrounds == set(shapes.BACKGROUNDS)


def test_forced_label() -> None:
    for k in range(len(CLASSES)):
        assert shapes.classification_sample(77, label=k).instances[0].name == CLASSES[k]


def test_seed_ranges() -> None:
    assert list(shapes.train_seeds(3)) == [0, 1, 2]
    assert list(shapes.held_out_seeds(2)) == [shapes.HELD_OUT_START, shapes.HELD_OUT_START + 1]
    with pytest.raises(ValueError, match="train seeds"):
        shapes.train_seeds(10, start=shapes.HELD_OUT_START - 5)


def test_tensor_helpers_match_the_scenes() -> None:
    images, labels = shapes.classification_tensors(range(5, 10))
    assert images.shape == (5, 3, 64, 64) and images.dtype == torch.uint8 and labels.dtype == torch.int64
    for i, seed in enumerate(range(5, 10)):
        s = shapes.classification_sample(seed)
        assert np.array_equal(images[i].permute(1, 2, 0).numpy(), s.image)
        assert int(labels[i]) == s.instances[0].label

    images, targets = shapes.detection_tensors([3, 4])
    assert images.shape == (2, 3, 96, 96)
    s = shapes.scene(4)
    assert torch.equal(targets[1]["boxes"], torch.from_numpy(s.boxes))
    assert targets[1]["boxes"].dtype == torch.float32 and targets[1]["labels"].dtype == torch.int64
    assert targets[1]["masks"].shape == (len(s.instances), 96, 96)

    images, semantic = shapes.segmentation_tensors([4])
    assert torch.equal(images[0].permute(1, 2, 0), torch.from_numpy(s.image))
    assert semantic.dtype == torch.int64 and np.array_equal(semantic[0].numpy(), s.semantic)


def test_normalize_matches_torchvision() -> None:
    images, _ = shapes.classification_tensors(range(4))
    expected = TF.normalize(
        TF.to_dtype(images, torch.float32, scale=True), list(shapes.MEAN), list(shapes.STD)
    )
    torch.testing.assert_close(shapes.normalize(images), expected)
    with pytest.raises(TypeError, match="uint8"):
        shapes.normalize(images.float())


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="label"):
        shapes.classification_sample(0, label=len(CLASSES))
    with pytest.raises(ValueError, match="size"):
        shapes.scene(0, size=8)
    with pytest.raises(ValueError, match="mode"):
        shapes.generate(0, "captioning")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_objects"):
        shapes.scene(0, min_objects=3, max_objects=2)
    with pytest.raises(ValueError, match="label"):
        shapes.draw_scene([Placement(label=-1, center=(10.0, 10.0), radius=5.0)])

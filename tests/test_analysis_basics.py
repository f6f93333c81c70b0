"""Pixels, architecture comparisons, augmentation, feature maps and rendering, against references."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torch import nn

from cnnviz import models, render
from cnnviz.analysis import architecture, augment, features, pixels


def _image(h: int = 20, w: int = 30, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8))


# --- pixels -----------------------------------------------------------------------------------------------


def test_pixel_region_values_and_gray_formula() -> None:
    img = _image()
    arr = np.asarray(img)
    region = pixels.pixel_region(img, top=3, left=5, size=4)
    np.testing.assert_array_equal(region.rgb, arr[3:7, 5:9])
    # PIL's "L" is ITU-R 601-2 luma, rounded: L = R*299/1000 + G*587/1000 + B*114/1000
    expected = (arr[3:7, 5:9].astype(np.int64) @ np.array([299, 587, 114]) + 500) // 1000
    assert np.abs(region.gray.astype(int) - expected).max() <= 1
    np.testing.assert_allclose(region.rgb01, arr[3:7, 5:9] / 255.0)


def test_pixel_region_clips_at_the_border() -> None:
    region = pixels.pixel_region(_image(10, 12), top=8, left=10, size=5)
    assert region.rgb.shape == (2, 2, 3)


def test_binarize_black_is_one() -> None:
    gray = np.array([[0, 127, 128, 255]], np.uint8)
    np.testing.assert_array_equal(pixels.binarize(gray, 128), [[1, 1, 0, 0]])
    with pytest.raises(ValueError, match="threshold"):
        pixels.binarize(gray, 300)


def test_layouts_hwc_vs_chw() -> None:
    img = _image(7, 9)
    lay = pixels.layouts(img)
    arr = np.asarray(img)
    assert lay.hwc_shape == arr.shape == (7, 9, 3)
    assert lay.chw_shape == tuple(np.transpose(arr, (2, 0, 1)).shape) == (3, 7, 9)
    assert lay.first_pixel_hwc == lay.first_pixel_chw == tuple(int(v) for v in arr[0, 0])
    assert (lay.hwc_dtype, lay.chw_dtype, lay.chw_float_dtype) == ("uint8", "uint8", "float32")


# --- architecture -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("c", [1, 3, 64])
def test_two_3x3_vs_one_5x5(c: int) -> None:
    cmp = architecture.compare_stacks(c)
    assert cmp.params_two_3x3 == 2 * 3**2 * c**2
    assert cmp.params_one_5x5 == 5**2 * c**2
    assert cmp.receptive_field_two_3x3 == cmp.receptive_field_one_5x5 == 5
    assert cmp.output_size_two_3x3 == cmp.output_size_one_5x5 == 1  # the lecture's (5,5) -> (1,1)
    assert (cmp.nonlinearities_two_3x3, cmp.nonlinearities_one_5x5) == (2, 1)


def test_traits_lenet_vs_alexnet() -> None:
    lenet = architecture.traits(models.load("lenet5").model)
    alex = architecture.traits(torchvision.models.alexnet())
    assert lenet.activations == ("Tanh",) and lenet.pooling == ("AvgPool2d",) and not lenet.dropout
    assert alex.activations == ("ReLU",) and "MaxPool2d" in alex.pooling and alex.dropout


def test_weight_depth_matches_the_papers() -> None:
    assert architecture.weight_depth(torchvision.models.vgg16()) == 16
    assert architecture.weight_depth(torchvision.models.resnet18()) == 18
    assert architecture.weight_depth(torchvision.models.resnet50()) == 50
    vgg = torchvision.models.vgg16()
    assert architecture.count_params(vgg) == sum(p.numel() for p in vgg.parameters()) == 138_357_544


# --- augmentation -----------------------------------------------------------------------------------------


def test_augment_is_reproducible_and_leaves_the_global_rng_alone() -> None:
    img = _image(64, 64)
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = augment.augment(img, augment.AUGMENTATIONS, n=4, seed=7, size=48)
    b = augment.augment(img, augment.AUGMENTATIONS, n=4, seed=7, size=48)
    assert torch.equal(before, torch.random.get_rng_state())
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a, b, strict=True))
    assert all(x.size == (48, 48) for x in a)
    assert len({np.asarray(x).tobytes() for x in a}) > 1  # random copies differ
    with pytest.raises(ValueError, match="Unknown augmentation"):
        augment.augment(img, ["blur"])


def test_translation_test_against_direct_forward_passes() -> None:
    from cnnviz.images import load_sample

    lenet = models.load("lenet5")
    img = load_sample("digit-3")
    test = augment.translation_test(lenet.model, lenet.preprocess(img), max_shift=4, step=2)
    assert test.shifts == (-4, -2, 0, 2, 4)
    x = lenet.preprocess(img)
    with torch.no_grad():
        for k, s in enumerate(test.shifts):
            shifted = torch.zeros_like(x)
            if s > 0:
                shifted[..., s:] = x[..., :-s]
            elif s < 0:
                shifted[..., :s] = x[..., -s:]
            else:
                shifted = x
            p = torch.softmax(lenet.model(shifted), 1)[0]
            assert test.predicted[k] == int(p.argmax())
            assert test.target_probability[k] == pytest.approx(float(p[test.target]), abs=1e-6)
    assert lenet.categories[test.target] == "3"


@pytest.mark.parametrize("size", [(2000, 3), (3, 2000), (1, 1), (5, 4), (64, 48)])
def test_for_display_keeps_every_pixel_and_bounds_the_shape(size: tuple[int, int]) -> None:
    w, h = size
    rgb = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    out = render.for_display(Image.fromarray(rgb))
    assert out.dtype == np.uint8 and out.shape[2] == 4
    big, small = max(out.shape[:2]), min(out.shape[:2])
    assert big <= 6 * small and big >= 48
    # The picture sits inside, each pixel a factor × factor block, opaque; the margin is transparent.
    factor = max(1, -(-48 // max(w, h)))
    ys, xs = np.nonzero(out[..., 3])
    top, left = ys.min(), xs.min()
    inner = out[top : top + h * factor, left : left + w * factor]
    np.testing.assert_array_equal(inner[::factor, ::factor, :3], rgb)
    assert (inner[..., 3] == 255).all() and int((out[..., 3] == 255).sum()) == h * w * factor**2
    assert render.for_display(rgb[..., 0]).shape == out.shape  # grey arrays too
    with pytest.raises(ValueError, match="no pixels"):
        render.for_display(np.zeros((0, 4, 3), np.uint8))


def test_boxes_on_a_long_thin_picture_are_not_enlarged_past_a_limit() -> None:
    drawn = render.draw_boxes(np.zeros((3, 2000, 3), np.uint8), np.zeros((0, 4), np.float32))
    assert drawn.shape[:2] == (3, 2000)  # enlarged by 1: the short side's wish (×128) would be 256000 wide
    small = render.draw_boxes(np.zeros((20, 30, 3), np.uint8), np.zeros((0, 4), np.float32))
    assert min(small.shape[:2]) > 20  # small pictures are still enlarged for legible labels


# --- feature maps -----------------------------------------------------------------------------------------


def test_feature_maps_equal_feature_extraction() -> None:
    from torchvision.models.feature_extraction import create_feature_extractor

    lenet = models.load("lenet5")
    img = _image(40, 40)
    fm = features.feature_maps(lenet.model, lenet.preprocess(img), mean=lenet.spec.mean, std=lenet.spec.std)
    nodes = {"conv1": "conv1", "pool2": "pool2", "fc1": "fc1", "fc2": "fc2"}
    extractor = create_feature_extractor(lenet.model, return_nodes=nodes)
    with torch.no_grad():
        ref = extractor(lenet.preprocess(img))
    for name in nodes:
        expected = ref[name][0].numpy()
        got = fm.maps[name]
        if expected.ndim == 1:
            expected = expected[:, None, None]
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fm.logits, ref["fc2"][0].numpy(), rtol=1e-5, atol=1e-6)
    assert fm.maps["conv1"].shape == (6, 28, 28) and fm.input_shape == (1, 1, 32, 32)
    np.testing.assert_array_equal(fm.view, lenet.model_view(img))  # the picture shown beside the maps


def test_channel_stats_and_ranking() -> None:
    rng = np.random.default_rng(0)
    fmap = rng.normal(size=(5, 4, 3)).astype(np.float32)
    fmap[2] = 0
    stats = features.feature_map_stats(fmap)
    np.testing.assert_allclose(stats.mean, fmap.mean(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_allclose(stats.max, fmap.max(axis=(1, 2)))
    np.testing.assert_allclose(stats.std, fmap.std(axis=(1, 2)), rtol=1e-5)
    assert stats.zero_fraction[2] == 1.0
    order = features.rank_channels(fmap)
    assert list(order) == list(np.argsort(-fmap.mean(axis=(1, 2)), kind="stable"))


def test_channel_stats_of_a_relu_map_against_plain_python() -> None:
    """Every statistic, min and zero share included, per channel from Python's statistics module."""
    import statistics

    rng = np.random.default_rng(3)
    c, h, w = 6, 5, 7
    fmap = np.maximum(rng.normal(size=(c, h, w)), 0).astype(np.float32)  # a ReLU'd map: about half zeros
    fmap[1] += 0.5  # no zeros, min > 0
    fmap[4] = -np.abs(fmap[4]) - 0.25  # before the ReLU: negative min, no zeros
    fmap[5, :2] = 0  # at least 2 whole rows off
    stats = features.feature_map_stats(fmap)
    for k in range(c):
        values = [float(v) for v in fmap[k].ravel()]
        assert stats.mean[k] == pytest.approx(statistics.fmean(values), rel=1e-6, abs=1e-7)
        assert stats.std[k] == pytest.approx(statistics.pstdev(values), rel=1e-5)  # population std (ddof 0)
        assert stats.min[k] == min(values) and stats.max[k] == max(values)
        assert stats.zero_fraction[k] == sum(v == 0 for v in values) / (h * w)
    assert stats.min[1] >= 0.5 and stats.min[4] < 0 and stats.zero_fraction[1] == stats.zero_fraction[4] == 0
    assert 0 < stats.zero_fraction[0] < 1 and stats.zero_fraction[5] >= 2 * w / (h * w)


def _python_rank(fmap: np.ndarray, key) -> list[int]:
    """Most active first, ties by channel number, in plain Python."""
    per_channel = [key([float(v) for v in fmap[c].ravel()]) for c in range(fmap.shape[0])]
    return sorted(range(fmap.shape[0]), key=lambda c: (-per_channel[c], c))


def test_rank_channels_orders_by_mean_or_max_with_ties_by_index() -> None:
    # Whole numbers over 4 cells: every mean is exact, so equal means really tie.
    fmap = np.array(
        [
            [[1, 1], [1, 1]],  # mean 1, max 1
            [[0, 0], [0, 8]],  # mean 2, max 8
            [[2, 2], [2, 2]],  # mean 2, max 2
            [[4, 0], [0, 0]],  # mean 1, max 4
            [[0, 0], [0, 8]],  # mean 2, max 8 (a copy of channel 1)
            [[-1, 3], [3, 3]],  # mean 2, max 3
        ],
        dtype=np.float32,
    )
    by_mean = features.rank_channels(fmap)
    assert list(by_mean) == _python_rank(fmap, lambda v: sum(v) / len(v)) == [1, 2, 4, 5, 0, 3]
    by_max = features.rank_channels(fmap, by="max")
    assert list(by_max) == _python_rank(fmap, max) == [1, 4, 3, 5, 2, 0]
    for order, key in ((by_mean, fmap.mean(axis=(1, 2))), (by_max, fmap.max(axis=(1, 2)))):
        ranked = key[order]
        assert (np.diff(ranked) <= 0).all()  # non-increasing
        for a, b in itertools.pairwise(order):  # equal keys keep ascending channel order
            assert key[a] > key[b] or a < b
    with pytest.raises(ValueError, match="by must be"):
        features.rank_channels(fmap, by="median")


def test_rank_channels_on_a_random_map_is_a_permutation_in_python_order() -> None:
    rng = np.random.default_rng(11)
    fmap = np.maximum(rng.normal(size=(9, 4, 6)), 0).astype(np.float32)
    assert sorted(features.rank_channels(fmap)) == list(range(9))
    assert list(features.rank_channels(fmap)) == _python_rank(fmap, lambda v: sum(v) / len(v))
    assert list(features.rank_channels(fmap, by="max")) == _python_rank(fmap, max)


# --- render -----------------------------------------------------------------------------------------------


def test_colorize_ends_of_the_scale() -> None:
    out = render.colorize(np.array([[0.0, 1.0]]))
    assert out.shape == (1, 2, 3) and out.dtype == np.uint8
    assert tuple(out[0, 0]) == (68, 1, 84)  # viridis' first colour (#440154)
    assert tuple(out[0, 1]) == (253, 231, 37)  # viridis' last colour (#fde725)
    assert (render.colorize(np.ones((2, 2))) == render.colorize(np.zeros((2, 2)))).all()


def test_channel_grid_puts_each_channel_in_its_cell() -> None:
    rng = np.random.default_rng(1)
    fmap = rng.random((5, 4, 4)).astype(np.float32)
    order = np.array([3, 0, 4, 1, 2])
    grid = render.channel_grid(fmap, order, max_channels=4, cell=8, gap=2)
    assert grid.channels == (3, 0, 4, 1) and grid.cols == 2
    step = 8 + 2
    for k, c in enumerate(grid.channels):
        r, q = divmod(k, grid.cols)
        tile = grid.image[r * step : r * step + 8, q * step : q * step + 8]
        expected = np.repeat(np.repeat(render.colorize(fmap[c]), 2, axis=0), 2, axis=1)
        np.testing.assert_array_equal(tile, expected)


@pytest.mark.parametrize(("size", "cell"), [(7, 16), (112, 64), (56, 64), (3, 3), (13, 5)])
def test_channel_grid_cells_match_pil_nearest(size: int, cell: int) -> None:
    """Up-, down- and odd-factor scaling agree with colouring one channel and resizing it with PIL."""
    rng = np.random.default_rng(size)
    fmap = rng.standard_normal((3, size, size)).astype(np.float32)
    fmap[1] = 2.5  # a constant channel becomes the lowest colour, as colorize does
    grid = render.channel_grid(fmap, max_channels=3, cell=cell, gap=1)
    step = cell + 1
    for k, c in enumerate(grid.channels):
        r, q = divmod(k, grid.cols)
        tile = grid.image[r * step : r * step + cell, q * step : q * step + cell]
        pil = Image.fromarray(render.colorize(fmap[c])).resize((cell, cell), Image.Resampling.NEAREST)
        np.testing.assert_array_equal(tile, np.asarray(pil))


# Plotly.py's named "Jet" scale (what a figure's colorscale="Jet" becomes), written out: evenly spaced stops.
_JET = [
    (0.0, (0, 0, 131)),
    (0.2, (0, 60, 170)),
    (0.4, (5, 255, 255)),
    (0.6, (255, 255, 0)),
    (0.8, (250, 0, 0)),
    (1.0, (128, 0, 0)),
]


def _jet(heat: np.ndarray) -> np.ndarray:
    """(H, W) in 0..1 -> (H, W, 3) float, linear between Jet's stops at the 256 levels of an 8-bit table."""
    levels = np.round(np.clip(heat, 0, 1) * 255) / 255
    pos = [p for p, _ in _JET]
    return np.stack([np.interp(levels, pos, [rgb[ch] for _, rgb in _JET]) for ch in range(3)], axis=-1)


def test_overlay_blends() -> None:
    base = Image.new("RGB", (4, 4), (0, 0, 0))
    heat = np.zeros((4, 4), np.float32)
    out = np.asarray(render.overlay(base, heat, alpha=0.0))
    assert (out == 0).all()


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.75, 1.0])
def test_overlay_is_the_weighted_mean_of_image_and_jet_heat(alpha: float) -> None:
    """Same-size base: out = (1 - alpha) * base + alpha * jet(heat), per pixel and channel."""
    h, w = 6, 9  # not square: a transposed heat map would not fit
    base = np.asarray(_image(h, w, seed=4))
    yy, xx = np.mgrid[0:h, 0:w]
    heat = (xx / (w - 1) * 0.7 + yy / (h - 1) * 0.3).astype(np.float32)  # 0 at top-left .. 1 at bottom-right
    out = render.overlay(Image.fromarray(base), heat, alpha=alpha, cmap="Jet")
    assert out.size == (w, h) and out.mode == "RGB"
    expected = (1 - alpha) * base + alpha * _jet(heat)
    np.testing.assert_allclose(np.asarray(out, dtype=np.float64), expected, atol=1.5)  # 8-bit rounding
    assert np.array_equal(render.colorize(heat, "Jet", 0, 1)[0, 0], [0, 0, 131])  # heat 0: Jet's dark blue
    if alpha == 0:
        np.testing.assert_array_equal(np.asarray(out), base)
    if alpha == 1:
        np.testing.assert_array_equal(np.asarray(out), render.colorize(heat, "Jet", 0, 1))


def test_overlay_resizes_the_image_to_the_heat_map() -> None:
    h, w = 5, 8
    heat = np.linspace(0, 1, h * w, dtype=np.float32).reshape(h, w)
    # A constant photo of another size and shape resizes to the same constant: the blend is exact.
    photo = Image.new("RGB", (31, 17), (200, 40, 90))
    out = render.overlay(photo, heat, alpha=0.4, cmap="Jet")
    assert out.size == (w, h)
    expected = 0.6 * np.array([200, 40, 90]) + 0.4 * _jet(heat)
    np.testing.assert_allclose(np.asarray(out, dtype=np.float64), expected, atol=1.5)
    # A split-colour photo, left half red, right half blue: the left of the result stays red-side.
    split = np.zeros((20, 32, 3), np.uint8)
    split[:, :16] = (255, 0, 0)
    split[:, 16:] = (0, 0, 255)
    plain = np.asarray(render.overlay(split, heat, alpha=0.0))  # arrays are accepted as well
    assert plain.shape == (h, w, 3)
    np.testing.assert_array_equal(plain[:, :3], np.broadcast_to([255, 0, 0], (h, 3, 3)))
    np.testing.assert_array_equal(plain[:, -3:], np.broadcast_to([0, 0, 255], (h, 3, 3)))
    gray = np.asarray(render.overlay(np.full((10, 16, 1), 77, np.uint8), heat, alpha=0.0))
    np.testing.assert_array_equal(gray, np.full((h, w, 3), 77))  # one-channel arrays become grey RGB


def test_feature_maps_leave_no_hooks() -> None:
    lenet = models.load("lenet5")
    features.feature_maps(lenet.model, lenet.preprocess(_image()))
    assert sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in lenet.model.modules()) == 0
    assert not any(isinstance(m, nn.Module) and m.training for m in lenet.model.modules())

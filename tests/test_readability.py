"""Issue 15, "hard to read": the pieces behind each fix, checked against independent references."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz import images
from cnnviz.analysis import pixels

# --- Image as data: black and white -------------------------------------------------------------------------


def test_otsu_threshold_matches_scikit_image() -> None:
    """skimage's threshold_otsu(g) = t means "light is g > t"; binarize's dark is g < threshold, so t + 1."""
    filters = pytest.importorskip("skimage.filters")
    rng = np.random.default_rng(0)
    for trial in range(40):
        size = int(rng.integers(2, 17))
        lo, hi = sorted(rng.integers(0, 256, size=2))
        gray = rng.integers(lo, hi + 2, size=(size, size)).clip(0, 255).astype(np.uint8)
        if gray.min() == gray.max():
            continue
        assert pixels.otsu_threshold(gray) == int(filters.threshold_otsu(gray)) + 1, trial


def test_otsu_threshold_splits_two_groups_and_handles_one_grey() -> None:
    gray = np.array([[10, 10, 200, 200]], np.uint8)
    t = pixels.otsu_threshold(gray)
    assert 10 < t <= 200
    np.testing.assert_array_equal(pixels.binarize(gray, t), [[1, 1, 0, 0]])
    flat = np.full((3, 3), 77, np.uint8)
    assert pixels.otsu_threshold(flat) == 78
    with pytest.raises(ValueError, match="empty"):
        pixels.otsu_threshold(np.zeros((0, 0), np.uint8))


@pytest.mark.parametrize("name", images.sample_names())
def test_default_black_and_white_window_is_neither_empty_nor_full(name: str) -> None:
    """The page's default window (8 × 8 at the centre) split at its Otsu threshold has both colours."""
    image = images.load_sample(name)
    w, h = image.size
    size = 8
    region = pixels.pixel_region(image, min(h // 2, h - size), min(w // 2, w - size), size)
    binary = pixels.binarize(region.gray, pixels.otsu_threshold(region.gray))
    if region.gray.min() == region.gray.max():
        pytest.skip(f"{name}'s centre is a single grey")
    assert 0 < binary.sum() < binary.size, name
    # The old fixed 128 left at least one sample's window a single colour (the "looks empty").

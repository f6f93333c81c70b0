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


# --- Convolution: error sentences ------------------------------------------------------------------------


def test_plain_pooling_too_big_for_its_input_names_only_window_and_input() -> None:
    """The pooling tab has no padding or dilation, so its sentence names neither."""
    from cnnviz.analysis import conv

    for kind in conv.POOL_KINDS:
        with pytest.raises(conv.ConvSettingsError) as caught:
            conv.pool2d(np.zeros((2, 2)), kind, 4, 2)
        assert caught.value.key == "pool_too_large"
        text = str(caught.value).lower()
        assert "4×4" in text and "2×2" in text
        assert "dilation" not in text and "padding" not in text and "padded" not in text
    # With padding or dilation given, the general sentence (which names them) stays.
    with pytest.raises(conv.ConvSettingsError, match="dilation 2"):
        conv.pool_output_size(3, 3, 1, 0, 2)


def test_every_convolution_error_has_a_korean_sentence() -> None:
    """Each sentence of conv.ERROR_MESSAGES (the transposed-convolution size error among them) in Korean."""
    import string

    from cnnviz.analysis import conv
    from cnnviz.ui.text import TEXT, tr

    for key, english in conv.ERROR_MESSAGES.items():
        fields = {name for _, name, _, _ in string.Formatter().parse(english) if name}
        params = dict.fromkeys(fields, 3)
        assert f"converr.{key}" in TEXT, key
        korean = tr(f"converr.{key}", "ko", **params)
        assert korean != tr(f"converr.{key}", "en", **params), key
        assert any("\uac00" <= ch <= "\ud7a3" for ch in korean), key  # Hangul syllables


def test_the_transposed_convolution_size_error_reaches_a_korean_page_in_korean(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cnnviz.analysis import conv
    from cnnviz.ui import feedback

    with pytest.raises(conv.ConvSettingsError) as caught:
        conv.transposed_output_size(1, 1, 1, 3)
    monkeypatch.setattr(feedback, "language", lambda: "ko")
    monkeypatch.setattr("cnnviz.ui.text.language", lambda: "ko")
    assert feedback.explain(caught.value) == "이 설정에서는 전치 합성곱의 출력 크기가 -5로, 1보다 작습니다."


# --- charts behind the fixes --------------------------------------------------------------------------------


def test_channel_colorscale_runs_black_to_the_channel_and_names_a_bad_channel() -> None:
    from cnnviz import charts

    assert charts.channel_colorscale(0) == [[0.0, "rgb(0,0,0)"], [1.0, "rgb(255,0,0)"]]
    assert charts.channel_colorscale(2)[-1][1] == "rgb(0,0,255)"
    with pytest.raises(ValueError, match="channel"):
        charts.channel_colorscale(3)


def test_conv_animation_needs_one_entry_per_step_and_wraps_the_sum_losslessly() -> None:
    from cnnviz import charts
    from cnnviz.analysis import conv

    steps = conv.conv2d_steps(np.arange(16.0).reshape(4, 4), np.ones((3, 3)))
    one = steps.step(0)
    with pytest.raises(ValueError, match="one entry per step"):
        charts.conv_animation(
            steps.padded[0], [one.products[0]], [], [(0, 0)], steps.feature_map, ["s"], ("a", "b", "c")
        )
    formula = steps.formula(0, max_terms=12)
    fig = charts.conv_animation(
        steps.padded[0],
        [steps.step(k).products[0] for k in range(steps.n_steps)],
        [(steps.step(k).top, steps.step(k).left, 3) for k in range(steps.n_steps)],
        [(steps.step(k).row, steps.step(k).col) for k in range(steps.n_steps)],
        steps.feature_map,
        [steps.formula(k, max_terms=12) for k in range(steps.n_steps)],
        ("a", "b", "c"),
    )
    (note,) = [a for a in fig.frames[0].layout.annotations if "<br>" in a.text or "×" in a.text]
    assert note.text.replace("<br>+ ", " + ") == formula
    # The output panel's axes span the whole feature map even while most of it is still empty.
    assert tuple(fig.layout.xaxis3.range) == (-0.5, steps.feature_map.shape[1] - 0.5)

"""Issue 15, "hard to read": each page fix seen through AppTest (the layout: tests/test_browser_layout.py)."""

from __future__ import annotations

import json

import numpy as np
from pagetest import assert_ok, open_page, widget
from plotly.colors import unlabel_rgb

from cnnviz import images, render
from cnnviz.analysis import pixels


def _chart(at, key: str) -> dict:
    """The plotly figure (as JSON) of the chart drawn with `key`."""
    found = [c for c in at.get("plotly_chart") if c.proto.id.endswith(key) or f"-{key}" in c.proto.id]
    assert found, f"no chart with key {key!r}"
    return json.loads(found[0].proto.spec)


def _colour_at(scale: list, v: float) -> np.ndarray:
    """The colour a two-stop plotly scale gives the value v in 0..1."""
    (a, lo), (b, hi) = scale[0], scale[-1]
    return np.array(unlabel_rgb(lo)) + (v - a) / (b - a) * (
        np.array(unlabel_rgb(hi)) - np.array(unlabel_rgb(lo))
    )


# --- Image as data ------------------------------------------------------------------------------------------


def test_channel_matrices_draw_a_larger_value_brighter_as_the_channel_pictures_do() -> None:
    at = open_page("pages/1_Image_as_data.py")
    assert_ok(at)
    image = images.load_sample("chelsea")
    tinted = render.channel_images(image)
    for c in range(3):
        trace = _chart(at, f"px_channel_{c}")["data"][0]
        scale = trace["colorscale"]
        assert len(scale) == 2, "two stops: black to the channel colour"
        for v in (0, 64, 200, 255):
            # The pictures show value v of channel c as that channel at v, the others 0.
            want = np.zeros(3)
            want[c] = v
            np.testing.assert_allclose(_colour_at(scale, v / 255), want, atol=1.0)
        assert (trace["zmin"], trace["zmax"]) == (0, 255)
        assert tinted[c][..., c].max() > 0


def test_black_and_white_starts_from_the_windows_otsu_split_and_is_not_empty() -> None:
    at = open_page("pages/1_Image_as_data.py")
    assert_ok(at)
    image = images.load_sample("chelsea")
    w, h = image.size
    region = pixels.pixel_region(image, h // 2, w // 2, 8)
    threshold = at.slider(key="px_threshold")
    assert threshold.value == pixels.otsu_threshold(region.gray)
    binary = np.array(_chart(at, "px_binary")["data"][0]["text"], dtype=int)
    assert 0 < binary.sum() < binary.size, "the default picture has both black and white"
    # Turned off, the slider is the person's: moving it changes the picture.
    at.toggle(key="px_threshold_auto").set_value(False).run()
    at.slider(key="px_threshold").set_value(256).run()
    assert_ok(at)
    assert np.array(_chart(at, "px_binary")["data"][0]["text"], dtype=int).min() == 1

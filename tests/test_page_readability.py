"""Issue 15, "hard to read": each page fix seen through AppTest (the layout: tests/test_browser_layout.py)."""

from __future__ import annotations

import base64
import json

import numpy as np
from pagetest import assert_ok, open_page, widget
from plotly.colors import hex_to_rgb, unlabel_rgb

from cnnviz import images, render
from cnnviz.analysis import pixels
from cnnviz.ui.text import tr


def _chart(at, key: str) -> dict:
    """The plotly figure (as JSON) of the chart drawn with `key`."""
    found = [c for c in at.get("plotly_chart") if c.proto.id.endswith(key) or f"-{key}" in c.proto.id]
    assert found, f"no chart with key {key!r}"
    return json.loads(found[0].proto.spec)


def _plotted(value: object) -> np.ndarray:
    """A plotly array as the browser gets it: a list, or a base64 typed array {"dtype", "bdata", "shape"}."""
    if isinstance(value, dict) and "bdata" in value:
        arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        return arr.reshape([int(n) for n in str(value["shape"]).split(",")]) if "shape" in value else arr
    return np.asarray(value, dtype=np.float64)


def _rgb(colour: str) -> tuple[float, ...]:
    return tuple(hex_to_rgb(colour)) if colour.startswith("#") else unlabel_rgb(colour)


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


# --- Feature maps -------------------------------------------------------------------------------------------


def test_a_vector_layer_is_drawn_as_bars_of_its_own_numbers() -> None:
    """classifier.1 of MobileNetV2 is (1000, 1, 1): 1000 bars, the layer's output run by hand."""
    import torch

    from cnnviz import models

    at = open_page("pages/4_Feature_maps.py")
    at.selectbox(key="layer").set_value("classifier.1").run()
    assert_ok(at)
    loaded = models.load("mobilenet_v2")
    with torch.no_grad():
        logits = loaded.model(loaded.preprocess(images.load_sample("chelsea")))[0].double().numpy()
    bars = _chart(at, "fm_vector")["data"][0]
    assert bars["type"] == "bar"
    np.testing.assert_allclose(_plotted(bars["y"]), logits, rtol=1e-4, atol=1e-4)
    assert not [s for s in at.slider if s.key == "n_channels"], "no grid of identical 1 × 1 squares"
    # A map layer keeps its grid.
    at.selectbox(key="layer").set_value("features.0.0").run()
    assert_ok(at)
    assert [s for s in at.slider if s.key == "n_channels"]


def test_grad_cam_overlay_and_raw_map_share_one_colour_map() -> None:
    """The overlay's colours at heat 0 and 1 are the raw chart's first and last (it was jet on viridis)."""
    at = open_page("pages/4_Feature_maps.py")
    assert_ok(at)
    scale = _chart(at, "fm_cam_raw")["data"][0]["colorscale"]
    heat = np.array([[0.0, 1.0]], np.float32)
    blended = np.asarray(render.overlay(np.zeros((1, 2, 3), np.uint8), heat, alpha=1.0))
    np.testing.assert_allclose(blended[0, 0], _rgb(scale[0][1]), atol=1)
    np.testing.assert_allclose(blended[0, 1], _rgb(scale[-1][1]), atol=1)


# --- Convolution and pooling --------------------------------------------------------------------------------


def _open_tab(at) -> int | None:
    """The index of the tab the Convolution page's tab bar opens on (None: the first, untracked)."""

    def walk(node):
        proto = getattr(node, "proto", None)
        if (
            proto is not None
            and type(proto).__name__ == "Block"
            and proto.WhichOneof("type") == "tab_container"
        ):
            yield proto.tab_container
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    (bar,) = list(walk(at._tree))
    return bar.default_tab_index if bar.id else None


def test_quiz_answer_is_hidden_until_asked_for() -> None:
    at = open_page("pages/2_Convolution_and_pooling.py")
    assert_ok(at)
    quiz_answer = [m for m in at.markdown if "(H, W, C)" in m.value and "→" in m.value]
    assert quiz_answer, "the answer is on the page"
    (answer_box,) = [e for e in at.expander if any(m.value == quiz_answer[0].value for m in e.markdown)]
    assert answer_box.proto.expanded is False


def test_the_open_tab_survives_a_language_switch() -> None:
    at = open_page("pages/2_Convolution_and_pooling.py")
    at.session_state["conv_tab"] = "pool"  # what clicking the Pooling tab stores (its id, not its label)
    at.run()
    assert_ok(at)
    assert _open_tab(at) == 3
    widget(at, "segmented_control", "lang").set_value("ko").run()
    assert_ok(at)
    assert _open_tab(at) == 3, "still Pooling, now labelled in Korean"
    assert [tab.label for tab in at.tabs][3] == tr("conv.tab.pool", "ko")


def test_play_is_a_browser_animation_with_pause_and_speeds() -> None:
    """No server rerun per step: one figure whose frames are the steps, played by plotly in the browser."""
    import time

    from cnnviz import charts
    from cnnviz.analysis import conv

    at = open_page("pages/2_Convolution_and_pooling.py")
    assert not [b for b in at.button if b.key == "conv_play"]
    started = time.perf_counter()
    at.toggle(key="conv_animate").set_value(True).run()
    elapsed = time.perf_counter() - started
    assert_ok(at)
    fig = _chart(at, "conv_animation")
    x = np.round(conv.downsize_gray(images.load_sample("chelsea"), 6), 2)
    steps = conv.conv2d_steps(x, conv.kernel_preset("identity", 3))
    assert len(fig["frames"]) == steps.n_steps == 16
    for k in (0, 5, 15):
        products, partial = fig["frames"][k]["data"]
        np.testing.assert_allclose(_plotted(products["z"]), steps.step(k).products[0])
        filled = np.isfinite(_plotted(partial["z"]).astype(float))
        assert filled.sum() == k + 1  # the feature map fills in up to this step
    (menu,) = fig["layout"]["updatemenus"]
    durations = [b["args"][1]["frame"]["duration"] for b in menu["buttons"] if b["args"][0] is None]
    assert sorted(durations) == sorted(charts.ANIMATION_SPEEDS.values())  # play at each speed
    pauses = [b for b in menu["buttons"] if b["args"][0] == [None]]
    assert pauses and pauses[0]["args"][1]["mode"] == "immediate"  # plotly's pause
    assert len(fig["layout"]["sliders"][0]["steps"]) == 16
    assert elapsed < 15, "one rerun, not one per step"


def test_pooling_too_big_says_so_without_naming_padding_or_dilation() -> None:
    at = open_page("pages/2_Convolution_and_pooling.py")
    at.slider(key="pool_size").set_value(2).run()
    at.slider(key="pool_k").set_value(4).run()
    assert_ok(at)
    said = [e.value for e in at.error]
    assert tr("converr.pool_too_large", "en", kernel=4, size=2) in said
    assert not any("dilation" in s or "padd" in s for s in said)


# --- Share link ---------------------------------------------------------------------------------------------


def _share_url(at) -> str:
    (link,) = [m.value for m in at.sidebar.markdown if m.value.startswith("[") and "?" in m.value]
    return link[1 : link.index("](")]  # [url](url)


def test_share_link_carries_the_layer_and_opens_that_view() -> None:
    from urllib.parse import parse_qs, urlsplit

    at = open_page("pages/4_Feature_maps.py")
    layer = "features.3.conv.0.0"
    at.selectbox(key="layer").set_value(layer).run()
    assert_ok(at)
    query = {k: v[0] for k, v in parse_qs(urlsplit(_share_url(at)).query).items()}
    assert query["layer"] == layer and query["model"] == "mobilenet_v2" and query["image"] == "chelsea"
    fresh = open_page("pages/4_Feature_maps.py", **query)  # a new visitor following the link
    assert_ok(fresh)
    assert fresh.selectbox(key="layer").value == layer


def test_share_link_says_an_upload_cannot_travel_in_it() -> None:
    import io

    from PIL import Image

    at = open_page("pages/4_Feature_maps.py")
    note = tr("side.share_own_image", "en", name="chelsea")
    assert note not in [c.value for c in at.sidebar.caption]
    widget(at, "segmented_control", "src").set_value("upload").run()
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 100, 50)).save(buf, "PNG")
    at.file_uploader(key="upload").upload("mine.png", buf.getvalue(), "image/png").run()
    assert_ok(at)
    assert note in [c.value for c in at.sidebar.caption]
    assert "image=chelsea" in _share_url(at)


# --- Detection ----------------------------------------------------------------------------------------------


def test_use_yolo_mini_logs_no_session_state_warning(no_network, torch_home, monkeypatch) -> None:
    """Streamlit warns when a widget gets a default and a Session State value in one run; the button's switch
    must give the sidebar's model picker only one of them. (AppTest has no runtime: the check is let run.)"""
    from streamlit.elements.lib import policies

    warned: list[str] = []
    monkeypatch.setattr(policies.runtime, "exists", lambda: True)
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)
    monkeypatch.setattr(policies._LOGGER, "warning", lambda msg, *args, **kw: warned.append(msg % args))
    at = open_page("pages/7_Detection.py", detector="fasterrcnn_mobilenet_v3_large_320_fpn")
    assert_ok(at)
    at.button(key="det_use_yolo-mini").click().run()
    assert_ok(at)
    assert widget(at, "selectbox", "detector").value == "yolo-mini"
    assert not [w for w in warned if "Session State" in w], warned


# --- Korean: the uploader -----------------------------------------------------------------------------------


def test_the_uploaders_own_english_words_are_explained_in_korean() -> None:
    """Streamlit 1.67 lets a page set the uploader's label and help, not "Drag and drop…"/"Upload"/"per file":
    the help says those in the chosen language, with the configured size limit."""
    import streamlit as st

    at = open_page("app.py", lang="ko")
    widget(at, "segmented_control", "src").set_value("upload").run()
    assert_ok(at)
    uploader = at.get("file_uploader")[0]
    mb = st.get_option("server.maxUploadSize")
    assert uploader.proto.label == tr("side.upload", "ko")
    assert uploader.proto.help == tr("side.upload_help", "ko", mb=mb)
    assert f"{mb}MB" in uploader.proto.help and "업로드" in uploader.proto.help

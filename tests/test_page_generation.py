"""The Generation page through the real router (app.py) with AppTest: default, every control, Korean, runs."""

from __future__ import annotations

import pytest
from pagetest import assert_ok as _ok
from pagetest import open_page
from pagetest import widget as _widget
from streamlit.testing.v1 import AppTest

from cnnviz import images
from cnnviz.analysis import style
from cnnviz.ui.sidebar import DEFAULT_SAMPLE
from cnnviz.ui.text import tr

PAGE = "pages/9_Generation.py"


def _page(**query: str) -> AppTest:
    return open_page(PAGE, **query)


def _backbone_ready(at: AppTest) -> None:
    """Without the weight pack the page offers untrained weights: take them, so the controls appear."""
    boxes = [c for c in at.checkbox if c.key == "style_untrained"]
    if boxes:
        boxes[0].check().run()
        _ok(at)


@pytest.fixture(scope="module")
def at() -> AppTest:
    app = _page()
    _ok(app)
    return app


def test_default_render(at: AppTest) -> None:
    assert at.title[0].value == tr("page.generation", "en")
    assert _widget(at, "selectbox", "generator").value == "dcgan"
    headers = [h.value for h in at.header]
    assert tr("gen.gan.title", "en") in headers
    assert tr("gen.style.title", "en") in headers
    # The generator's layer table comes from a real forward pass: 1×1 latent to 32×32 image.
    table = at.dataframe[0].value  # the only table on the page
    shapes = list(table[tr("gen.gan.col.shape", "en")])
    assert shapes[0] == "32×1×1"
    assert shapes[-1] == "1×32×32"
    assert "16×16×16" in shapes
    # Which backbone style transfer uses is said on the page.
    captions = " ".join(c.value for c in at.caption)
    assert "MobileNetV2" in captions or "VGG" in captions


def test_gan_controls(at: AppTest) -> None:
    at.number_input(key="gan_seed").set_value(7).run()
    _ok(at)
    at.select_slider(key="gan_count").set_value(8).run()
    _ok(at)
    at.number_input(key="walk_a").set_value(3).run()
    at.number_input(key="walk_b").set_value(4).run()
    at.slider(key="walk_steps").set_value(5).run()
    _widget(at, "radio", "walk_mode").set_value("linear").run()
    _ok(at)
    epochs = at.select_slider(key="snap_epoch").options
    at.select_slider(key="snap_epoch").set_value(epochs[0]).run()
    _ok(at)
    at.selectbox(key="gan_layer").select("deconv2").run()
    _ok(at)
    captions = [img.caption for element in at.image for img in element.proto.imgs]
    assert tr("gen.gan.layer_caption", "en", layer="deconv2", c=32, h=8, w=8, seed=7) in captions


def test_live_training_runs(at: AppTest) -> None:
    at.select_slider(key="live_steps").set_value(10).run()
    _widget(at, "radio", "live_start").set_value("bundled").run()
    at.button(key="live_train").click().run()
    _ok(at)
    assert any(s.value.startswith("Steps trained: 10, in ") for s in at.success), [
        s.value for s in at.success
    ]
    # The whole sentence: the 10 steps asked for, and the run's own time.
    record = at.session_state["_gen_live"]
    assert (record.step, record.steps) == (10, 10)
    assert len(record.d_loss) == len(record.g_loss) == 10
    assert record.seconds > 0
    expected = tr("gen.gan.live_done", "en", step=10, seconds=record.seconds)
    assert expected == f"Steps trained: 10, in {record.seconds:.1f} s."
    assert expected in [s.value for s in at.success]


def test_style_transfer_runs_with_tiny_budget(at: AppTest) -> None:
    _backbone_ready(at)
    at.select_slider(key="style_weight").set_value(100.0).run()
    at.slider(key="style_steps").set_value(2).run()
    at.select_slider(key="style_size").set_value(64).run()
    layers = at.multiselect(key="style_layers")
    layers.set_value(layers.value[:2]).run()
    at.selectbox(key="style_content_layer").select(at.selectbox(key="style_content_layer").options[3]).run()
    _widget(at, "selectbox", "style_image").select("grass").run()
    _ok(at)
    at.button(key="style_run").click().run()
    _ok(at)
    done = [s.value for s in at.success if s.value.startswith("Steps: 2, at ")]
    assert done, [s.value for s in at.success]
    assert "×" in done[0]
    # The size shown is the content image (the default sample) with its longer side at the chosen 64 pixels.
    width, height = images.load_sample(DEFAULT_SAMPLE).size
    scale = 64 / max(width, height)
    w, h = round(width * scale), round(height * scale)
    assert max(w, h) == 64 and min(w, h) < 64
    record = at.session_state["_gen_style"]
    assert record.image.shape == (h, w, 3)
    assert (record.step, record.steps, len(record.losses)) == (2, 2, 2)
    assert record.backbone in {b.title for b in style.BACKBONES.values()}
    assert record.style_weight == 100.0  # the chosen style weight
    expected = tr("gen.style.done", "en", steps=2, w=w, h=h, seconds=record.seconds, backbone=record.backbone)
    assert expected.startswith(f"Steps: 2, at {w}×{h} pixels, in ")
    assert done == [expected]
    assert at.get("plotly_chart"), "the loss chart is drawn"


def test_style_stop_keeps_the_partial_result(at: AppTest) -> None:
    at.button(key="style_stop").click().run()
    _ok(at)
    # A finished run stays finished; the stop flag is only read between steps of a running transfer.
    assert [s.value for s in at.success if s.value.startswith("Steps: 2, at ")]


def test_no_style_layers_is_explained(at: AppTest) -> None:
    at.multiselect(key="style_layers").set_value([]).run()
    _ok(at)
    assert any(w.value == tr("gen.style.need_layers", "en") for w in at.warning)


def test_korean() -> None:
    at = _page(lang="ko")
    _ok(at)
    assert at.title[0].value == tr("page.generation", "ko")
    assert tr("gen.gan.title", "ko") in [h.value for h in at.header]
    assert tr("gen.style.title", "ko") in [h.value for h in at.header]

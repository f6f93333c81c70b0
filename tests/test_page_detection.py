"""The Detection page through the real router (app.py): every control, Korean, MTCNN, missing weights."""

from __future__ import annotations

import pytest
from pagetest import assert_ok as _ok
from pagetest import open_page
from pagetest import widget as _widget
from streamlit.testing.v1 import AppTest

from cnnviz import models
from cnnviz.ui.text import tr

PAGE = "pages/7_Detection.py"


def _page(**query: str) -> AppTest:
    return open_page(PAGE, **query)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_grid_detector_every_control() -> None:
    at = _page(detector="yolo-mini")
    _ok(at)
    assert at.title[0].value == tr("page.detection", "en")
    assert not at.error
    # A held-out shapes scene by default; the grid section shows the cells and the class map.
    assert any(tr("det.scene_caption", "en", seed=1_000_005, objects="")[:-2] in c.value for c in at.caption)
    assert any(h.value == tr("det.grid.title", "en") for h in at.subheader)
    metrics = _metrics(at)
    assert metrics[tr("det.candidates", "en")] == "72"  # 6 × 6 cells × 2 boxes
    kept = int(metrics[tr("det.kept", "en")])
    assert kept >= 1

    at.slider(key="det_score").set_value(0.05).run()
    _ok(at)
    assert int(_metrics(at)[tr("det.above", "en")]) >= int(_metrics(at)[tr("det.kept", "en")]) >= kept
    at.slider(key="det_iou").set_value(1.0).run()  # NMS keeps everything above the threshold
    _ok(at)
    metrics = _metrics(at)
    assert metrics[tr("det.above", "en")] == metrics[tr("det.kept", "en")]
    at.number_input(key="det_seed").set_value(1_000_003).run()
    _ok(at)
    at.toggle(key="det_scene").set_value(False).run()  # the sidebar's photo instead
    _ok(at)
    at.selectbox(key="det_cmp_two").select("mtcnn").run()
    at.toggle(key="det_cmp_run").set_value(True).run()
    _ok(at)
    assert len(at.dataframe) >= 2  # the boxes and the comparison table


def test_korean() -> None:
    at = _page(detector="yolo-mini", lang="ko")
    _ok(at)
    assert at.title[0].value == tr("page.detection", "ko")
    assert any(m.value == tr("det.intro", "ko") for m in at.markdown)
    assert any(h.value == tr("det.grid.title", "ko") for h in at.subheader)


@pytest.mark.skipif(not models.weights_present("mtcnn"), reason="the MTCNN weight pack is not here")
def test_mtcnn_cascade_on_the_astronaut() -> None:
    at = _page(detector="mtcnn", image="astronaut")
    _ok(at)
    assert any(h.value == tr("det.cascade.title", "en") for h in at.subheader)
    assert _metrics(at)[tr("det.kept", "en")] == "1"
    scales = at.select_slider(key="det_scale")
    scales.set_value(scales.options[2]).run()
    _ok(at)


def test_missing_weights_sentence_and_untrained_two_stage(no_network, torch_home) -> None:
    name = "fasterrcnn_mobilenet_v3_large_320_fpn"
    at = _page(detector=name)
    _ok(at)
    assert at.error, "missing pretrained weights are said in a sentence"
    assert any("yolo-mini" in i.value for i in at.info), "the page offers the detectors that are here"
    at.checkbox(key="untrained").check().run()
    _ok(at)
    assert any(w.value == tr("det.untrained_note", "en") for w in at.warning)
    assert any(h.value == tr("det.two.title", "en") for h in at.subheader)
    at.slider(key="det_nprop").set_value(5).run()
    _ok(at)
    # "Use yolo-mini" switches the sidebar's model.
    at.checkbox(key="untrained").uncheck().run()
    at.button(key="det_use_yolo-mini").click().run()
    _ok(at)
    assert _widget(at, "selectbox", "detector").value == "yolo-mini"
    assert any(h.value == tr("det.grid.title", "en") for h in at.subheader)

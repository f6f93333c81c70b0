"""The Detection page through the real router (app.py): every control, Korean, MTCNN, missing weights."""

from __future__ import annotations

import io

import pytest
from pagetest import assert_ok as _ok
from pagetest import open_page
from pagetest import widget as _widget
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnnviz import images, models, render
from cnnviz.analysis import detection
from cnnviz.ui.sidebar import DEFAULT_SAMPLE
from cnnviz.ui.text import tr

PAGE = "pages/7_Detection.py"


def _page(**query: str) -> AppTest:
    return open_page(PAGE, **query)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _comparison(at: AppTest) -> dict | None:
    """The comparison table's columns, or None when it is not drawn."""
    for frame in at.dataframe:
        table = frame.value
        if tr("det.compare.col.model", "en") in table.columns:
            return {column: list(table[column]) for column in table.columns}
    return None


def _direct(name: str, image: Image.Image, score: float, iou: float) -> detection.Detections:
    """What the page should show: cnnviz's detect and filter_detections run here, outside the page."""
    return detection.filter_detections(detection.detect_image(models.load(name), image), score, iou)


def _scene(seed: int) -> Image.Image:
    return render.to_image(detection.shapes_scene(seed).image)


def _assert_counts(at: AppTest, expected: detection.Detections) -> None:
    metrics = _metrics(at)
    assert metrics[tr("det.candidates", "en")] == str(expected.candidates)
    assert metrics[tr("det.above", "en")] == str(expected.above_threshold)
    assert metrics[tr("det.kept", "en")] == str(len(expected.boxes))


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
    # The same counts and boxes as detect + filter_detections at the page's defaults (score 0.3, IoU 0.5).
    expected = _direct("yolo-mini", _scene(1_000_005), 0.3, 0.5)
    _assert_counts(at, expected)
    table = at.dataframe[0].value
    assert list(table[tr("det.col.class", "en")]) == list(expected.names)
    assert list(table[tr("det.col.score", "en")]) == [round(float(v), 3) for v in expected.scores]

    at.slider(key="det_score_yolo-mini").set_value(0.05).run()
    _ok(at)
    assert int(_metrics(at)[tr("det.above", "en")]) >= int(_metrics(at)[tr("det.kept", "en")]) >= kept
    _assert_counts(at, _direct("yolo-mini", _scene(1_000_005), 0.05, 0.5))
    at.slider(key="det_iou").set_value(1.0).run()  # NMS keeps everything above the threshold
    _ok(at)
    metrics = _metrics(at)
    assert metrics[tr("det.above", "en")] == metrics[tr("det.kept", "en")]
    _assert_counts(at, _direct("yolo-mini", _scene(1_000_005), 0.05, 1.0))
    at.number_input(key="det_seed").set_value(1_000_003).run()
    _ok(at)
    _assert_counts(at, _direct("yolo-mini", _scene(1_000_003), 0.05, 1.0))
    at.slider(key="det_iou").set_value(0.3).run()
    _ok(at)
    _assert_counts(at, _direct("yolo-mini", _scene(1_000_003), 0.05, 0.3))
    at.toggle(key="det_scene").set_value(False).run()  # the sidebar's photo instead
    _ok(at)
    _assert_counts(at, _direct("yolo-mini", images.load_sample(DEFAULT_SAMPLE), 0.05, 0.3))
    # Boxes reaching past the edge are written as whole pixels, never "-0".
    for box in at.dataframe[0].value[tr("det.col.box", "en")]:
        assert "-0" not in box.split(", "), box
    at.selectbox(key="det_cmp_two").select("mtcnn").run()
    at.toggle(key="det_cmp_run").set_value(True).run()
    _ok(at)
    assert len(at.dataframe) >= 2  # the boxes and the comparison table


def test_default_detector_finds_something_and_each_keeps_its_threshold() -> None:
    at = _page()
    _ok(at)
    assert _widget(at, "selectbox", "detector").value == "yolo-mini"
    assert int(_metrics(at)[tr("det.kept", "en")]) >= 1
    at.slider(key="det_score_yolo-mini").set_value(0.0).run()
    _widget(at, "selectbox", "detector").select("mtcnn").run()
    _ok(at)
    # MTCNN starts from its own threshold, not yolo-mini's 0.
    assert at.slider(key="det_score_mtcnn").value == 0.7


@pytest.mark.skipif(not models.weights_present("mtcnn"), reason="the MTCNN weight pack is not here")
def test_no_candidates_at_all_says_so() -> None:
    at = _page(detector="mtcnn")  # the default cat: no human face
    _ok(at)
    assert _metrics(at)[tr("det.candidates", "en")] == "0"
    assert at.info[0].value == tr("det.nothing", "en") + " " + tr("det.nothing.faces", "en")


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
    _assert_counts(at, _direct("mtcnn", images.load_sample("astronaut"), 0.7, 0.5))
    scales = at.select_slider(key="det_scale")
    scales.set_value(scales.options[2]).run()
    _ok(at)


def test_missing_weights_sentence_and_untrained_two_stage(no_network, torch_home) -> None:
    name = "fasterrcnn_mobilenet_v3_large_320_fpn"
    at = _page(detector=name)
    _ok(at)
    assert at.error, "missing pretrained weights are said in a sentence"
    assert any("yolo-mini" in i.value for i in at.info), "the page offers the detectors that are here"
    at.checkbox(key=f"untrained_{name}").check().run()
    _ok(at)
    assert any(w.value == tr("det.untrained_note", "en") for w in at.warning)
    assert any(h.value == tr("det.two.title", "en") for h in at.subheader)
    at.slider(key="det_nprop").set_value(5).run()
    _ok(at)
    # "Use yolo-mini" switches the sidebar's model.
    at.checkbox(key=f"untrained_{name}").uncheck().run()
    at.button(key="det_use_yolo-mini").click().run()
    _ok(at)
    assert _widget(at, "selectbox", "detector").value == "yolo-mini"
    assert any(h.value == tr("det.grid.title", "en") for h in at.subheader)


def test_run_both_is_off_after_a_detector_without_weights(no_network, torch_home) -> None:
    """After the page stopped for missing weights, the comparison toggle comes back off, as the browser shows
    it, and nothing of the comparison is drawn."""
    at = _page(detector="yolo-mini")
    at.toggle(key="det_cmp_run").set_value(True).run()
    _ok(at)
    assert _comparison(at) is not None
    name = "fasterrcnn_mobilenet_v3_large_320_fpn"
    _widget(at, "selectbox", "detector").select(name).run()
    _ok(at)
    assert at.error
    at.checkbox(key=f"untrained_{name}").check().run()
    _ok(at)
    assert at.toggle(key="det_cmp_run").value is False
    assert _comparison(at) is None
    assert not any(c.proto.id.endswith("-det_cmp_times") for c in at.get("plotly_chart"))


@pytest.mark.skipif(not models.weights_present("mtcnn"), reason="the MTCNN weight pack is not here")
def test_comparison_filters_each_detector_at_its_own_threshold() -> None:
    at = _page(detector="yolo-mini")
    at.toggle(key="det_scene").set_value(False).run()  # the sidebar's photo, which both detectors see
    at.slider(key="det_score_yolo-mini").set_value(0.05).run()
    at.selectbox(key="det_cmp_one").select("yolo-mini").run()
    at.selectbox(key="det_cmp_two").select("mtcnn").run()
    at.toggle(key="det_cmp_run").set_value(True).run()
    _widget(at, "selectbox", "detector").select("mtcnn").run()  # now MTCNN's slider (0.7) is the page's
    _ok(at)
    assert at.slider(key="det_score_mtcnn").value == 0.7
    table = _comparison(at)
    assert table is not None
    photo = images.load_sample(DEFAULT_SAMPLE)
    assert table[tr("det.compare.col.model", "en")] == ["yolo-mini", "mtcnn"]
    assert table[tr("det.compare.col.score", "en")] == [0.05, 0.7]
    yolo_boxes = len(_direct("yolo-mini", photo, 0.05, 0.5).boxes)
    assert yolo_boxes > len(_direct("yolo-mini", photo, 0.7, 0.5).boxes)  # the threshold matters here
    assert table[tr("det.compare.col.boxes", "en")] == [
        yolo_boxes,
        len(_direct("mtcnn", photo, 0.7, 0.5).boxes),
    ]


def test_scene_keeps_its_seed_when_toggled() -> None:
    at = _page(detector="yolo-mini")
    at.number_input(key="det_seed").set_value(1_000_003).run()
    at.toggle(key="det_scene").set_value(False).run()
    at.toggle(key="det_scene").set_value(True).run()
    _ok(at)
    assert at.number_input(key="det_seed").value == 1_000_003
    _assert_counts(at, _direct("yolo-mini", _scene(1_000_003), 0.3, 0.5))


def test_an_upload_wins_over_the_scene_and_the_scene_says_so() -> None:
    at = _page(detector="yolo-mini")
    _ok(at)
    assert at.toggle(key="det_scene").value  # a sample in the sidebar: the scene first
    buf = io.BytesIO()
    _scene(1_000_003).save(buf, "PNG")
    data = buf.getvalue()
    _widget(at, "segmented_control", "src").set_value("upload").run()
    at.file_uploader(key="upload").upload("mine.png", data, "image/png").run()
    _ok(at)
    assert at.toggle(key="det_scene_own").value is False  # the person's own image is the one detected
    _assert_counts(at, _direct("yolo-mini", images.load_image(data), 0.3, 0.5))
    at.toggle(key="det_scene_own").set_value(True).run()
    _ok(at)
    assert tr("det.scene_instead", "en", name="mine.png") in [c.value for c in at.caption]
    _assert_counts(at, _direct("yolo-mini", _scene(1_000_005), 0.3, 0.5))

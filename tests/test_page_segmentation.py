"""The Segmentation page through the real router (app.py) with Streamlit's AppTest."""

from __future__ import annotations

from pagetest import assert_ok as _ok
from pagetest import open_page
from pagetest import widget as _widget
from streamlit.testing.v1 import AppTest

from cnnviz.ui.text import tr
from cnnviz.weights import read_card

PAGE = "pages/8_Segmentation.py"


def _page(**query: str) -> AppTest:
    return open_page(PAGE, **query)


def test_default_render_shows_semantic_instance_and_truth() -> None:
    at = _page()
    _ok(at)
    assert at.title[0].value == tr("page.segmentation", "en")
    assert _widget(at, "selectbox", "segmenter").value == "fcn-mini"
    subheaders = [s.value for s in at.subheader]
    for key in ("seg.semantic", "seg.instance", "seg.truth"):
        assert tr(key, "en") in subheaders
    headers = [h.value for h in at.header]
    assert tr("seg.sizes", "en") in headers and tr("seg.tconv", "en") in headers
    assert len(at.get("image")) == 4  # semantic, instance, and the truth of both
    assert any("96×96" in c.value for c in at.caption)  # the mask is as large as the input
    captions = [c.value for c in at.caption]
    assert tr("seg.mask_size", "en", ih=96, iw=96, mh=96, mw=96) in captions
    # The card's numbers as the card holds them (test_segmentation.py re-measures the card itself).
    card = read_card("fcn-mini")
    assert f"mean IoU {card['held_out_mean_iou']:.3f} on 500 held-out" in " ".join(captions)
    assert tr("seg.card", "en", miou=card["held_out_mean_iou"], count=500) in captions
    assert any(tr("seg.tconv_check", "en", h=5, w=5, ok="yes") == m.value for m in at.markdown)
    assert not at.error


def test_every_control_once() -> None:
    at = _page()
    _ok(at)
    at.slider(key="seg_alpha").set_value(0.9).run()
    _ok(at)
    at.slider(key="seg_threshold").set_value(0.6).run()
    _ok(at)
    at.number_input(key="seg_seed").set_value(1_000_010).run()
    _ok(at)
    for key, value in (("tc_input", 3), ("tc_kernel", 2), ("tc_stride", 3), ("tc_padding", 1)):
        at.number_input(key=key).set_value(value).run()
        _ok(at)
    assert not at.error
    _widget(at, "selectbox", "tc_preset").select("counting").run()
    _ok(at)
    cell = _widget(at, "selectbox", "tc_cell")
    cell.select(cell.options[-1]).run()  # options are shown as "row r, column c (value v)"
    _ok(at)
    # Impossible settings (O = (1 − 1)·1 − 2·1 + 1 = −1) are one sentence, not a traceback.
    for key, value in (("tc_input", 1), ("tc_kernel", 1), ("tc_stride", 1)):
        at.number_input(key=key).set_value(value).run()
    _ok(at)
    assert at.error
    _widget(at, "segmented_control", "seg_source_shapes").set_value("sidebar").run()
    _ok(at)
    assert any(tr("seg.photo_hint", "en") == c.value for c in at.caption)


def test_instance_model_and_korean() -> None:
    at = _page(lang="ko", segmenter="fcn-mini-instance")
    _ok(at)
    assert at.title[0].value == tr("page.segmentation", "ko")
    assert _widget(at, "selectbox", "segmenter").value == "fcn-mini-instance"
    assert tr("seg.instance", "ko") in [s.value for s in at.subheader]
    card = read_card("fcn-mini-instance")
    shown = tr(
        "seg.card_instance",
        "ko",
        precision=card["held_out_instance_precision"],
        recall=card["held_out_instance_recall"],
        pq=card["held_out_panoptic_quality"],
    )
    assert shown in [c.value for c in at.caption]
    assert tr("seg.sizes", "ko") in [h.value for h in at.header]


def test_torchvision_model_needs_weights_or_an_explicit_untrained_choice() -> None:
    at = _page(segmenter="lraspp_mobilenet_v3_large")
    _ok(at)
    untrained = [c for c in at.checkbox if c.key == "untrained_lraspp_mobilenet_v3_large"]
    if not untrained:  # pretrained weights are on this machine
        assert tr("seg.semantic", "en") in [s.value for s in at.subheader]
        return
    assert at.error  # one sentence: the weights are missing
    untrained[0].check().run()
    _ok(at)
    assert any(tr("seg.untrained_note", "en") == w.value for w in at.warning)
    assert tr("seg.semantic", "en") in [s.value for s in at.subheader]

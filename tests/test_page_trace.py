"""Feature maps' cell trace in AppTest: the written sum equals the feature map's value, in EN and KO."""

from __future__ import annotations

import re

import pytest
import torch
from pagetest import assert_ok, open_page

from cnnviz import images, models
from cnnviz.ui.text import tr

PAGE = "pages/4_Feature_maps.py"


def _conv1_output() -> torch.Tensor:
    """LeNet-5's conv1 output on the default sample, from a plain forward hook (independent of cnnviz)."""
    loaded = models.load("lenet5")
    seen: list[torch.Tensor] = []
    handle = loaded.model.conv1.register_forward_hook(lambda m, a, o: seen.append(o.detach().clone()))
    try:
        with torch.no_grad():
            loaded.model(loaded.preprocess(images.load_sample("chelsea")))
    finally:
        handle.remove()
    return seen[0][0]


def _written_total(at) -> float:
    code = next(c.value for c in at.code if "\n= " in c.value)
    return float(code.rsplit("= ", 1)[1])


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_trace_sum_equals_the_channel_value(lang: str) -> None:
    at = open_page(PAGE, model="lenet5", layer="conv1", lang=lang)
    assert_ok(at)
    assert any(h.value == tr("trace.title", lang) for h in at.subheader)
    out = _conv1_output()
    channel = next(w for w in at.selectbox if (w.key or "").startswith("channel_lenet5_conv1")).value
    k = int(re.findall(r"\d+", str(channel))[-1]) if not isinstance(channel, int) else channel
    row = at.number_input(key="trace_lenet5_conv1_row")
    col = at.number_input(key="trace_lenet5_conv1_col")
    # It opens on the channel's strongest cell; then any typed cell.
    assert out[k].flatten().argmax().item() == row.value * 28 + col.value
    for i, j in [(int(row.value), int(col.value)), (0, 27), (13, 4)]:
        row.set_value(i)
        col.set_value(j).run()
        assert_ok(at)
        value = float(out[k, i, j])
        assert _written_total(at) == pytest.approx(value, rel=1e-5, abs=1e-6)
        assert any(f"{value:.6g}" in m.value for m in at.markdown)
        # conv1 is 5 × 5 with no padding on 32 × 32: cell (i, j) sees input rows i..i+4, columns j..j+4.
        field = tr(
            "trace.field", lang, i=i, j=j, top=i, bottom=i + 4, left=j, right=j + 4, h=5, w=5, H=32, W=32
        )
        assert field in [c.value for c in at.caption]
        row, col = (
            at.number_input(key="trace_lenet5_conv1_row"),
            at.number_input(key="trace_lenet5_conv1_col"),
        )


def test_trace_says_it_needs_a_conv_layer() -> None:
    at = open_page(PAGE, model="lenet5", layer="tanh1")
    assert_ok(at)
    assert any(i.value == tr("trace.not_conv", "en") for i in at.info)


def test_a_click_moves_the_cell_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # What Streamlit keeps under the chart's key after a click on a cell (a selected point of the click
    # targets at x = column, y = row): the row and column inputs move to it, once per click.
    from cnnviz.ui import trace_view

    state: dict = {"pick": {"selection": {"points": [{"x": 7, "y": 3, "curve_number": 1}]}}}
    monkeypatch.setattr(trace_view.st, "session_state", state)
    trace_view._picked("pick", "row", "col")
    assert (state["row"], state["col"]) == (3, 7)
    state["row"] = 10  # typed afterwards: the old click does not undo it
    trace_view._picked("pick", "row", "col")
    assert state["row"] == 10
    state["pick"] = {"selection": {"points": []}}
    trace_view._picked("pick", "row", "col")
    assert state["row"] == 10


def test_depthwise_layer_of_a_large_model() -> None:
    # MobileNetV2's first depthwise conv (groups = 32, 112 × 112): one input channel per filter, and a map too
    # large for click targets, so the row and column are typed.
    at = open_page(PAGE, layer="features.1.conv.0.0")
    assert_ok(at)
    captions = [c.value for c in at.caption]
    assert tr("trace.pick_big", "en") in captions
    assert any(
        c.startswith("A depthwise convolution: this output channel's filter reads input channel")
        for c in captions
    )
    at.number_input(key="trace_mobilenet_v2_features.1.conv.0.0_row").set_value(111).run()
    assert_ok(at)
    assert any("Receptive field of cell (111," in c.value for c in at.caption)

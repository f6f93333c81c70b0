"""The Residual gradients and SE attention pages through the real router (AppTest)."""

from __future__ import annotations

from pagetest import assert_ok as _ok
from pagetest import open_page
from pagetest import widget as _widget
from streamlit.testing.v1 import AppTest

from cnnviz.ui.text import tr

RESIDUAL = "pages/5_Residual_gradients.py"
SE = "pages/6_SE_attention.py"


def _page(path: str, **query: str) -> AppTest:
    return open_page(path, **query)


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    return "\n".join(str(p) for p in parts)


# --------------------------------------------------------------------------------------------- residual


def test_residual_default_render() -> None:
    at = _page(RESIDUAL)
    _ok(at)
    assert at.title[0].value == tr("page.residual", "en")
    assert at.get("plotly_chart"), "the plain-vs-residual charts render whatever the model"


def test_residual_page_lists_only_models_with_skips() -> None:
    # A shared link asking for a plain net falls back to a model that has residual blocks.
    at = _page(RESIDUAL, resnet_model="plainnet-mini")
    _ok(at)
    options = _widget(at, "selectbox", "resnet_model").options
    assert "resnet-mini" in options and "resnet18" in options
    assert "plainnet-mini" not in options and "vgg-mini" not in options and "lenet5" not in options
    assert not at.info or all("has no residual blocks" not in i.value for i in at.info)


def test_residual_controls() -> None:
    at = _page(RESIDUAL, resnet_model="resnet-mini")
    _ok(at)
    assert "4 residual blocks (1 with an identity skip, 3 with a projection" in _texts(at)
    assert len(at.metric) == 4
    _widget(at, "radio", "res_objective").set_value("score").run()
    _ok(at)
    target = at.selectbox(key="res_target")
    target.select(target.options[1]).run()
    _ok(at)
    _widget(at, "selectbox", "res_block").select("layer2.0").run()
    _ok(at)
    assert "projection s(x) = W_s x (layer2.0.downsample.0, layer2.0.downsample.1)" in _texts(at)
    at.multiselect(key="res_depths").set_value([20]).run()
    _ok(at)
    at.checkbox(key="res_bn").check().run()
    _ok(at)
    _widget(at, "radio", "res_measure").set_value("weight").run()
    _ok(at)
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    assert any(tr("res.depth_chart", "en", depth=20) in spec for spec in specs)
    assert not any(tr("res.depth_chart", "en", depth=56) in spec for spec in specs)


def test_residual_in_korean() -> None:
    at = _page(RESIDUAL, resnet_model="resnet-mini", lang="ko")
    _ok(at)
    assert at.title[0].value == tr("page.residual", "ko")
    text = _texts(at)
    assert "Residual block 4개" in text
    assert "기울기 소실" in text
    assert tr("res.metric.total", "ko") in [m.label for m in at.metric]
    _widget(at, "radio", "res_measure").set_value("weight").run()  # a translated option, picked in Korean
    _ok(at)


# --------------------------------------------------------------------------------------------- SE


def test_se_default_render() -> None:
    at = _page(SE)
    _ok(at)
    assert at.title[0].value == tr("page.se", "en")


def test_se_page_lists_only_models_with_se_blocks() -> None:
    at = _page(SE, se_model="resnet-mini")
    _ok(at)
    options = _widget(at, "selectbox", "se_model").options
    assert {"se-resnet-mini", "efficientnet_b0", "mobilenet_v3_large", "regnet_y_400mf"} <= set(options)
    assert "resnet-mini" not in options and "resnet18" not in options


def test_se_controls() -> None:
    at = _page(SE, se_model="se-resnet-mini")
    _ok(at)
    assert "4 SE blocks." in _texts(at)
    block = at.selectbox(key="se_block")
    assert block.value == "layer4.0.se"
    block.select("layer1.0.se").run()
    _ok(at)
    assert "C = 16, C/r = 4 (r = 4); between the FCs: ReLU; gate: Sigmoid." in _texts(at)
    at.slider(key="se_k").set_value(2).run()
    _ok(at)
    assert _texts(at).count("ch ") >= 4  # two boosted and two suppressed channels, each with its weight
    at.selectbox(key="se_image2").select("coins").run()
    _ok(at)
    assert "coins: " in _texts(at)


def test_se_in_korean() -> None:
    at = _page(SE, se_model="se-resnet-mini", lang="ko")
    _ok(at)
    assert at.title[0].value == tr("page.se", "ko")
    text = _texts(at)
    assert "SE block 4개" in text
    assert "상대적 중요도" in text
    at.slider(key="se_k").set_value(3).run()
    _ok(at)

"""The Residual gradients and SE attention pages through the real router (AppTest)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pagetest import assert_ok as _ok
from pagetest import open_page
from pagetest import widget as _widget
from streamlit.testing.v1 import AppTest

from cnnviz import images, models
from cnnviz.analysis.residual import depth_profile
from cnnviz.analysis.se import se_weights
from cnnviz.ui.text import tr

RESIDUAL = "pages/5_Residual_gradients.py"
SE = "pages/6_SE_attention.py"


def _page(path: str, **query: str) -> AppTest:
    return open_page(path, **query)


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    return "\n".join(str(p) for p in parts)


def _chart(at: AppTest, key: str) -> dict[str, Any]:
    """The plotly figure (as JSON) of the chart the page drew with `key`."""
    found = [c for c in at.get("plotly_chart") if c.proto.id.endswith("-" + key)]
    assert len(found) == 1, [c.proto.id for c in at.get("plotly_chart")]
    return json.loads(found[0].proto.spec)


def _values(data: Any) -> np.ndarray:
    """A trace's x or y: a JSON list, or plotly's typed array ({"dtype", "bdata"}) for numpy input."""
    if isinstance(data, dict):
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).astype(np.float64)
    return np.array([np.nan if v is None else v for v in data], dtype=np.float64)


def _number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, (pattern, text)
    return float(match.group(1))


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


def _direct_logits(name: str, sample: str) -> torch.Tensor:
    """The model's logits on a sample, computed here without cnnviz.analysis (float64 for the softmax)."""
    loaded = models.load(name)
    with torch.no_grad():
        return loaded.model(loaded.preprocess(images.load_sample(sample)))[0].double()


def _check_depth_caption(at: AppTest, depth: int, batch_norm: bool, measure: str) -> None:
    """The caption under the depth chart: both first-layer gradients and the ratio the page works out inline,
    against the ratio computed here; and the chart's curves against `depth_profile` (tested against a plain
    backward pass in test_residual.py)."""
    plain = depth_profile(depth, False, batch_norm=batch_norm)
    residual = depth_profile(depth, True, batch_norm=batch_norm)
    pick = (lambda p: p.grad_norms) if measure == "activation" else (lambda p: p.weight_grad_norms)
    first_plain, first_residual = float(pick(plain)[0]), float(pick(residual)[0])
    assert first_plain > 0 and first_residual > 0
    if first_plain <= first_residual:
        ratio = f"{first_residual / first_plain:.2g}× smaller without skips"
    else:
        ratio = f"{first_plain / first_residual:.2g}× larger without skips"
    expected = f"First layer: plain {first_plain:.2e}, residual {first_residual:.2e} ({ratio})."
    captions = [c.value for c in at.caption if c.value.startswith("First layer:")]
    assert captions == [expected]
    spec = _chart(at, f"res_depth_{depth}")
    curves = {trace["name"]: _values(trace["y"]) for trace in spec["data"]}
    np.testing.assert_allclose(curves[tr("res.plain", "en")], pick(plain), rtol=1e-12)
    np.testing.assert_allclose(curves[tr("res.residual", "en")], pick(residual), rtol=1e-12)


def test_residual_controls() -> None:
    at = _page(RESIDUAL, resnet_model="resnet-mini")
    _ok(at)
    assert "4 residual blocks (1 with an identity skip, 3 with a projection" in _texts(at)
    assert len(at.metric) == 4
    # "L = … (p = …)" for the top class: L = −log softmax, from the model's own logits.
    logits = _direct_logits("resnet-mini", "chelsea")
    log_p = F.log_softmax(logits, 0)
    top = int(logits.argmax())
    found = _texts(at)
    assert _number(r"L = (\S+) for class", found) == pytest.approx(float(-log_p[top]), rel=1e-3)
    assert _number(r"\(p = (\S+)%\)", found) == pytest.approx(100 * float(log_p[top].exp()), abs=0.051)
    _widget(at, "radio", "res_objective").set_value("score").run()
    _ok(at)
    target = at.selectbox(key="res_target")
    target.select(target.options[1]).run()
    _ok(at)
    # Objective "score": L is the picked class's logit (the second-ranked class).
    second = int(torch.argsort(logits, descending=True)[1])
    found = _texts(at)
    assert f"for class “{models.load('resnet-mini').categories[second]}”" in found
    assert _number(r"L = (\S+) for class", found) == pytest.approx(float(logits[second]), rel=1e-3)
    assert _number(r"\(p = (\S+)%\)", found) == pytest.approx(100 * float(log_p[second].exp()), abs=0.051)
    _widget(at, "selectbox", "res_block").select("layer2.0").run()
    _ok(at)
    assert "projection s(x) = W_s x (layer2.0.downsample.0, layer2.0.downsample.1)" in _texts(at)
    at.multiselect(key="res_depths").set_value([20]).run()
    _ok(at)
    _check_depth_caption(at, 20, batch_norm=False, measure="activation")  # plain far smaller
    at.checkbox(key="res_bn").check().run()
    _ok(at)
    _widget(at, "radio", "res_measure").set_value("weight").run()
    _ok(at)
    _check_depth_caption(at, 20, batch_norm=True, measure="weight")  # with BN the plain one is larger
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    assert any(tr("res.depth_chart", "en", depth=20) in spec for spec in specs)
    assert not any(tr("res.depth_chart", "en", depth=56) in spec for spec in specs)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_depth_sentence_says_what_the_chart_shows(batch_norm: bool) -> None:
    """At 56 layers the plain stack's gradient vanishes with default initialisation and explodes with batch
    normalisation: the sentence under the chart follows the measured numbers, in both languages."""
    at = _page(RESIDUAL, resnet_model="resnet-mini")
    if batch_norm:
        at.checkbox(key="res_bn").check().run()
    _ok(at)
    assert "shrinks layer by layer" not in _texts(at)
    changes = {}
    for depth in (20, 56):  # the page's default depths
        plain = depth_profile(depth, False, batch_norm=batch_norm).grad_norms
        residual = depth_profile(depth, True, batch_norm=batch_norm).grad_norms
        changes[depth] = plain[0] / plain[-1], residual[0] / residual[-1]
    # The two cases this test is about: at 56 layers 1.2e3 with BN, 7.7e-24 without.
    assert all((change > 1) == batch_norm for change, _ in changes.values())
    key = "res.trend.grows" if batch_norm else "res.trend.shrinks"
    reason = "res.reason.bn" if batch_norm else "res.reason.default"
    for lang in ("en", "ko"):
        if lang == "ko":
            _widget(at, "segmented_control", "lang").set_value("ko").run()
            _ok(at)
        expected = [
            tr(key, lang, x=c if batch_norm else 1 / c, residual=r) + " " + tr(reason, lang)
            for c, r in changes.values()
        ]
        start = tr(key, lang, x=1.0, residual=1.0)[:12]  # the same opening for both directions
        assert [m.value for m in at.markdown if m.value.startswith(start)] == expected


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


def test_se_boosted_and_suppressed_channels_are_disjoint() -> None:
    at = _page(SE, se_model="se-resnet-mini")
    at.selectbox(key="se_block").select("layer1.0.se").run()  # 16 channels
    _ok(at)
    slider = at.slider(key="se_k")
    assert slider.max == 8  # half of 16 on each side
    slider.set_value(slider.max).run()
    _ok(at)
    found = (re.findall(r"ch (\d+): ×", c.value) for c in at.caption)
    shown = [{int(n) for n in numbers} for numbers in found if numbers]
    assert len(shown) == 2 and len(shown[0]) == len(shown[1]) == 8
    assert not shown[0] & shown[1]
    assert shown[0] | shown[1] == set(range(16))


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
    # The per-block mean |Δw| chart (SEResult.mean_abs_difference) against the two images' excitation
    # weights read here twice: with se_weights, and with plain forward hooks on each block's sigmoid gate.
    loaded = models.load("se-resnet-mini")
    blocks = ["layer1.0.se", "layer2.0.se", "layer3.0.se", "layer4.0.se"]
    gates: dict[str, list[np.ndarray]] = {b: [] for b in blocks}
    for sample in ("chelsea", "coins"):
        x = loaded.preprocess(images.load_sample(sample))
        handles = [
            loaded.model.get_submodule(b + ".sigmoid").register_forward_hook(
                lambda _m, _a, out, b=b: gates[b].append(out.detach().reshape(-1).double().numpy())
            )
            for b in blocks
        ]
        try:
            with torch.no_grad():
                loaded.model(x)
        finally:
            for h in handles:
                h.remove()
        result = se_weights(loaded.model, x, maps=False)
        assert result.names == blocks
        for b in blocks:
            np.testing.assert_allclose(result.block(b).weights, gates[b][-1], rtol=1e-6, atol=1e-7)
    expected = [float(np.mean(np.abs(gates[b][0] - gates[b][1]))) for b in blocks]
    spec = _chart(at, "se_diff_chart")
    (bars,) = spec["data"]
    assert bars["x"] == blocks
    np.testing.assert_allclose(_values(bars["y"]), expected, rtol=1e-5, atol=1e-7)
    assert min(expected) > 1e-3  # the two images differ: a chart of zeros would not pass


def test_se_in_korean() -> None:
    at = _page(SE, se_model="se-resnet-mini", lang="ko")
    _ok(at)
    assert at.title[0].value == tr("page.se", "ko")
    text = _texts(at)
    assert "SE block 4개" in text
    assert "상대적 중요도" in text
    at.slider(key="se_k").set_value(3).run()
    _ok(at)

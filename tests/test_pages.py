"""Every page renders through the real router (app.py) with Streamlit's AppTest: default, controls, Korean."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pagetest import assert_ok as _ok
from pagetest import open_app, open_page
from pagetest import widget as _widget
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnnviz import images, models
from cnnviz.analysis import conv
from cnnviz.ui.nav import PAGES
from cnnviz.ui.text import tr


def _app(**query: str) -> AppTest:
    return open_app(**query)


def _page(path: str, **query: str) -> AppTest:
    return open_page(path, **query)


def _png(color: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((size[1], size[0], 3), color, np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def test_home_renders_and_links_every_page() -> None:
    at = _app().run()
    _ok(at)
    assert at.title[0].value == tr("app.title", "en")
    # Every page is linked from the sidebar (with Home) and from the home page's list.
    targets = [link.proto.page for link in at.get("page_link")]
    for info in PAGES:
        assert targets.count(info.url) == 2, info.url


def test_home_in_korean() -> None:
    at = _app().run()
    _widget(at, "segmented_control", "lang").set_value("ko").run()
    _ok(at)
    assert at.title[0].value == tr("app.title", "ko")
    # The language is also read from the URL, so a lecturer can share a Korean link.
    at2 = _app(lang="ko").run()
    assert at2.title[0].value == tr("app.title", "ko")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.url)
def test_page_default_render(page) -> None:
    at = _page(page.path)
    _ok(at)
    assert at.title[0].value == tr(page.title_key, "en")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.url)
def test_page_in_korean(page) -> None:
    at = _page(page.path, lang="ko")
    _ok(at)
    assert at.title[0].value == tr(page.title_key, "ko")


def test_upload_good_and_corrupt_image() -> None:
    at = _app().run()
    _widget(at, "segmented_control", "src").set_value("upload").run()
    _ok(at)
    at.file_uploader(key="upload").upload("red.png", _png(), "image/png").run()
    _ok(at)
    assert not at.error
    at.file_uploader(key="upload").upload("broken.png", b"\x89PNG\r\n\x1a\nnot really", "image/png").run()
    _ok(at)
    assert at.error, "a corrupt upload must be reported in a sentence"
    assert at.error[0].value.startswith(tr("err.image", "en", why="").strip())


def test_feature_maps_controls() -> None:
    at = _page("pages/4_Feature_maps.py")
    _ok(at)
    layers = at.selectbox(key="layer").options
    assert "features.0.0" in layers
    at.selectbox(key="layer").select("features.3").run()
    _ok(at)
    assert at.selectbox(key="layer").value == "features.3"
    channel = next(w for w in at.selectbox if (w.key or "").startswith("channel_mobilenet_v2_features.3"))
    third = int(channel.options[2].split()[-1])  # options are shown as "channel N", most active first
    channel.select(third).run()
    _ok(at)
    # Another layer opens its own most active channel, not the number picked on the last one.
    at.selectbox(key="layer").select("features.4").run()
    opened = next(w for w in at.selectbox if (w.key or "").startswith("channel_mobilenet_v2_features.4@"))
    assert third in [int(o.split()[-1]) for o in opened.options]  # it could have been kept
    assert opened.index == 0
    at.selectbox(key="layer").select("features.3").run()
    at.slider(key="n_channels").set_value(8).run()
    _ok(at)
    target = next(w for w in at.selectbox if (w.key or "").startswith("cam_target_"))
    top1 = target.value
    target.set_value(target.value).run()  # same class again: cached, no exception
    at.slider(key="cam_alpha").set_value(0.8).run()
    _ok(at)
    # Another class, then another image: the target goes back to the new image's own top-1 class.
    target = next(w for w in at.selectbox if (w.key or "").startswith("cam_target_"))
    target.select_index(3).run()
    assert target.index == 3
    _widget(at, "selectbox", "image").select("coins").run()
    _ok(at)
    target = next(w for w in at.selectbox if (w.key or "").startswith("cam_target_"))
    assert target.index == 0 and target.value != top1
    _widget(at, "selectbox", "model").select("lenet5").run()
    _ok(at)
    assert "conv1" in at.selectbox(key="layer").options
    # Another model opens its own most active channel, not the channel picked for the last one.
    opened = next(w for w in at.selectbox if (w.key or "").startswith("channel_lenet5_"))
    assert opened.index == 0
    assert any(tr("note.gray", "en") in c.value for c in at.caption)


def test_feature_maps_missing_weights_offer_untrained(torch_home, no_network) -> None:
    # An empty hub cache and no network: AlexNet's pretrained weights can't be had. The page says so in one
    # sentence, after trying the download once (blocked here), and offers untrained weights, labelled.
    at = _page("pages/4_Feature_maps.py", model="alexnet")
    _ok(at)
    assert at.error, "missing weights must be said in a sentence"
    assert at.error[0].value == tr("weightserr.offline", "en", model="alexnet")
    assert any("alexnet-owt-7be5be79.pth" in c.value for c in at.caption)  # the file, on a line of its own
    assert no_network, "the page should have tried the download"
    at.checkbox(key="untrained_alexnet").check().run()
    _ok(at)
    assert any(tr("weights.untrained", "en") in c.value for c in at.caption)
    # Chosen: the sentence stays, as a note rather than an error.
    assert not at.error and at.info[0].value == tr("weightserr.offline", "en", model="alexnet")
    assert at.selectbox(key="layer").options  # the untrained network's maps are shown


def test_untrained_weights_are_asked_for_per_model(torch_home, no_network) -> None:
    at = _page("pages/4_Feature_maps.py", model="alexnet")
    at.checkbox(key="untrained_alexnet").check().run()
    _ok(at)
    assert any(tr("weights.untrained", "en") in c.value for c in at.caption)
    # Another model whose weights are missing: the choice made for AlexNet does not answer for it.
    _widget(at, "selectbox", "model").select("resnet18").run()
    _ok(at)
    assert at.error and at.error[0].value == tr("weightserr.offline", "en", model="resnet18")
    assert not at.checkbox(key="untrained_resnet18").value
    assert not any(tr("weights.untrained", "en") in c.value for c in at.caption)
    assert not [s for s in at.selectbox if s.key == "layer"], "no maps until untrained weights are chosen"


def test_missing_weights_sentence_in_korean(torch_home, no_network) -> None:
    at = _page("pages/4_Feature_maps.py", model="alexnet", lang="ko")
    _ok(at)
    assert at.error[0].value == tr("weightserr.offline", "ko", model="alexnet")


def test_architectures_controls() -> None:
    at = _page("pages/3_Architectures.py", model="lenet5")
    _ok(at)
    table = at.dataframe[0].value
    shapes = [s for s in table[tr("arch.col.output", "en")] if s]
    # The lecture's LeNet-5 table: 28×28×6, 14×14×6, 10×10×16, 5×5×16, 120, 84, 10 (as C × H × W here).
    for expected in ["6 × 28 × 28", "6 × 14 × 14", "16 × 10 × 10", "16 × 5 × 5", "120 × 1 × 1", "84", "10"]:
        assert expected in shapes
    at.slider(key="stack_c").set_value(10).run()
    _ok(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[tr("arch.two3", "en")] == f"{2 * 9 * 100:,}"
    assert metrics[tr("arch.one5", "en")] == f"{25 * 100:,}"
    at.slider(key="diagram_n").set_value(3).run()
    _ok(at)


def test_architectures_lists_every_call_of_a_reused_module() -> None:
    at = _page("pages/3_Architectures.py", model="resnet18")
    _ok(at)
    table = at.dataframe[0].value
    names = list(table[tr("arch.col.name", "en")])
    assert names.index("layer1.0.relu (1)") < names.index("layer1.0.conv2") < names.index("layer1.0.relu (2)")
    outputs = dict(zip(names, table[tr("arch.col.output", "en")], strict=True))
    assert outputs["layer1.0.relu (1)"] == outputs["layer1.0.relu (2)"] == "64 × 56 × 56"
    assert "layer1.0.bn1" in names and "layer1.0.bn1 (1)" not in names  # a single call keeps its plain name


def test_image_as_data_controls() -> None:
    at = _page("pages/1_Image_as_data.py")
    _ok(at)
    at.toggle(key="px_threshold_auto").set_value(False).run()  # the threshold slider is the person's
    for key, value in [("px_size", 4), ("px_top", 10), ("px_left", 12), ("px_threshold", 90)]:
        at.slider(key=key).set_value(value).run()
        _ok(at)
    at.toggle(key="px_scale01").set_value(True).run()
    _ok(at)
    _widget(at, "selectbox", "image").select("digit-5").run()
    _ok(at)


@pytest.mark.parametrize("size", [(5, 4), (8, 8), (1, 1), (40, 3)])
def test_image_as_data_with_an_image_no_bigger_than_the_window(size: tuple[int, int]) -> None:
    """The window covers the whole side: no position slider for it, and the page goes on."""
    at = _app().run()
    _widget(at, "segmented_control", "src").set_value("upload").run()
    at.file_uploader(key="upload").upload("small.png", _png(size=size), "image/png").run()
    at.switch_page("pages/1_Image_as_data.py").run()
    _ok(at)
    keys = {s.key for s in at.slider}
    assert ("px_top" in keys) == (size[1] > 8) and ("px_left" in keys) == (size[0] > 8)
    assert at.get("plotly_chart"), "the window's matrices are drawn"


def test_convolution_controls_and_impossible_settings() -> None:
    at = _page("pages/2_Convolution_and_pooling.py")
    _ok(at)
    _widget(at, "selectbox", "conv_preset").select("sobel_x").run()
    _ok(at)
    at.number_input(key="conv_stride").set_value(2).run()
    at.number_input(key="conv_padding").set_value(1).run()
    _widget(at, "selectbox", "conv_mode").select("reflect").run()
    at.number_input(key="conv_dilation").set_value(2).run()
    _ok(at)
    at.slider(key="conv_step").set_value(1).run()
    _ok(at)
    _widget(at, "radio", "conv_src").set_value("matrix").run()
    _ok(at)
    # The worked sum for output cell 1 (row 0, column 1) against torch on the same matrix and settings.
    x = torch.tensor(conv.sample_matrix(6, seed=0), dtype=torch.float64)[None, None]
    w = torch.tensor(np.round(conv.kernel_preset("sobel_x", 3), 4), dtype=torch.float64)[None, None]
    ref = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), w, stride=2, dilation=2)[0, 0, 0, 1].item()
    symbolic, numeric = at.code[0].value.splitlines()
    assert symbolic.endswith("= c₀₁")
    terms, shown = numeric.split(" = ")

    def number(text: str) -> float:  # the page writes "−" (minus sign) and brackets negative factors
        return float(text.strip("()").replace("−", "-"))

    products = [number(a) * number(b) for a, b in (term.split("×") for term in terms.split(" + "))]
    assert len(products) == 9  # a 3 × 3 kernel, every term written out
    assert number(shown) == pytest.approx(ref, abs=0.01)
    assert sum(products) == pytest.approx(ref, abs=0.05)  # the printed terms are rounded for reading
    at.toggle(key="conv_animate").set_value(True).run()  # the browser plays it (test_page_readability)
    _ok(at)
    # Impossible: stride 0 and a kernel larger than the padded input give one sentence each, no traceback.
    at.number_input(key="conv_stride").set_value(0).run()
    _ok(at)
    assert any("stride" in e.value.lower() for e in at.error)
    at.number_input(key="conv_stride").set_value(1).run()
    at.number_input(key="conv_padding").set_value(0).run()
    at.slider(key="conv_size").set_value(3).run()
    _widget(at, "selectbox", "conv_preset").select("box_blur").run()
    at.select_slider(key="conv_ksize").set_value(5).run()
    _ok(at)
    assert any("larger than the padded input" in e.value for e in at.error)
    # Size formula: a non-divisible case warns that PyTorch floors.
    at.number_input(key="size_i").set_value(5).run()
    at.number_input(key="size_f").set_value(2).run()
    at.number_input(key="size_s").set_value(2).run()
    at.number_input(key="size_p").set_value(0).run()
    _ok(at)
    # O = (5 − 2) / 2 + 1 = 2.5, floored to 2: the same size torch gives a 5 × 5 input.
    out = F.conv2d(torch.zeros(1, 1, 5, 5), torch.zeros(1, 1, 2, 2), stride=2).shape[-1]
    assert at.warning[0].value == tr("conv.not_divisible", "en", num=3, s=2, r=1, o=out)
    assert at.markdown and any(m.value.endswith(f"= {out}") for m in at.markdown)
    for key, value in [
        ("multi_size", 6),
        ("multi_filters", 3),
        ("pool_size", 6),
        ("pool_k", 3),
        ("pool_s", 1),
    ]:
        at.slider(key=key).set_value(value).run()
        _ok(at)
    at.slider(key="fc_classes").set_value(4).run()
    at.number_input(key="aug_seed").set_value(3).run()
    _widget(at, "multiselect", "aug_ops").set_value(["flip"]).run()
    at.slider(key="shift_max").set_value(4).run()
    _ok(at)


@pytest.mark.parametrize("path", ["app.py"] + [p.path for p in PAGES])
def test_extreme_aspect_ratios_on_every_page(path: str) -> None:
    """A long thin upload, a tall thin one, a single pixel and a tiny one: every page that shows the image
    goes on without a traceback (st.image once turned 2000×3 at 260 px wide into 0 px)."""
    at = _app().run()
    _widget(at, "segmented_control", "src").set_value("upload").run()
    if path != "app.py":
        at.switch_page(path).run()
    if not any(u.key == "upload" for u in at.file_uploader):  # the checkpoint door has uploaders of its own
        pytest.skip("this page shows no image")
    for size in [(2000, 3), (3, 2000), (1, 1), (5, 4)]:
        at.file_uploader(key="upload").upload(f"{size}.png", _png(size=size), "image/png").run()
        _ok(at)
        assert not at.exception, size
    if path == "app.py":
        assert at.get("image"), "the home page shows the upload"


def test_language_switch_keeps_choices() -> None:
    at = _app().run()
    _widget(at, "selectbox", "image").select("coffee").run()
    at.switch_page("pages/2_Convolution_and_pooling.py").run()
    _widget(at, "selectbox", "conv_preset").select("sharpen").run()
    _widget(at, "segmented_control", "lang").set_value("ko").run()
    _ok(at)
    assert at.title[0].value == tr("page.conv", "ko")
    assert _widget(at, "selectbox", "conv_preset").value == "sharpen"
    assert _widget(at, "selectbox", "image").value == "coffee"


def test_tiny_and_odd_uploads_on_feature_maps() -> None:
    at = _app().run()
    _widget(at, "segmented_control", "src").set_value("upload").run()
    at.switch_page("pages/4_Feature_maps.py").run()
    # A 1×1 image is smaller than any kernel: the model's own transform resizes it, the page keeps working.
    at.file_uploader(key="upload").upload("dot.png", _png(size=(1, 1)), "image/png").run()
    _ok(at)
    assert not at.error
    assert tr("side.note.tiny", "en", w=1, h=1) in [c.value for c in at.sidebar.caption]
    # An animation: its first frame, and a note that says so.
    frames = [Image.new("RGB", (48, 40), c) for c in ((200, 0, 0), (0, 200, 0), (0, 0, 200))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100)
    at.file_uploader(key="upload").upload("blink.gif", buf.getvalue(), "image/gif").run()
    _ok(at)
    assert tr("side.note.frames", "en", n=3) in [c.value for c in at.sidebar.caption]
    # An RGBA PNG and a grayscale one are converted for the 3-channel model.
    buf = io.BytesIO()
    Image.new("LA", (40, 30), (120, 200)).save(buf, "PNG")
    at.file_uploader(key="upload").upload("gray.png", buf.getvalue(), "image/png").run()
    _ok(at)
    assert not at.error
    at.file_uploader(key="upload").upload("empty.png", b"", "image/png").run()
    _ok(at)
    assert at.error and tr("imgerr.empty", "en")[:-1].lower() in at.error[0].value.lower()
    assert tr("side.fallback", "en", name="chelsea") in [c.value for c in at.caption]


def _plotted(value: object) -> np.ndarray:
    """A plotly array as the browser gets it: a list, or a base64 typed array {"dtype", "bdata", "shape"}."""
    if isinstance(value, dict) and "bdata" in value:
        arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if isinstance(shape, str):
            shape = [int(n) for n in shape.split(",")]
        return arr.reshape(shape) if shape else arr
    return np.asarray(value, dtype=np.float64)


def test_feature_maps_show_the_models_own_numbers() -> None:
    """Statistics, channel order, the opened channel and top-5 against the layer and model run by hand."""
    at = _page("pages/4_Feature_maps.py")
    _ok(at)
    assert at.selectbox(key="layer").value == "features.0.0"
    loaded = models.load("mobilenet_v2")
    x = loaded.preprocess(images.load_sample("chelsea"))
    with torch.no_grad():
        fmap = loaded.model.features[0][0](x)[0].double()  # the first convolution, called directly
        probs = torch.softmax(loaded.model(x)[0], 0)
    means = fmap.mean((1, 2))
    order = sorted(range(fmap.shape[0]), key=lambda c: (-means[c].item(), c))

    table = at.dataframe[0].value
    assert table[tr("fm.col.channel", "en")].tolist() == order
    columns = {
        "fm.col.mean": means,
        "fm.col.std": fmap.std((1, 2), unbiased=False),
        "fm.col.min": fmap.amin((1, 2)),
        "fm.col.max": fmap.amax((1, 2)),
        "fm.col.zeros": (fmap == 0).double().mean((1, 2)),
    }
    for key, ref in columns.items():
        np.testing.assert_allclose(table[tr(key, "en")], ref[order].numpy(), rtol=1e-4, atol=1e-5)

    # Charts in page order: top-5 (left column), the opened channel, then Grad-CAM.
    topk, channel = (json.loads(c.proto.spec)["data"][0] for c in at.get("plotly_chart")[:2])
    np.testing.assert_allclose(_plotted(channel["z"]), fmap[order[0]].numpy(), rtol=1e-4, atol=1e-5)
    top = torch.topk(probs, 5)
    # Horizontal bars read top-down, so the trace holds them from the fifth to the first.
    np.testing.assert_allclose(_plotted(topk["x"])[::-1], top.values.numpy(), rtol=1e-4)
    assert list(topk["y"])[::-1] == [loaded.categories[i] for i in top.indices.tolist()]

"""The Many images page: every view in both languages on LeNet-5 and the bundled digits, its numbers against
direct calls (top images), scikit-learn (the confusion matrix) and compare_models, the exported HTML, the
jump to Feature maps, and hostile zips as sentences."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from typing import Any

import numpy as np
import pytest
import torch
from pagetest import assert_ok, open_page, widget
from PIL import Image
from sklearn.metrics import confusion_matrix
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from cnnviz import imagesets, models
from cnnviz.analysis.dataset import compare_models, layer_health, top_images
from cnnviz.ui import many
from cnnviz.ui.text import tr

PAGE = "pages/11_Many_images.py"
VIEWS = ("top", "health", "mistakes", "compare")


@pytest.fixture(scope="module")
def lenet() -> models.LoadedModel:
    return models.load("lenet5")


@pytest.fixture(scope="module")
def digits() -> imagesets.ImageSet:
    return imagesets.bundled("digits")


def _batches(lenet: models.LoadedModel, found: imagesets.ImageSet) -> imagesets.Batches:
    return imagesets.batches(found, lambda image: lenet.preprocess(image)[0], 50)


def _view(at: Any, name: str) -> None:
    widget(at, "button_group", "many_view").set_value(name).run()


def _chart(at: Any, key: str) -> dict:
    (chart,) = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    return json.loads(chart.proto.spec)


def _numbers(value: Any) -> np.ndarray:
    """Plotly's data field: a list or a typed array ({"bdata", "dtype", "shape"})."""
    if isinstance(value, dict):
        import base64

        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        if isinstance(shape, str):
            shape = [int(v) for v in shape.split(",")]
        return flat.reshape(shape) if shape else flat
    return np.asarray(value, dtype=np.float64)


def _no_errors(at: Any) -> None:
    assert_ok(at)
    assert not at.error, [e.value for e in at.error]


@pytest.fixture(scope="module", params=["en", "ko"])
def page(request: pytest.FixtureRequest) -> Any:
    at = open_page(PAGE, model="lenet5", lang=request.param)
    _no_errors(at)
    return at


@pytest.mark.parametrize("view", VIEWS)
def test_each_view_draws_in_both_languages(page: Any, view: str) -> None:
    _view(page, view)
    _no_errors(page)
    lang = page.session_state["_cnnviz_lang"]
    assert page.title[0].value == tr("page.dataset", lang)
    assert page.get("download_button"), "every view has its download button"
    chart = {"top": "many_top_chart", "health": "many_hist", "mistakes": "many_confusion"}
    assert _chart(page, chart.get(view, "many_cka_chart"))["data"]


def test_default_set_follows_the_model() -> None:
    assert many.default_set(models.get_spec("lenet5")) == "digits"
    assert many.default_set(models.get_spec("resnet-mini")) == "shapes"
    assert many.default_set(models.get_spec("mobilenet_v2")) == "samples"


def test_top_images_equal_a_direct_call(lenet: models.LoadedModel, digits: imagesets.ImageSet) -> None:
    at = open_page(PAGE, model="lenet5")
    widget(at, "slider", "many_k").set_value(3).run()
    _no_errors(at)
    layer = widget(at, "selectbox", "many_layer_lenet5").value
    expected = top_images(lenet.model, _batches(lenet, digits), layer, k=3)
    best = _numbers(_chart(at, "many_top_chart")["data"][0]["y"])
    np.testing.assert_allclose(best, expected.scores[:, 0], rtol=1e-5)
    channel = int(widget(at, "selectbox", f"many_channel_lenet5_{layer}").value)
    assert channel == int(np.argmax(expected.scores[:, 0]))  # best channel first
    captions = [c for el in at.get("image") for c in el.captions if " · " in c]
    tops = expected.channel(channel)
    assert captions == [f"{top.path} · {top.score:.3g}" for top in tops]


def test_confusion_matrix_equals_sklearn(lenet: models.LoadedModel, digits: imagesets.ImageSet) -> None:
    at = open_page(PAGE, model="lenet5")
    _view(at, "mistakes")
    _no_errors(at)
    z = _numbers(_chart(at, "many_confusion")["data"][0]["z"])
    truth, guesses = [], []
    with torch.no_grad():
        for item in digits:
            guesses.append(int(lenet.model(lenet.preprocess(item.load())).argmax()))
            truth.append(int(item.label))  # bundled digits: label = LeNet-5's output index
    np.testing.assert_array_equal(z, confusion_matrix(truth, guesses, labels=range(10)))
    accuracy = np.mean(np.array(truth) == np.array(guesses))
    assert at.metric[0].value == f"{accuracy:.1%}"


def test_model_comparison_equals_compare_models(
    lenet: models.LoadedModel, digits: imagesets.ImageSet
) -> None:
    at = open_page(PAGE, model="lenet5")
    _view(at, "compare")
    _no_errors(at)
    assert widget(at, "selectbox", "many_second_lenet5").value == "untrained:lenet5"
    spec = _chart(at, "many_cka_chart")["data"][0]
    layers = many.compare_layers(lenet)
    expected = compare_models(
        lenet.model, models.load("lenet5", pretrained=False).model, _batches(lenet, digits), layers=layers
    )
    shown = dict(zip(spec["y"], _numbers(spec["x"]), strict=True))  # horizontal bars: layer -> CKA
    assert set(shown) == set(expected.layers)
    for name, value in zip(expected.layers, expected.cka, strict=True):
        assert shown[name] == pytest.approx(value, rel=1e-5, abs=1e-7), name
    # Two images through one model, from the same view.
    widget(at, "button_group", "many_cmp_mode").set_value("images").run()
    _no_errors(at)
    assert _numbers(_chart(at, "many_pair_chart")["data"][0]["y"]).size > 0


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """What each run put into Streamlit's media storage (the download button's file), by file id."""
    stored: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def keep(self, path_or_data, mimetype, kind, filename=None):  # type: ignore[no-untyped-def]
        file_id = original(self, path_or_data, mimetype, kind, filename)
        if isinstance(path_or_data, bytes | str) and mimetype == "text/html":
            stored[file_id] = path_or_data.encode() if isinstance(path_or_data, str) else path_or_data
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    return stored


def _downloaded(at: Any, stored: dict[str, bytes]) -> str:
    (button,) = at.get("download_button")
    file_id = button.proto.url.rsplit("/", 1)[-1].split(".")[0]
    return stored[file_id].decode("utf-8")


@pytest.mark.parametrize(
    ("lang", "view", "words"), [("en", "top", "Top images per channel"), ("ko", "mistakes", "혼동 행렬")]
)
def test_download_is_a_self_contained_report(
    downloads: dict[str, bytes], lang: str, view: str, words: str
) -> None:
    at = open_page(PAGE, model="lenet5", lang=lang)
    _view(at, view)
    _no_errors(at)
    html = _downloaded(at, downloads)
    assert html.startswith("<!DOCTYPE html>") and f'<html lang="{lang}">' in html
    assert words in html
    assert html.count('src="data:image/png;base64,') >= 3  # images inside the file
    assert "http://" not in html and "https://" not in html


def test_open_in_feature_maps(digits: imagesets.ImageSet) -> None:
    at = open_page(PAGE, model="lenet5")
    layer = widget(at, "selectbox", "many_layer_lenet5").value
    channel = int(widget(at, "selectbox", f"many_channel_lenet5_{layer}").value)
    first = next(c for el in at.get("image") for c in el.captions if " · " in c)
    at.button(key="many_open_0").click().run()
    _no_errors(at)
    assert at.title[0].value == "Feature maps"
    name, data = at.session_state["_upload"]
    path = first.split(" · ")[0]
    assert name == path.rsplit("/", 1)[-1]
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), np.asarray(digits.load(path)))
    assert at.session_state["src"] == "upload"
    assert at.selectbox(key="layer").value == layer
    assert int(widget(at, "selectbox", f"channel_lenet5_{layer}").value) == channel


def _zip(members: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for member, data in members.items():
            zf.writestr(member, data)
        for link in links:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("lang", ["en", "ko"])
@pytest.mark.parametrize(
    ("case", "data", "key"),
    [
        (
            "hostile",
            _zip({"../../evil.png": _png(), "notes.txt": b"hi"}, links=("link.png",)),
            "nothing_usable",
        ),
        ("empty", _zip({}), "empty"),
        ("not_zip", b"this is no zip", "not_zip"),
    ],
)
def test_a_hostile_zip_is_a_sentence(lang: str, case: str, data: bytes, key: str) -> None:
    at = open_page(PAGE, model="lenet5", lang=lang)
    widget(at, "button_group", "many_source").set_value("zip").run()
    at.file_uploader(key="many_zip").upload(f"{case}.zip", data, "application/zip").run()
    assert_ok(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    with pytest.raises(imagesets.ImageSetError) as raised:
        imagesets.from_zip(data, name=f"{case}.zip")
    assert raised.value.key == key
    if lang == "en":
        assert errors[0] == str(raised.value)
    else:
        assert f"{case}.zip" in errors[0] and errors[0] != str(raised.value)
    assert not at.get("download_button")  # the page stops at the sentence


def test_a_labelled_zip_upload_runs_mistakes(lenet: models.LoadedModel) -> None:
    members = {f"{d}/{i}.png": _digit_png(d, i) for d in (1, 7) for i in range(3)}
    members["readme.txt"] = b"not an image"
    at = open_page(PAGE, model="lenet5")
    widget(at, "button_group", "many_source").set_value("zip").run()
    at.file_uploader(key="many_zip").upload("two.zip", _zip(members), "application/zip").run()
    _view(at, "mistakes")
    _no_errors(at)
    assert any("1" in c.value for c in at.caption if c.value.startswith("Skipped"))
    z = _numbers(_chart(at, "many_confusion")["data"][0]["z"])
    assert z.shape == (10, 10) and z.sum() == 6 and z[[0, 2, 3, 4, 5, 6, 8, 9]].sum() == 0


def _digit_png(digit: int, i: int) -> bytes:
    sample = imagesets.bundled("digits")
    item = [it for it in sample if it.label == digit][i]
    buffer = io.BytesIO()
    item.load().save(buffer, format="PNG")
    return buffer.getvalue()


def test_health_table_equals_layer_health(lenet: models.LoadedModel, digits: imagesets.ImageSet) -> None:
    at = open_page(PAGE, model="lenet5")
    _view(at, "health")
    _no_errors(at)
    table = at.dataframe[0].value
    expected = layer_health(lenet.model, _batches(lenet, digits), gradients=True)
    assert list(table[tr("many.col.layer", "en")]) == [r.layer for r in expected.layers]
    assert list(table[tr("many.col.dead", "en")]) == [r.dead for r in expected.layers]
    np.testing.assert_allclose(table[tr("many.col.mean", "en")], [r.mean for r in expected.layers], rtol=1e-6)
    np.testing.assert_allclose(
        table[tr("many.col.gradient_norm", "en")], [r.gradient_norm for r in expected.layers], rtol=1e-6
    )
    # Dead counted as the issue says, with plain forward hooks: a channel never above 0 anywhere.
    maxima: dict[str, torch.Tensor] = {}
    handles = [
        module.register_forward_hook(
            lambda _m, _a, out, name=name: maxima.__setitem__(
                name,
                torch.maximum(
                    maxima.get(name, out.amax(dim=(0, *range(2, out.dim())))),
                    out.amax(dim=(0, *range(2, out.dim()))),
                ),
            )
        )
        for name, module in lenet.model.named_modules()
        if name
    ]
    try:
        with torch.no_grad():
            for _, x, _ in _batches(lenet, digits):
                lenet.model(x)
    finally:
        for h in handles:
            h.remove()
    for row in expected.layers:
        assert row.dead == int((maxima[row.layer] <= 0).sum()), row.layer


def test_a_mini_starts_on_the_shapes_and_compares_with_another_mini() -> None:
    at = open_page(PAGE, model="resnet-mini")
    _no_errors(at)
    assert widget(at, "selectbox", "many_set_resnet-mini").value == "shapes"
    _view(at, "compare")
    second = widget(at, "selectbox", "many_second_resnet-mini")
    second.select("se-resnet-mini").run()
    _no_errors(at)
    layers = _chart(at, "many_cka_chart")["data"][0]["y"]
    assert layers and set(layers) <= set(many.compare_layers(models.load("resnet-mini")))
    # No module of one name and shape in both: a sentence, not a traceback.
    widget(at, "selectbox", "many_second_resnet-mini").select("vgg-mini").run()
    assert_ok(at)
    assert len(at.error) == 1 and "no layer matched" in at.error[0].value

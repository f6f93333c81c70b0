"""Your own model in the app: offered by `serve` (the process's user models) or uploaded as a checkpoint."""

from __future__ import annotations

import io

import pytest
import torch
import torchvision
from pagetest import assert_ok, open_app
from pagetest import widget as _widget
from safetensors.torch import save_file
from usermodels.strange import Strange

from cnnviz import models
from cnnviz.models import user
from cnnviz.ui.sidebar import UPLOAD_PREFIX, USER_PREFIX
from cnnviz.ui.text import tr

PAGES = (
    "pages/3_Architectures.py",
    "pages/4_Feature_maps.py",
    "pages/5_Residual_gradients.py",
    "pages/6_SE_attention.py",
)


@pytest.fixture()
def served(monkeypatch: pytest.MonkeyPatch) -> models.LoadedModel:
    """What `python -m cnnviz serve --model usermodels.strange:seeded --input-size 40` offers the app."""
    monkeypatch.setattr(user, "_USER", {})
    torch.manual_seed(5)
    loaded = models.from_module(Strange(), name="strange", input_size=40)
    models.add_user_model(loaded)
    return loaded


def _open(path: str) -> object:
    at = open_app()
    at.run()
    at.switch_page(path)
    at.run()
    return at


@pytest.mark.parametrize("path", PAGES)
def test_a_served_model_is_first_and_chosen_on_every_page(served: models.LoadedModel, path: str) -> None:
    at = _open(path)
    assert_ok(at)
    picker = next(w for w in at.selectbox if (w.key or "").split("@")[0].endswith("model"))
    assert picker.options[0] == f"strange ({tr('weights.user', 'en')})"
    assert picker.value == USER_PREFIX + "strange"
    assert not at.error, [e.value for e in at.error]


def test_served_model_on_feature_maps_grad_cam_residual_and_se(served: models.LoadedModel) -> None:
    at = _open("pages/4_Feature_maps.py")
    assert "unit.gate" in at.selectbox(key="layer").options
    assert any("Grad-CAM" in s.value for s in at.subheader)
    at = _open("pages/5_Residual_gradients.py")
    assert_ok(at)
    assert not any("no residual" in i.value.lower() for i in at.info), "the functional + was not found"
    at = _open("pages/6_SE_attention.py")
    assert_ok(at)
    assert any("unit.gate" in str(getattr(w, "options", "")) for w in at.selectbox)
    at = _open("pages/3_Architectures.py")
    assert_ok(at)
    table = at.dataframe[0].value
    params = dict(zip(table.iloc[:, 0], table[tr("arch.col.params", "en")], strict=True))
    modules = dict(served.model.named_modules())
    for name, count in params.items():
        assert count == sum(p.numel() for p in modules[name].parameters(recurse=False)), name


def test_a_page_that_needs_a_detector_does_not_list_a_classifier(served: models.LoadedModel) -> None:
    at = _open("pages/7_Detection.py")
    assert_ok(at)
    picker = next(w for w in at.selectbox if (w.key or "").split("@")[0] == "detector")
    assert "yolo-mini" in picker.options and USER_PREFIX + "strange" not in picker.options


def _resnet18_10() -> tuple[torchvision.models.ResNet, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=10)
    return net, {k: v.clone() for k, v in net.state_dict().items()}


def _upload(at: object, name: str, data: bytes) -> None:
    at.file_uploader(key="own_weights").upload(name, data, "application/octet-stream").run()


def test_upload_a_resnet18_checkpoint_with_10_classes() -> None:
    _, state = _resnet18_10()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    at = _open("pages/4_Feature_maps.py")
    at.selectbox(key="own_arch").select("resnet18").run()
    _upload(at, "ten.pt", buffer.getvalue())
    assert_ok(at)
    assert not at.error, [e.value for e in at.error]
    loaded = at.session_state["_cnnviz_uploaded_model"]
    assert len(loaded.categories) == 10 and loaded.model.fc.out_features == 10
    for key, value in loaded.model.state_dict().items():
        assert torch.equal(value, state[key]), key
    picker = next(w for w in at.selectbox if (w.key or "").split("@")[0] == "model")
    assert picker.value == UPLOAD_PREFIX + "resnet18 · ten.pt"
    shown = " ".join(c.value for c in at.caption)
    assert "class 9" in shown  # a classifier of 10 classes lists them under the title
    assert "resized from 1000 to 10" in shown


def test_upload_a_lightning_checkpoint_and_labels() -> None:
    _, state = _resnet18_10()
    buffer = io.BytesIO()
    torch.save({"epoch": 3, "state_dict": {f"model.{k}": v for k, v in state.items()}}, buffer)
    at = _open("pages/4_Feature_maps.py")
    at.selectbox(key="own_arch").select("resnet18").run()
    labels = "\n".join(f"digit {k}" for k in range(10)).encode()
    at.file_uploader(key="own_labels").upload("labels.txt", labels, "text/plain").run()
    _upload(at, "lightning.ckpt", buffer.getvalue())
    assert_ok(at)
    loaded = at.session_state["_cnnviz_uploaded_model"]
    assert loaded.categories[3] == "digit 3"
    assert "'model.'" in " ".join(c.value for c in at.caption)


def test_upload_safetensors_of_a_bundled_net(tmp_path) -> None:
    lenet = models.load("lenet5")
    path = tmp_path / "lenet.safetensors"
    save_file(lenet.model.state_dict(), path)
    at = _open("pages/4_Feature_maps.py")
    at.selectbox(key="own_arch").select("lenet5").run()
    _upload(at, "lenet.safetensors", path.read_bytes())
    assert_ok(at)
    loaded = at.session_state["_cnnviz_uploaded_model"]
    assert loaded.categories == lenet.categories  # the zoo's names when the class count is the zoo's


BAD = [
    ("whole.pt", "whole_model", "state_dict()"),
    ("evil.pt", "objects", ""),
    ("garbage.pt", "not_checkpoint", ""),
    ("misfit.pt", "mismatch", "conv1.weight"),
]


def _bad_bytes(kind: str, marker) -> bytes:  # type: ignore[no-untyped-def]
    buffer = io.BytesIO()
    if kind == "whole_model":
        torch.save(torch.nn.Linear(2, 2), buffer)
    elif kind == "objects":

        class Payload:
            def __reduce__(self):  # type: ignore[no-untyped-def]
                return (open, (str(marker), "w"))

        torch.save({"w": Payload()}, buffer)
    elif kind == "not_checkpoint":
        return b"this is not a checkpoint at all"
    else:
        torch.manual_seed(0)
        state = torchvision.models.resnet18().state_dict()
        state["conv1.weight"] = torch.zeros(64, 1, 7, 7)
        torch.save(state, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(("file", "kind", "words"), BAD, ids=[b[1] for b in BAD])
def test_bad_checkpoints_are_sentences(file: str, kind: str, words: str, tmp_path) -> None:
    marker = tmp_path / "pwned"
    at = _open("pages/4_Feature_maps.py")
    at.selectbox(key="own_arch").select("resnet18").run()
    _upload(at, file, _bad_bytes(kind, marker))
    assert_ok(at)
    assert at.error, "a bad checkpoint must be reported in a sentence"
    assert file in at.error[0].value and words in at.error[0].value
    assert not marker.exists()
    assert "_cnnviz_uploaded_model" not in at.session_state
    picker = next(w for w in at.selectbox if (w.key or "").split("@")[0] == "model")
    assert not picker.value.startswith(UPLOAD_PREFIX)


def test_korean_checkpoint_sentence() -> None:
    at = open_app(lang="ko")
    at.run()
    at.switch_page("pages/4_Feature_maps.py")
    at.run()
    _upload(at, "garbage.pt", b"nope")
    assert_ok(at)
    assert at.error and "garbage.pt" in at.error[0].value
    assert any("\uac00" <= ch <= "\ud7a3" for ch in at.error[0].value)  # Hangul


def test_the_expander_is_on_the_language_switch(served: models.LoadedModel) -> None:
    at = _open("pages/4_Feature_maps.py")
    _widget(at, "segmented_control", "lang").set_value("ko").run()
    assert_ok(at)

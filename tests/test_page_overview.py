"""Network at a glance renders in AppTest, in English and Korean, for LeNet-5, a bundled ResNet and the
default ImageNet model (summarised)."""

from __future__ import annotations

import pytest
from pagetest import assert_ok, open_page, widget

from cnnviz.ui.text import tr

PAGE = "pages/10_Network_at_a_glance.py"


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_overview_page_renders(lang: str) -> None:
    at = open_page(PAGE, model="lenet5", lang=lang)
    assert_ok(at)
    assert at.title[0].value == tr("page.overview", lang)
    assert tr("ov.every", lang, layers=12, edges=12) in [c.value for c in at.caption]
    assert len(at.get("plotly_chart")) == 1
    widget(at, "selectbox", "model").select("resnet-mini").run()
    assert_ok(at)
    assert tr("ov.every", lang, layers=41, edges=45) in [c.value for c in at.caption]


def test_default_model_is_summarised_and_every_layer_on_request() -> None:
    at = open_page(PAGE)
    assert_ok(at)
    summary = [c.value for c in at.caption if "layers" in c.value and "blocks" in c.value]
    assert summary, [c.value for c in at.caption]
    widget(at, "segmented_control", "ov_detail").set_value("every").run()
    assert_ok(at)
    assert any(c.value.endswith("connections.") for c in at.caption)


def test_a_served_users_model(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    from usermodels.strange import Strange

    from cnnviz import models
    from cnnviz.models import user

    monkeypatch.setattr(user, "_USER", {})
    torch.manual_seed(5)
    models.add_user_model(models.from_module(Strange(), name="strange", input_size=40))
    at = open_page(PAGE)
    assert_ok(at)
    assert tr("ov.every", "en", layers=17, edges=19) in [c.value for c in at.caption]

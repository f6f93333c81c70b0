"""The Feature maps page's CAM methods: each one draws, and draws what `cnnviz.analysis.cam.cam` computes."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from pagetest import assert_ok, open_page

from cnnviz import images, models
from cnnviz.analysis.cam import CAM_METHODS, cam
from cnnviz.ui.cache import SCORE_CAM_CHANNELS


def _z(spec: str) -> np.ndarray:
    z = json.loads(spec)["data"][0]["z"]
    if isinstance(z, dict):  # plotly's typed array for numpy input
        flat = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"])
        shape = z.get("shape")
        if isinstance(shape, str):  # "5, 5"
            shape = [int(v) for v in shape.split(",")]
        return flat.reshape(shape) if shape else flat
    return np.asarray(z, dtype=np.float64)


@pytest.fixture(scope="module")
def page():  # type: ignore[no-untyped-def]
    return open_page("pages/4_Feature_maps.py", model="lenet5", image="digit-3")


@pytest.mark.parametrize("method", CAM_METHODS)
def test_each_method_draws_its_own_map(page, method: str) -> None:  # type: ignore[no-untyped-def]
    page.selectbox(key="cam_method").select(method).run()
    assert_ok(page)
    (raw,) = [c for c in page.get("plotly_chart") if c.proto.id.endswith("-fm_cam_raw")]
    lenet = models.load("lenet5")
    x = lenet.preprocess(images.load_sample("digit-3"))
    layer = page.selectbox(key="cam_layer").value
    target = int(next(w for w in page.selectbox if (w.key or "").startswith("cam_target")).value)
    channels = SCORE_CAM_CHANNELS if method == "scorecam" else None
    expected = cam(lenet.model, x, layer, target, method=method, max_channels=channels)
    assert expected.method == method
    np.testing.assert_allclose(_z(raw.proto.spec).astype(np.float32), expected.raw, rtol=1e-5, atol=1e-6)

"""A model on CUDA works end to end: inputs are moved to its device, results come back as CPU numpy.

Skipped without a CUDA device (this project's CI has none); each result is compared with the same model on
the CPU.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from usermodels.strange import Strange

from cnnviz import images, models
from cnnviz.analysis import augment, detection, features, residual, se, segmentation, style, summary
from cnnviz.analysis.cam import CAM_METHODS, cam

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
CUDA = torch.device("cuda")


@pytest.fixture()
def pair() -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(4)
    cpu = Strange().eval()
    return cpu, copy.deepcopy(cpu).to(CUDA)


def _x() -> torch.Tensor:
    return torch.rand(
        1, 1, 40, 40, generator=torch.Generator().manual_seed(0)
    )  # on the CPU, as pages give it


def test_from_module_and_feature_maps(pair) -> None:  # type: ignore[no-untyped-def]
    cpu, gpu = pair
    loaded = models.from_module(gpu, name="on-cuda", input_size=40)
    assert loaded.spec.in_channels == 1 and len(loaded.categories) == 7
    a, b = features.feature_maps(cpu, _x()), features.feature_maps(gpu, _x())
    assert a.layers == b.layers
    for name in a.layers:
        np.testing.assert_allclose(b.maps[name], a.maps[name], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("method", CAM_METHODS)
def test_cams(pair, method: str) -> None:  # type: ignore[no-untyped-def]
    cpu, gpu = pair
    a = cam(cpu, _x(), "unit.b", 3, method=method)
    b = cam(gpu, _x(), "unit.b", 3, method=method)
    assert isinstance(b.heatmap, np.ndarray)
    np.testing.assert_allclose(b.raw, a.raw, rtol=1e-3, atol=1e-4 * max(1.0, float(np.abs(a.raw).max())))


def test_residual_se_translation_summary_style(pair) -> None:  # type: ignore[no-untyped-def]
    cpu, gpu = pair
    ra, rb = residual.residual_gradients(cpu, _x(), 2), residual.residual_gradients(gpu, _x(), 2)
    assert rb.block("unit").grad_input == pytest.approx(ra.block("unit").grad_input, rel=1e-3)
    sa, sb = se.se_weights(cpu, _x()), se.se_weights(gpu, _x())
    np.testing.assert_allclose(
        sb.block("unit.gate").weights, sa.block("unit.gate").weights, rtol=1e-4, atol=1e-5
    )
    ta, tb = augment.translation_test(cpu, _x(), 3), augment.translation_test(gpu, _x(), 3)
    np.testing.assert_allclose(tb.target_probability, ta.target_probability, rtol=1e-3, atol=1e-5)
    assert [r.params for r in summary.summary(gpu, (1, 1, 40, 40))] == [
        r.params for r in summary.summary(cpu, (1, 1, 40, 40))
    ]
    steps = list(
        style.transfer_style(gpu, _x(), _x(), content_layer="unit.b", style_layers=["stem"], steps=2)
    )
    assert steps[-1].image.shape == (40, 40, 1) and np.isfinite(steps[-1].total_loss)


def test_detection_and_segmentation_on_cuda() -> None:
    yolo = models.load("yolo-mini")
    scene = detection.shapes_scene(3)
    image = images.from_array(scene.image)
    x = yolo.preprocess(image)
    a = detection.detect(yolo.model, x)
    b = detection.detect(copy.deepcopy(yolo.model).to(CUDA), x)
    np.testing.assert_allclose(b.scores, a.scores, rtol=1e-3, atol=1e-4)
    fcn = models.load("fcn-mini")
    x = fcn.preprocess(image)
    sa = segmentation.semantic_masks(fcn.model, x)
    sb = segmentation.semantic_masks(copy.deepcopy(fcn.model).to(CUDA), x)
    assert (sa.labels == sb.labels).mean() > 0.99

"""A model the project has never seen: every core analysis runs on it, checked against outside references.

The model: 1 input channel at 40 × 40, a functional residual `+`, an SE-style gate written by hand (no
torchvision or cnnviz block), and 7 classes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from usermodels.strange import Strange

from cnnviz import models
from cnnviz.analysis import augment, features, residual, se, segmentation, style, summary
from cnnviz.analysis.cam import grad_cam
from cnnviz.analysis.detection import detect


@pytest.fixture()
def strange() -> models.LoadedModel:
    torch.manual_seed(3)
    return models.from_module(Strange(), name="strange", input_size=40)


def _x(seed: int = 0) -> torch.Tensor:
    return torch.rand(1, 1, 40, 40, generator=torch.Generator().manual_seed(seed))


def test_from_module_reads_the_model(strange: models.LoadedModel) -> None:
    spec = strange.spec
    assert (spec.source, spec.task, spec.in_channels, spec.input_size) == (
        "user",
        "classification",
        1,
        (40, 40),
    )
    assert strange.categories == [f"class {k}" for k in range(7)]
    assert (spec.mean, spec.std) == (models.user.DEFAULT_MEAN, models.user.DEFAULT_STD)
    assert strange.weights == "user" and not strange.model.training
    from PIL import Image

    x = strange.preprocess(Image.new("RGB", (90, 60), (200, 10, 10)))
    assert tuple(x.shape) == (1, 1, 40, 40)


def test_fingerprints_tell_same_named_models_apart() -> None:
    torch.manual_seed(0)
    one = models.from_module(Strange(), name="mine", input_size=40)
    torch.manual_seed(1)
    other = models.from_module(Strange(), name="mine", input_size=40)
    again = models.from_module(one.model, name="mine", input_size=40)
    assert one.fingerprint != other.fingerprint
    assert one.fingerprint == again.fingerprint


def test_feature_maps_equal_plain_forward_hooks(strange: models.LoadedModel) -> None:
    net, x = strange.model, _x(1)
    seen: dict[str, torch.Tensor] = {}
    handles = [
        m.register_forward_hook(lambda _m, _a, out, name=name: seen.__setitem__(name, out.detach().clone()))
        for name, m in net.named_modules()
        if name
    ]
    try:
        with torch.no_grad():
            logits = net(x)
    finally:
        for h in handles:
            h.remove()
    fm = features.feature_maps(net, x)
    assert set(fm.maps) == set(seen)
    for name, out in seen.items():
        expected = out[0].numpy() if out.dim() == 4 else out[0].numpy()[:, None, None]
        np.testing.assert_array_equal(fm.maps[name], expected)
    np.testing.assert_array_equal(fm.logits, logits[0].numpy())


def test_grad_cam_equals_pytorch_grad_cam(strange: models.LoadedModel) -> None:
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    net, x = strange.model, _x(2)
    ours = grad_cam(net, x, "unit.b", target=4)
    try:
        with GradCAM(model=net, target_layers=[net.unit.b]) as cam:
            theirs = cam(input_tensor=x, targets=[ClassifierOutputTarget(4)])[0]
    finally:
        net.zero_grad(set_to_none=True)
    assert not ours.empty
    np.testing.assert_allclose(ours.heatmap, theirs, rtol=0, atol=1e-5)


def test_summary_params_equal_numel(strange: models.LoadedModel) -> None:
    rows = summary.summary(strange.model, (1, 1, 40, 40))
    modules = dict(strange.model.named_modules())
    for row in rows:
        own = sum(p.numel() for p in modules[row.name].parameters(recurse=False))
        assert row.params == own, row.name
    assert summary.summary_totals(rows).params == sum(p.numel() for p in strange.model.parameters())


def test_residual_and_se_are_found_from_the_real_forward(strange: models.LoadedModel) -> None:
    net, x = strange.model, _x(3)
    blocks = residual.find_residual_blocks(net, x)
    assert [b.name for b in blocks] == ["unit"]
    result = residual.residual_gradients(net, x, target=2, objective="score")
    # The block's input gradient, rebuilt by autograd directly.
    taps: dict[str, torch.Tensor] = {}

    def keep(_m: nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        tap = args[0].detach().requires_grad_(True)
        taps["in"] = tap
        return (tap,)

    handle = net.unit.register_forward_pre_hook(keep)
    try:
        score = net(x)[0, 2]
        (grad,) = torch.autograd.grad(score, [taps["in"]])
    finally:
        handle.remove()
    block = result.block("unit")
    assert block.grad_input == pytest.approx(float(grad.double().norm()), rel=1e-5)
    assert block.input_norm == pytest.approx(float(taps["in"].detach().double().norm()), rel=1e-6)

    gates = se.find_se_blocks(net, x)
    assert [g.name for g in gates] == ["unit.gate"]
    weights = se.se_weights(net, x).block("unit.gate").weights
    with torch.no_grad():
        h = F.relu(net.unit.a(F.relu(net.stem(x))))
        squeezed = net.unit.b(h).mean(dim=(2, 3))
        expected = torch.sigmoid(net.unit.gate.up(F.relu(net.unit.gate.down(squeezed))))[0]
    np.testing.assert_allclose(weights, expected.numpy(), rtol=1e-5, atol=1e-6)


def test_translation_test_against_direct_forwards(strange: models.LoadedModel) -> None:
    net, x = strange.model, _x(4)
    test = augment.translation_test(net, x, max_shift=3)
    with torch.no_grad():
        p0 = torch.softmax(net(x), 1)[0]
    assert test.target == int(p0.argmax())
    assert test.target_probability[test.shifts.index(0)] == pytest.approx(float(p0.max()), abs=1e-6)


def test_style_transfer_runs_on_its_layers(strange: models.LoadedModel) -> None:
    steps = list(
        style.transfer_style(
            strange.model, _x(5), _x(6), content_layer="unit.b", style_layers=["stem", "unit.a"], steps=2
        )
    )
    assert [s.step for s in steps] == [1, 2] and steps[0].image.shape == (40, 40, 1)
    assert np.isfinite(steps[-1].total_loss)


def test_structure_it_lacks_is_a_sentence(strange: models.LoadedModel) -> None:
    with pytest.raises(TypeError, match="not a detector"):
        detect(strange.model, _x())
    with pytest.raises(ValueError, match=r"not \(N, K, H, W\) class scores"):
        segmentation.semantic_masks(strange.model, _x())
    with pytest.raises(ValueError, match=r"unknown layer name.*did you mean 'unit\.b'"):
        grad_cam(strange.model, _x(), "unit.bb")


def test_wrong_input_shape_is_a_sentence(strange: models.LoadedModel) -> None:
    with pytest.raises(ValueError, match=r"cannot take an input of shape \(1, 3, 40, 40\)"):
        features.feature_maps(strange.model, torch.zeros(1, 3, 40, 40))
    with pytest.raises(ValueError, match=r"\(1, C, H, W\)"):
        features.feature_maps(strange.model, torch.zeros(2, 1, 40, 40))


def test_from_module_errors_are_sentences() -> None:
    with pytest.raises(ValueError, match="no class axis"):
        models.from_module(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(0)), name="flat", input_size=8)
    with pytest.raises(ValueError, match="no convolution"):
        models.from_module(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), name="mlp")
    with pytest.raises(ValueError, match="3 names but the model's output has 7"):
        models.from_module(Strange(), name="x", categories=["a", "b", "c"], input_size=40)
    with pytest.raises(ValueError, match="cannot take an input"):
        models.from_module(Strange(), name="x", in_channels=3, input_size=40)
    with pytest.raises(ValueError, match="mean needs 1 or 1 values"):
        models.from_module(Strange(), name="x", mean=(0.1, 0.2), input_size=40)
    with pytest.raises(TypeError, match=r"nn\.Module"):
        models.from_module("resnet", name="x")  # type: ignore[arg-type]


def test_module_objects_name_layers(strange: models.LoadedModel) -> None:
    net, x = strange.model, _x(7)
    by_name = grad_cam(net, x, "unit.a", target=1)
    by_module = grad_cam(net, x, net.unit.a, target=1) if _accepts_modules() else by_name
    np.testing.assert_array_equal(by_name.heatmap, by_module.heatmap)
    from cnnviz.hooks import capture

    with capture(net, [net.unit.gate, "head"]) as cap, torch.no_grad():
        net(x)
    assert list(cap.activations) == ["unit.gate", "head"]


def _accepts_modules() -> bool:
    import inspect

    return "Layer" in str(inspect.signature(grad_cam).parameters["layer"].annotation)

"""Grad-CAM, the default CAM layer and top-k, against hand-computed values and pytorch-grad-cam."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from cnnviz.analysis.cam import CamResult, Prediction, default_cam_layer, grad_cam, top_k
from cnnviz.hooks import model_lock


class TinyCNN(nn.Module):
    """conv -> ReLU -> conv (stride 2) -> ReLU -> global average pooling -> FC: CAM has a closed form."""

    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(8, 16, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),  # in place, as in torchvision: the conv's stored output must stay pre-ReLU
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def _seeded(build, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build().eval()


def _image(size: int, channels: int = 3, seed: int = 1) -> torch.Tensor:
    return torch.randn(1, channels, size, size, generator=torch.Generator().manual_seed(seed))


def _hook_count(model: nn.Module) -> int:
    return sum(
        len(m._forward_hooks)
        + len(m._forward_pre_hooks)
        + len(m._backward_hooks)
        + len(m._backward_pre_hooks)
        for m in model.modules()
    )


def _assert_untouched(model: nn.Module, modes: list[bool], requires_grad: list[bool]) -> None:
    assert _hook_count(model) == 0
    assert all(p.grad is None for p in model.parameters())
    assert [m.training for m in model.modules()] == modes
    assert [p.requires_grad for p in model.parameters()] == requires_grad


def _state(model: nn.Module) -> tuple[list[bool], list[bool]]:
    return [m.training for m in model.modules()], [p.requires_grad for p in model.parameters()]


@pytest.fixture
def tiny() -> TinyCNN:
    return _seeded(TinyCNN)


@pytest.fixture(scope="module")
def resnet18() -> nn.Module:
    return _seeded(lambda: torchvision.models.resnet18(weights=None))


@pytest.fixture(scope="module")
def vgg11() -> nn.Module:
    return _seeded(lambda: torchvision.models.vgg11(weights=None))


# --- Grad-CAM against its closed form ----------------------------------------------------------------------


def test_last_relu_before_global_pooling_gives_fc_weights(tiny: TinyCNN) -> None:
    # score_k = sum_c W[k, c] * mean_ij A_c[i, j] + b_k, so d score_k / d A_c[i, j] = W[k, c] / (h * w) and
    # Grad-CAM is the class activation map of Zhou et al. scaled by 1 / (h * w).
    x = _image(16)
    k = 2
    result = grad_cam(tiny, x, "features.3", target=k)
    with torch.no_grad():
        fmap = tiny.features(x)[0]  # (16, 8, 8)
        logits = tiny(x)[0]
    h, w = fmap.shape[-2:]
    weights = tiny.fc.weight.detach()[k] / (h * w)
    raw = torch.relu(torch.einsum("c,chw->hw", weights, fmap))
    up = F.interpolate(raw[None, None], size=(16, 16), mode="bilinear", align_corners=False)[0, 0]
    heatmap = (up - up.min()) / (up.max() - up.min())

    assert isinstance(result, CamResult)
    assert (result.layer, result.target, result.empty) == ("features.3", k, False)
    np.testing.assert_allclose(result.channel_weights, weights.numpy(), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(result.raw, raw.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(result.heatmap, heatmap.numpy(), atol=1e-5)
    assert result.score == pytest.approx(float(logits[k]), rel=1e-6)
    assert result.probability == pytest.approx(float(torch.softmax(logits, 0)[k]), rel=1e-6)


def test_conv_before_an_inplace_relu_uses_its_own_output(tiny: TinyCNN) -> None:
    # At the conv before ReLU(inplace=True) the activation is the pre-ReLU output and the gradient passes the
    # ReLU's mask: d score / d A_c[i, j] = W[k, c] / (h * w) * [A_c[i, j] > 0].
    x = _image(16, seed=3)
    k = 4
    result = grad_cam(tiny, x, "features.2", target=k)
    with torch.no_grad():
        pre = tiny.features[2](tiny.features[1](tiny.features[0](x)))[0]  # (16, 8, 8), before the ReLU
    h, w = pre.shape[-2:]
    weights = tiny.fc.weight.detach()[k][:, None, None] / (h * w) * (pre > 0).float()
    weights = weights.mean(dim=(1, 2))
    raw = torch.relu(torch.einsum("c,chw->hw", weights, pre))

    assert (pre < 0).any()  # the test means something only if the ReLU clips
    np.testing.assert_allclose(result.channel_weights, weights.numpy(), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(result.raw, raw.numpy(), rtol=1e-5, atol=1e-7)


def test_result_is_read_only_float32_at_input_size(tiny: TinyCNN) -> None:
    result = grad_cam(tiny, _image(20), "features.3", target=0)
    assert result.heatmap.shape == (20, 20)
    assert result.raw.shape == (10, 10)
    assert result.channel_weights.shape == (16,)
    for arr in (result.heatmap, result.raw, result.channel_weights):
        assert arr.dtype == np.float32
        assert not arr.flags.writeable
    assert result.heatmap.min() == 0.0 and result.heatmap.max() == 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.target = 1  # type: ignore[misc]


def test_nothing_for_the_class_gives_an_empty_zero_heatmap(tiny: TinyCNN) -> None:
    # After a ReLU every A_c >= 0; with all FC weights of class k negative, every Grad-CAM weight is negative,
    # so ReLU(sum_c w_c A_c) is zero everywhere: nothing to show, and it says so.
    with torch.no_grad():
        tiny.fc.weight[1] = -tiny.fc.weight[1].abs() - 0.1
    result = grad_cam(tiny, _image(16), "features.3", target=1)
    assert result.empty
    assert (result.channel_weights < 0).all()
    assert not result.raw.any() and not result.heatmap.any()
    assert result.heatmap.shape == (16, 16)


def test_target_none_explains_the_top_class(tiny: TinyCNN) -> None:
    x = _image(16, seed=5)
    with torch.no_grad():
        logits = tiny(x)[0]
    result = grad_cam(tiny, x, "features.3")
    assert result.target == int(logits.argmax())
    assert result.score == pytest.approx(float(logits.max()), rel=1e-6)
    assert result.probability == pytest.approx(float(torch.softmax(logits, 0).max()), rel=1e-6)
    explicit = grad_cam(tiny, x, "features.3", target=np.int64(result.target))
    np.testing.assert_array_equal(explicit.heatmap, result.heatmap)


# --- Grad-CAM against pytorch-grad-cam ---------------------------------------------------------------------


def _reference(model: nn.Module, module: nn.Module, x: torch.Tensor, target: int):
    """pytorch-grad-cam's heatmap, and its raw map and channel weights at the layer's resolution."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    targets = [ClassifierOutputTarget(target)]
    try:
        with GradCAM(model=model, target_layers=[module]) as cam:
            heatmap = cam(input_tensor=x, targets=targets)[0]
            # Their pipeline keeps the layer's activation and gradient until release; fed back through their
            # own get_cam_weights/get_cam_image they give the map before their ReLU, scaling and resize.
            acts = cam.activations_and_grads.activations[0].numpy()
            grads = cam.activations_and_grads.gradients[0].numpy()
            weights = cam.get_cam_weights(x, module, targets, acts, grads)[0]
            raw = np.maximum(cam.get_cam_image(x, module, targets, acts, grads)[0], 0)
    finally:
        model.zero_grad(set_to_none=True)  # their backward() fills .grad; later tests expect None
    return heatmap, raw, weights


@pytest.mark.parametrize(
    ("arch", "size", "layer"),
    [
        ("resnet18", 96, "layer4"),  # the default CAM layer; the same tensor as layer4[-1]
        ("resnet18", 96, "layer3"),
        ("vgg11", 64, "features.19"),  # the last ReLU before the last max pooling
        ("vgg11", 64, "features.14"),
    ],
)
@pytest.mark.parametrize("target", [None, 417])
def test_matches_pytorch_grad_cam(request, arch: str, size: int, layer: str, target: int | None) -> None:
    # How the comparison is made sharp: pytorch-grad-cam computes ReLU(sum_k mean(grad_k) A_k), min-max scales
    # it (x - min) / (1e-7 + max), resizes with cv2.resize (INTER_LINEAR), and min-max scales again. On
    # float32 input cv2's INTER_LINEAR samples at the same half-pixel centres as
    # F.interpolate(bilinear, align_corners=False) (equal to ~1e-7), and min-max scaling commutes with a
    # linear resize, so their scale -> resize -> rescale equals our resize -> scale up to rounding and their
    # 1e-7 epsilon. Hence: the raw map and channel weights are compared at the layer's resolution, relative to
    # their size, and the final heatmap with an absolute tolerance of 1e-5 (observed: about 1e-6).
    # Both sides hook the same module, in the same model with the same weights; their run goes second.
    model = request.getfixturevalue(arch)
    x = _image(size, seed=7)
    before = x.clone()
    modes, requires_grad = _state(model)

    ours = grad_cam(model, x, layer, target=target)
    _assert_untouched(model, modes, requires_grad)
    assert torch.equal(x, before) and not x.requires_grad and x.grad is None
    heatmap, raw, weights = _reference(model, model.get_submodule(layer), x, ours.target)

    assert not ours.empty  # an all-zero map would make the comparison vacuous
    assert ours.heatmap.shape == heatmap.shape == (size, size)
    np.testing.assert_allclose(ours.channel_weights, weights, rtol=1e-4, atol=1e-6 * np.abs(weights).max())
    np.testing.assert_allclose(ours.raw, raw, rtol=1e-4, atol=1e-5 * raw.max())
    np.testing.assert_allclose(ours.heatmap, heatmap, rtol=0, atol=1e-5)


# --- the model is left as it was ---------------------------------------------------------------------------


def test_model_and_input_untouched(resnet18: nn.Module) -> None:
    x = _image(64, seed=11)
    before = x.clone()
    modes, requires_grad = _state(resnet18)
    buffers = {name: b.clone() for name, b in resnet18.named_buffers()}
    params = {name: p.detach().clone() for name, p in resnet18.named_parameters()}

    grad_cam(resnet18, x, "layer4", target=1)

    _assert_untouched(resnet18, modes, requires_grad)
    assert torch.equal(x, before) and not x.requires_grad and x.grad is None
    assert all(torch.equal(b, buffers[name]) for name, b in resnet18.named_buffers())
    assert all(torch.equal(p, params[name]) for name, p in resnet18.named_parameters())


def test_train_mode_and_frozen_parameters_are_kept(tiny: TinyCNN) -> None:
    x = _image(16)
    expected = grad_cam(tiny, x, "features.3", target=3)
    tiny.train()
    tiny.requires_grad_(False)  # a frozen model still has activation gradients
    modes, requires_grad = _state(tiny)
    frozen = grad_cam(tiny, x, "features.3", target=3)
    _assert_untouched(tiny, modes, requires_grad)
    assert all(m.training for m in tiny.modules())
    np.testing.assert_allclose(frozen.heatmap, expected.heatmap, atol=1e-6)


def test_works_under_a_callers_no_grad(tiny: TinyCNN) -> None:
    x = _image(16)
    expected = grad_cam(tiny, x, "features.3", target=0)
    with torch.no_grad():
        result = grad_cam(tiny, x, "features.3", target=0)
    np.testing.assert_array_equal(result.heatmap, expected.heatmap)


def test_runs_under_the_model_lock(tiny: TinyCNN) -> None:
    # While the model runs, another thread must not be able to take the model's lock.
    lock = model_lock(tiny)
    seen: list[bool] = []

    def try_lock(module: nn.Module, args: tuple) -> None:
        def other() -> None:
            got = lock.acquire(blocking=False)
            if got:
                lock.release()
            seen.append(got)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()

    handle = tiny.features.register_forward_pre_hook(try_lock)
    try:
        grad_cam(tiny, _image(16), "features.3", target=0)
    finally:
        handle.remove()
    assert seen == [False]


@pytest.mark.parametrize(
    ("layer", "target", "x_shape", "message"),
    [
        ("features.9", 0, (1, 3, 16, 16), "features.9"),  # unknown layer, named by capture
        ("fc", 0, (1, 3, 16, 16), "'fc'"),  # a vector, not a feature map
        ("features.3", 5, (1, 3, 16, 16), "target"),
        ("features.3", -1, (1, 3, 16, 16), "target"),
        ("features.3", 0, (2, 3, 16, 16), "x must be"),
        ("features.3", 0, (3, 16, 16), "x must be"),
    ],
)
def test_bad_arguments_are_named_and_leave_no_trace(
    tiny: TinyCNN, layer: str, target: int, x_shape: tuple[int, ...], message: str
) -> None:
    modes, requires_grad = _state(tiny)
    with pytest.raises(ValueError, match=message):
        grad_cam(tiny, torch.zeros(x_shape), layer, target=target)
    _assert_untouched(tiny, modes, requires_grad)


# --- default CAM layer -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arch", "expected"),
    [("resnet18", "layer4"), ("vgg11", "features.19"), ("mobilenet_v2", "features.18")],
)
def test_default_cam_layer_of_torchvision_models(request, arch: str, expected: str) -> None:
    if arch in ("resnet18", "vgg11"):
        model = request.getfixturevalue(arch)
    else:
        model = _seeded(lambda: torchvision.models.get_model(arch, weights=None))
    modes, requires_grad = _state(model)
    assert default_cam_layer(model) == expected
    _assert_untouched(model, modes, requires_grad)


def test_default_cam_layer_of_a_tiny_cnn(tiny: TinyCNN) -> None:
    # `features` also returns the last map but holds the first conv (the whole backbone): its last ReLU wins.
    assert default_cam_layer(tiny) == "features.3"
    assert default_cam_layer(tiny, _image(16)) == "features.3"


def test_default_cam_layer_skips_squeeze_and_excitation_convs() -> None:
    # The SE block's 1 x 1 convolutions on the pooled (C, 1, 1) vector run last but are no feature map.
    class SE(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.fc1, self.fc2 = nn.Conv2d(c, 2, 1), nn.Conv2d(2, c, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            s = F.adaptive_avg_pool2d(x, 1)
            return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(s))))

    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.Sequential(nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.ReLU(), SE(8)),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 3),
    ).eval()
    assert default_cam_layer(model) == "1"


def test_default_cam_layer_needs_an_example_for_fixed_size_models() -> None:
    torch.manual_seed(0)
    lenet = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 10),
    ).eval()  # fmt: skip
    with pytest.raises(ValueError, match="pass x"):
        default_cam_layer(lenet)
    assert default_cam_layer(lenet, torch.zeros(1, 1, 32, 32)) == "4"
    assert _hook_count(lenet) == 0


def test_default_cam_layer_without_convolutions() -> None:
    with pytest.raises(ValueError, match="Conv2d"):
        default_cam_layer(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))


# --- top-k -------------------------------------------------------------------------------------------------


def test_top_k_matches_softmax_topk() -> None:
    logits = torch.randn(1, 20, generator=torch.Generator().manual_seed(0))
    categories = [f"class {i}" for i in range(20)]
    predictions = top_k(logits, categories, k=5)
    values, indices = torch.topk(torch.softmax(logits[0], dim=0), 5)

    assert all(isinstance(p, Prediction) for p in predictions)
    assert [p.index for p in predictions] == indices.tolist()
    assert [p.name for p in predictions] == [categories[i] for i in indices.tolist()]
    np.testing.assert_allclose([p.probability for p in predictions], values.numpy(), rtol=1e-6)
    assert top_k(logits[0], categories, k=5) == predictions  # (K,) and (1, K) alike


def test_top_k_of_few_classes_and_bad_arguments() -> None:
    logits = torch.tensor([0.0, 2.0, 1.0])
    predictions = top_k(logits, ["a", "b", "c"], k=5)
    assert [p.name for p in predictions] == ["b", "c", "a"]
    assert sum(p.probability for p in predictions) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="categories"):
        top_k(logits, ["a", "b"])
    with pytest.raises(ValueError, match="k must"):
        top_k(logits, ["a", "b", "c"], k=0)
    with pytest.raises(ValueError, match="logits"):
        top_k(torch.zeros(2, 3), ["a", "b", "c"])

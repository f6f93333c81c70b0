"""CAM methods, the default CAM layer and top-k, against hand-computed values and pytorch-grad-cam."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from lock_events import watch_lock
from torch import nn

from cnnviz.analysis.cam import CAM_METHODS, CamResult, Prediction, cam, default_cam_layer, grad_cam, top_k
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


# --- every method against pytorch-grad-cam -----------------------------------------------------------------
#
# How the comparison is made sharp. pytorch-grad-cam computes a map at the layer's resolution
# (`get_cam_image`: sum_k w_k A_k, or its own formula for LayerCAM and Eigen-CAM), applies a ReLU, min-max
# scales it as (x - min) / (1e-7 + max), resizes it with cv2.resize (INTER_LINEAR) and min-max scales again.
# On float32 input cv2's INTER_LINEAR samples at the same half-pixel centres as F.interpolate(bilinear,
# align_corners=False) (equal to ~1e-7), and min-max scaling commutes with a linear resize, so their
# scale -> resize -> rescale equals our resize -> scale up to rounding and their 1e-7 epsilon. So the map
# before their ReLU and the channel weights are recorded from inside their pipeline (a subclass that keeps
# what `get_cam_weights` and `get_cam_image` returned) and compared at the layer's resolution, relative to
# their size (rtol 1e-4; observed: below 1e-6 of the largest value, float32 rounding in a different order),
# and the final heatmap with an absolute tolerance of 1e-5 (observed: about 1e-6). Both sides hook the same
# module of the same model; ours runs first, so their `model.eval()` and `.grad` cannot affect it.

_REFERENCE_CLASSES = {
    "gradcam": "GradCAM",
    "gradcam++": "GradCAMPlusPlus",
    "xgradcam": "XGradCAM",
    "layercam": "LayerCAM",
    "scorecam": "ScoreCAM",
    "eigencam": "EigenCAM",
}


@dataclasses.dataclass
class _Reference:
    heatmap: np.ndarray  # (H, W), their final output
    cam_image: np.ndarray  # (h, w), their map before the ReLU
    weights: np.ndarray | None  # (C,), None for LayerCAM and Eigen-CAM, which have no channel weights
    activations: np.ndarray  # (C, h, w), what their hook recorded


def _reference(method: str, model: nn.Module, module: nn.Module, x: torch.Tensor, target) -> _Reference:
    """pytorch-grad-cam's result for one image; `target` is a class index or a callable on one output (K,)."""
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    base = getattr(pytorch_grad_cam, _REFERENCE_CLASSES[method])
    seen: dict[str, np.ndarray] = {}

    class Recording(base):  # type: ignore[misc, valid-type]
        def get_cam_weights(self, input_tensor, layer, targets, activations, grads):
            seen["weights"] = super().get_cam_weights(input_tensor, layer, targets, activations, grads)[0]
            return seen["weights"][None]

        def get_cam_image(self, input_tensor, layer, targets, activations, grads, eigen_smooth=False):
            seen["activations"] = activations[0]
            image = super().get_cam_image(input_tensor, layer, targets, activations, grads, eigen_smooth)
            seen["cam_image"] = image[0]
            return image

    targets = [ClassifierOutputTarget(target) if isinstance(target, int) else target]
    try:
        with Recording(model=model, target_layers=[module]) as cam_:
            cam_.batch_size = 64  # Score-CAM's masked images per pass (theirs defaults to 16)
            heatmap = cam_(input_tensor=x, targets=targets)[0]
    finally:
        model.zero_grad(set_to_none=True)  # their backward() fills .grad; later tests expect None
    return _Reference(heatmap, seen["cam_image"], seen.get("weights"), seen["activations"])


def _their_post_processing(cam_image: np.ndarray, size: int) -> np.ndarray:
    """pytorch-grad-cam's ReLU, scale, resize and rescale, applied to a map we give it."""
    from pytorch_grad_cam.utils.image import scale_cam_image

    return scale_cam_image(scale_cam_image(np.maximum(cam_image, 0)[None], (size, size)))[0]


def _eigen_sign(ref: _Reference) -> int:
    """Our Eigen-CAM sign, found independently: the projection rises with the sum of all channels."""
    return 1 if float((ref.cam_image * ref.activations.sum(axis=0)).sum()) >= 0 else -1


def _assert_matches(ours: CamResult, ref: _Reference, size: int) -> None:
    assert not ours.empty  # an all-zero map would make the comparison vacuous
    cam_image, heatmap = ref.cam_image, ref.heatmap
    if ours.method == "eigencam":
        # Their SVD's sign is whatever LAPACK returns; ours is fixed. Flip theirs to ours (found from their
        # own activations), and post-process the flipped map with their own functions.
        sign = _eigen_sign(ref)
        cam_image = sign * cam_image
        heatmap = _their_post_processing(cam_image, size)
        if sign == 1:
            np.testing.assert_allclose(heatmap, ref.heatmap, atol=1e-6)  # their functions, their pipeline
    raw = np.maximum(cam_image, 0)
    assert ours.heatmap.shape == heatmap.shape == (size, size)
    assert ours.raw.shape == raw.shape
    np.testing.assert_allclose(ours.raw, raw, rtol=1e-4, atol=1e-5 * raw.max())
    np.testing.assert_allclose(ours.heatmap, heatmap, rtol=0, atol=1e-5)
    if ref.weights is not None:
        w = ref.weights
        np.testing.assert_allclose(ours.channel_weights, w, rtol=1e-4, atol=1e-6 * np.abs(w).max())


_CASES = [
    # (model fixture, input size, layer, target): post-ReLU maps, the usual CAM layers
    ("tiny", 16, "features.3", None),
    ("tiny", 16, "features.3", 2),
    ("resnet18", 64, "layer3", None),  # 4 x 4 places, 256 channels
    ("resnet18", 64, "layer3", 417),
    ("resnet18", 96, "layer4", None),  # the default CAM layer, 3 x 3 places, 512 channels
]


@pytest.mark.parametrize(
    ("method", "arch", "size", "layer", "target"),
    [
        (method, *case)
        for method in CAM_METHODS
        for case in _CASES
        if not (method == "scorecam" and case[2] == "layer4")  # 2 x 512 forward passes: ~10 s for no news
    ],
)
def test_each_method_matches_pytorch_grad_cam(
    request, method: str, arch: str, size: int, layer: str, target: int | None
) -> None:
    model = request.getfixturevalue(arch)
    x = _image(size, seed=7)
    before = x.clone()
    modes, requires_grad = _state(model)

    ours = cam(model, x, layer, target=target, method=method, batch_size=64)
    _assert_untouched(model, modes, requires_grad)
    assert torch.equal(x, before) and not x.requires_grad and x.grad is None
    ref = _reference(method, model, model.get_submodule(layer), x, ours.target)

    assert ours.method == method and ours.layer == layer
    _assert_matches(ours, ref, size)
    if method == "eigencam":  # an unstable principal direction would make the comparison luck
        s = np.linalg.svd(ref.activations.reshape(ref.activations.shape[0], -1).T, compute_uv=False)
        assert s[0] > 1.05 * s[1]


@pytest.mark.parametrize(
    ("arch", "size", "layer"),
    [
        ("resnet18", 96, "layer4"),  # the same tensor as layer4[-1]
        ("vgg11", 64, "features.19"),  # the last ReLU before the last max pooling
        ("vgg11", 64, "features.14"),
    ],
)
@pytest.mark.parametrize("target", [None, 417])
def test_grad_cam_matches_pytorch_grad_cam(request, arch: str, size: int, layer: str, target) -> None:
    model = request.getfixturevalue(arch)
    x = _image(size, seed=7)
    ours = grad_cam(model, x, layer, target=target)
    assert ours.method == "gradcam"
    _assert_matches(ours, _reference("gradcam", model, model.get_submodule(layer), x, ours.target), size)


@pytest.mark.parametrize("method", ["gradcam", "layercam", "scorecam"])
def test_a_callable_target_matches_pytorch_grad_cam(tiny: TinyCNN, method: str) -> None:
    # Their targets get one image's output (K,); ours gets the model's output for the one image, (1, K).
    # Score-CAM applies it to every masked image.
    x = _image(16, seed=2)
    ours = cam(tiny, x, "features.3", target=lambda out: out[0, 3] - out[0, 1], method=method)
    ref = _reference(method, tiny, tiny.features[3], x, lambda out: out[3] - out[1])
    with torch.no_grad():
        logits = tiny(x)[0]
    assert ours.target is None and np.isnan(ours.probability)
    assert ours.score == pytest.approx(float(logits[3] - logits[1]), rel=1e-6)
    _assert_matches(ours, ref, 16)


def test_score_cam_with_dead_channels_matches_pytorch_grad_cam(tiny: TinyCNN) -> None:
    # Dead channels (all zeros) share one black masked image, scored once; theirs scores it for each of them.
    with torch.no_grad():
        tiny.features[2].bias[:6] = -1e3
    x = _image(16, seed=4)
    ours = cam(tiny, x, "features.3", target=1, method="scorecam", batch_size=4)
    ref = _reference("scorecam", tiny, tiny.features[3], x, 1)
    assert not ref.activations[:6].any() and ref.activations[6:].any(axis=(1, 2)).all()
    _assert_matches(ours, ref, 16)


def test_score_cam_does_not_depend_on_the_batch_size(resnet18: nn.Module) -> None:
    x = _image(32, seed=3)
    one = cam(resnet18, x, "layer2", method="scorecam", batch_size=1)
    many = cam(resnet18, x, "layer2", method="scorecam", batch_size=50)  # 128 channels: a short last batch
    np.testing.assert_allclose(one.channel_weights, many.channel_weights, rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(one.heatmap, many.heatmap, atol=1e-5)


def test_score_cam_on_fewer_channels_uses_those_that_vary_most(resnet18: nn.Module) -> None:
    # Reference: a plain forward hook for the feature map, and the masked images scored by hand.
    x = _image(32, seed=5)
    k, target = 10, 7
    store: list[torch.Tensor] = []
    handle = resnet18.layer2.register_forward_hook(lambda m, i, out: store.append(out.detach().clone()))
    try:
        with torch.no_grad():
            resnet18(x)
    finally:
        handle.remove()
    fmap = store[0][0]  # (128, 4, 4)
    chosen = torch.topk(fmap.flatten(1).var(dim=1), k).indices
    masks = F.interpolate(fmap[None, chosen], size=(32, 32), mode="bilinear", align_corners=True)[0]
    masks = (masks - masks.amin(dim=(1, 2), keepdim=True)) / (
        masks.amax(dim=(1, 2), keepdim=True) - masks.amin(dim=(1, 2), keepdim=True)
    )
    with torch.no_grad():
        scores = resnet18(x * masks[:, None])[:, target]
    weights = torch.zeros(128)
    weights[chosen] = torch.softmax(scores, dim=0)
    raw = torch.relu(torch.einsum("c,chw->hw", weights, fmap))

    result = cam(resnet18, x, "layer2", target=target, method="scorecam", max_channels=k, batch_size=4)
    assert set(np.flatnonzero(result.channel_weights)) == set(chosen.tolist())
    np.testing.assert_allclose(result.channel_weights, weights.numpy(), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(result.raw, raw.numpy(), rtol=1e-4, atol=1e-5 * float(raw.max()))
    every = cam(resnet18, x, "layer2", target=target, method="scorecam")
    np.testing.assert_array_equal(
        cam(resnet18, x, "layer2", target=target, method="scorecam", max_channels=128).channel_weights,
        every.channel_weights,
    )


# --- the methods against closed forms ----------------------------------------------------------------------


def test_xgrad_cam_and_layer_cam_on_a_pooled_linear_head(tiny: TinyCNN) -> None:
    # After the last ReLU before global average pooling, d score_k / d A_c[i, j] = W[k, c] / (h * w) at every
    # place. XGrad-CAM's activation-weighted mean of that is the same number (Grad-CAM's weight); LayerCAM's
    # map is ReLU(sum_c ReLU(W[k, c]) A_c) / (h * w).
    x = _image(16, seed=8)
    k = 3
    with torch.no_grad():
        fmap = tiny.features(x)[0]  # (16, 8, 8)
    h, w = fmap.shape[-2:]
    weights = tiny.fc.weight.detach()[k] / (h * w)
    xgrad = cam(tiny, x, "features.3", target=k, method="xgradcam")
    layer = cam(tiny, x, "features.3", target=k, method="layercam")

    alive = fmap.sum(dim=(1, 2)) > 1e-2  # eps / sum(A) is then below 1e-5
    assert alive.sum() >= 8
    np.testing.assert_allclose(xgrad.channel_weights[alive], weights[alive].numpy(), rtol=1e-5)
    expected = torch.relu(torch.einsum("c,chw->hw", torch.relu(weights), fmap))
    np.testing.assert_allclose(layer.raw, expected.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(layer.channel_weights, torch.relu(weights).numpy(), rtol=1e-5, atol=1e-9)


def test_eigen_cam_is_the_first_principal_component(resnet18: nn.Module) -> None:
    # An independent route: the top eigenvector of the places' covariance (numpy eigh, float64), not an SVD.
    x = _image(64, seed=9)
    with torch.no_grad():
        fmap = resnet18.layer3(resnet18.layer2(resnet18.layer1(resnet18.maxpool(
            resnet18.relu(resnet18.bn1(resnet18.conv1(x)))))))[0].double().numpy()  # fmt: skip
    places = fmap.reshape(fmap.shape[0], -1).T
    centred = places - places.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred)
    direction = vectors[:, -1] * np.sign(vectors[:, -1].sum())  # the sign whose channels add up positively
    projection = (centred @ direction).reshape(fmap.shape[1:])

    result = cam(resnet18, x, "layer3", method="eigencam")
    assert values[-1] > 1.05 * values[-2]
    np.testing.assert_allclose(result.channel_weights, direction, atol=1e-5)
    np.testing.assert_allclose(result.raw, np.maximum(projection, 0), rtol=1e-4, atol=1e-5 * projection.max())
    assert float((projection * fmap.sum(axis=0)).sum()) > 0  # bright where the layer is most active


# --- one entry point -------------------------------------------------------------------------------------


def test_methods_are_named_for_a_picker(tiny: TinyCNN) -> None:
    assert CAM_METHODS == ("gradcam", "gradcam++", "xgradcam", "layercam", "scorecam", "eigencam")
    x = _image(16)
    np.testing.assert_array_equal(cam(tiny, x, "features.3").heatmap, grad_cam(tiny, x, "features.3").heatmap)
    spelled = cam(tiny, x, "features.3", method="Grad-CAM++")
    assert spelled.method == "gradcam++"
    np.testing.assert_array_equal(spelled.heatmap, cam(tiny, x, "features.3", method="gradcam++").heatmap)


@pytest.mark.parametrize("method", CAM_METHODS)
def test_a_layer_may_be_given_as_its_module(tiny: TinyCNN, method: str) -> None:
    x = _image(16, seed=6)
    by_name = cam(tiny, x, "features.3", method=method)
    by_module = cam(tiny, x, tiny.features[3], method=method)
    assert by_module.layer == "features.3"
    np.testing.assert_array_equal(by_module.heatmap, by_name.heatmap)
    np.testing.assert_array_equal(by_module.channel_weights, by_name.channel_weights)


def test_a_callable_target_explains_a_model_without_a_class_axis(tiny: TinyCNN) -> None:
    # A model returning a feature map (1, 16, 8, 8): an index has no meaning, a callable does. With the score
    # mean_ij A_2[i, j] at the layer itself, d score / d A = 1 / (h * w) on channel 2 and 0 elsewhere.
    backbone = tiny.features
    x = _image(16, seed=10)
    with pytest.raises(ValueError, match=r"logits \(1, K\).*the model returned \(1, 16, 8, 8\).*callable"):
        cam(backbone, x, "3")
    result = cam(backbone, x, "3", target=lambda out: out[0, 2].mean())
    with torch.no_grad():
        fmap = backbone(x)[0]
    expected = torch.zeros(16)
    expected[2] = 1 / 64
    np.testing.assert_allclose(result.channel_weights, expected.numpy(), atol=1e-9)
    np.testing.assert_allclose(result.raw, (fmap[2] / 64).numpy(), rtol=1e-5, atol=1e-8)
    assert result.score == pytest.approx(float(fmap[2].mean()), rel=1e-6)
    assert result.target is None and np.isnan(result.probability)


def test_a_double_precision_model_takes_a_float_input(tiny: TinyCNN) -> None:
    x = _image(16, seed=12)
    expected = {m: cam(tiny, x, "features.3", method=m) for m in CAM_METHODS}
    tiny.double()
    for m in CAM_METHODS:
        np.testing.assert_allclose(
            cam(tiny, x, "features.3", method=m).heatmap, expected[m].heatmap, atol=1e-5
        )
    assert x.dtype == torch.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("method", CAM_METHODS)
def test_a_cuda_model_takes_a_cpu_input(tiny: TinyCNN, method: str) -> None:
    x = _image(16, seed=13)
    expected = cam(tiny, x, "features.3", method=method)
    result = cam(tiny.cuda(), x, "features.3", method=method)
    assert x.device.type == "cpu"
    np.testing.assert_allclose(result.heatmap, expected.heatmap, atol=1e-4)
    np.testing.assert_allclose(result.channel_weights, expected.channel_weights, rtol=1e-3, atol=1e-6)


# --- the model is left as it was ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", CAM_METHODS)
def test_model_and_input_untouched(resnet18: nn.Module, method: str) -> None:
    x = _image(64, seed=11)
    before = x.clone()
    modes, requires_grad = _state(resnet18)
    buffers = {name: b.clone() for name, b in resnet18.named_buffers()}
    params = {name: p.detach().clone() for name, p in resnet18.named_parameters()}

    cam(resnet18, x, "layer3", target=1, method=method)

    _assert_untouched(resnet18, modes, requires_grad)
    assert torch.equal(x, before) and not x.requires_grad and x.grad is None
    assert all(torch.equal(b, buffers[name]) for name, b in resnet18.named_buffers())
    assert all(torch.equal(p, params[name]) for name, p in resnet18.named_parameters())


@pytest.mark.parametrize("method", CAM_METHODS)
def test_train_mode_and_frozen_parameters_are_kept(tiny: TinyCNN, method: str) -> None:
    # TinyCNN has no batch norm or dropout, so training mode computes the same function.
    x = _image(16)
    expected = cam(tiny, x, "features.3", target=3, method=method)
    tiny.train()
    tiny.requires_grad_(False)  # a frozen model still has activation gradients
    modes, requires_grad = _state(tiny)
    frozen = cam(tiny, x, "features.3", target=3, method=method)
    _assert_untouched(tiny, modes, requires_grad)
    assert all(m.training for m in tiny.modules())
    np.testing.assert_allclose(frozen.heatmap, expected.heatmap, atol=1e-6)


def test_score_cam_refuses_batch_norm_in_training_mode(resnet18: nn.Module) -> None:
    resnet18.train()
    try:
        modes, requires_grad = _state(resnet18)
        with pytest.raises(ValueError, match=r"'bn1' is in training mode.*model\.eval\(\)"):
            cam(resnet18, _image(32), "layer4", method="scorecam")
        _assert_untouched(resnet18, modes, requires_grad)
    finally:
        resnet18.eval()


@pytest.mark.parametrize("method", CAM_METHODS)
def test_works_under_a_callers_no_grad(tiny: TinyCNN, method: str) -> None:
    x = _image(16)
    expected = cam(tiny, x, "features.3", target=0, method=method)
    with torch.no_grad():
        result = cam(tiny, x, "features.3", target=0, method=method)
    np.testing.assert_array_equal(result.heatmap, expected.heatmap)


@pytest.mark.parametrize("method", CAM_METHODS)
def test_runs_under_the_model_lock(tiny: TinyCNN, method: str) -> None:
    # While the model runs (also Score-CAM's masked passes), another thread must not get the model's lock.
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
        cam(tiny, _image(16), "features.3", target=0, method=method, batch_size=8)
    finally:
        handle.remove()
    assert len(seen) == (
        3 if method == "scorecam" else 1
    )  # 16 channels in batches of 8, after the first pass
    assert not any(seen)


def test_score_cam_frees_the_lock_between_batches(tiny: TinyCNN, monkeypatch: pytest.MonkeyPatch) -> None:
    """Other sessions' passes of a shared model can run between Score-CAM's masked batches."""
    import cnnviz.analysis.cam as cam_module

    with watch_lock(monkeypatch, cam_module, tiny) as events:
        cam(tiny, _image(16), "features.3", target=0, method="scorecam", batch_size=8)
    assert events.count("pass") == 3  # the captured pass, then 16 channels in batches of 8
    assert events == ["lock", "pass", "unlock"] * 3


@pytest.mark.parametrize(
    ("kwargs", "x_shape", "message"),
    [
        ({"layer": "features.9"}, (1, 3, 16, 16), "features.9"),  # unknown layer, named by layer_name
        ({"layer": "feature.3"}, (1, 3, 16, 16), r"did you mean 'features\.3'"),
        ({"layer": nn.ReLU()}, (1, 3, 16, 16), "not part of the model: ReLU"),
        ({"layer": "fc"}, (1, 3, 16, 16), "'fc'"),  # a vector, not a feature map
        ({"target": 5}, (1, 3, 16, 16), "target"),
        ({"target": -1}, (1, 3, 16, 16), "target"),
        ({"target": lambda out: out[0]}, (1, 3, 16, 16), r"one-element tensor.*shape \(5,\)"),
        ({"target": lambda out: 1.0}, (1, 3, 16, 16), "one-element tensor.*float"),
        ({}, (2, 3, 16, 16), "x must be one image, but it holds a batch of 2"),
        ({}, (3, 16, 16), "x must be"),
        ({"method": "gradcamm"}, (1, 3, 16, 16), r"'gradcamm' is not a CAM method \(did you mean 'gradcam'"),
        ({"method": "scorecam", "batch_size": 0}, (1, 3, 16, 16), "batch_size"),
        ({"method": "scorecam", "max_channels": 0}, (1, 3, 16, 16), "max_channels"),
    ],
)
@pytest.mark.parametrize("method", CAM_METHODS)
def test_bad_arguments_are_named_and_leave_no_trace(
    tiny: TinyCNN, method: str, kwargs: dict, x_shape: tuple[int, ...], message: str
) -> None:
    arguments = {"layer": "features.3", "target": 0, "method": method, **kwargs}
    modes, requires_grad = _state(tiny)
    with pytest.raises(ValueError, match=message):
        cam(tiny, torch.zeros(x_shape), **arguments)
    _assert_untouched(tiny, modes, requires_grad)


@pytest.mark.parametrize("method", [m for m in CAM_METHODS if m not in ("scorecam", "eigencam")])
def test_a_gradient_method_needs_a_target_that_depends_on_the_model(tiny: TinyCNN, method: str) -> None:
    with pytest.raises(ValueError, match="does not depend on the model's output"):
        cam(tiny, _image(16), "features.3", target=lambda out: torch.tensor(1.0), method=method)
    assert _hook_count(tiny) == 0


def test_a_layer_that_does_not_run_is_named(tiny: TinyCNN) -> None:
    tiny.spare = nn.Conv2d(16, 16, 1)  # registered, never called by forward()
    with pytest.raises(ValueError, match="layer 'spare' did not run"):
        cam(tiny, _image(16), "spare")
    assert _hook_count(tiny) == 0


def test_wrong_types_are_type_errors(tiny: TinyCNN) -> None:
    with pytest.raises(TypeError):
        cam(tiny, _image(16), "features.3", target=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="method"):
        cam(tiny, _image(16), "features.3", method=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="model"):
        cam("resnet18", _image(16), "features.3")  # type: ignore[arg-type]


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

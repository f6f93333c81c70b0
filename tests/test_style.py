"""Style transfer (cnnviz.analysis.style): Gram matrices, losses, the backbone copy, the optimisation loop.

The backbones are built untrained (no weights, no network); the Gram matrix is checked against an explicit
double sum, the feature maps against torchvision's feature extractor on the original model.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor

from cnnviz import models
from cnnviz.analysis import style


@pytest.fixture(scope="module")
def mobilenet() -> models.LoadedModel:
    return models.load("mobilenet_v2", pretrained=False)


def _picture(seed: int, size: tuple[int, int] = (40, 28)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def _hooks(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


# ------------------------------------------------------------------------------------------------ Gram


def test_gram_matrix_against_a_direct_sum() -> None:
    torch.manual_seed(0)
    features = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    gram = style.gram_matrix(features)
    n, c, h, w = features.shape
    f = features.numpy()
    expected = np.zeros((n, c, c))
    for b, i, j in itertools.product(range(n), range(c), range(c)):
        expected[b, i, j] = sum(f[b, i, y, x] * f[b, j, y, x] for y in range(h) for x in range(w)) / (
            c * h * w
        )
    np.testing.assert_allclose(gram.numpy(), expected, rtol=1e-12)
    assert gram.shape == (2, 3, 3)
    torch.testing.assert_close(gram, gram.transpose(1, 2))
    assert float(torch.linalg.eigvalsh(gram).min()) > -1e-12  # positive semi-definite


def test_gram_matrix_ignores_where_things_are() -> None:
    features = torch.randn(1, 4, 6, 6)
    shuffled = features.flatten(2)[:, :, torch.randperm(36)].reshape(1, 4, 6, 6)
    torch.testing.assert_close(style.gram_matrix(features), style.gram_matrix(shuffled))
    with pytest.raises(ValueError, match="features"):
        style.gram_matrix(torch.zeros(3, 4, 5))


def test_losses_against_hand_computed_values() -> None:
    target = torch.full((1, 2, 2, 2), 2.0)
    assert float(style.content_loss(target, target)) == 0.0
    # mean((3 - 2)²) / mean(2²) = 1 / 4
    assert float(style.content_loss(torch.full_like(target, 3.0), target)) == pytest.approx(0.25)
    a = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    b = torch.tensor([[[2.0, 0.0], [0.0, 2.0]]])
    # Per layer mean((G - A)²) / mean(A²): ((1 + 1) / 4) / ((1 + 1) / 4) = 1 and 0; the mean of two layers.
    assert float(style.style_loss([b, a], [a, a])) == pytest.approx((1.0 + 0.0) / 2)
    image = torch.zeros(1, 1, 2, 3)
    image[..., 2] = 1.0  # rows 0 0 1: horizontal differences 0 and 1 in each row, vertical ones all 0
    assert float(style.total_variation(image)) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        style.style_loss([a], [])
    # Relative errors do not depend on the scale, however small (an untrained backbone's deep Gram matrices
    # have mean squares far below 1e-12): scaling both sides by 1e-7 changes nothing.
    assert float(style.style_loss([b * 1e-7, a * 1e-7], [a * 1e-7, a * 1e-7])) == pytest.approx(0.5, rel=1e-5)
    tiny = target * 1e-7
    assert float(style.content_loss(tiny * 1.5, tiny)) == pytest.approx(0.25, rel=1e-5)


# -------------------------------------------------------------------------------------------- backbones


@pytest.mark.parametrize(("arch", "convs"), [("vgg16", 13), ("vgg19", 16)])
def test_vgg_layers_name_the_relu_after_each_convolution(arch: str, convs: int) -> None:
    backbone = style.BACKBONES[arch]
    with torch.device("meta"):  # the architecture only: no memory, no slow initialisation of 138M weights
        net = torchvision.models.get_model(arch, weights=None)
    modules = dict(net.named_modules())
    assert len(backbone.layers) == convs
    for label, name in backbone.layers:
        assert isinstance(modules[name], torch.nn.ReLU), (label, name)
        index = int(name.split(".")[1])
        assert isinstance(net.features[index - 1], torch.nn.Conv2d)
    # Gatys et al.'s content layer conv4_2 and their style layers conv1_1 … conv5_1.
    expected_content = {"vgg16": "features.20", "vgg19": "features.22"}[arch]
    assert backbone.module(backbone.content_layer) == expected_content
    assert backbone.module("relu5_1") == {"vgg16": "features.25", "vgg19": "features.29"}[arch]
    with pytest.raises(ValueError, match="relu9_9"):
        backbone.module("relu9_9")


def test_mobilenet_layers_exist(mobilenet: models.LoadedModel) -> None:
    modules = dict(mobilenet.model.named_modules())
    backbone = style.BACKBONES["mobilenet_v2"]
    for _, name in backbone.layers:
        assert name in modules
    assert set(backbone.style_layers) <= set(backbone.labels)
    assert backbone.content_layer in backbone.labels


def test_pick_backbone_prefers_vgg_when_its_weights_are_here(torch_home: Path, no_network) -> None:
    assert style.pick_backbone() == "mobilenet_v2"
    # The zoo registers VGG-16; a file under its own name in the hub cache is what weights_present checks.
    vgg_file = models.get_spec("vgg16").weight_source.path()  # type: ignore[union-attr]
    vgg_file.write_bytes(b"stand-in")
    assert style.pick_backbone() == "vgg16"
    assert no_network == []


def test_extractor_copies_and_matches_the_original(mobilenet: models.LoadedModel) -> None:
    names = ["features.2.conv.0", "features.4.conv.0", "features.1"]
    before = {k: v.clone() for k, v in mobilenet.model.state_dict().items()}
    inplace = [m.inplace for m in mobilenet.model.modules() if hasattr(m, "inplace")]
    extractor = style.StyleExtractor(mobilenet.model, names, mean=mobilenet.spec.mean, std=mobilenet.spec.std)
    assert len(extractor.features) == 5  # only features[:5] is copied
    image = torch.rand(1, 3, 48, 40)
    with torch.no_grad():
        ours = extractor(image)
        normalised = (image - torch.tensor(mobilenet.spec.mean).view(1, 3, 1, 1)) / torch.tensor(
            mobilenet.spec.std
        ).view(1, 3, 1, 1)
        reference = create_feature_extractor(mobilenet.model, names)(normalised)
    for name in names:
        torch.testing.assert_close(ours[name], reference[name])
    assert _hooks(extractor) == 0 and _hooks(mobilenet.model) == 0
    after = mobilenet.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert inplace == [m.inplace for m in mobilenet.model.modules() if hasattr(m, "inplace")]
    assert not any(getattr(m, "inplace", False) for m in extractor.modules())
    assert not any(p.requires_grad for p in extractor.parameters())
    with pytest.raises(ValueError, match=r"features\.2\.nothing.*did you mean"):
        style.StyleExtractor(mobilenet.model, ["features.2.nothing"])


def test_extractor_on_any_module_copies_it_whole_and_stops_early() -> None:
    """A network without a `features` Sequential: the whole copy runs only as far as the layers need."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(4, 5, 3), nn.ReLU(), nn.Flatten()
    )
    calls: list[str] = []
    extractor = style.StyleExtractor(net, [net[1], "2"])
    for name, module in extractor.features.named_children():
        module.register_forward_hook(lambda *_, name=name: calls.append(name))
    image = torch.rand(1, 3, 9, 9)
    ours = extractor(image)
    reference = create_feature_extractor(net, ["1", "2"])(image)
    torch.testing.assert_close(ours["1"], reference["1"])
    torch.testing.assert_close(ours["2"], reference["2"])
    assert calls == ["0", "1", "2"]  # stopped after the deepest wanted layer
    assert net[1].inplace and not extractor.features[1].inplace


# --------------------------------------------------------------------------------------------- the loop


def test_loss_decreases_over_a_few_steps_on_a_tiny_image(mobilenet: models.LoadedModel) -> None:
    backbone = style.BACKBONES["mobilenet_v2"]
    settings = style.StyleSettings(
        content_layer=backbone.content_layer, style_layers=backbone.style_layers, steps=8, size=32
    )
    threads = torch.get_num_threads()
    steps = list(style.style_transfer(mobilenet, _picture(0), _picture(1, (30, 30)), settings))
    assert torch.get_num_threads() == threads
    assert [s.step for s in steps] == list(range(1, 9))
    assert steps[-1].done and steps[-1].backbone == "mobilenet_v2"
    totals = [s.total_loss for s in steps]
    assert totals[-1] < totals[0]
    assert steps[-1].style_loss < steps[0].style_loss
    for s in steps:
        assert s.total_loss == pytest.approx(
            s.content_loss + settings.style_weight * s.style_loss + settings.tv_weight * s.tv_loss, rel=1e-5
        )
    image = steps[-1].image
    assert image.shape == (22, 32, 3) and image.dtype == np.uint8  # 40×28 to a longer side of 32: 32×22
    assert _hooks(mobilenet.model) == 0


def test_first_step_losses_against_an_independent_computation(mobilenet: models.LoadedModel) -> None:
    """Step 1's reported losses recomputed: the start image rebuilt (content resized, plus seeded noise),
    features from torchvision's feature extractor on the original model, Gram matrices and losses by the
    docstrings' definitions written out here in float64."""
    backbone = style.BACKBONES["mobilenet_v2"]
    settings = style.StyleSettings(
        content_layer="features.4.expand",
        style_layers=("features.1", "features.2.expand", "features.4.expand"),
        steps=1,
        size=32,
        seed=3,
    )
    content, picture = _picture(0), _picture(1, (30, 30))
    (first,) = style.style_transfer(mobilenet, content, picture, settings)

    def pixels(image: Image.Image) -> torch.Tensor:
        # Longer side to `size`, aspect ratio kept (40×28 -> 32×22, 30×30 -> 32×32), Lanczos as documented.
        w, h = image.size
        scale = settings.size / max(w, h)
        resized = image.resize((round(w * scale), round(h * scale)), Image.Resampling.LANCZOS)
        return torch.from_numpy(np.asarray(resized, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]

    content_pixels = pixels(content)
    assert content_pixels.shape == (1, 3, 22, 32)
    noise = torch.randn(content_pixels.shape, generator=torch.Generator().manual_seed(settings.seed))
    start = (content_pixels + 0.02 * noise).clamp(0.0, 1.0)

    content_module = backbone.module(settings.content_layer)
    style_modules = [backbone.module(label) for label in settings.style_layers]
    extractor = create_feature_extractor(mobilenet.model, sorted({content_module, *style_modules}))
    mean = torch.tensor(mobilenet.spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(mobilenet.spec.std).view(1, 3, 1, 1)

    def features(image: torch.Tensor) -> dict[str, np.ndarray]:
        with torch.no_grad():
            return {k: v[0].double().numpy() for k, v in extractor((image - mean) / std).items()}

    def gram(f: np.ndarray) -> np.ndarray:  # G = F Fᵀ / (C·H·W) over the flattened positions
        c = f.shape[0]
        flat = f.reshape(c, -1)
        return flat @ flat.T / f.size

    ours, target, styled = features(start), features(content_pixels), features(pixels(picture))
    p, f = target[content_module], ours[content_module]
    expected_content = np.mean((f - p) ** 2) / np.mean(p**2)
    per_layer = []
    for m in style_modules:
        g, a = gram(ours[m]), gram(styled[m])
        per_layer.append(np.mean((g - a) ** 2) / np.mean(a**2))
    expected_style = float(np.mean(per_layer))
    x = start[0].double().numpy()
    expected_tv = np.abs(np.diff(x, axis=1)).mean() + np.abs(np.diff(x, axis=2)).mean()
    assert first.content_loss == pytest.approx(expected_content, rel=1e-4)
    assert first.style_loss == pytest.approx(expected_style, rel=1e-4)
    assert first.tv_loss == pytest.approx(expected_tv, rel=1e-5)
    assert first.total_loss == pytest.approx(
        expected_content + settings.style_weight * expected_style + settings.tv_weight * expected_tv, rel=1e-4
    )
    assert expected_content > 0 and expected_style > 0  # noise moved the features: nothing trivially zero


def test_stops_when_asked(mobilenet: models.LoadedModel) -> None:
    settings = style.StyleSettings(
        content_layer="features.4.expand", style_layers=("features.1",), steps=50, size=24
    )
    calls = []

    def should_stop() -> bool:
        calls.append(1)
        return len(calls) > 3

    steps = list(style.style_transfer(mobilenet, _picture(2), _picture(3), settings, should_stop=should_stop))
    assert len(steps) == 3
    # A page may also just stop asking for steps.
    run = style.style_transfer(mobilenet, _picture(2), _picture(3), settings)
    first = next(run)
    run.close()
    assert first.step == 1


def test_rejects_bad_settings(mobilenet: models.LoadedModel) -> None:
    with pytest.raises(ValueError, match="steps"):
        style.StyleSettings(content_layer="relu4_2", style_layers=("relu1_1",), steps=0)
    with pytest.raises(ValueError, match="size"):
        style.StyleSettings(content_layer="relu4_2", style_layers=("relu1_1",), size=4)
    with pytest.raises(ValueError, match="style_layers"):
        style.StyleSettings(content_layer="relu4_2", style_layers=())
    settings = style.StyleSettings(content_layer="relu4_2", style_layers=("relu1_1",), size=32)
    with pytest.raises(ValueError, match="relu4_2"):
        next(style.style_transfer(mobilenet, _picture(0), _picture(1), settings))
    lenet = models.load("lenet5")
    with pytest.raises(KeyError, match="lenet5"):
        next(style.style_transfer(lenet, _picture(0), _picture(1), settings))


def test_resize_keeps_the_aspect_ratio() -> None:
    assert style.resize_to(_picture(0, (400, 100)), 256).size == (256, 64)
    assert style.resize_to(Image.new("L", (50, 200)), 100).mode == "RGB"

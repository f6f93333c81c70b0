"""The mini AlexNet/VGG/ResNet/SE-ResNet/PlainNet: architecture rules, SE arithmetic, bundled weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn
from torchvision.models.feature_extraction import get_graph_node_names

from cnnviz.data import shapes
from cnnviz.models import mini
from cnnviz.models.registry import get_spec, load
from cnnviz.ui.text import TEXT
from cnnviz.weights import bundled_path, read_card


def _convs(model: nn.Module) -> dict[str, nn.Conv2d]:
    return {name: m for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}


@pytest.fixture(scope="module")
def held_out() -> tuple[torch.Tensor, torch.Tensor]:
    torch.set_num_threads(min(2, torch.get_num_threads()))
    return mini.held_out_set(mini.HELD_OUT_COUNT)


@pytest.mark.parametrize("name", mini.MINI_NAMES)
def test_forward_shape_and_size(name: str) -> None:
    model = mini.build(name).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert model(x).shape == (2, len(shapes.CLASSES))
    assert sum(p.numel() for p in model.parameters()) <= 500_000


@pytest.mark.parametrize("depth", [20, 56])
def test_deep_stacks(depth: int) -> None:
    plain, residual = mini.plain_stack(depth), mini.residual_stack(depth)
    # 6n + 2 layers: the stem convolution, 6n convolutions in blocks, the FC layer; skips add 2 projections.
    assert len(_convs(plain)) + 1 == depth
    assert len(_convs(residual)) == len(_convs(plain)) + 2
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert plain.eval()(x).shape == residual.eval()(x).shape == (1, len(shapes.CLASSES))
    with pytest.raises(ValueError, match="depth"):
        mini.plain_stack(21)


def test_skips_keep_the_gradient_of_a_deep_stack_alive() -> None:
    # The demo's premise at initialisation: the gradient reaching the first layer of a 56-layer plain stack
    # vanishes, while the same stack with skips carries it back (∂H/∂x = F'(x) + 1).
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    norms = {}
    for make in (mini.plain_stack, mini.residual_stack):
        torch.manual_seed(0)
        model = make(56)
        model(x).logsumexp(1).sum().backward()
        norms[make.__name__] = float(model.conv1.weight.grad.norm())
    assert norms["plain_stack"] < 1e-6 * norms["residual_stack"], norms
    assert norms["residual_stack"] > 1e-3, norms


def test_deep_stacks_with_batch_norm() -> None:
    plain, residual = mini.plain_stack(20), mini.plain_stack(20, batch_norm=True)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in residual.modules()) == 19
    assert set(dict(plain.named_modules())) == set(dict(residual.named_modules()))


def test_vgg_mini_uses_only_3x3_stride_1_padding_1_and_2x2_max_pooling() -> None:
    model = mini.vgg_mini()
    convs = _convs(model)
    assert len(convs) >= 6
    for name, conv in convs.items():
        assert conv.kernel_size == (3, 3) and conv.stride == (1, 1) and conv.padding == (1, 1), name
    pools = [m for m in model.features if not isinstance(m, nn.Conv2d | nn.ReLU)]
    assert pools and all(isinstance(m, nn.MaxPool2d) and m.kernel_size == 2 and m.stride == 2 for m in pools)


def test_alexnet_mini_has_relu_max_pooling_and_dropout() -> None:
    kinds = {type(m) for m in mini.alexnet_mini().modules()}
    assert {nn.ReLU, nn.MaxPool2d, nn.Dropout} <= kinds
    assert not kinds & {nn.Tanh, nn.AvgPool2d, nn.BatchNorm2d}


def test_plainnet_is_resnet_without_its_skips() -> None:
    resnet, plain = mini.resnet_mini(), mini.plainnet_mini()
    res_convs, plain_convs = _convs(resnet), _convs(plain)
    projections = {n: c for n, c in res_convs.items() if ".downsample." in n}
    assert len(projections) == 3
    assert all(c.kernel_size == (1, 1) and c.stride == (2, 2) for c in projections.values())
    assert len(plain_convs) == len(res_convs) - len(projections)
    assert set(plain_convs) == set(res_convs) - set(projections)
    assert not any("add" in n for n in get_graph_node_names(plain)[0])


def test_resnet_names_follow_torchvision_and_the_addition_is_traceable() -> None:
    names = dict(mini.resnet_mini().named_modules())
    for expected in (
        "conv1",
        "bn1",
        "maxpool",
        "layer1.0.conv1",
        "layer1.0.bn2",
        "layer2.0.downsample.0",
        "fc",
    ):
        assert expected in names
    assert "layer1.0.downsample" not in names or names["layer1.0.downsample"] is None
    nodes = get_graph_node_names(mini.resnet_mini())[0]
    assert [n for n in nodes if n.endswith(".add")] == [f"layer{i}.0.add" for i in range(1, 5)]
    se_names = dict(mini.se_resnet_mini().named_modules())
    for part in ("avgpool", "fc1", "relu", "fc2", "sigmoid"):
        assert f"layer3.0.se.{part}" in se_names


def test_basic_block_computes_f_of_x_plus_projected_x() -> None:
    torch.manual_seed(0)
    block = mini.resnet_mini().layer2[0]
    for bn in (block.bn1, block.bn2, block.downsample[1]):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    block.eval()
    x = torch.randn(2, 16, 32, 32)

    def bn(m: nn.BatchNorm2d, t: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(t, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps)

    f = bn(block.bn2, F.conv2d(F.relu(bn(block.bn1, F.conv2d(x, block.conv1.weight, stride=2, padding=1))),
                               block.conv2.weight, padding=1))  # fmt: skip
    skip = bn(block.downsample[1], F.conv2d(x, block.downsample[0].weight, stride=2))
    with torch.no_grad():
        torch.testing.assert_close(block(x), F.relu(f + skip))


def test_se_block_reweights_channels_by_sigmoid_of_the_excitation() -> None:
    spec_model = load("se-resnet-mini", allow_untrained=True).model
    se = spec_model.layer3[0].se
    x = torch.randn(2, 64, 8, 8)
    with torch.no_grad():
        squeeze = x.mean(dim=(2, 3))  # (N, C)
        reduced = F.relu(squeeze @ se.fc1.weight.flatten(1).T + se.fc1.bias)  # (N, C / r)
        weights = torch.sigmoid(reduced @ se.fc2.weight.flatten(1).T + se.fc2.bias)  # (N, C)
        assert reduced.shape == (2, 64 // se.reduction)
        torch.testing.assert_close(se(x), x * weights[:, :, None, None])
    assert ((weights > 0) & (weights < 1)).all()


@pytest.mark.parametrize("name", mini.MINI_NAMES)
def test_bundled_weights_reach_their_card(name: str, held_out: tuple[torch.Tensor, torch.Tensor]) -> None:
    card = read_card(name)
    assert card["held_out_seeds"] == [shapes.HELD_OUT_START, shapes.HELD_OUT_START + mini.HELD_OUT_COUNT]
    assert card["held_out_count"] == mini.HELD_OUT_COUNT == len(held_out[0])
    assert card["categories"] == list(shapes.CLASSES)
    model = mini.build(name)
    model.load_state_dict(load_file(str(bundled_path(name))))
    assert card["params"] == sum(p.numel() for p in model.parameters())
    accuracy = mini.evaluate(model, *held_out)
    # The count written out here: normalise by hand ((x / 255 - mean) / std), arg-max, compare with labels.
    images, labels = held_out
    mean = torch.tensor(shapes.MEAN).view(1, 3, 1, 1)
    std = torch.tensor(shapes.STD).view(1, 3, 1, 1)
    model.eval()
    with torch.no_grad():
        logits = torch.cat(
            [model((images[i : i + 250] / 255.0 - mean) / std) for i in range(0, len(images), 250)]
        )
    correct = int((logits.argmax(dim=1) == labels).sum())
    assert accuracy == correct / len(labels)
    # Two-sided: the card rounds to 4 decimals and 1000 images give exact multiples of 1e-3. Every image's
    # top two logits differ by far more than float rounding between thread counts (checked here), so no
    # arg-max can flip and the count must be the card's.
    top2 = logits.topk(2, dim=1).values
    assert float((top2[:, 0] - top2[:, 1]).min()) > 1e-3
    assert accuracy == pytest.approx(card["held_out_accuracy"], abs=0.5e-4)


def test_registry_entries_load_the_bundled_weights() -> None:
    image = shapes.classification_sample(shapes.HELD_OUT_START + 3).image
    from PIL import Image

    pil = Image.fromarray(image)
    for name in mini.MINI_NAMES:
        spec = get_spec(name)
        assert spec.task == "classification" and spec.source == "bundled" and spec.input_size == (64, 64)
        assert spec.categories == shapes.CLASSES and all(TEXT[f"model.note.{name}"])
        loaded = load(name)
        assert loaded.weights == "bundled" and not loaded.model.training
        x = loaded.preprocess(pil)
        torch.testing.assert_close(x[0], shapes.normalize(torch.from_numpy(image).permute(2, 0, 1)))
        assert np.array_equal(loaded.model_view(pil), image)
        with torch.no_grad():
            assert loaded.model(x).shape == (1, len(shapes.CLASSES))


def test_transform_fits_any_image_to_64x64() -> None:
    from PIL import Image

    wide = Image.new("RGB", (300, 120), (255, 0, 0))
    x = mini.ShapesTransform()(wide)
    assert x.shape == (3, 64, 64)
    torch.testing.assert_close(x[0], torch.full((64, 64), (1.0 - shapes.MEAN[0]) / shapes.STD[0]))


def test_unknown_name_is_named() -> None:
    with pytest.raises(KeyError, match="lenet-mini"):
        mini.build("lenet-mini")

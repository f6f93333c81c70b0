"""SE blocks found by duck typing; their weights checked against their own layers recomputed by hand."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torchvision
from torch import nn
from torchvision.ops import SqueezeExcitation

from cnnviz.analysis.se import find_se_blocks, se_weights
from cnnviz.models import mini


@pytest.fixture(autouse=True)
def _seed_and_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


def _image(size: int = 64, seed: int = 1) -> torch.Tensor:
    return torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def _inputs_and_outputs(model: nn.Module, names: list[str], x: torch.Tensor):
    """Plain forward hooks (no cnnviz): each module's input and output."""
    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    handles = [
        model.get_submodule(n).register_forward_hook(
            lambda m, args, out, n=n: seen.__setitem__(n, (args[0].detach().clone(), out.detach().clone()))
        )
        for n in names
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return seen


def _check_against_recomputation(model: nn.Module, recompute) -> int:
    """Every found block's squeeze, reduced vector, weights and maps equal the block's own layers' result."""
    x = _image()
    result = se_weights(model, x)
    assert _hooks(model) == 0
    names = result.names
    seen = _inputs_and_outputs(model, names, x)
    for block in result.blocks:
        inp, out = seen[block.name]
        squeeze, reduced, weights = recompute(model.get_submodule(block.name), inp)
        np.testing.assert_allclose(block.squeeze, inp.mean(dim=(2, 3))[0].numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(block.squeeze, squeeze.reshape(-1).numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(block.reduced, reduced.reshape(-1).numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(block.weights, weights.reshape(-1).numpy(), rtol=1e-5, atol=1e-6)
        assert block.before is not None and block.after is not None
        np.testing.assert_allclose(block.before, inp[0].numpy(), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(block.after, out[0].numpy(), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(
            block.after, block.before * block.weights[:, None, None], rtol=1e-5, atol=1e-6
        )
        assert block.block.channels == len(block.weights) == len(block.squeeze)
        assert block.block.reduced_channels == len(block.reduced)
    return len(names)


def _torchvision_recompute(se: nn.Module, x: torch.Tensor):
    assert isinstance(se, SqueezeExcitation)
    with torch.no_grad():
        squeeze = torch.nn.functional.adaptive_avg_pool2d(x, 1)
        reduced = se.activation(se.fc1(squeeze))
        return squeeze, reduced, se.scale_activation(se.fc2(reduced))


@pytest.mark.parametrize("arch", ["efficientnet_b0", "mobilenet_v3_large"])
def test_torchvision_squeeze_excitation_weights_match_their_layers(arch: str) -> None:
    model = torchvision.models.get_model(arch, weights=None).eval()
    count = _check_against_recomputation(model, _torchvision_recompute)
    expected = [n for n, m in model.named_modules() if isinstance(m, SqueezeExcitation)]
    assert count == len(expected)
    assert [b.name for b in find_se_blocks(model, _image())] == expected
    gate = "Sigmoid" if arch == "efficientnet_b0" else "Hardsigmoid"
    activation = "SiLU" if arch == "efficientnet_b0" else "ReLU"
    assert {(b.gate, b.activation) for b in find_se_blocks(model, _image())} == {(gate, activation)}


def test_bundled_se_resnet_weights_match_its_layers() -> None:
    model = mini.se_resnet_mini().eval()

    def recompute(se: nn.Module, x: torch.Tensor):
        assert isinstance(se, mini.SEBlock)
        with torch.no_grad():
            squeeze = se.avgpool(x)
            reduced = se.relu(se.fc1(squeeze))
            return squeeze, reduced, se.sigmoid(se.fc2(reduced))

    assert _check_against_recomputation(model, recompute) == 4
    x = _image(seed=5)
    with torch.no_grad():
        expected = model(x)[0].numpy()
    np.testing.assert_allclose(se_weights(model, x).logits, expected, rtol=1e-6)  # recording changes nothing
    infos = find_se_blocks(model, _image())
    assert [b.name for b in infos] == ["layer1.0.se", "layer2.0.se", "layer3.0.se", "layer4.0.se"]
    assert [b.channels for b in infos] == [16, 32, 64, 128]
    assert all(b.reduction == 4 and b.fc1.endswith(".fc1") and b.fc2.endswith(".fc2") for b in infos)


class _TimmSE(nn.Module):
    """timm's SEModule: a functional mean, BN between the FCs, a gate module."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(c, c // 2, 1)
        self.bn = nn.BatchNorm2d(c // 2)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(c // 2, c, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_se = x.mean((2, 3), keepdim=True)
        x_se = self.act(self.bn(self.fc1(x_se)))
        return x * self.gate(self.fc2(x_se))


class _LinearSE(nn.Module):
    """The classic SENet layer: Linear layers in a Sequential, reshapes, expand_as."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(c, c // 4), nn.ReLU(inplace=True), nn.Linear(c // 4, c), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, _, _ = x.size()
        y = self.fc(self.avg_pool(x).view(n, c)).view(n, c, 1, 1)
        return x * y.expand_as(x)


class _SpatialGate(nn.Module):
    """Not SE: a spatial attention gate (3×3 convolution, no global pooling)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.conv(x))


class _MaxPoolSE(nn.Module):
    """Not SE as the lecture has it: pools by max and by average (CBAM's channel attention)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(c, c // 2, 1)
        self.fc2 = nn.Conv2d(c // 2, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.amax((2, 3), keepdim=True) + x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(pooled))))


def test_duck_typed_se_modules_found_and_look_alikes_not() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        _TimmSE(8),
        nn.Conv2d(8, 16, 3, padding=1),
        _LinearSE(16),
        _SpatialGate(16),
        _MaxPoolSE(16),
    ).eval()
    x = _image(16)
    infos = find_se_blocks(model, x)
    assert [(b.name, b.kind) for b in infos] == [("1", "_TimmSE"), ("3", "_LinearSE")]
    assert infos[1].fc1 == "3.fc.0" and infos[1].fc2 == "3.fc.2" and infos[1].activation == "ReLU"

    result = se_weights(model, x)
    seen = _inputs_and_outputs(model, ["1", "3"], x)
    timm = model[1]
    with torch.no_grad():
        inp = seen["1"][0]
        reduced = timm.act(timm.bn(timm.fc1(inp.mean((2, 3), keepdim=True))))
        weights = timm.gate(timm.fc2(reduced))
    np.testing.assert_allclose(result.block("1").reduced, reduced.reshape(-1).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.block("1").weights, weights.reshape(-1).numpy(), rtol=1e-5, atol=1e-6)
    linear = model[3]
    with torch.no_grad():
        inp = seen["3"][0]
        weights = linear.fc(inp.mean((2, 3)))
    np.testing.assert_allclose(result.block("3").weights, weights.reshape(-1).numpy(), rtol=1e-5, atol=1e-6)
    assert result.logits is None  # the output is a feature map, not (1, K) logits
    assert find_se_blocks(torchvision.models.resnet18().eval(), _image()) == []


def test_weight_matrix_and_channel_ranking() -> None:
    model = mini.se_resnet_mini().eval()
    result = se_weights(model, _image(), maps=False)
    matrix = result.weight_matrix()
    assert matrix.shape == (4, 128)
    assert np.isnan(matrix[0, 16:]).all() and not np.isnan(matrix[0, :16]).any()
    np.testing.assert_array_equal(matrix[3], result.blocks[3].weights)
    assert ((matrix[~np.isnan(matrix)] > 0) & (matrix[~np.isnan(matrix)] < 1)).all()  # sigmoid weights
    block = result.blocks[1]
    assert block.before is None and block.after is None
    boosted, suppressed = block.boosted(3), block.suppressed(3)
    assert block.weights[boosted[0]] == block.weights.max()
    assert block.weights[suppressed[0]] == block.weights.min()
    assert list(block.weights[boosted]) == sorted(block.weights[boosted], reverse=True)
    # 12 of 16 channels asked for on each side: each side gets at most half, and no channel is in both.
    first = result.blocks[0]
    assert len(first.weights) == 16
    top, bottom = first.boosted(12), first.suppressed(12)
    assert len(top) == len(bottom) == 8 and not set(top.tolist()) & set(bottom.tolist())
    order = np.argsort(-first.weights.astype(np.float64), kind="stable")  # numpy's own ranking
    assert set(top.tolist()) == set(order[:8].tolist()) and set(bottom.tolist()) == set(order[8:].tolist())
    assert first.weights[bottom[0]] == first.weights.min()
    tied = dataclasses.replace(first, weights=np.full(16, 0.5, dtype=np.float32))
    assert not set(tied.boosted(12).tolist()) & set(tied.suppressed(12).tolist())
    assert len(first.boosted(0)) == 0 and len(first.suppressed(-1)) == 0
    assert result.logits is not None and result.logits.shape == (mini.NUM_CLASSES,)
    with pytest.raises(KeyError, match="layer9"):
        result.block("layer9")
    with pytest.raises(ValueError, match=r"\(1, C, H, W\)"):
        se_weights(model, torch.zeros(3, 64, 64))


def test_se_and_residual_blocks_are_remembered_apart() -> None:
    """One memo per kind of block: asking for SE blocks never answers with residual ones, and the reverse."""
    from cnnviz.analysis.residual import find_residual_blocks

    model = mini.se_resnet_mini().eval()
    calls: list[int] = []
    model.register_forward_hook(lambda *args: calls.append(1))
    se = find_se_blocks(model, _image())
    res = find_residual_blocks(model, _image())
    assert se and res
    # SE-ResNet: each SE module sits inside a residual block (the "×" before the "+").
    assert all(any(s.name.startswith(r.name + ".") for r in res) for s in se), ([s.name for s in se], res)
    assert all(type(b).__name__ == "SEBlockInfo" for b in se)
    assert all(type(b).__name__ == "ResidualBlock" for b in res)
    assert len(calls) == 2  # one pass for each kind
    assert find_se_blocks(model, _image(seed=3)) == se and find_residual_blocks(model, _image()) == res
    assert len(calls) == 2  # both remembered
    model.train()  # a train/eval flag is part of the structure: found again
    assert find_se_blocks(model, _image()) == se
    assert len(calls) == 3


def test_mean_abs_difference_of_two_images() -> None:
    model = mini.se_resnet_mini().eval()
    a, b = se_weights(model, _image(seed=1), maps=False), se_weights(model, _image(seed=2), maps=False)
    diff = a.mean_abs_difference(b)
    expected = [
        sum(abs(float(p) - float(q)) for p, q in zip(x.weights, y.weights, strict=True)) / len(x.weights)
        for x, y in zip(a.blocks, b.blocks, strict=True)
    ]
    np.testing.assert_allclose(diff, expected, rtol=1e-5)
    assert (diff > 0).all() and not a.mean_abs_difference(a).any()
    with pytest.raises(ValueError, match="different SE blocks"):
        a.mean_abs_difference(dataclasses.replace(b, blocks=b.blocks[1:]))

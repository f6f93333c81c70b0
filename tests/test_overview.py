"""Network at a glance: edges against hand-drawn graphs, thumbnails against downsized maps, the summary view,
the chart's hover and highlight."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from cnnviz import models, overview_chart
from cnnviz.analysis.overview import overview, thumbnails


def _hooked(model: nn.Module, x: torch.Tensor, module: nn.Module) -> torch.Tensor:
    """One module's output from a plain forward hook (independent of the recorder)."""
    seen: list[torch.Tensor] = []
    handle = module.register_forward_hook(lambda m, a, o: seen.append(o.detach().clone()))
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    return seen[-1]


def _no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


LENET = ["input", "conv1", "tanh1", "pool1", "conv2", "tanh2", "pool2", "conv3", "tanh3", "flatten", "fc1"]
LENET += ["tanh4", "fc2"]


def test_lenet5_is_a_chain_in_the_lecture_order() -> None:
    net = models.load("lenet5").model
    ov = overview(net, torch.rand(1, 1, 32, 32))
    assert [n.label for n in ov.nodes] == LENET
    assert ov.edges == tuple((i, i + 1) for i in range(len(LENET) - 1))
    assert ov.level is None and ov.layers == 12
    assert [n.shape for n in ov.nodes][:4] == [(1, 1, 32, 32), (1, 6, 28, 28), (1, 6, 28, 28), (1, 6, 14, 14)]
    assert ov.nodes[1].kind == "Conv2d" and ov.nodes[3].kind == "AvgPool2d"
    assert len(ov.nodes[7].thumbnails) == 0  # conv3 is 120 × 1 × 1: a vector, no maps
    assert _no_hooks(net)


class _Residual(nn.Module):
    """stem -> a -> relu -> b, + stem (out of place) -> c, then += (in place) the stem again -> head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.a = nn.Conv2d(4, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.b = nn.Conv2d(4, 4, 3, padding=1)
        self.c = nn.Conv2d(4, 4, 1)
        self.head = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stem(x)
        y = self.b(self.relu(self.a(s))) + s
        z = self.c(y)
        z += s
        return self.head(z.mean(dim=(2, 3)))


def test_residual_edges_match_the_hand_drawn_graph() -> None:
    torch.manual_seed(0)
    model = _Residual().eval()
    ov = overview(model, torch.rand(1, 1, 8, 8))
    labels = ["input", "stem", "a", "relu", "b", "model: add", "c", "model: add_", "model: mean", "head"]
    assert [n.label for n in ov.nodes] == labels
    # 0 input -> 1 stem -> 2 a -> 3 relu -> 4 b -> 5 add(b, stem) -> 6 c -> 7 add_(c, stem) -> 8 mean
    # -> 9 head
    want = {(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (1, 5), (5, 6), (6, 7), (1, 7), (7, 8), (8, 9)}
    assert set(ov.edges) == want and len(ov.edges) == len(want)
    assert ov.feeds(1) == [2, 5, 7] and ov.fed_by(5) == [1, 4]


def test_a_plain_sequential_and_nested_blocks() -> None:
    class Inner(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.conv(x)) * x

    model = nn.Sequential(nn.Conv2d(1, 2, 3), Inner(), nn.Flatten()).eval()
    ov = overview(model, torch.rand(1, 1, 6, 6))
    assert [n.label for n in ov.nodes] == ["input", "0", "1.conv", "1: relu", "1: mul", "2"]
    assert set(ov.edges) == {(0, 1), (1, 2), (2, 3), (3, 4), (1, 4), (4, 5)}
    assert _no_hooks(model)


def test_thumbnails_are_the_downsized_channel_maps() -> None:
    net = models.load("lenet5").model
    torch.manual_seed(3)
    x = torch.rand(1, 1, 32, 32)
    ov = overview(net, x, channels=4, size=14)
    conv1 = _hooked(net, x, net.conv1)[0].numpy()  # (6, 28, 28)
    order = np.argsort(-conv1.reshape(6, -1).mean(axis=1), kind="stable")[:4]
    np.testing.assert_array_equal(ov.nodes[1].channels, order)
    # 28 -> 14: each thumbnail pixel is the mean of a 2 × 2 block; one scale for the shown channels.
    small = conv1[order].reshape(4, 14, 2, 14, 2).mean(axis=(2, 4)).astype(np.float64)
    want = np.round((small - small.min()) / (small.max() - small.min()) * 255)
    assert np.abs(ov.nodes[1].thumbnails.astype(int) - want).max() <= 1
    # pool2 is 5 × 5, smaller than 14: nearest repeats pixels (5 -> 14 is not a whole factor; 5 -> 10 is).
    pool2 = _hooked(net, x, net.pool2)[0].numpy()
    ten = thumbnails(pool2, np.array([0, 3]), 10)
    big = np.kron(pool2[[0, 3]], np.ones((2, 2)))
    np.testing.assert_array_equal(ten, np.round((big - big.min()) / (big.max() - big.min()) * 255))
    assert ov.nodes[1].thumbnails.dtype == np.uint8 and not ov.nodes[1].thumbnails.flags.writeable


@pytest.fixture(scope="module")
def resnet18() -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None).eval()


def test_a_large_network_is_summarised_by_block(resnet18: nn.Module) -> None:
    x = torch.rand(1, 3, 64, 64)
    full = overview(resnet18, x, max_nodes=10**6)
    assert full.level is None and full.layers == 69  # 20 convs, 20 bns, 17 relu calls, 8 adds, pool, ...
    assert sum(1 for n in full.nodes if n.kind == "add_") == 8
    # Every block's sum is fed by its second batch norm and by the block's input (or its downsample).
    add = next(n.index for n in full.nodes if n.label == "layer1.0: add_")
    assert {full.nodes[i].label for i in full.fed_by(add)} == {"maxpool", "layer1.0.bn2"}
    add = next(n.index for n in full.nodes if n.label == "layer2.0: add_")
    assert {full.nodes[i].label for i in full.fed_by(add)} == {"layer2.0.downsample.1", "layer2.0.bn2"}

    ov = overview(resnet18, x)  # 69 > 48: grouped
    blocks = [f"layer{i}.{j}" for i in range(1, 5) for j in range(2)]
    top = ["input", "conv1", "bn1", "relu", "maxpool", *blocks, "avgpool", "model: flatten", "fc"]
    assert [n.label for n in ov.nodes] == top
    assert ov.level == 2 and ov.layers == 69
    assert ov.edges == tuple((i, i + 1) for i in range(len(ov.nodes) - 1))
    assert sum(n.members for n in ov.nodes[1:]) == 69
    assert ov.nodes[5].kind == "BasicBlock" and ov.nodes[5].members == 7
    # A block is drawn with what it hands on: the block's own output.
    block = _hooked(resnet18, x, resnet18.layer1[0])[0].numpy()
    shown = ov.nodes[5].channels
    np.testing.assert_array_equal(ov.nodes[5].thumbnails, thumbnails(block, shown, 32))
    assert _no_hooks(resnet18)


def test_bad_input_is_a_sentence(resnet18: nn.Module) -> None:
    with pytest.raises(ValueError, match=r"shape \(1, C, H, W\)"):
        overview(resnet18, torch.rand(3, 64, 64))
    with pytest.raises(ValueError, match="max_nodes must be a positive integer"):
        overview(resnet18, torch.rand(1, 3, 64, 64), max_nodes=0)


def test_chart_hover_names_the_feeding_edges_and_a_click_highlights_them() -> None:
    torch.manual_seed(0)
    ov = overview(_Residual().eval(), torch.rand(1, 1, 8, 8))
    fig = overview_chart.network_strip(ov, per_row=4)
    points = fig.data[1]
    assert list(points.customdata) == list(range(len(ov.nodes)))
    assert "feeds: a, model: add, model: add_" in points.hovertext[1]
    assert "fed by: stem, b" in points.hovertext[5]
    paths = [s for s in fig.layout.shapes if s.type == "path"]
    assert len(paths) == len(ov.edges)
    lit = overview_chart.network_strip(ov, highlight=1, per_row=4)
    red = [s for s in lit.layout.shapes if s.type == "path" and s.line.color == overview_chart.FEEDS_COLOR]
    blue = [s for s in lit.layout.shapes if s.type == "path" and s.line.color == overview_chart.FED_BY_COLOR]
    assert len(red) == len(ov.feeds(1)) == 3 and len(blue) == len(ov.fed_by(1)) == 1
    # The canvas holds every node's maps: its columns carry the thumbnails' colours, not the background.
    canvas = np.asarray(fig.data[0].z)
    assert canvas.shape[1] == 4 * (32 + 22) and (canvas != 255).any()


def test_a_users_model_with_functional_residual_and_se_gate() -> None:
    from usermodels.strange import seeded

    ov = overview(seeded(), torch.rand(1, 1, 40, 40))
    # Drawn by hand from Strange.forward, Unit.forward and Gate.forward (tests/usermodels/strange.py).
    labels = ["input", "stem", "model: relu", "unit.a", "unit: relu", "unit.b", "unit.gate: mean"]
    labels += [
        "unit.gate.down",
        "unit.gate: relu",
        "unit.gate.up",
        "unit.gate: sigmoid",
        "unit.gate: __getitem__",
    ]
    labels += ["unit.gate: mul", "unit: add", "unit: relu", "model: relu", "model: mean", "head"]
    assert [n.label for n in ov.nodes] == labels
    # x * w: the gate's product takes unit.b's map and the reshaped weights; the residual "+" takes the
    # product and the unit's input (the stem's relu). Everything else is a chain.
    want = {(i, i + 1) for i in range(len(labels) - 1)} | {(5, 12), (2, 13)}
    assert set(ov.edges) == want and len(ov.edges) == len(want)
    assert ov.fed_by(12) == [5, 11] and ov.fed_by(13) == [2, 12]

"""cnnviz.analysis.summary: the per-layer table against real forward passes and hand-computed values."""

from __future__ import annotations

import re

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

from cnnviz.analysis.summary import LayerRow, shape_text, summary, summary_totals


def _lenet5() -> nn.Sequential:
    """The lecture's LeNet-5, written out independently of cnnviz.models."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Conv2d(16, 120, 5),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(120, 84),
        nn.Tanh(),
        nn.Linear(84, 10),
    )


def _hwc(row: LayerRow) -> tuple[int, ...]:
    assert row.output_shape is not None
    c, *spatial = row.output_shape[1:]
    return (*spatial, c)


def _hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@pytest.fixture(scope="module")
def resnet18() -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet18()


def test_lenet5_reproduces_the_lecture_table() -> None:
    torch.manual_seed(0)
    rows = summary(_lenet5(), (1, 1, 32, 32))
    assert [r.kind for r in rows] == [
        "Conv2d",
        "Tanh",
        "AvgPool2d",
        "Conv2d",
        "Tanh",
        "AvgPool2d",
        "Conv2d",
        "Tanh",
        "Flatten",
        "Linear",
        "Tanh",
        "Linear",
    ]
    table = [(r.kind, _hwc(r), r.activation) for r in rows if r.kind in ("Conv2d", "AvgPool2d", "Linear")]
    assert table == [
        ("Conv2d", (28, 28, 6), "tanh"),
        ("AvgPool2d", (14, 14, 6), None),
        ("Conv2d", (10, 10, 16), "tanh"),
        ("AvgPool2d", (5, 5, 16), None),
        ("Conv2d", (1, 1, 120), "tanh"),
        ("Linear", (84,), "tanh"),
        ("Linear", (10,), None),
    ]
    assert [shape_text(r.output_shape) for r in rows if r.kind != "Tanh"] == [
        "28×28×6",
        "14×14×6",
        "10×10×16",
        "5×5×16",
        "1×1×120",
        "120",
        "84",
        "10",
    ]
    conv1, pool1 = rows[0], rows[2]
    assert (conv1.kernel_size, conv1.stride, conv1.padding, conv1.dilation) == (
        (5, 5),
        (1, 1),
        (0, 0),
        (1, 1),
    )
    assert (pool1.kernel_size, pool1.stride) == ((2, 2), (2, 2))
    # Hand-computed: (5·5·1 + 1)·6, (5·5·6 + 1)·16, (5·5·16 + 1)·120, (120 + 1)·84, (84 + 1)·10.
    assert [r.params for r in rows if r.params] == [156, 2416, 48120, 10164, 850]
    assert summary_totals(rows).params == 61706
    # MACs: 28·28·6 outputs × 25 weights; 10·10·16 × 150; 120 × 400; 84 × 120; 10 × 84.
    assert [r.macs for r in rows if r.macs] == [117600, 240000, 48000, 10080, 840]
    # Receptive field: 5 -> 6 -> 6 + 4·2 = 14 -> 16 -> 16 + 4·4 = 32, the whole 32×32 input.
    assert [r.receptive_field[0] for r in rows if r.kind in ("Conv2d", "AvgPool2d")] == [5, 6, 14, 16, 32]
    assert rows[-1].receptive_field == (32, 32) and rows[-1].jump is None


def test_bundled_lenet5_matches_the_table() -> None:
    lenet = pytest.importorskip("cnnviz.models.lenet")
    rows = summary(lenet.LeNet5(), (1, 32, 32))
    shapes = [_hwc(r) for r in rows if r.kind in ("Conv2d", "AvgPool2d", "Linear")]
    assert shapes == [(28, 28, 6), (14, 14, 6), (10, 10, 16), (5, 5, 16), (1, 1, 120), (84,), (10,)]
    assert [r.activation for r in rows if r.kind in ("Conv2d", "Linear")] == ["tanh"] * 4 + [None]


def test_two_3x3_convs_see_as_far_as_one_5x5_with_fewer_parameters() -> None:
    stacked = nn.Sequential(
        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU()
    )
    single = nn.Sequential(nn.Conv2d(8, 8, 5, padding=2), nn.ReLU())
    a, b = summary(stacked, (1, 8, 16, 16)), summary(single, (1, 8, 16, 16))
    assert a[-1].receptive_field == b[-1].receptive_field == (5, 5)
    assert summary_totals(a).params == 2 * (9 * 64 + 8) < summary_totals(b).params == 25 * 64 + 8
    # With pooling in between the jump doubles: 3 -> 4 (pool 2) -> 4 + 2·2 = 8.
    pooled = nn.Sequential(nn.Conv2d(1, 1, 3), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3))
    assert [r.receptive_field for r in summary(pooled, (1, 1, 20, 20))] == [(3, 3), (4, 4), (8, 8)]
    assert [r.jump for r in summary(pooled, (1, 1, 20, 20))] == [(1, 1), (2, 2), (2, 2)]
    dilated = nn.Sequential(nn.Conv2d(1, 1, 3, dilation=2), nn.Conv2d(1, 1, (3, 1)))
    assert summary(dilated, (1, 1, 20, 20))[-1].receptive_field == (7, 5)


def test_resnet18_matches_a_real_forward_pass(resnet18: nn.Module) -> None:
    x = torch.zeros(1, 3, 96, 96)
    rows = summary(resnet18, x.shape)
    nodes = get_graph_node_names(resnet18)[1]
    with torch.no_grad():
        outputs = create_feature_extractor(resnet18.eval(), return_nodes=nodes)(x)
    leaves = [n for n, m in resnet18.named_modules() if not list(m.children())]
    assert sorted({r.name for r in rows}) == sorted(leaves)
    for row in rows:
        calls = [n for n in nodes if re.fullmatch(re.escape(row.name) + r"(_\d+)?", n)]
        assert row.calls == len(calls), row.name
        # FX names a module's second call "relu_1": this row is that call's node.
        node = row.name if row.call == 1 else f"{row.name}_{row.call - 1}"
        assert row.output_shape == tuple(outputs[node].shape), row.label
    totals = summary_totals(rows)
    assert totals.params == sum(p.numel() for p in resnet18.parameters())
    # torch's own FLOP counter counts 2 FLOPs per multiply-accumulate of convolutions and matrix products.
    with FlopCounterMode(display=False) as flops, torch.no_grad():
        resnet18(x)
    assert 2 * totals.macs == flops.get_total_flops()
    by_name = {r.name: r for r in rows}
    # The textbook value for ResNet-18's last convolution; the downsample branch continues the block's input.
    assert by_name["layer4.1.conv2"].receptive_field == (435, 435)
    assert by_name["layer4.0.downsample.0"].receptive_field == (211, 211)
    assert by_name["layer4.0.downsample.0"].jump == (32, 32)
    assert by_name["conv1"].activation == "relu" and by_name["relu"].activation == "relu"
    assert by_name["layer1.0.relu"].calls == 2
    assert [r.label for r in rows if r.name == "layer1.0.relu"] == ["layer1.0.relu (1)", "layer1.0.relu (2)"]
    assert totals.modules == len(leaves) and totals.layers == len(rows) > len(leaves)
    assert by_name["fc"].jump is None


def test_every_call_of_a_reused_module_is_its_own_row() -> None:
    """resnet50's blocks call one `relu` three times: each call is a row with its own shape and field,
    checked against a forward hook that records every call."""
    torch.manual_seed(0)
    model = torchvision.models.resnet50().eval()
    leaves = {n: m for n, m in model.named_modules() if not list(m.children())}
    recorded: list[tuple[str, tuple[int, ...]]] = []
    handles = [
        module.register_forward_hook(lambda m, i, o, name=name: recorded.append((name, tuple(o.shape))))
        for name, module in leaves.items()
    ]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, 224, 224))
    finally:
        for handle in handles:
            handle.remove()
    rows = summary(model, (1, 3, 224, 224))
    assert [(r.name, r.output_shape) for r in rows] == recorded
    relu = [r for r in rows if r.name == "layer1.0.relu"]
    assert [(r.call, r.calls) for r in relu] == [(1, 3), (2, 3), (3, 3)]
    assert [r.label for r in relu] == ["layer1.0.relu (1)", "layer1.0.relu (2)", "layer1.0.relu (3)"]
    # First call: after bn1 of the block, 64 channels. By hand: conv1 7×7/2 sees 7 pixels with jump 2, the
    # 3×3/2 max pool 7 + 2·2 = 11 (jump 4), and the block's 1×1 conv1 keeps 11. conv2 (3×3) adds 2·4 -> 19.
    assert [(shape_text(r.output_shape), r.receptive_field) for r in relu] == [
        ("56×56×64", (11, 11)),
        ("56×56×64", (19, 19)),
        ("56×56×256", (19, 19)),
    ]
    names = [r.name for r in rows]
    assert names.index("layer1.0.bn1") < rows.index(relu[0]) < names.index("layer1.0.conv2")
    # Parameters: on a module's first call only, so the totals are the model's count.
    totals = summary_totals(rows)
    assert totals.params == sum(p.numel() for p in model.parameters())
    assert totals.modules == len(leaves) and totals.layers == len(recorded)
    reused = [r for r in rows if r.call > 1]
    assert reused and all(r.params == 0 for r in reused)
    with FlopCounterMode(display=False) as flops, torch.no_grad():
        model(torch.zeros(1, 3, 224, 224))
    assert 2 * totals.macs == flops.get_total_flops()


def test_summary_leaves_the_model_as_it_was(resnet18: nn.Module) -> None:
    resnet18.train()
    running = resnet18.bn1.running_mean.clone()
    resnet18.fc.weight.grad = grad = torch.ones_like(resnet18.fc.weight)
    try:
        summary(resnet18, (3, 64, 64))  # (C, H, W) gets a batch of one; eval mode, so BatchNorm accepts it
        assert all(m.training for m in resnet18.modules())
        assert torch.equal(resnet18.bn1.running_mean, running)
        assert resnet18.fc.weight.grad is grad
        assert _hook_count(resnet18) == 0
    finally:
        resnet18.fc.weight.grad = None
        resnet18.eval()


class _Shared(nn.Module):
    """A parameter shared by two layers and one owned by a container with children."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(4))
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.b.weight = self.a.weight
        self.unused = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.relu(self.a(x))) * self.scale


def test_parameters_add_up_with_sharing_containers_and_unused_layers() -> None:
    model = _Shared()
    rows = summary(model, (2, 4))
    assert summary_totals(rows).params == sum(p.numel() for p in model.parameters()) == 4 + 16 + 4 + 4 + 10
    by_name = {r.name: r for r in rows}
    assert [r.name for r in rows] == ["a", "b", "", "unused"]  # execution order, then what never ran
    assert by_name["b"].params == 4  # its weight is a's, counted there
    assert by_name["unused"].output_shape is None and by_name["unused"].calls == 0
    assert by_name["a"].receptive_field is None and by_name["a"].macs == 16
    assert by_name["a"].activation is None  # torch.relu is not a module


def test_other_layers_shapes_and_fields() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding="valid"),
        nn.BatchNorm2d(8),
        nn.ReLU6(),
        nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1),
        nn.Upsample(scale_factor=2, mode="bilinear"),
        nn.Conv2d(4, 4, 3, padding="same", groups=2),
        nn.AdaptiveAvgPool2d(4),
    )
    x = torch.zeros(1, 3, 33, 33)
    rows = summary(model, x.shape)
    shapes = []
    with torch.no_grad():
        for layer in model.eval():
            x = layer(x)
            shapes.append(tuple(x.shape))
    assert [r.output_shape for r in rows] == shapes
    conv, bn, act, up, _, grouped, pool = rows
    assert conv.padding == "valid" and grouped.padding == "same" and conv.activation == "relu6"
    assert act.activation == "relu6" and bn.activation is None and bn.kernel_size is None
    assert up.macs == 8 * 16 * 16 * 4 * 16  # input elements × C_out × kernel area
    assert grouped.macs == 4 * 64 * 64 * 2 * 9  # output elements × (C_in / groups) × kernel area
    assert up.jump == (1, 1) and rows[4].jump == (0.5, 0.5)
    assert pool.jump == (8, 8)  # 64 -> 4: windows of 16 half-pixels


@pytest.mark.parametrize("bad", [(8,), (1, 0, 8, 8), (1, 1.5, 8, 8), "1,1,8,8"])
def test_bad_input_shapes_are_named(bad) -> None:
    with pytest.raises(ValueError, match="input_shape"):
        summary(nn.Conv2d(1, 1, 3), bad)


def test_shape_text() -> None:
    assert shape_text((1, 6, 28, 28)) == "28×28×6"
    assert shape_text((1, 120)) == "120"
    assert shape_text(None) == "-"

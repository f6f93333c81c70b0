"""Tracing a conv cell back: the sum written out equals the captured activation; the receptive field equals
the hand-computed box and the gradient support; errors are sentences; the model is left as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from lock_events import watch_lock
from torch import nn

from cnnviz import models
from cnnviz.analysis.trace import Box, trace_cell


def _seeded(make, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return make().eval()


def _captured(model: nn.Module, x: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The conv's input and output from plain hooks (independent of cnnviz.hooks): the last call of each."""
    conv = dict(model.named_modules())[name]
    seen: dict[str, torch.Tensor] = {}
    h1 = conv.register_forward_pre_hook(lambda m, a: seen.__setitem__("in", a[0].detach().clone()))
    h2 = conv.register_forward_hook(lambda m, a, o: seen.__setitem__("out", o.detach().clone()))
    try:
        with torch.no_grad():
            model(x)
    finally:
        h1.remove()
        h2.remove()
    return seen["in"], seen["out"]


def _reference_partials(conv: nn.Conv2d, inp: torch.Tensor, k: int, i: int, j: int) -> np.ndarray:
    """Per-input-channel partial sums by torch's own conv2d in float64, one input channel at a time."""
    pad = conv._reversed_padding_repeated_twice
    mode = "constant" if conv.padding_mode == "zeros" else conv.padding_mode
    padded = F.pad(inp.double(), tuple(pad), mode=mode)
    per_group = conv.in_channels // conv.groups
    first = k // (conv.out_channels // conv.groups) * per_group
    out = []
    for c in range(per_group):
        y = F.conv2d(
            padded[:, first + c : first + c + 1],
            conv.weight[k : k + 1, c : c + 1].detach().double(),
            stride=conv.stride,
            dilation=conv.dilation,
        )
        out.append(float(y[0, 0, i, j]))
    return np.array(out)


def _chain_box(convs: list[tuple[int, int, int, int]], sizes: list[int], row: int, col: int) -> Box:
    """The receptive field of (row, col) through a chain of windows (kernel, stride, padding, dilation),
    worked backwards by hand: output index range [a, b] reads input [a·s − p, b·s − p + d·(k − 1)], clipped
    to the input at every step (what lies outside is padding, no pixel). `sizes`: the input side of each."""

    def back(index: int) -> tuple[int, int]:
        a = b = index
        for (k, s, p, d), size in zip(reversed(convs), reversed(sizes), strict=True):
            a, b = max(a * s - p, 0), min(b * s - p + d * (k - 1), size - 1)
        return a, b

    top, bottom = back(row)
    left, right = back(col)
    return Box(top, left, bottom + 1, right + 1)


def _check_sum(model: nn.Module, x: torch.Tensor, name: str, k: int, i: int, j: int):
    tr = trace_cell(model, x, name, k, i, j)
    inp, out = _captured(model, x, name)
    conv = dict(model.named_modules())[name]
    assert tr.value == pytest.approx(float(out[0, k, i, j]), abs=0, rel=0)  # the very number shown
    assert abs(tr.total - tr.value) <= tr.tolerance
    assert tr.total == pytest.approx(tr.bias + tr.partials.sum(), abs=1e-12)
    np.testing.assert_allclose(tr.partials, _reference_partials(conv, inp, k, i, j), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tr.partials, (tr.window * tr.kernel).sum(axis=(1, 2)), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(tr.kernel, conv.weight[k].detach().double().numpy())
    # Where the window lies on the input, it is the input itself at the listed rows and columns.
    rows, cols = np.nonzero(tr.inside)
    src = inp[0].double().numpy()[tr.in_channels]
    np.testing.assert_array_equal(tr.window[:, rows, cols], src[:, tr.rows[rows], tr.cols[cols]])
    return tr


CONVS = [
    dict(stride=1, padding=0, dilation=1, groups=1),
    dict(stride=2, padding=1, dilation=1, groups=1),
    dict(stride=1, padding=2, dilation=2, groups=1),
    dict(stride=2, padding=3, dilation=3, groups=2),
    dict(stride=1, padding=1, dilation=1, groups=4),  # depthwise
    dict(stride=1, padding="same", dilation=1, groups=1, kernel_size=4),  # even kernel: one more right/bottom
    dict(stride=1, padding=2, dilation=1, groups=1, padding_mode="reflect"),
    dict(stride=2, padding=2, dilation=1, groups=2, padding_mode="circular"),
    dict(stride=1, padding=1, dilation=2, groups=1, padding_mode="replicate"),
]


@pytest.mark.parametrize("options", CONVS, ids=lambda o: "-".join(f"{k}{v}" for k, v in o.items()))
def test_sum_equals_the_captured_activation_on_any_conv(options: dict) -> None:
    options = dict(options)
    kernel = options.pop("kernel_size", 3)
    model = _seeded(lambda: nn.Sequential(nn.Conv2d(4, 8, kernel, **options), nn.ReLU(inplace=True)))
    x = torch.randn(1, 4, 17, 15)
    _, out = _captured(model, x, "0")
    h, w = out.shape[2:]
    for k, i, j in [(0, 0, 0), (7, h - 1, w - 1), (5, h // 2, 1), (3, 1, w // 2)]:
        tr = _check_sum(model, x, "0", k, i, j)
        # One conv on the input: the field is its window clipped to the image (zero padding reads no pixel),
        # and the gradient support agrees.
        if options.get("padding_mode", "zeros") == "zeros":
            rows, cols = tr.rows[tr.inside.any(axis=1)], tr.cols[tr.inside.any(axis=0)]
            want = Box(int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1)
            assert tr.receptive_field == want
            assert tr.support == want
        if kernel > 1:
            assert tr.rows[1] - tr.rows[0] == options["dilation"]
            if options["padding"] == "same":  # total padding k − 1 = 3: one row above, two below
                assert tr.rows[0] == i - (kernel - 1) // 2 and tr.rows[-1] == i + kernel // 2


def test_padding_modes_reach_the_reflected_pixels() -> None:
    # Reflect padding reads pixels inside the image for the padded positions: the field is the wider box.
    model = _seeded(lambda: nn.Sequential(nn.Conv2d(1, 1, 5, padding=2, padding_mode="reflect")))
    x = torch.randn(1, 1, 9, 9)
    tr = _check_sum(model, x, "0", 0, 0, 0)
    assert tr.receptive_field == Box(0, 0, 3, 3)
    np.testing.assert_array_equal(tr.window[0, 0, :], tr.window[0, 4, :])  # row −2 reflects row 2


def test_plain_stack_field_matches_hand_computation_and_gradient() -> None:
    # conv 5×5 s1 → tanh → conv 3×3 s2 p1 → avgpool 2 → conv 3×3 d2 p2: every pixel that can reach a cell
    # moves it (tanh' > 0, avg pooling): the gradient support and the NaN field are the hand-computed box.
    model = _seeded(
        lambda: nn.Sequential(
            nn.Conv2d(2, 4, 5),
            nn.Tanh(),
            nn.Conv2d(4, 6, 3, stride=2, padding=1),
            nn.Tanh(),
            nn.AvgPool2d(2),
            nn.Conv2d(6, 3, 3, padding=2, dilation=2),
        )
    )
    x = torch.randn(1, 2, 40, 36)
    windows = [(5, 1, 0, 1), (3, 2, 1, 1), (2, 2, 0, 1), (3, 1, 2, 2)]
    sizes_h, sizes_w = [40, 36, 18, 9], [36, 32, 16, 8]
    _, out = _captured(model, x, "5")
    for i, j in [(0, 0), (4, 3), (8, 7), (5, 0)]:
        tr = _check_sum(model, x, "5", 1, i, j)
        rows = _chain_box(windows, sizes_h, i, 0)
        cols = _chain_box(windows, sizes_w, 0, j)
        want = Box(rows.top, cols.left, rows.bottom, cols.right)
        assert tr.receptive_field == want
        assert tr.support == want
    assert out.shape[2:] == (9, 8)


def test_residual_sum_field_is_the_union_of_both_branches() -> None:
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(1, 2, 3, padding=1)
            self.b = nn.Conv2d(2, 2, 5, padding=2)
            self.skip = nn.Conv2d(1, 2, 1, stride=1)
            self.head = nn.Conv2d(2, 2, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.b(torch.tanh(self.a(x))) + self.skip(x)  # out-of-place: no module hook sees the sum
            return self.head(y)

    model = _seeded(Block)
    x = torch.randn(1, 1, 20, 20)
    tr = _check_sum(model, x, "head", 1, 10, 10)
    # The long branch reads ±3 pixels around (10, 10); the skip only the pixel itself: the union is ±3.
    assert tr.receptive_field == Box(7, 7, 14, 14)
    assert tr.support == tr.receptive_field
    assert trace_cell(model, x, "skip", 0, 10, 10).receptive_field == Box(10, 10, 11, 11)


def test_dead_relu_keeps_the_field_but_empties_the_gradient() -> None:
    # A ReLU that is off everywhere: the cell still reads its whole window (the field), but no pixel moves it.
    model = _seeded(lambda: nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU(), nn.Conv2d(1, 1, 3)))
    first = model.get_submodule("0")
    assert isinstance(first, nn.Conv2d) and first.bias is not None
    with torch.no_grad():
        first.bias.fill_(-100.0)
    x = torch.rand(1, 1, 12, 12)
    tr = _check_sum(model, x, "2", 0, 4, 6)
    assert tr.support is None
    assert tr.receptive_field == Box(4, 6, 9, 11)


def test_bundled_lenet5() -> None:
    loaded = models.load("lenet5")
    torch.manual_seed(1)
    x = torch.rand(1, 1, 32, 32)
    net = loaded.model
    cases = [("conv1", 2, 5, 27), ("conv2", 11, 0, 9), ("conv2", 3, 4, 4), ("conv3", 77, 0, 0)]
    windows = {"conv1": [(5, 1, 0, 1)], "conv2": [(5, 1, 0, 1), (2, 2, 0, 1), (5, 1, 0, 1)]}
    windows["conv3"] = [*windows["conv2"], (2, 2, 0, 1), (5, 1, 0, 1)]
    sizes = {"conv1": [32], "conv2": [32, 28, 14], "conv3": [32, 28, 14, 10, 5]}
    for name, k, i, j in cases:
        tr = _check_sum(net, x, name, k, i, j)
        rows = _chain_box(windows[name], sizes[name], i, 0)
        cols = _chain_box(windows[name], sizes[name], 0, j)
        want = Box(rows.top, cols.left, rows.bottom, cols.right)
        assert tr.receptive_field == want and tr.support == want, name
    assert tr.receptive_field == Box(0, 0, 32, 32)  # conv3 sees the whole digit, as the lecture's table says


@pytest.fixture(scope="module")
def resnet18() -> nn.Module:
    return _seeded(lambda: torchvision.models.resnet18(weights=None))


def test_untrained_resnet18(resnet18: nn.Module) -> None:
    torch.manual_seed(2)
    x = torch.randn(1, 3, 96, 96)
    cases = [("conv1", 3, 10, 20), ("layer1.0.conv1", 5, 0, 0), ("layer2.0.conv1", 7, 5, 6)]
    cases += [("layer2.0.downsample.0", 1, 3, 3), ("layer3.1.conv2", 40, 2, 1), ("layer4.1.conv2", 100, 2, 2)]
    for name, k, i, j in cases:
        tr = _check_sum(resnet18, x, name, k, i, j)
        field, support = tr.receptive_field, tr.support
        assert field is not None and support is not None
        assert field.top <= support.top and field.left <= support.left
        assert support.bottom <= field.bottom and support.right <= field.right
    # conv1 (7×7, stride 2, padding 3) at (10, 20): rows 17..23, cols 37..43.
    assert trace_cell(resnet18, x, "conv1", 3, 10, 20).receptive_field == Box(17, 37, 24, 44)
    # layer1.0.conv1 at (0, 0): its 3×3 window (p1) covers max-pool rows 0..1, which cover conv1 rows 0..3,
    # which cover input rows 0..9 (7×7, s2, p3).
    chain = [(7, 2, 3, 1), (3, 2, 1, 1), (3, 1, 1, 1)]
    want = _chain_box(chain, [96, 48, 24], 0, 0)
    assert trace_cell(resnet18, x, "layer1.0.conv1", 5, 0, 0).receptive_field == want == Box(0, 0, 10, 10)
    # The skip path's 1×1 stride-2 conv at (3, 3) reads layer1's output at (6, 6), which four 3×3 convs (the
    # longest path through layer1's two blocks) tie to max-pool rows 2..10, conv1 rows 3..21, input 3..45.
    chain = [(7, 2, 3, 1), (3, 2, 1, 1), *[(3, 1, 1, 1)] * 4, (1, 2, 0, 1)]
    want = _chain_box(chain, [96, 48, 24, 24, 24, 24, 24], 3, 3)
    assert (
        trace_cell(resnet18, x, "layer2.0.downsample.0", 1, 3, 3).receptive_field == want == Box(3, 3, 46, 46)
    )


def test_errors_are_sentences_and_model_is_left_alone(resnet18: nn.Module) -> None:
    x = torch.randn(1, 3, 64, 64)
    with pytest.raises(ValueError, match="is a ReLU, not a Conv2d"):
        trace_cell(resnet18, x, "relu", 0, 0, 0)
    with pytest.raises(ValueError, match=r"row must be an integer from 0 to 31 for layer 'conv1'"):
        trace_cell(resnet18, x, "conv1", 0, 32, 0)
    with pytest.raises(ValueError, match="channel must be an integer from 0 to 63"):
        trace_cell(resnet18, x, "conv1", -1, 0, 0)
    with pytest.raises(ValueError, match="did you mean"):
        trace_cell(resnet18, x, "conv_1", 0, 0, 0)
    with pytest.raises(ValueError, match=r"shape \(1, C, H, W\)"):
        trace_cell(resnet18, x[0], "conv1", 0, 0, 0)
    trace_cell(
        resnet18, x, resnet18.get_submodule("layer1.0.conv2"), 0, 3, 3
    )  # a module object works as well
    hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in resnet18.modules())
    assert hooks == 0
    assert not resnet18.training and all(p.grad is None for p in resnet18.parameters())
    assert all(p.requires_grad for p in resnet18.parameters())


def test_result_is_frozen() -> None:
    model = _seeded(lambda: nn.Sequential(nn.Conv2d(1, 2, 3)))
    tr = trace_cell(model, torch.randn(1, 1, 5, 5), "0", 1, 1, 1)
    with pytest.raises(AttributeError):
        tr.value = 0.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        tr.window[0, 0, 0] = 1.0


class _Twice(nn.Module):
    """One conv called twice, each output written in place right after, then a tail."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)
        self.tail = nn.Conv2d(2, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        y.add_(1.0)
        z = self.conv(y)
        z.relu_()
        return self.tail(z)


def test_calls_stops_after_the_last_call_with_the_same_trace() -> None:
    model = _seeded(_Twice)
    x = torch.randn(1, 2, 9, 9)
    tails: list[int] = []
    handle = model.tail.register_forward_hook(lambda m, a, o: tails.append(1))
    try:
        whole = _check_sum(model, x, "conv", 1, 4, 5)  # against plain hooks: the second call, before relu_
        assert len(tails) >= 1  # the whole model ran
        tails.clear()
        stopped = trace_cell(model, x, "conv", 1, 4, 5, calls=2)
        assert tails == []  # nothing after the conv's second call ran
    finally:
        handle.remove()
    assert stopped.value == whole.value
    np.testing.assert_array_equal(stopped.partials, whole.partials)
    np.testing.assert_array_equal(stopped.window, whole.window)
    assert stopped.receptive_field == whole.receptive_field == Box(2, 3, 7, 8)  # two 3×3: 5×5 around (4, 5)
    assert stopped.support == whole.support
    first = trace_cell(model, x, "conv", 1, 4, 5, calls=1)  # stopped after the first call: its own numbers
    with torch.no_grad():
        own = model.conv(x)
    assert first.value == pytest.approx(float(own[0, 1, 4, 5]), abs=0, rel=0)
    assert first.receptive_field == Box(3, 4, 6, 7)


def test_the_model_lock_is_held_for_one_pass_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Other sessions' passes of a shared model can run between the trace's passes (first, gradient, NaN):
    each runs through `cnnviz.hooks.run_until`, which takes the lock for its pass only."""
    import cnnviz.hooks as hooks_module

    model = _seeded(lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 3)))
    with watch_lock(monkeypatch, hooks_module, model) as events:
        tr = trace_cell(model, torch.randn(1, 1, 9, 9), "2", 1, 2, 2)
    assert tr.receptive_field == Box(2, 2, 7, 7)
    passes = events.count("pass")
    assert passes >= 3  # the traced pass, the gradient's, at least one batch of NaN probes
    assert events == ["lock", "pass", "unlock"] * passes

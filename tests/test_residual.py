"""Residual blocks found generically; the skip/branch split of ∂L/∂x checked against plain autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from cnnviz.analysis.dataflow import recording
from cnnviz.analysis.residual import depth_profile, find_residual_blocks, residual_gradients
from cnnviz.models import mini


@pytest.fixture(autouse=True)
def _seed_and_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


def _hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def _image(size: int = 64, seed: int = 1) -> torch.Tensor:
    return torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------------------------- finding


def test_finds_torchvision_basic_blocks_and_their_skips() -> None:
    model = torchvision.models.resnet18().eval()
    blocks = find_residual_blocks(model, _image())
    expected = [n for n, m in model.named_modules() if isinstance(m, torchvision.models.resnet.BasicBlock)]
    assert [b.name for b in blocks] == expected
    by_name = {b.name: b for b in blocks}
    # Shape-changing blocks have a projection (the downsample's 1×1 conv + BN), the others the identity.
    for name in expected:
        has_downsample = model.get_submodule(name).downsample is not None
        assert by_name[name].skip == ("projection" if has_downsample else "identity"), name
    assert by_name["layer2.0"].skip_modules == ("layer2.0.downsample.0", "layer2.0.downsample.1")
    assert by_name["layer1.0"].skip_modules == ()
    assert by_name["layer1.0"].branch_modules == (
        "layer1.0.conv1",
        "layer1.0.bn1",
        "layer1.0.relu",
        "layer1.0.conv2",
        "layer1.0.bn2",
    )
    assert by_name["layer1.0"].after_sum == ("layer1.0.relu",)  # H = ReLU(S): the ReLU after the add
    assert by_name["layer1.0"].kind == "BasicBlock"
    assert _hooks(model) == 0


def test_finds_inverted_residuals_exactly_where_use_res_connect() -> None:
    for model in (torchvision.models.mobilenet_v2(), torchvision.models.efficientnet_b0()):
        model.eval()
        blocks = find_residual_blocks(model, _image())
        expected = [n for n, m in model.named_modules() if getattr(m, "use_res_connect", False)]
        assert expected
        assert [b.name for b in blocks] == expected
        assert all(b.skip == "identity" and b.after_sum == () for b in blocks)


def test_bundled_blocks_found_and_plain_blocks_not() -> None:
    for build in (mini.resnet_mini, mini.se_resnet_mini):
        model = build().eval()
        blocks = find_residual_blocks(model, _image())
        assert [b.name for b in blocks] == ["layer1.0", "layer2.0", "layer3.0", "layer4.0"]
        assert [b.skip for b in blocks] == ["identity", "projection", "projection", "projection"]
    se_block = find_residual_blocks(mini.se_resnet_mini().eval(), _image())[0]
    assert "layer1.0.se" in se_block.branch_modules  # the SE block sits on the residual branch
    assert find_residual_blocks(mini.plainnet_mini().eval(), _image()) == []
    assert find_residual_blocks(torchvision.models.vgg11().eval(), _image(32)) == []


def test_block_with_several_adds_and_scaled_sums() -> None:
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)
            self.bias = nn.Parameter(torch.ones(1, 4, 1, 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = x + self.bias  # one operand is a parameter: not a residual sum
            y = 2 + y  # a number: not a residual sum
            return torch.relu(self.conv(y) * 0.5 + x)

    model = nn.Sequential(nn.Conv2d(3, 4, 1), Block(), nn.Flatten(), nn.Linear(4 * 8 * 8, 5)).eval()
    x = _image(8)
    (block,) = find_residual_blocks(model, x)
    assert block.name == "1"
    assert block.skip == "identity"
    assert block.branch_modules == ("1.conv",)
    result = residual_gradients(model, x, 2, keep_gradients=True)
    arrays = result.block("1").arrays
    assert arrays is not None
    np.testing.assert_allclose(arrays.skip + arrays.branch, arrays.total, rtol=1e-5, atol=1e-9)


def test_statement_add_then_inplace_change_reports_no_split() -> None:
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.conv(x)
            out.add_(x)  # a statement: the returned tensor is ignored, `out` itself is the sum
            out.relu_()  # ... and is then changed in place
            return out

    model = nn.Sequential(nn.Conv2d(3, 4, 1), Block(), nn.Flatten(), nn.Linear(4 * 8 * 8, 5)).eval()
    x = _image(8)
    with torch.no_grad():
        expected = model(x)
    result = residual_gradients(model, x, 1)
    (b,) = result.blocks
    assert not b.split and np.isnan(b.grad_skip) and np.isnan(b.skip_share)
    assert b.grad_input > 0 and b.grad_output > 0  # input and output gradients are still measured
    np.testing.assert_allclose(result.logits, expected[0].numpy(), rtol=1e-5)  # the model computed the same


# --------------------------------------------------------------------------------------------- the split


def _reference_at(model: nn.Module, block: str, x: torch.Tensor, target: int, objective: str):
    """Plain autograd, no cnnviz: feed the block a leaf, keep its sum's pre-activation and output."""
    module = model.get_submodule(block)
    leaf: dict[str, torch.Tensor] = {}

    def pre(_m, args):
        leaf["x"] = args[0].detach().requires_grad_(True)
        return (leaf["x"],)

    def post(_m, _args, out):
        leaf["h"] = out
        return None

    handles = [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    try:
        logits = model(x)
    finally:
        for h in handles:
            h.remove()
    value = F.cross_entropy(logits, torch.tensor([target])) if objective == "loss" else logits[0, target]
    gx, gh = torch.autograd.grad(value, [leaf["x"], leaf["h"]])
    return gx, gh, leaf["h"].detach()


@pytest.mark.parametrize("objective", ["loss", "score"])
def test_split_adds_up_to_autograd_gradient_torchvision_resnet18(objective: str) -> None:
    # torchvision's BasicBlock: `out += identity` (in place) then ReLU(inplace=True).
    model = torchvision.models.resnet18().eval()
    x = _image()
    x_before = x.clone()
    result = residual_gradients(model, x, 7, objective=objective, keep_gradients=True)
    assert torch.equal(x, x_before)
    assert result.target == 7 and result.objective == objective
    with torch.no_grad():  # the taps change nothing the network computes
        logits = model(x)
        np.testing.assert_allclose(result.logits, logits[0].numpy(), rtol=1e-5, atol=1e-6)
    # p, shown next to L: the softmax of the logits the plain model gives (not the recorded ones).
    assert result.probability == pytest.approx(float(F.softmax(logits.double(), 1)[0, 7]), rel=1e-5)
    for name in ("layer1.0", "layer2.0", "layer4.1"):
        b = result.block(name)
        arrays = b.arrays
        assert arrays is not None and b.split
        gx, gh, h = _reference_at(model, name, x, 7, objective)
        # The whole input gradient: equal to autograd's, and skip + branch add up to it.
        np.testing.assert_allclose(arrays.total, gx.numpy(), rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(arrays.skip + arrays.branch, arrays.total, rtol=1e-5, atol=1e-8)
        # g = ∂L/∂S before the ReLU: ∂L/∂H through the ReLU's mask.
        np.testing.assert_allclose(arrays.at_sum, (gh * (h > 0)).numpy(), rtol=1e-5, atol=1e-8)
        assert b.grad_output == pytest.approx(float(gh.double().norm()), rel=1e-5)
        assert b.grad_input == pytest.approx(float(gx.double().norm()), rel=1e-4)
        assert b.grad_sum == pytest.approx(float((gh * (h > 0)).double().norm()), rel=1e-5)
        if b.block.skip == "identity":
            np.testing.assert_array_equal(arrays.skip, arrays.at_sum)  # the "+1": g passes unchanged
        assert b.skip_share + b.branch_share == pytest.approx(1.0, abs=1e-5)
    assert _hooks(model) == 0


def test_split_matches_a_hand_written_block() -> None:
    """ResNet-mini's layer2.0 (projection skip) recomputed by hand from its own layers."""
    model = mini.resnet_mini().eval()
    x = _image()
    result = residual_gradients(model, x, 3, keep_gradients=True)
    block = model.layer2[0]
    with torch.no_grad():
        x1 = model.layer1(model.maxpool(model.relu(model.bn1(model.conv1(x)))))
    x1 = x1.requires_grad_(True)
    branch = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x1)))))
    skip = block.downsample(x1)
    s = branch + skip
    h = torch.relu(s)
    logits = model.fc(torch.flatten(model.avgpool(model.layer4(model.layer3(h))), 1))
    loss = F.cross_entropy(logits, torch.tensor([3]))
    gx, gs = torch.autograd.grad(loss, [x1, s], retain_graph=True)
    (skip_ref,) = torch.autograd.grad(skip, x1, gs, retain_graph=True)
    (branch_ref,) = torch.autograd.grad(branch, x1, gs)
    b = result.block("layer2.0")
    assert b.block.skip == "projection"
    arrays = b.arrays
    assert arrays is not None
    np.testing.assert_allclose(arrays.total, gx.numpy(), rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(arrays.skip, skip_ref.numpy(), rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(arrays.branch, branch_ref.numpy(), rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(arrays.at_sum, gs.numpy(), rtol=1e-4, atol=1e-8)
    assert b.branch_norm == pytest.approx(float(branch.detach().double().norm()), rel=1e-5)
    assert b.skip_norm == pytest.approx(float(skip.detach().double().norm()), rel=1e-5)
    assert b.sum_norm == pytest.approx(float(s.detach().double().norm()), rel=1e-5)
    assert b.output_norm == pytest.approx(float(h.detach().double().norm()), rel=1e-5)
    assert b.input_norm == pytest.approx(float(x1.detach().double().norm()), rel=1e-5)
    assert b.skip_map is not None and b.skip_map.shape == tuple(x1.shape[2:])
    assert result.value == pytest.approx(float(loss.detach()), rel=1e-5)
    assert result.probability == pytest.approx(float(F.softmax(logits.detach().double(), 1)[0, 3]), rel=1e-5)

    # The scalars the page shows, from the hand-made tensors (numpy, float64).
    gx_, gs_ = gx.double().numpy(), gs.double().numpy()
    skip_, branch_ = skip_ref.double().numpy(), branch_ref.double().numpy()
    assert b.grad_sum == pytest.approx(np.linalg.norm(gs_), rel=1e-5)
    assert b.grad_input == pytest.approx(np.linalg.norm(gx_), rel=1e-5)
    assert b.grad_skip == pytest.approx(np.linalg.norm(skip_), rel=1e-5)
    assert b.grad_branch == pytest.approx(np.linalg.norm(branch_), rel=1e-5)
    assert b.gain == pytest.approx(np.linalg.norm(gx_) / np.linalg.norm(gs_), rel=1e-5)
    # Shares: the projection of each part on ∂L/∂x, so skip and branch cannot be swapped unnoticed.
    skip_share = np.vdot(skip_, gx_) / np.vdot(gx_, gx_)
    branch_share = np.vdot(branch_, gx_) / np.vdot(gx_, gx_)
    assert abs(skip_share - branch_share) > 0.05  # the check below can tell them apart
    assert b.skip_share == pytest.approx(skip_share, rel=1e-4, abs=1e-6)
    assert b.branch_share == pytest.approx(branch_share, rel=1e-4, abs=1e-6)
    # Heatmaps: at each position the L2 norm over channels of that part.
    assert b.branch_map is not None
    np.testing.assert_allclose(b.skip_map, np.sqrt((skip_[0] ** 2).sum(axis=0)), rtol=1e-4, atol=1e-10)
    np.testing.assert_allclose(b.branch_map, np.sqrt((branch_[0] ** 2).sum(axis=0)), rtol=1e-4, atol=1e-10)


def test_split_in_inverted_residuals() -> None:
    model = torchvision.models.mobilenet_v2().eval()
    result = residual_gradients(model, _image(), keep_gradients=True)
    assert len(result.blocks) == 10
    for b in result.blocks:
        arrays = b.arrays
        assert arrays is not None
        np.testing.assert_allclose(arrays.skip + arrays.branch, arrays.total, rtol=1e-5, atol=1e-12)
        np.testing.assert_array_equal(arrays.skip, arrays.at_sum)
        assert b.grad_sum == pytest.approx(b.grad_output)  # the sum is the block's output (no ReLU after it)


def test_model_left_as_found_also_after_an_error() -> None:
    model = mini.se_resnet_mini()
    model.train()
    model.layer1.eval()
    frozen = model.conv1.weight
    frozen.requires_grad_(False)
    grads = {p: p.grad for p in model.parameters()}
    modes = {m: m.training for m in model.modules()}
    residual_gradients(model, _image())
    with pytest.raises(ValueError, match="target"):
        residual_gradients(model, _image(), target=99)
    assert _hooks(model) == 0
    assert {m: m.training for m in model.modules()} == modes
    assert all(p.grad is grads[p] for p in model.parameters())
    assert not frozen.requires_grad
    with torch.no_grad():  # the forward works without recording afterwards
        model.eval()(_image())


def test_found_blocks_are_remembered_per_model_and_structure() -> None:
    model = mini.resnet_mini().eval()
    calls = []
    model.layer1.register_forward_hook(lambda *args: calls.append(1))
    first = find_residual_blocks(model, _image())
    assert find_residual_blocks(model, _image(seed=2)) == first and len(calls) == 1  # no second pass
    find_residual_blocks(model, _image(32))  # another input size: found again
    assert len(calls) == 2
    model.layer2[0] = mini.PlainBlock(16, 32, stride=2).eval()  # another module under a name: found again
    assert [b.name for b in find_residual_blocks(model, _image())] == ["layer1.0", "layer3.0", "layer4.0"]
    assert len(calls) == 3


def test_bad_arguments_name_themselves() -> None:
    model = mini.resnet_mini().eval()
    with pytest.raises(ValueError, match=r"\(1, C, H, W\)"):
        residual_gradients(model, torch.zeros(2, 3, 64, 64))
    with pytest.raises(ValueError, match="objective"):
        residual_gradients(model, _image(), objective="margin")
    with pytest.raises(TypeError):
        residual_gradients(model, _image(), target=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Conv2d"):
        find_residual_blocks(nn.Sequential(nn.Linear(3, 3)))


def test_recording_is_thread_local() -> None:
    """Another thread running the same model meanwhile is not recorded into this recording."""
    import threading

    model = mini.resnet_mini().eval()
    x = _image()
    other: list[torch.Tensor] = []
    with torch.no_grad(), recording(model) as rec:
        thread = threading.Thread(target=lambda: other.append(model(x)))
        thread.start()
        thread.join()
        assert rec.frames == {}
        model(x)
    assert "layer1.0" in rec.frames
    assert other and other[0].shape == (1, mini.NUM_CLASSES)


# --------------------------------------------------------------------------------------------- depth


def test_deep_plain_stack_vanishes_and_residual_does_not() -> None:
    plain = depth_profile(20, False, batch_size=1, input_size=16)
    residual = depth_profile(20, True, batch_size=1, input_size=16)
    assert plain.layers == residual.layers  # projection skips left out: the same 20 weight layers
    assert len(plain.layers) == 20 and plain.layers[0] == "conv1" and plain.layers[-1] == "fc"
    # The last layer gets about the same gradient; the first layer of the plain stack gets almost nothing.
    assert plain.grad_norms[-1] == pytest.approx(residual.grad_norms[-1], rel=0.5)
    assert plain.grad_norms[0] < 1e-4 * residual.grad_norms[0]
    assert plain.weight_grad_norms[0] < 1e-4 * residual.weight_grad_norms[0]
    # In the plain stack it shrinks monotonically from the FC back to the first layer (every block).
    assert np.all(np.diff(np.log(plain.grad_norms[:-1])) > 0)


def test_first_over_last_says_which_way_the_gradient_went() -> None:
    plain = depth_profile(20, False, batch_size=1, input_size=16)
    with_bn = depth_profile(20, False, batch_norm=True, batch_size=1, input_size=16)
    for profile in (plain, with_bn):
        g, w = profile.grad_norms, profile.weight_grad_norms
        assert profile.first_over_last() == pytest.approx(g[0] / g[-1], rel=1e-12)
        assert profile.first_over_last("weight") == pytest.approx(w[0] / w[-1], rel=1e-12)
        assert profile.norms("weight") is w and profile.norms("activation") is g
    assert plain.first_over_last() < 1e-4  # default initialisation: it vanishes
    assert with_bn.first_over_last() > 1  # batch normalisation at initialisation: it grows
    with pytest.raises(ValueError, match="measure"):
        plain.norms("bias")


def test_depth_profile_is_seeded_and_leaves_global_rng_alone() -> None:
    state = torch.random.get_rng_state()
    a = depth_profile(20, True, batch_size=1, input_size=16, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = depth_profile(20, True, batch_size=1, input_size=16, seed=3)
    np.testing.assert_array_equal(a.grad_norms, b.grad_norms)
    np.testing.assert_array_equal(a.weight_grad_norms, b.weight_grad_norms)
    assert a.loss == b.loss
    with pytest.raises(ValueError, match="6n"):
        depth_profile(21, True)


def _depth_reference(depth: int, residual: bool, batch_norm: bool, seed: int, size: int):
    """The same seeded stack, images and labels, backpropagated with plain `.backward()`: each main-path
    layer's output kept with `retain_grad`, its weight gradient read from `.grad`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        build = mini.residual_stack if residual else mini.plain_stack
        net = build(depth, batch_norm=batch_norm).double()
        gen = torch.Generator().manual_seed(seed)
        images = torch.randn(1, 3, size, size, generator=gen, dtype=torch.float64)
        labels = torch.randint(0, net.fc.out_features, (1,), generator=gen)
    net.train(batch_norm)
    # Main path: every convolution and the FC except the 1×1 projection skips (`downsample`).
    layers = {
        n: m for n, m in net.named_modules() if isinstance(m, nn.Conv2d | nn.Linear) and "downsample" not in n
    }
    outputs: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(_m, _args, out):
            out.retain_grad()
            outputs[name] = out

        return hook

    handles = [m.register_forward_hook(keep(n)) for n, m in layers.items()]
    loss = F.cross_entropy(net(images), labels)
    for h in handles:
        h.remove()
    loss.backward()
    acts = np.array([float(outputs[n].grad.norm()) for n in layers])
    weights = np.array([float(m.weight.grad.norm()) for m in layers.values()])
    return list(layers), acts, weights, float(loss.detach())


@pytest.mark.parametrize(
    ("residual", "batch_norm"), [(False, False), (True, False), (False, True), (True, True)]
)
def test_depth_profile_matches_plain_backward(residual: bool, batch_norm: bool) -> None:
    """The curve the page draws, layer by layer, equals a plain backward pass of the same seeded stack."""
    profile = depth_profile(20, residual, batch_norm=batch_norm, seed=2, batch_size=1, input_size=16)
    layers, acts, weights, loss = _depth_reference(20, residual, batch_norm, seed=2, size=16)
    assert list(profile.layers) == layers
    np.testing.assert_allclose(profile.grad_norms, acts, rtol=1e-9, atol=0)
    np.testing.assert_allclose(profile.weight_grad_norms, weights, rtol=1e-9, atol=0)
    assert profile.loss == pytest.approx(loss, rel=1e-12)

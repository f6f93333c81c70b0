"""cnnviz.hooks: hygiene, fidelity against torchvision's FX feature extraction, gradients, threads."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch
import torchvision
from torch import Tensor, nn
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

from cnnviz.hooks import ChannelStats, capture, channel_stats, model_lock
from cnnviz.locks import ModelLock


@pytest.fixture(scope="module")
def resnet18() -> nn.Module:
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10).eval()
    # Untrained BatchNorm is an identity-ish map; random statistics make every layer's output distinct.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return model


@pytest.fixture(scope="module")
def vgg11() -> nn.Module:
    # A 64x64 input reaches the classifier as 2x2 maps: shrink the pooled size so the first Linear is 2048
    # wide, and build on the meta device so the original 25088x4096 layer is never initialised (seconds).
    with torch.device("meta"):
        model = torchvision.models.vgg11(num_classes=10)
        model.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        model.classifier[0] = nn.Linear(512 * 2 * 2, 4096)
    model = model.to_empty(device="cpu").eval()
    torch.manual_seed(1)
    for m in model.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    return model


def _image() -> Tensor:
    return torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))


@pytest.fixture
def image() -> Tensor:
    return _image()


@pytest.fixture(scope="module")
def fx_reference(
    resnet18: nn.Module, vgg11: nn.Module
) -> dict[str, tuple[list[str], dict[str, Tensor], dict]]:
    """Per architecture: FX node names, every node's output, and d logits[1, 3] / d each node's output."""
    references = {}
    for arch, model in (("resnet18", resnet18), ("vgg11", vgg11)):
        nodes, outputs = _fx_outputs(model, _image())
        wanted = [n for n in nodes if n != "x"]
        grads = torch.autograd.grad(outputs[nodes[-1]][1, 3], [outputs[n] for n in wanted], allow_unused=True)
        references[arch] = (
            nodes,
            {n: t.detach() for n, t in outputs.items()},
            dict(zip(wanted, grads, strict=True)),
        )
    return references


def _hook_count(model: nn.Module) -> int:
    return sum(
        len(m._forward_hooks)
        + len(m._forward_pre_hooks)
        + len(m._backward_hooks)
        + len(m._backward_pre_hooks)
        for m in model.modules()
    )


@contextmanager
def _inplace_off(model: nn.Module) -> Iterator[None]:
    """The reference run must not let ReLU(inplace=True) overwrite the tensors FX hands back."""
    flagged = [m for m in model.modules() if getattr(m, "inplace", False)]
    for m in flagged:
        m.inplace = False
    try:
        yield
    finally:
        for m in flagged:
            m.inplace = True


def _fx_outputs(model: nn.Module, x: Tensor) -> tuple[list[str], dict[str, Tensor]]:
    """Every node's output from torchvision's feature extraction (graph order), in-place ReLUs disabled."""
    nodes = get_graph_node_names(model)[1]
    with _inplace_off(model):
        extractor = create_feature_extractor(model, return_nodes=nodes)
        return nodes, extractor(x)


def _fx_nodes_of(name: str, nodes: list[str]) -> list[str]:
    """FX nodes that belong to module `name`: its calls (`relu`, `relu_1`) or, for a container, its ops."""
    own = re.compile(re.escape(name) + r"(_\d+)?")
    calls = [n for n in nodes if own.fullmatch(n)]
    return calls or [n for n in nodes if n.startswith(name + ".")]


def _assert_close(actual: Tensor, expected: Tensor, what: str) -> None:
    assert actual.shape == expected.shape, what
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5, msg=what)


# --- fidelity -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["resnet18", "vgg11"])
@pytest.mark.parametrize("gradients", [False, True])
def test_activations_equal_feature_extraction(
    arch: str, gradients: bool, image: Tensor, fx_reference, request
) -> None:
    model = request.getfixturevalue(arch)
    nodes, reference, _ = fx_reference[arch]
    with torch.no_grad():
        expected_logits = model(image)

    with capture(model, gradients=gradients) as cap:
        logits = model(image)
    _assert_close(logits.detach(), expected_logits, "model output changed by capture")

    names = [n for n, _ in model.named_modules() if n]
    assert set(cap.activations) == set(names)
    for name in names:
        mapped = _fx_nodes_of(name, nodes)
        assert mapped, name
        if isinstance(
            dict(model.named_modules())[name], nn.Sequential | torchvision.models.resnet.BasicBlock
        ):
            _assert_close(cap.activations[name], reference[mapped[-1]], name)
            continue
        # A leaf: every call against its own node, in order (BasicBlock's relu runs twice).
        assert len(cap.calls[name]) == len(mapped), name
        for got, node in zip(cap.calls[name], mapped, strict=True):
            _assert_close(got, reference[node], f"{name} vs {node}")
        assert cap.activations[name] is cap.calls[name][-1]


def test_inplace_relu_and_residual_add_are_seen_as_produced(resnet18: nn.Module, image: Tensor) -> None:
    with torch.no_grad(), capture(resnet18, ["bn1", "relu", "layer1.0.bn2", "layer1.0"]) as cap:
        resnet18(image)
    assert (cap.activations["bn1"] < 0).any(), "bn1 was overwritten by the in-place ReLU"
    torch.testing.assert_close(cap.activations["relu"], cap.activations["bn1"].clamp_min(0))
    # bn2's output is the tensor `out += identity` later adds to in place.
    block_in = resnet18.maxpool(resnet18.relu(resnet18.bn1(resnet18.conv1(image))))
    expected = torch.relu(cap.activations["layer1.0.bn2"] + block_in)
    torch.testing.assert_close(cap.activations["layer1.0"], expected.detach())
    assert not torch.equal(cap.activations["layer1.0"], cap.activations["layer1.0.bn2"])


def test_shared_outputs_are_stored_once(resnet18: nn.Module, image: Tensor) -> None:
    with torch.no_grad(), capture(resnet18) as cap:
        resnet18(image)
    # A block returns its last ReLU's tensor and a Sequential its last block's: one copy, shared.
    assert cap.activations["layer1.0"] is cap.calls["layer1.0.relu"][-1]
    assert cap.activations["layer1"] is cap.activations["layer1.1"]
    assert cap.activations["relu"] is not cap.activations["bn1"]
    storages = {t.untyped_storage().data_ptr() for t in cap.activations.values()}
    calls = sum(len(v) for v in cap.calls.values())
    assert len(storages) < calls


def test_inference_mode_is_correct_too(resnet18: nn.Module, image: Tensor) -> None:
    with torch.inference_mode(), capture(resnet18, ["bn1", "relu"]) as cap:
        resnet18(image)
    assert (cap.activations["bn1"] < 0).any()
    torch.testing.assert_close(cap.activations["relu"], cap.activations["bn1"].clamp_min(0))


def test_order_and_sources_follow_the_dataflow(resnet18: nn.Module, image: Tensor) -> None:
    with (
        torch.no_grad(),
        capture(resnet18, ["maxpool", "layer1.0.conv1", "layer2.0.downsample.0", "fc"]) as cap,
    ):
        resnet18(image)
    order = [c.name for c in cap.order]
    assert order == ["maxpool", "layer1.0.conv1", "layer2.0.downsample.0", "fc"]
    assert cap.order[1].source == 0  # conv1 of the first block reads maxpool's output
    assert cap.order[0].source is None and cap.order[3].source is None  # raw input, torch.flatten
    assert cap.order[1].input_shape == (2, 64, 16, 16) and cap.order[3].output_shape == (2, 10)


# --- gradients ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["resnet18", "vgg11"])
def test_gradients_equal_autograd_on_feature_extraction(
    arch: str, image: Tensor, fx_reference, request
) -> None:
    model = request.getfixturevalue(arch)
    nodes, _, ref_grads = fx_reference[arch]

    with capture(model, gradients=True) as cap:
        logits = model(image)
        grads = cap.backward(logits[1, 3])
    assert grads is cap.gradients
    modules = dict(model.named_modules())
    for name in (n for n in modules if n):
        mapped = _fx_nodes_of(name, nodes)
        if isinstance(modules[name], nn.Sequential | torchvision.models.resnet.BasicBlock):
            _assert_close(cap.gradients[name], ref_grads[mapped[-1]], name)
            continue
        for got, node in zip(cap.gradient_calls[name], mapped, strict=True):
            expected = ref_grads[node]
            _assert_close(got, torch.zeros_like(got) if expected is None else expected, f"{name} vs {node}")
    if arch == "resnet18":
        # bn1's gradient is w.r.t. its output before the in-place ReLU: zero where that output was negative.
        negative = cap.activations["bn1"] < 0
        assert negative.any() and (cap.gradients["bn1"][negative] == 0).all()
        assert (cap.gradients["relu"][negative] != 0).any()


def test_gradients_of_a_frozen_model_with_a_plain_input(resnet18: nn.Module, image: Tensor) -> None:
    _, reference = _fx_outputs(resnet18, image)
    expected = torch.autograd.grad(reference["fc"][0, 1], [reference["layer3.1.relu_1"]])[0]

    frozen = [p for p in resnet18.parameters()]
    for p in frozen:
        p.requires_grad_(False)
    try:
        x = image.clone()
        with torch.no_grad():
            with capture(resnet18, ["layer3.1", "fc"], gradients=True) as cap:
                logits = resnet18(x)
                cap.backward(logits[0, 1])
            assert not torch.is_grad_enabled()  # the caller's no_grad is back after the block
        assert all(not p.requires_grad and p.grad is None for p in frozen)
        assert not x.requires_grad and x.grad is None and torch.equal(x, image)
        _assert_close(cap.gradients["layer3.1"], expected, "frozen model")
    finally:
        for p in frozen:
            p.requires_grad_(True)


def test_gradients_leave_a_caller_input_that_requires_grad_alone(resnet18: nn.Module, image: Tensor) -> None:
    x = image.clone().requires_grad_(True)
    with capture(resnet18, ["layer4"], gradients=True) as cap:
        cap.backward(resnet18(x)[0, 0])
    assert x.requires_grad and x.grad is None
    assert cap.gradients["layer4"].shape == (2, 512, 2, 2)


@pytest.mark.parametrize(
    "layers", [["layer4.0.conv2"], ["layer3.1.bn1", "fc"], ["layer2.0.downsample.1", "layer1.1"], None]
)
def test_a_graph_from_the_first_recorded_layer_gives_the_same_gradients(
    resnet18: nn.Module, image: Tensor, layers: list[str] | None
) -> None:
    with capture(resnet18, layers, gradients=True) as full:
        full.backward(resnet18(image)[1, 3])
    with torch.no_grad():
        with capture(resnet18, layers, gradients=True, full_graph=False) as late:
            late.backward(resnet18(image)[1, 3])
        assert not torch.is_grad_enabled()  # the caller's no_grad is back after the block
    assert (
        full.gradients.keys() == late.gradients.keys() and full.activations.keys() == late.activations.keys()
    )
    for name, grad in full.gradients.items():
        _assert_close(late.gradients[name], grad, name)
        assert torch.equal(late.activations[name], full.activations[name]), name


def _saved_bytes(model: nn.Module, x: Tensor, **kwargs) -> int:
    """Bytes autograd saved for backward during one forward pass inside capture(gradients=True)."""
    saved = []

    def pack(t: Tensor) -> Tensor:
        saved.append(t.numel() * t.element_size())
        return t

    with (
        torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t),
        capture(model, ["layer4.1.conv2"], gradients=True, **kwargs) as cap,
    ):
        cap.backward(model(x)[0, 0])
    return sum(saved)


def test_a_graph_from_the_first_recorded_layer_keeps_nothing_before_it(
    resnet18: nn.Module, image: Tensor
) -> None:
    full, late = _saved_bytes(resnet18, image), _saved_bytes(resnet18, image, full_graph=False)
    assert 0 < late < full / 4  # only layer4.1's second half and the head are in the graph
    with capture(resnet18, ["layer4"], gradients=True, full_graph=False):
        score = resnet18(image)[0, 0]
        with pytest.raises(RuntimeError, match=r"not have been used in the graph"):
            torch.autograd.grad(score, [resnet18.conv1.weight], retain_graph=True)
        assert torch.autograd.grad(score, [resnet18.fc.weight])[0].abs().sum() > 0


def test_a_graph_from_the_first_recorded_layer_keeps_a_caller_input_gradient(
    resnet18: nn.Module, image: Tensor
) -> None:
    x = image.clone().requires_grad_(True)
    with capture(resnet18, ["layer4"], gradients=True, full_graph=False) as cap:
        score = resnet18(x)[0, 0]
        cap.backward(score, retain_graph=True)
        (dx,) = torch.autograd.grad(score, [x])
    assert dx.shape == x.shape and dx.abs().sum() > 0


class _ViewThenInplace(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.flat = nn.Flatten(0)

    def forward(self, x: Tensor) -> Tensor:
        y = self.lin(x)
        flat = self.flat(y)  # a view of y
        y.mul_(2)  # ... which the caller then changes in place
        return flat.sum() + y.sum()


def test_a_view_of_the_input_is_stored_as_produced_in_gradient_mode() -> None:
    torch.manual_seed(0)
    net = _ViewThenInplace()
    x = torch.randn(2, 4)
    with capture(net, gradients=True) as cap:
        net(x)
    expected = net.lin(x).detach()
    torch.testing.assert_close(cap.activations["flat"], expected.flatten(0))
    torch.testing.assert_close(cap.activations["lin"], expected)


def test_backward_misuse_is_explained(resnet18: nn.Module, image: Tensor) -> None:
    with capture(resnet18, ["fc"]) as cap:
        out = resnet18(image)
        with pytest.raises(RuntimeError, match="gradients=True"):
            cap.backward(out[0, 0])
    with capture(resnet18, ["fc"], gradients=True) as cap:
        out = resnet18(image)
        with pytest.raises(ValueError, match="one-element"):
            cap.backward(out)
    with pytest.raises(RuntimeError, match="inside the capture"):
        cap.backward(out[0, 0])
    assert _hook_count(resnet18) == 0


# --- hygiene ------------------------------------------------------------------------------------------------


def _state(model: nn.Module) -> tuple[list[bool], list[bool], list[Tensor | None]]:
    params = list(model.parameters())
    return [m.training for m in model.modules()], [p.requires_grad for p in params], [p.grad for p in params]


@pytest.mark.parametrize("fail", [False, True])
def test_hooks_flags_and_grads_are_restored(resnet18: nn.Module, image: Tensor, fail: bool) -> None:
    model = resnet18
    params = list(model.parameters())
    params[0].grad = torch.randn_like(params[0])
    params[5].grad = torch.randn_like(params[5])
    saved_values = [params[0].grad.clone(), params[5].grad.clone()]
    params[3].requires_grad_(False)
    model.layer2.train()
    before = _state(model)
    x = image.clone()
    try:
        with pytest.raises(KeyError) if fail else _nothing(), capture(model, gradients=True) as cap:
            model.eval()
            logits = model(x)
            cap.backward(logits[0, 0])
            model.train()
            for p in params[10:12]:
                p.requires_grad_(False)
            params[7].grad = torch.ones_like(params[7])
            assert _hook_count(model) == len(cap.layers) + 1
            if fail:
                raise KeyError("boom inside the block")
        after = _state(model)
        assert after[0] == before[0] and after[1] == before[1]
        assert all(a is b for a, b in zip(after[2], before[2], strict=True))
        assert torch.equal(params[0].grad, saved_values[0]) and torch.equal(params[5].grad, saved_values[1])
        assert _hook_count(model) == 0
        assert torch.equal(x, image) and not x.requires_grad and x.grad is None
        assert _acquire_from_other_thread(model_lock(model))
    finally:
        params[0].grad = params[5].grad = None
        params[3].requires_grad_(True)
        model.eval()


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _acquire_from_other_thread(lock: ModelLock) -> bool:
    got: list[bool] = []

    def grab() -> None:
        ok = lock.acquire(timeout=5)
        got.append(ok)
        if ok:
            lock.release()

    thread = threading.Thread(target=grab)
    thread.start()
    thread.join()
    return got == [True]


def test_unknown_layers_are_rejected_before_any_hook(resnet18: nn.Module) -> None:
    with pytest.raises(ValueError) as err, capture(resnet18, ["layer1.0.conv1", "layr1.0.conv1", "fc2"]):
        pytest.fail("the block must not run")
    message = str(err.value)
    assert "'layr1.0.conv1'" in message and "'fc2'" in message and "'layer1.0.conv1' (" not in message
    assert "did you mean 'layer1.0.conv1'" in message and "'fc'" in message
    assert _hook_count(resnet18) == 0
    assert _acquire_from_other_thread(model_lock(resnet18))
    with pytest.raises(TypeError, match=r"nn\.Module"), capture("resnet18"):  # type: ignore[arg-type]
        pass


def test_model_lock_is_one_per_model() -> None:
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    assert model_lock(a) is model_lock(a)
    assert model_lock(a) is not model_lock(b)
    with model_lock(a), model_lock(a):  # re-entrant: capture() inside a caller's own `with lock`
        pass


def test_threads_sharing_one_model_get_sequential_results(resnet18: nn.Module) -> None:
    inputs = [torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(i)) for i in range(8)]
    layers = ["layer1.0.relu", "layer2", "layer4.1.bn2", "fc"]

    def run(x: Tensor) -> dict[str, Tensor]:
        with torch.no_grad(), capture(resnet18, layers) as cap:
            # While one thread holds the model, nobody else's hooks are attached.
            assert _hook_count(resnet18) == len(layers)
            resnet18(x)
        return cap.activations

    sequential = [run(x) for x in inputs]
    results: list[dict[str, Tensor] | BaseException | None] = [None] * len(inputs)

    def worker(i: int) -> None:
        try:
            results[i] = run(inputs[i])
        except BaseException as exc:  # handed to the main thread's assertion
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, expected in zip(results, sequential, strict=True):
        assert isinstance(got, dict), got
        for name in layers:
            assert torch.equal(got[name], expected[name]), name
    assert _hook_count(resnet18) == 0


# --- outputs that are not one tensor ------------------------------------------------------------------------


class _Pair(nn.Module):
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return x * 2, x - 1


class _Heads(nn.Module):
    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return {"out": x + 1, "aux": x * 3}


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pair = _Pair()
        self.heads = _Heads()
        self.rnn = nn.LSTM(4, 5, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        a, b = self.pair(x)
        heads = self.heads(a)
        out, (h, c) = self.rnn(heads["out"] + heads["aux"] + b)
        return out.sum() + h.sum() + c.sum()


@pytest.mark.parametrize("gradients", [False, True])
def test_tuple_and_dict_outputs_are_unwrapped(gradients: bool) -> None:
    torch.manual_seed(0)
    net = _Net()
    x = torch.randn(2, 3, 4)
    with torch.no_grad():
        expected = net(x)
    with capture(net, gradients=gradients, reduce=True) as cap:
        result = net(x)
        if gradients:
            cap.backward(result)
    torch.testing.assert_close(result.detach(), expected)
    torch.testing.assert_close(cap.activations["pair"], x * 2)
    torch.testing.assert_close(cap.activations["pair[1]"], x - 1)
    torch.testing.assert_close(cap.activations["heads"], x * 2 + 1)
    torch.testing.assert_close(cap.activations["heads[aux]"], x * 6)
    with torch.no_grad():
        out, (h, c) = net.rnn(x * 2 + 1 + x * 6 + x - 1)
    torch.testing.assert_close(cap.activations["rnn"], out.detach())
    torch.testing.assert_close(cap.activations["rnn[1][0]"], h.detach())
    torch.testing.assert_close(cap.activations["rnn[1][1]"], c.detach())
    assert all(isinstance(v, Tensor) for v in cap.activations.values())
    assert isinstance(cap.stats["heads[aux]"], ChannelStats)
    if gradients:
        # result = sum(out) + sum(h) + sum(c): d/d(h) of a sum is ones (h also feeds nothing else).
        torch.testing.assert_close(cap.gradients["rnn[1][0]"], torch.ones_like(h))
        # d result / d pair[1] flows through the LSTM input: equal to d result / d heads (both add into it).
        torch.testing.assert_close(cap.gradients["pair[1]"], cap.gradients["heads[aux]"])


# --- in-hook summaries --------------------------------------------------------------------------------------


def test_reduce_without_store_keeps_only_statistics(resnet18: nn.Module, image: Tensor) -> None:
    with torch.no_grad(), capture(resnet18) as full:
        resnet18(image)
    with torch.no_grad(), capture(resnet18, reduce=True, store=False) as cap:
        resnet18(image)
    assert cap.activations == {} and cap.calls == {}
    assert set(cap.stats) == set(full.activations)
    for name, act in full.activations.items():
        stats = cap.stats[name]
        dims = [0, *range(2, act.ndim)]
        torch.testing.assert_close(torch.tensor(stats.mean), act.mean(dim=dims), rtol=1e-5, atol=1e-6)
        assert torch.equal(torch.tensor(stats.max), act.amax(dim=dims)), name
        assert torch.equal(torch.tensor(stats.min), act.amin(dim=dims)), name
        assert stats.shape == tuple(act.shape) and stats.channels == act.shape[1]
    assert len(cap.stat_calls["layer1.0.relu"]) == 2
    assert (cap.stats["bn1"].min < 0).any() and (cap.stats["relu"].min >= 0).all()


def test_channel_stats_of_odd_shapes() -> None:
    stats = channel_stats(torch.tensor([[1.0, -2.0], [3.0, 4.0]]))  # (N, F): one value per channel and sample
    assert (
        stats.mean.tolist() == [2.0, 1.0]
        and stats.max.tolist() == [3.0, 4.0]
        and stats.min.tolist() == [1, -2]
    )
    assert channel_stats(torch.tensor(5)).mean.tolist() == [5.0]
    half = channel_stats(torch.full((1, 2, 300, 300), 0.1, dtype=torch.float16))
    assert half.mean.dtype.kind == "f" and abs(float(half.mean[0]) - 0.1) < 1e-3
    with pytest.raises(ValueError):
        stats.mean[0] = 1.0  # read-only: the dataclass is frozen, its arrays too


def test_run_until_stops_after_the_wanted_call_or_copies_when_the_pass_goes_on() -> None:
    """`run_until`, the one-layer pass behind the Feature maps layer map and the traced cell."""
    from cnnviz.hooks import run_until

    torch.manual_seed(0)
    bn = nn.BatchNorm2d(2).eval()
    relu = nn.ReLU(inplace=True)  # overwrites the BatchNorm's output after its hook ran
    tail = nn.Conv2d(2, 2, 1)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), bn, relu, tail).eval()
    x = torch.randn(1, 1, 6, 6)
    with torch.no_grad():
        ref = bn(model[0](x))
    ran_tail: list[int] = []
    handle = tail.register_forward_hook(lambda *_: ran_tail.append(1))
    try:
        with torch.no_grad():
            arg, out, ran = run_until(model, x, bn)  # the whole pass: copies, so the ReLU can't reach them
        assert ran == 1 and ran_tail == [1]
        torch.testing.assert_close(out, ref)
        assert (out < 0).any()
        with torch.no_grad():
            arg2, out2, ran2 = run_until(model, x, bn, calls=1)  # stops: the tail never runs
        assert ran2 == 1 and ran_tail == [1]
        torch.testing.assert_close(out2, ref)
        torch.testing.assert_close(arg2, arg)
        assert run_until(model, x, nn.ReLU()) == (None, None, 0)  # not part of the model: never called
    finally:
        handle.remove()
    assert _hook_count(model) == 0
    assert _acquire_from_other_thread(model_lock(model))


def test_a_twin_shares_every_weight_and_none_of_the_hooks(resnet18: nn.Module, image: Tensor) -> None:
    """`twin`: the module tree the one-layer passes run on, so they neither wait for nor disturb a pass on
    the model itself."""
    from cnnviz.hooks import run_until, twin

    other = twin(resnet18)
    assert other is not resnet18 and twin(resnet18) is other  # built once
    assert not other.training
    mine = dict(resnet18.named_parameters()) | dict(resnet18.named_buffers())
    theirs = dict(other.named_parameters()) | dict(other.named_buffers())
    assert mine.keys() == theirs.keys()
    assert all(theirs[k] is t for k, t in mine.items())  # the same tensors: no weight copied
    assert all(a is not b for a, b in zip(resnet18.modules(), other.modules(), strict=True))
    assert model_lock(other) is not model_lock(resnet18)
    with torch.no_grad():
        torch.testing.assert_close(other(image), resnet18(image), rtol=0, atol=0)

    # A pass in progress on the model (its lock held, its hooks attached) neither blocks nor sees a twin pass.
    seen: list[int] = []
    started, finish = threading.Event(), threading.Event()

    def long_pass() -> None:
        with capture(resnet18, ["layer1.0.conv1"]):
            handle = resnet18.layer1[0].conv1.register_forward_hook(lambda *_: seen.append(1))
            started.set()
            finish.wait(10)
            handle.remove()

    holder = threading.Thread(target=long_pass)
    holder.start()
    started.wait(10)
    try:
        got: list[Tensor] = []
        short = threading.Thread(
            target=lambda: got.append(run_until(other, image, other.layer1[0].conv1, calls=1)[1])
        )
        short.start()
        short.join(timeout=10)
        assert got, "a pass on the twin waited for the model's lock"
        assert seen == []
        with torch.no_grad():
            stem = resnet18.maxpool(resnet18.relu(resnet18.bn1(resnet18.conv1(image))))
            ref = resnet18.layer1[0].conv1(stem)
        torch.testing.assert_close(got[0], ref)
    finally:
        finish.set()
        holder.join()
    assert _hook_count(other) == _hook_count(resnet18) == 0


def test_a_twin_is_made_after_a_running_pass_and_without_its_hooks() -> None:
    from cnnviz.hooks import twin

    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()).eval()
    started, finish = threading.Event(), threading.Event()

    def long_pass() -> None:
        with capture(model, ["0"]):
            started.set()
            finish.wait(10)

    holder = threading.Thread(target=long_pass)
    holder.start()
    started.wait(10)
    made: list[nn.Module] = []
    maker = threading.Thread(target=lambda: made.append(twin(model)))
    maker.start()
    maker.join(timeout=0.3)
    assert not made  # waits for the pass, whose capture hooks are still on the model
    finish.set()
    holder.join()
    maker.join(timeout=10)
    assert made and made[0] is not model and _hook_count(made[0]) == 0


def test_a_model_that_refuses_a_copy_is_its_own_twin() -> None:
    import gc
    import weakref

    from cnnviz.hooks import twin

    class Held(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 1)
            self.guard = threading.Lock()  # locks can't be deep-copied

        def forward(self, x: Tensor) -> Tensor:
            return self.conv(x)

    model = Held().eval()  # in eval mode: a train-mode model gets no twin anyway
    assert twin(model) is model and twin(model) is model
    gone = weakref.ref(model)
    del model
    gc.collect()
    assert gone() is None  # the registry keeps no model alive


def test_a_twin_shares_tensors_kept_as_plain_attributes() -> None:
    from cnnviz.hooks import twin

    class Table(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.table = torch.arange(6.0)  # neither a parameter nor a buffer

        def forward(self, x: Tensor) -> Tensor:
            return x + self.table

    model = nn.Sequential(Table()).eval()
    other = twin(model)
    assert other is not model and other[0] is not model[0]
    assert other[0].table is model[0].table


def test_a_model_in_train_mode_gets_no_twin() -> None:
    """A train-mode BatchNorm writes its running statistics in place: passes on it stay under one lock."""
    from cnnviz.hooks import twin

    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    assert twin(model) is model
    model.eval()
    assert twin(model) is not model
    model[1].train()
    assert twin(model) is model

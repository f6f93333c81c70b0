"""cnnviz.hooks' copy on write and snapshot pool, against plain forward hooks that clone every output."""

from __future__ import annotations

import threading

import pytest
import torch
import torchvision
from torch import Tensor, nn

from cnnviz.hooks import _POOL, capture, empty_pool


class _Scribbler(nn.Module):
    """Modifies its submodules' outputs in place in ways no hook sees, and keeps one of them."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 1)
        self.c = nn.Conv2d(4, 4, 1)
        self.d = nn.Identity()
        self.kept: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        h = self.a(x)
        g = self.b(h)
        h.mul_(-2.0)  # a functional in-place op on a stored output
        torch.add(g, 1.0, out=g)  # an out= write into another one
        k = self.c(g)
        self.kept = k  # a tensor the model still holds after the block
        k[:, 0] = 7.0  # __setitem__
        y = self.d(k)  # nn.Identity hands the stored tensor on unchanged
        return y


def _cloned(model: nn.Module, x: Tensor) -> dict[str, Tensor]:
    """The reference: every module's output cloned in a plain forward hook."""
    out: dict[str, Tensor] = {}
    handles = [
        m.register_forward_hook(lambda mod, a, o, name=name: out.__setitem__(name, o.detach().clone()))
        for name, m in model.named_modules()
        if name
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return out


@pytest.fixture
def scribbler() -> nn.Module:
    torch.manual_seed(0)
    return _Scribbler().eval()


@pytest.fixture
def x() -> Tensor:
    return torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))


def test_hidden_in_place_writes_leave_the_stored_outputs_as_produced(scribbler: nn.Module, x: Tensor) -> None:
    expected = _cloned(scribbler, x)
    with torch.no_grad(), capture(scribbler) as cap:
        y = scribbler(x)
    assert set(cap.activations) == set(expected)
    for name, want in expected.items():
        torch.testing.assert_close(cap.activations[name], want, rtol=0, atol=0, msg=name)
    # After the block: the caller and the model modify what they still hold; the results stay as produced.
    y.zero_()
    kept = scribbler.kept
    assert isinstance(kept, Tensor)
    kept.fill_(3.0)
    for name, want in expected.items():
        torch.testing.assert_close(cap.activations[name], want, rtol=0, atol=0, msg=name)


def test_the_callers_input_returned_by_identity_is_copied_at_the_end() -> None:
    model = nn.Sequential(nn.Identity(), nn.ReLU())
    x = torch.randn(3, 4)
    with torch.no_grad(), capture(model, ["0"]) as cap:
        model(x)
    want = x.clone()
    x.add_(1.0)  # the caller still holds the tensor nn.Identity returned
    torch.testing.assert_close(cap.activations["0"], want, rtol=0, atol=0)


def test_outputs_nothing_modifies_are_kept_without_a_copy() -> None:
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10).eval()
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    produced: dict[str, int] = {}  # only the address: a reference here would count as someone else's

    def address(name: str):
        return lambda mod, a, o: produced.__setitem__(name, o.untyped_storage().data_ptr())

    names = ["conv1", "bn1", "layer1.0.conv1", "layer1.0.bn2", "layer1.0.relu"]
    handles = [dict(model.named_modules())[n].register_forward_hook(address(n)) for n in names]
    try:
        with torch.no_grad(), capture(model, names) as cap:
            model(x)
    finally:
        for h in handles:
            h.remove()
    pointer = {n: cap.activations[n].untyped_storage().data_ptr() for n in names}
    # Convolutions feed BatchNorm, which writes a new tensor: their outputs are the modules' own tensors.
    assert pointer["conv1"] == produced["conv1"]
    assert pointer["layer1.0.conv1"] == produced["layer1.0.conv1"]
    # bn1 is rewritten by ReLU(inplace=True), layer1.0.bn2 by `out += identity`: copies, and correct ones.
    assert pointer["bn1"] != produced["bn1"]
    assert pointer["layer1.0.bn2"] != produced["layer1.0.bn2"]
    assert (cap.activations["bn1"] < 0).any()
    expected = _cloned(model, x)  # BasicBlock's relu runs twice: both stores and the reference keep the last
    for name in names:
        torch.testing.assert_close(cap.activations[name], expected[name], rtol=0, atol=0, msg=name)


def test_a_result_stays_intact_after_later_captures_reuse_the_pool() -> None:
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10).eval()
    first_x, other_x = (torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(s)) for s in (3, 4))
    with torch.no_grad(), capture(model) as first:
        model(first_x)
    want = {name: t.clone() for name, t in first.activations.items()}
    kept_view = first.activations["bn1"][0, :2]  # only a view of one result survives below
    kept_array = first.activations["layer1.0.bn1"].numpy()
    expected_view, expected_array = kept_view.clone(), kept_array.copy()

    for _ in range(3):  # later captures, each released at once: the pool hands their storages round
        with torch.no_grad(), capture(model) as later:
            model(other_x)
        del later
    for name, t in first.activations.items():
        torch.testing.assert_close(t, want[name], rtol=0, atol=0, msg=name)
    del first, want
    for _ in range(2):
        with torch.no_grad(), capture(model) as later:
            model(other_x)
        del later
    torch.testing.assert_close(kept_view, expected_view, rtol=0, atol=0)
    assert (kept_array == expected_array).all()


def test_released_snapshots_are_reused_and_can_be_given_back() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(inplace=True)).eval()
    x = torch.randn(1, 3, 32, 32)
    empty_pool()
    with torch.no_grad(), capture(model) as cap:
        model(x)
    held = _POOL.held
    assert held > 0  # the BatchNorm output was copied before the in-place ReLU, into a pooled storage
    first = cap.activations["1"].untyped_storage().data_ptr()
    assert empty_pool() == 0  # still referenced by `cap`: nothing to give back
    del cap
    with torch.no_grad(), capture(model) as cap:
        model(x)
    assert cap.activations["1"].untyped_storage().data_ptr() == first  # the released storage, reused
    assert _POOL.held == held
    del cap
    assert empty_pool() == held
    assert _POOL.held == 0


def test_a_version_bump_no_operator_explains_is_an_error() -> None:
    class Sneaky(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(4, 4)

        def forward(self, x: Tensor) -> Tensor:
            h = self.a(x)
            torch._C._autograd._unsafe_set_version_counter((h,), (h._version + 1,))
            return h * 2

    model = Sneaky().eval()
    with (
        pytest.raises(RuntimeError, match="'a' was modified in place"),
        torch.no_grad(),
        capture(model),
    ):
        model(torch.randn(2, 4))
    assert sum(len(m._forward_hooks) for m in model.modules()) == 0


def test_threads_with_their_own_models_share_the_pool_safely() -> None:
    models = []
    for seed in range(3):
        torch.manual_seed(seed)
        models.append(nn.Sequential(nn.Conv2d(3, 6, 3), nn.BatchNorm2d(6), nn.ReLU(inplace=True)).eval())
    inputs = [torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(10 + i)) for i in range(3)]
    expected = [_cloned(m, x) for m, x in zip(models, inputs, strict=True)]
    failures: list[str] = []

    def work(i: int) -> None:
        for _ in range(20):
            with torch.no_grad(), capture(models[i]) as cap:
                models[i](inputs[i])
            for name, want in expected[i].items():
                if not torch.equal(cap.activations[name], want):
                    failures.append(f"model {i} {name}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures

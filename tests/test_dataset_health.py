"""Layer health against numpy on all activations at once, torch's own BN batch statistics and autograd."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from dataset_sets import hook_count, make_set, plain_outputs
from torch import nn

from cnnviz.analysis.dataset import layer_health
from cnnviz.analysis.dataset.health import _RunningHistogram

DEAD = (1, 4)


def model_with_dead_channels() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.Conv2d(6, 5, 3, stride=2),
        nn.Sigmoid(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(20, 4),
    )
    with torch.no_grad():
        model[0].bias[list(DEAD)] = -1e4  # these channels are ≤ 0 everywhere: dead after the ReLU
        model[3].bias[2] = 50.0  # sigmoid of channel 2 stuck at 1: saturated
        model[1].running_mean.uniform_(-0.5, 0.5)
        model[1].running_var.uniform_(0.5, 2.0)
        model[1].weight.fill_(1.0)
        model[1].bias.zero_()
    return model


def test_statistics_match_numpy_over_all_activations() -> None:
    model = model_with_dead_channels()
    _, _x, _, batches = make_set(22, (3, 12, 12), batch=5)
    report = layer_health(model, batches, bins=16)
    names = [n for n, _ in model.named_modules() if n]
    # The same batches through plain hooks (a batch's size changes float32 convolution rounding), all at once.
    per_batch = [plain_outputs(model, names, xb) for _, xb, _ in batches]
    outputs = {n: [torch.cat([b[n][0] for b in per_batch])] for n in names}
    assert [r.layer for r in report.layers] == names  # a Sequential runs them in order; Flatten (N, F) too
    for row in report.layers:
        a = outputs[row.layer][0].double().numpy()
        c = a.shape[1]
        per_channel = np.moveaxis(a, 1, 0).reshape(c, -1)
        assert row.channels == c and row.values == per_channel.shape[1] and row.shape == a.shape[1:]
        np.testing.assert_allclose(row.channel_mean, per_channel.mean(axis=1), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(row.channel_std, per_channel.std(axis=1), rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(row.channel_max, per_channel.max(axis=1))
        np.testing.assert_array_equal(row.channel_min, per_channel.min(axis=1))
        assert row.mean == pytest.approx(a.mean(), rel=1e-9, abs=1e-12)
        assert row.std == pytest.approx(a.std(), rel=1e-9, abs=1e-12)
        assert row.zero_fraction == pytest.approx((a == 0).mean())
        np.testing.assert_array_equal(row.dead_channels, np.flatnonzero(per_channel.max(axis=1) <= 0))
        np.testing.assert_array_equal(row.always_on_channels, np.flatnonzero(per_channel.min(axis=1) > 0))
        counts, _ = np.histogram(a, row.histogram.edges)
        np.testing.assert_array_equal(row.histogram.counts, counts)
        assert row.histogram.counts.sum() == a.size and row.histogram.edges[-1] > a.max()
    relu = report.layer("2")
    assert tuple(relu.dead_channels) == DEAD and relu.dead == 2 and "dead" in relu.problems
    assert report.layer("0").dead == 2  # the conv itself is ≤ 0 there
    sigmoid = report.layer("4")
    near = np.moveaxis(outputs["4"][0].numpy(), 1, 0).reshape(5, -1)
    share = ((near <= 0.05) | (near >= 0.95)).mean(axis=1)
    np.testing.assert_array_equal(sigmoid.saturated_channels, np.flatnonzero(share >= 0.95))
    assert 2 in sigmoid.saturated_channels and "saturated" in sigmoid.problems
    assert relu.saturated is None and report.layer("3").saturated is None
    assert report.worst(1)[0].severity == max(r.severity for r in report.layers) > 0
    assert report.gradients is False and relu.gradient_norm is None
    assert hook_count(model) == 0


def test_batch_norm_against_torchs_own_batch_statistics() -> None:
    model = model_with_dead_channels()
    _, _, _, batches = make_set(17, (3, 12, 12), batch=4)
    before = model[1].running_mean.clone()
    row = layer_health(model, batches).layer("1")
    assert model.training and torch.equal(model[1].running_mean, before)  # modes restored, stats untouched
    # The conv's outputs batch by batch, as layer_health saw them: its float32 rounding depends on the batch
    # size on some CPUs, and with a -1e4 bias that moves the variance by ~1e-5 relative. The twin then works
    # in float64, so that its own float32 rounding doesn't count either.
    bn_input = torch.cat([plain_outputs(model, ["0"], xb)["0"][0] for _, xb, _ in batches])
    twin = copy.deepcopy(model[1]).double()
    twin.reset_running_stats()
    twin.momentum = None  # cumulative average: after one batch, exactly that batch's statistics
    twin.train()
    twin(bn_input.double())
    check = row.batch_norm
    assert check is not None
    np.testing.assert_allclose(check.set_mean, twin.running_mean.double().numpy(), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(check.set_var, twin.running_var.double().numpy(), rtol=1e-5)
    np.testing.assert_array_equal(check.running_mean, model[1].running_mean.double().numpy())
    eps = model[1].eps
    rv = model[1].running_var.double().numpy()
    shift = np.abs(check.set_mean - model[1].running_mean.double().numpy()) / np.sqrt(rv + eps)
    assert check.mean_shift == pytest.approx(shift.max())
    assert "batch_norm_shift" in row.problems  # conv outputs with a -1e4 bias are far from running stats


@pytest.mark.parametrize("gradient_batch", [8, 3])
def test_gradient_norms_against_per_image_autograd(gradient_batch: int) -> None:
    model = model_with_dead_channels().train()
    _, x, labels, batches = make_set(9, (3, 12, 12), classes=4, batch=4)
    report = layer_health(model, batches, gradient_batch=gradient_batch)
    assert report.gradients is True
    model.eval()
    names = ["0", "2", "4", "6", "7"]
    modules = dict(model.named_modules())
    squares = dict.fromkeys(names, 0.0)
    for i in range(9):
        kept: dict[str, torch.Tensor] = {}
        handles = [
            modules[n].register_forward_hook(lambda m, a, o, n=n, kept=kept: kept.__setitem__(n, o))
            for n in names
        ]
        logits = model(x[i : i + 1])
        for h in handles:
            h.remove()
        loss = F.cross_entropy(logits, labels[i : i + 1])
        grads = torch.autograd.grad(loss, [kept[n] for n in names])
        for n, g in zip(names, grads, strict=True):
            squares[n] += float(g.double().square().sum())
    for n in names:
        assert report.layer(n).gradient_norm == pytest.approx(np.sqrt(squares[n] / 9), rel=1e-4)
    assert model.training is False and all(p.grad is None for p in model.parameters())
    assert hook_count(model) == 0


def test_gradients_need_labels_and_options_are_checked() -> None:
    model = model_with_dead_channels()
    _, _, _, batches = make_set(4, (3, 12, 12))
    with pytest.raises(ValueError, match="needs a labelled set"):
        layer_health(model, batches, gradients=True)
    with pytest.raises(ValueError, match="bins"):
        layer_health(model, batches, bins=7)
    _, _, _labels, labelled = make_set(4, (3, 12, 12), classes=9)
    with pytest.raises(ValueError, match=r"class indices in 0\.\.3"):
        layer_health(model, [(p, x, y + 5) for p, x, y in labelled])
    assert hook_count(model) == 0


def test_running_histogram_grows_both_ways_exactly() -> None:
    rng = np.random.default_rng(0)
    chunks = [rng.normal(0, 0.01, 50), rng.normal(30, 1, 50), rng.normal(-500, 5, 50), np.zeros(10), [np.nan]]
    hist = _RunningHistogram(8)
    for chunk in chunks:
        values = torch.tensor(np.asarray(chunk, dtype=np.float64))
        hist.add(values, float(values.min()), float(values.max()))
    result = hist.result()
    values = np.concatenate(chunks[:-1])
    np.testing.assert_array_equal(result.counts, np.histogram(values, result.edges)[0])
    assert result.edges[0] <= values.min() and result.edges[-1] > values.max() and result.nonfinite == 1


def test_shared_and_in_place_outputs_are_reduced_as_produced() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(inplace=True)),  # "0" returns "0.2"'s
        nn.Conv2d(4, 2, 3),
    )
    _, _, _, batches = make_set(9, (3, 10, 10), batch=4)
    report = layer_health(model, batches, bins=8)
    names = ["0", "0.0", "0.1", "0.2", "1"]
    per_batch = [plain_outputs(model, names, xb) for _, xb, _ in batches]
    for name in names:
        a = torch.cat([b[name][0] for b in per_batch]).double().numpy()
        row = report.layer(name)
        np.testing.assert_allclose(row.channel_mean, a.mean(axis=(0, 2, 3)), rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(row.channel_min, a.min(axis=(0, 2, 3)))
        np.testing.assert_array_equal(row.histogram.counts, np.histogram(a, row.histogram.edges)[0])
    assert report.layer("0.1").channel_min.min() < 0  # the BN output before the in-place ReLU changed it
    np.testing.assert_array_equal(report.layer("0").histogram.edges, report.layer("0.2").histogram.edges)

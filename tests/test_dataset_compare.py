"""Linear CKA over a set and between two images, against a full-matrix HSIC implementation."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from dataset_sets import hook_count, make_set, plain_outputs
from torch import nn

from cnnviz.analysis.dataset import compare_images, compare_models, linear_cka


def net(seed: int, width: int = 6) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()),
        nn.Conv2d(width, 8, 3, stride=2),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(32, 5),
    )


def hsic_cka(x: np.ndarray, y: np.ndarray) -> float:
    """CKA from Gram matrices: HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)), K = XXᵀ, L = YYᵀ, H centring."""
    n = x.shape[0]
    k, ell = x @ x.T, y @ y.T
    h = np.eye(n) - np.ones((n, n)) / n

    def hsic(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.trace(a @ h @ b @ h))

    return hsic(k, ell) / np.sqrt(hsic(k, k) * hsic(ell, ell))


def pooled(model: nn.Module, names: list[str], batches) -> dict[str, np.ndarray]:
    chunks: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for _, xb, _ in batches:
        outs = plain_outputs(model, names, xb)
        for n in names:
            o = outs[n][-1].double()
            chunks[n].append((o.mean(dim=tuple(range(2, o.dim()))) if o.dim() > 2 else o).numpy())
    return {n: np.concatenate(c) for n, c in chunks.items()}


def test_cka_against_full_matrix_hsic_and_self_is_one() -> None:
    a, b = net(0), net(1)
    _, _, _labels, batches = make_set(30, (3, 12, 12), classes=5, batch=7)
    result = compare_models(a, b, batches)
    # Sequential "0" returns its ReLU's tensor: "0.2" stands for it; the BN/ReLU pair differ (in-place-free).
    assert result.layers == ("0.0", "0.1", "0.2", "1", "2", "3", "4", "5")
    assert result.shapes[0] == (6, 12, 12) and result.shapes[-1] == (5,)
    assert result.unmatched == ()
    fa, fb = pooled(a, list(result.layers), batches), pooled(b, list(result.layers), batches)
    for name, value in zip(result.layers, result.cka, strict=True):
        assert value == pytest.approx(hsic_cka(fa[name], fb[name]), rel=1e-8)
        assert linear_cka(fa[name], fb[name]) == pytest.approx(value, rel=1e-8)
    same = compare_models(a, a, batches)
    np.testing.assert_allclose(same.cka, 1.0, rtol=1e-10)
    twin = compare_models(a, copy.deepcopy(a), batches)
    np.testing.assert_allclose(twin.cka, 1.0, rtol=1e-10)
    assert same.agreement == 1.0 and same.disagreements == 0 and same.examples == ()
    assert hook_count(a) == 0 and hook_count(b) == 0


def test_predictions_where_models_disagree() -> None:
    a, b = net(0), net(2)
    _, _x, labels, batches = make_set(30, (3, 12, 12), classes=5, batch=7)
    assert labels is not None
    result = compare_models(a, b, batches, layers=["1"], limit=4)
    assert result.layers == ("1",)
    with torch.no_grad():
        pa = torch.cat([a.eval()(xb) for _, xb, _ in batches]).double().softmax(1)
        pb = torch.cat([b.eval()(xb) for _, xb, _ in batches]).double().softmax(1)
    ca, cb = pa.argmax(1), pb.argmax(1)
    assert result.disagreements == int((ca != cb).sum()) > 0
    assert result.agreement == pytest.approx(float((ca == cb).double().mean()))
    expected = np.zeros((5, 5), dtype=np.int64)
    np.add.at(expected, (ca.numpy(), cb.numpy()), 1)
    np.testing.assert_array_equal(result.agreement_matrix, expected)
    assert result.accuracy_a == pytest.approx(float((ca == labels).double().mean()))
    assert result.accuracy_b == pytest.approx(float((cb == labels).double().mean()))
    held = [min(e.confidence_a, e.confidence_b) for e in result.examples]
    assert len(held) == min(4, result.disagreements) and held == sorted(held, reverse=True)
    assert all(e.predicted_a != e.predicted_b for e in result.examples)


def test_layers_matched_by_name_and_shape() -> None:
    a, wider = net(0), net(0, width=7)
    _, _, _, batches = make_set(10, (3, 12, 12))
    result = compare_models(a, wider, batches)
    assert "0.0" in result.unmatched and "0.0" not in result.layers and "3" in result.layers
    with pytest.raises(ValueError, match="unknown layer"):
        compare_models(a, nn.Sequential(nn.Conv2d(3, 6, 3)), batches, layers=["5"])


def test_two_images_through_one_model() -> None:
    model = net(0)
    _, x, _, _ = make_set(2, (3, 12, 12))
    result = compare_images(model, x[0], x[1:2])
    outs_a = plain_outputs(model, list(result.layers), x[:1])
    outs_b = plain_outputs(model, list(result.layers), x[1:2])
    for i, name in enumerate(result.layers):
        fa, fb = outs_a[name][-1][0].double(), outs_b[name][-1][0].double()
        assert result.cosine[i] == pytest.approx(
            float(F.cosine_similarity(fa.flatten(), fb.flatten(), dim=0))
        )
        if fa.dim() == 3 and fa.shape[1] * fa.shape[2] > 1:
            pa, pb = fa.reshape(fa.shape[0], -1).T.numpy(), fb.reshape(fb.shape[0], -1).T.numpy()
            assert result.cka[i] == pytest.approx(hsic_cka(pa, pb), rel=1e-8)
        else:
            assert np.isnan(result.cka[i])
    itself = compare_images(model, x[0], x[0])
    np.testing.assert_allclose(itself.cosine, 1.0)
    with pytest.raises(ValueError, match="image_b must be one preprocessed image"):
        compare_images(model, x[0], x)
    assert hook_count(model) == 0


def test_memory_budget_for_co_moments() -> None:
    a, b = net(0), net(1)
    _, _, _, batches = make_set(6, (3, 12, 12))
    with pytest.raises(ValueError, match=r"would keep .* MiB of co-moment matrices"):
        compare_models(a, b, batches, max_bytes=1000)
    assert compare_models(a, b, batches, layers=["1"], max_bytes=8 * 3 * 8**2).layers == ("1",)

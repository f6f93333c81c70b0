"""cnnviz.analysis.conv against torch.nn.functional, numpy and hand-worked lecture numbers."""

from __future__ import annotations

import importlib
import itertools
import pickle
import pkgutil
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from cnnviz.analysis import conv
from cnnviz.analysis.conv import ConvSettingsError

SIZES = (1, 2, 3, 4, 7)
KERNELS = (1, 2, 3, 4, 5)
STRIDES = (0, 1, 2, 3)  # 0 is impossible on purpose
PADDINGS = (-1, 0, 1, 2)  # -1 is impossible on purpose
DILATIONS = (0, 1, 2)  # 0 is impossible on purpose
NUMPY_PAD = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Thousands of tiny convolutions: on a busy 2-core machine OpenMP's thread hand-off costs ~50× the
    # arithmetic, so run them on one thread and give the setting back afterwards.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _torch_ok(fn) -> tuple[bool, tuple[int, ...] | None]:
    try:
        out = fn()
    except (RuntimeError, ValueError):
        return False, None
    if isinstance(out, tuple):
        out = out[0]
    return True, tuple(out.shape)


def _ours_ok(fn, *args, **kwargs) -> tuple[bool, object]:
    try:
        return True, fn(*args, **kwargs)
    except ConvSettingsError as err:
        assert str(err).endswith(".") and "\n" not in str(err)
        assert err.key in conv.ERROR_MESSAGES
        return False, None


# ---------------------------------------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------------------------------------


def test_conv_output_size_matches_conv2d_over_grid() -> None:
    checked = 0
    for i, f, s, p, d in itertools.product(SIZES, KERNELS, STRIDES, PADDINGS, DILATIONS):
        x, w = torch.zeros(1, 1, i, i), torch.zeros(1, 1, f, f)
        t_ok, shape = _torch_ok(
            lambda x=x, w=w, s=s, p=p, d=d: F.conv2d(x, w, stride=s, padding=p, dilation=d)
        )
        ok, out = _ours_ok(conv.conv_output_size, i, f, s, p, d)
        assert ok == t_ok, (i, f, s, p, d)
        if ok:
            assert shape == (1, 1, out, out), (i, f, s, p, d)
            checked += 1
    assert checked > 200  # the grid really exercises valid settings


def test_size_formula_numbers_and_coverage() -> None:
    for i, f, s, p, d in itertools.product((3, 5, 8, 32), KERNELS, (1, 2, 3), (0, 1, 2), (1, 2)):
        ok, sf = _ours_ok(conv.size_formula, i, f, s, p, d)
        if not ok:
            continue
        assert isinstance(sf, conv.SizeFormula)
        shape = F.conv2d(
            torch.zeros(1, 1, i, i), torch.zeros(1, 1, f, f), stride=s, padding=p, dilation=d
        ).shape
        assert sf.output_size == shape[-1] == conv.conv_output_size(i, f, s, p, d)
        assert sf.numerator == i + 2 * p - d * (f - 1) - 1
        if d == 1:
            assert sf.numerator == i + 2 * p - f
        assert sf.divisible == (sf.numerator % s == 0) == (sf.remainder == 0)
        assert sf.exact == pytest.approx(sf.numerator / s + 1)
        assert sf.output_size == int(np.floor(float(sf.exact)))
        # The last window ends exactly `remainder` positions before the end of the padded input.
        assert (sf.output_size - 1) * s + sf.span == sf.padded_size - sf.remainder
        assert sf.text.endswith(f"= {sf.output_size}")
        assert ("⌊" in sf.text) == (not sf.divisible)


def test_size_formula_text_not_divisible() -> None:
    sf = conv.size_formula(5, 2, 2)
    assert sf.text == "(5 + 2×0 − 2) / 2 + 1 = 3 / 2 + 1 = 2.5 → ⌊2.5⌋ = 2"
    assert not sf.divisible and sf.remainder == 1 and sf.exact == Fraction(5, 2)
    assert conv.size_formula(7, 3, 1, 0, 2).symbolic == "(I + 2P − d(F − 1) − 1) / S + 1"


def test_lecture_quiz() -> None:
    quiz = conv.lecture_quiz()
    assert quiz.output_hwc == (16, 16, 10) and quiz.output_chw == (10, 16, 16)
    assert quiz.formula.text == "(32 + 2×1 − 4) / 2 + 1 = 30 / 2 + 1 = 16"
    layer = nn.Conv2d(3, quiz.n_filters, quiz.kernel_size, quiz.stride, quiz.padding)
    with torch.no_grad():
        assert tuple(layer(torch.zeros(1, 3, 32, 32)).shape[1:]) == quiz.output_chw


def test_lecture_filter_sizes() -> None:
    # Lecture: on a 5×5 input a 2×2 filter gives a 4×4 feature map and a 3×3 filter a 3×3 one.
    assert conv.conv_output_size(5, 2) == 4
    assert conv.conv_output_size(5, 3) == 3


def test_pool_output_size_matches_pooling_over_grid() -> None:
    checked = 0
    for i, f, s, p, d, ceil in itertools.product(
        SIZES, KERNELS, (None, *STRIDES), PADDINGS, DILATIONS, (False, True)
    ):
        x = torch.zeros(1, 1, i, i)
        # PyTorch reads stride=0 as "not given", so a zero stride is checked against our own rule below.
        stride = s if s is not None else f
        ok, out = _ours_ok(conv.pool_output_size, i, f, s, p, d, ceil)
        if s == 0:
            assert not ok
            continue
        t_ok, shape = _torch_ok(
            lambda x=x, f=f, st=stride, p=p, d=d, c=ceil: F.max_pool2d(x, f, st, p, d, ceil_mode=c)
        )
        t_ok_i, shape_i = _torch_ok(
            lambda x=x, f=f, st=stride, p=p, d=d, c=ceil: F.max_pool2d(
                x, f, st, p, d, ceil_mode=c, return_indices=True
            )
        )
        assert ok == t_ok == t_ok_i, (i, f, s, p, d, ceil)
        if ok:
            assert shape == shape_i == (1, 1, out, out), (i, f, s, p, d, ceil)
            checked += 1
        if d == 1:
            a_ok, a_shape = _torch_ok(
                lambda x=x, f=f, st=stride, p=p, c=ceil: F.avg_pool2d(x, f, st, p, ceil_mode=c)
            )
            assert a_ok == ok, (i, f, s, p, ceil)
            if ok:
                assert a_shape == (1, 1, out, out)
    assert checked > 200


def test_pool_stride_zero_raises() -> None:
    with pytest.raises(ConvSettingsError, match="stride") as info:
        conv.pool_output_size(4, 2, 0)
    assert info.value.key == "stride"


def test_transposed_output_size_matches_conv_transpose2d() -> None:
    checked = 0
    for i, f, s, p, op, d in itertools.product(
        (1, 3), (1, 2, 3, 4), (0, 1, 2, 3), (-1, 0, 1, 2), (0, 1, 2), (1, 2)
    ):
        x, w = torch.zeros(1, 1, i, i), torch.zeros(1, 1, f, f)
        t_ok, shape = _torch_ok(
            lambda x=x, w=w, s=s, p=p, op=op, d=d: F.conv_transpose2d(
                x, w, stride=s, padding=p, output_padding=op, dilation=d
            )
        )
        ok, out = _ours_ok(conv.transposed_output_size, i, f, s, p, op, d)
        # PyTorch returns an empty tensor for an output size of 0; we refuse that as well
        assert ok == (t_ok and shape is not None and 0 not in shape), (i, f, s, p, op, d)
        if ok:
            assert out == (i - 1) * s - 2 * p + d * (f - 1) + op + 1
            assert shape == (1, 1, out, out)
            checked += 1
    assert checked > 100


def test_input_coverage_counts_windows() -> None:
    for h, w, f, s, p, d in itertools.product((3, 5), (4, 6), (1, 2, 3), (1, 2, 4), (0, 1), (1, 2)):
        ok, cov = _ours_ok(conv.input_coverage, h, w, f, s, p, d)
        if not ok:
            continue
        ho, wo = conv.conv_output_size(h, f, s, p, d), conv.conv_output_size(w, f, s, p, d)
        brute = np.zeros((h, w), dtype=np.int64)
        for r, c, a, b in itertools.product(range(ho), range(wo), range(f), range(f)):
            y, x = r * s + a * d - p, c * s + b * d - p
            if 0 <= y < h and 0 <= x < w:
                brute[y, x] += 1
        np.testing.assert_array_equal(cov, brute, err_msg=str((h, w, f, s, p, d)))
    # The lecture's point: without padding the corners are read once, the centre F×F times.
    cov = conv.input_coverage(5, 5, 3)
    assert cov[0, 0] == 1 and cov[2, 2] == 9


# ---------------------------------------------------------------------------------------------------------
# Step-by-step convolution
# ---------------------------------------------------------------------------------------------------------


def _reference_conv(x: np.ndarray, w: np.ndarray, s: int, p: int, mode: str, d: int, b: float) -> np.ndarray:
    """(C, H, W) with a (C, F, F) filter, the way `nn.Conv2d(padding_mode=mode)` computes it."""
    xt, wt = torch.from_numpy(x)[None], torch.from_numpy(w)[None]
    bt = torch.tensor([b], dtype=xt.dtype)
    if mode == "zeros":
        out = F.conv2d(xt, wt, bt, stride=s, padding=p, dilation=d)
    else:  # nn.Conv2d._conv_forward for the other modes
        out = F.conv2d(F.pad(xt, (p, p, p, p), mode=mode), wt, bt, stride=s, dilation=d)
    return out[0, 0].numpy()


def _reference_layer(x: np.ndarray, w: np.ndarray, s: int, p: int, mode: str, d: int, b: float) -> np.ndarray:
    c, f = w.shape[0], w.shape[-1]
    layer = nn.Conv2d(c, 1, f, stride=s, padding=p, dilation=d, padding_mode=mode).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w)[None])
        layer.bias.fill_(b)
        return layer(torch.from_numpy(x)[None])[0, 0].numpy()


def _check_steps(
    res: conv.ConvSteps, x: np.ndarray, w: np.ndarray, p: int, mode: str, all_steps: bool
) -> None:
    expected_padded = np.pad(x, ((0, 0), (p, p), (p, p)), mode=NUMPY_PAD[mode])
    np.testing.assert_array_equal(res.padded, expected_padded)
    steps = range(res.n_steps) if all_steps else {0, res.n_steps // 2, res.n_steps - 1}
    for k in steps:
        st = res.step(k)
        assert (st.row, st.col) == divmod(k, res.feature_map.shape[1])
        assert st.value == res.feature_map[st.row, st.col]
        assert np.array_equal(st.window, expected_padded[:, st.rows][:, :, st.cols])
        assert np.array_equal(st.products, st.window * w)
        assert st.total + st.bias == pytest.approx(st.value, abs=1e-9)
        # Every tap's value comes from the input position `source_*` names (a zero pad: -1, and reads 0).
        real = (st.source_rows >= 0)[:, None] & (st.source_cols >= 0)[None, :]
        assert mode == "zeros" or real.all()
        assert np.array_equal(real, st.inside) or mode != "zeros"
        from_source = x[:, np.maximum(st.source_rows, 0)][:, :, np.maximum(st.source_cols, 0)]
        assert np.array_equal(st.window, np.where(real, from_source, 0.0))


def test_conv2d_steps_matches_conv2d_over_grid() -> None:
    rng = np.random.default_rng(0)
    checked = 0
    for (h, wd), f, s, p, d, mode in itertools.product(
        ((3, 3), (5, 6)), KERNELS, (1, 2, 3), (0, 1, 2), (1, 2), conv.PADDING_MODES
    ):
        x = rng.integers(-5, 10, size=(h, wd)).astype(np.float64)
        w = rng.integers(-2, 3, size=(f, f)).astype(np.float64)
        bias = float(rng.integers(-2, 3))
        ok, res = _ours_ok(conv.conv2d_steps, x, w, s, p, mode, d, bias)
        t_ok, _ = _torch_ok(
            lambda x=x, w=w, s=s, p=p, mode=mode, d=d, b=bias: torch.from_numpy(
                _reference_conv(x[None], w[None], s, p, mode, d, b)
            )
        )
        assert ok == t_ok, (h, wd, f, s, p, d, mode)
        if not ok:
            continue
        assert isinstance(res, conv.ConvSteps)
        expected = _reference_conv(x[None], w[None], s, p, mode, d, bias)
        assert np.array_equal(res.feature_map, expected)
        if checked % 4 == 0:  # PyTorch's usual float32 gives the same numbers
            ref32 = _reference_conv(
                x[None].astype(np.float32), w[None].astype(np.float32), s, p, mode, d, bias
            )
            np.testing.assert_allclose(res.feature_map, ref32, rtol=1e-5, atol=1e-4)
        assert res.feature_map.shape == (res.formula_rows.output_size, res.formula_cols.output_size)
        _check_steps(res, x[None], w[None], p, mode, all_steps=checked % 10 == 0)
        checked += 1
    assert checked > 200


def test_conv2d_steps_float_rgb_with_bias() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 7, 6))
    w = rng.normal(size=(3, 3, 3))
    for mode in conv.PADDING_MODES:
        res = conv.conv2d_steps(x, w, stride=2, padding=2, padding_mode=mode, dilation=2, bias=0.25)
        expected = _reference_layer(x, w, 2, 2, mode, 2, 0.25)
        np.testing.assert_allclose(res.feature_map, expected, rtol=1e-12, atol=1e-12)
        _check_steps(res, x, w, 2, mode, all_steps=True)


def test_lecture_example_formula() -> None:
    res = conv.lecture_example()
    assert res.input.shape == (1, 4, 4) and res.kernel.shape == (1, 2, 2)
    assert res.feature_map.shape == (2, 2) and res.n_steps == 4
    # x = [[1,2,0,1],[0,1,3,1],[2,1,0,2],[1,0,1,3]], w = [[1,0],[-1,2]], stride 2: by hand
    np.testing.assert_array_equal(res.feature_map, [[3, -1], [1, 5]])
    assert res.formula(0) == "1×1 + 2×0 + 0×(−1) + 1×2 = 3"
    assert res.formula(1) == "0×1 + 1×0 + 3×(−1) + 1×2 = −1"
    assert res.formula(0, symbolic=True) == "i₀₀×w₀₀ + i₀₁×w₀₁ + i₁₀×w₁₀ + i₁₁×w₁₁ = c₀₀"
    assert res.formula(3, symbolic=True) == "i₂₂×w₀₀ + i₂₃×w₀₁ + i₃₂×w₁₀ + i₃₃×w₁₁ = c₁₁"
    st = res.step(1)
    assert (st.row, st.col, st.top, st.left) == (0, 1, 0, 2)
    ref = F.conv2d(torch.tensor(res.input)[None], torch.tensor(res.kernel)[None], stride=2)
    np.testing.assert_array_equal(res.feature_map, ref[0, 0].numpy())


def test_lecture_true_convolution_is_flipped_kernel() -> None:
    # The lecture's c₀₀ = i₀₀×w₁₁ + i₁₀×w₀₁ + i₀₁×w₁₀ + i₁₁×w₀₀ is cross-correlation with the turned filter.
    i = np.array([[1.0, 2.0], [3.0, 4.0]])
    w = np.array([[5.0, 6.0], [7.0, 8.0]])
    by_hand = i[0, 0] * w[1, 1] + i[1, 0] * w[0, 1] + i[0, 1] * w[1, 0] + i[1, 1] * w[0, 0]
    res = conv.conv2d_steps(i, conv.flip_kernel(w))
    assert res.feature_map[0, 0] == by_hand
    np.testing.assert_array_equal(conv.flip_kernel(conv.flip_kernel(w)), w)


def test_formula_options() -> None:
    x = np.array([[0.5, -1.25, 2.0], [1.0, 0.0, 3.0], [2.0, 1.0, 0.0]])
    res = conv.conv2d_steps(x, np.eye(2), padding=1, bias=-0.5)
    assert res.formula(0) == "0×1 + 0×0 + 0×0 + 0.5×1 + (−0.5) = 0"
    assert res.formula(0, symbolic=True) == "0×w₀₀ + 0×w₀₁ + 0×w₁₀ + i₀₀×w₁₁ + b = c₀₀"
    assert res.formula(1, digits=1) == "0×1 + 0×0 + 0.5×0 + (−1.2)×1 + (−0.5) = −1.8"
    assert res.formula(0, max_terms=3) == "0×1 + 0×0 + … + (−0.5) = 0"
    rgb = conv.conv2d_steps(np.ones((3, 2, 2)), np.ones((3, 1, 1)))
    assert rgb.formula(0, symbolic=True) == "i⁰₀₀×w⁰₀₀ + i¹₀₀×w¹₀₀ + i²₀₀×w²₀₀ = c₀₀"
    assert rgb.formula(0) == "1×1 + 1×1 + 1×1 = 3"
    big = conv.conv2d_steps(np.zeros((12, 12)), np.zeros((1, 1)))
    assert big.formula(143, symbolic=True) == "i₁₁,₁₁×w₀₀ = c₁₁,₁₁"
    with pytest.raises(IndexError):
        big.step(144)


def test_reflect_formula_names_mirrored_inputs() -> None:
    res = conv.conv2d_steps(np.arange(9.0).reshape(3, 3), np.ones((3, 3)), padding=1, padding_mode="reflect")
    # Reflect padding mirrors about the edge: padded row -1 is input row 1.
    assert res.formula(0, symbolic=True).startswith("i₁₁×w₀₀ + i₁₀×w₀₁ + i₁₁×w₀₂ + i₀₁×w₁₀")


def test_results_are_read_only_and_inputs_untouched() -> None:
    x = np.arange(16.0).reshape(4, 4)
    w = np.ones((2, 2))
    res = conv.conv2d_steps(x, w, padding=1)
    assert not res.feature_map.flags.writeable and not res.padded.flags.writeable
    assert not res.step(0).window.flags.writeable
    np.testing.assert_array_equal(x, np.arange(16.0).reshape(4, 4))
    x[0, 0] = 100  # the result keeps its own copy
    assert res.input[0, 0, 0] == 0


# ---------------------------------------------------------------------------------------------------------
# Multi-channel convolution
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("s", "p", "mode", "d"),
    [(1, 0, "zeros", 1), (2, 1, "zeros", 1), (1, 2, "reflect", 2), (3, 1, "circular", 1)],
)
def test_conv2d_multi_matches_conv2d(s: int, p: int, mode: str, d: int) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 6, 5))
    kernels = rng.normal(size=(4, 3, 3, 3))
    bias = rng.normal(size=4)
    res = conv.conv2d_multi(x, kernels, s, p, mode, d, bias)
    layer = nn.Conv2d(3, 4, 3, stride=s, padding=p, dilation=d, padding_mode=mode).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(kernels))
        layer.bias.copy_(torch.from_numpy(bias))
        expected = layer(torch.from_numpy(x)[None])[0].numpy()
    np.testing.assert_allclose(res.feature_maps, expected, rtol=1e-12, atol=1e-12)
    assert res.partial_maps.shape == (4, 3, *expected.shape[1:])
    np.testing.assert_allclose(res.partial_maps.sum(axis=1) + bias[:, None, None], expected, atol=1e-12)
    padded = torch.tensor(res.padded)
    for k, c in itertools.product(range(4), range(3)):
        one = F.conv2d(
            padded[c : c + 1][None], torch.from_numpy(kernels[k : k + 1, c : c + 1]), stride=s, dilation=d
        )
        np.testing.assert_allclose(res.partial_maps[k, c], one[0, 0].numpy(), atol=1e-12)
    steps = res.filter_steps(2)
    np.testing.assert_allclose(steps.feature_map, expected[2], atol=1e-12)
    assert steps.bias == bias[2]


def test_conv2d_multi_matches_float32_conv2d() -> None:
    rng = np.random.default_rng(3)
    x = rng.random((3, 8, 8)).astype(np.float32)
    kernels = conv.seeded_kernels(5, 3, 3, seed=4)
    res = conv.conv2d_multi(x, kernels, stride=1, padding=1)
    expected = F.conv2d(torch.from_numpy(x)[None], torch.from_numpy(kernels.astype(np.float32)), padding=1)
    np.testing.assert_allclose(res.feature_maps, expected[0].numpy(), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------------------------


def test_pool2d_matches_torch_over_grid() -> None:
    rng = np.random.default_rng(5)
    checked = 0
    for (h, w), f, s, p, d, ceil in itertools.product(
        ((1, 1), (4, 4), (5, 7)), (1, 2, 3, 4), (None, 1, 2, 3), (0, 1, 2), (1, 2), (False, True)
    ):
        # integer values make ties likely, so the winner is checked by value, as PyTorch may pick any tie
        x = rng.integers(-9, 10, size=(2, h, w)).astype(np.float64)
        xt = torch.from_numpy(x)[None]
        stride = f if s is None else s
        for kind in conv.POOL_KINDS:
            ok, res = _ours_ok(conv.pool2d, x, kind, f, s, p, d, ceil)
            if kind == "avg":
                if d != 1:
                    assert not ok
                    continue
                t_ok, _ = _torch_ok(
                    lambda xt=xt, f=f, st=stride, p=p, c=ceil: F.avg_pool2d(xt, f, st, p, ceil_mode=c)
                )
            else:
                t_ok, _ = _torch_ok(
                    lambda xt=xt, f=f, st=stride, p=p, d=d, c=ceil: F.max_pool2d(xt, f, st, p, d, ceil_mode=c)
                )
            assert ok == t_ok, (h, w, f, s, p, d, ceil, kind)
            if not ok:
                continue
            assert isinstance(res, conv.PoolResult)
            if kind == "max":
                expected = F.max_pool2d(xt, f, stride, p, d, ceil_mode=ceil)[0]
            elif kind == "min":
                expected = -F.max_pool2d(-xt, f, stride, p, d, ceil_mode=ceil)[0]
            else:
                expected = F.avg_pool2d(xt, f, stride, p, ceil_mode=ceil)[0]
            np.testing.assert_allclose(res.output, expected.numpy(), rtol=1e-12, atol=1e-12)
            _check_pool_steps(res, x, all_steps=checked % 10 == 0)
            checked += 1
    assert checked > 200


def _check_pool_steps(res: conv.PoolResult, x: np.ndarray, all_steps: bool) -> None:
    if res.kind != "avg":
        assert res.winner_index is not None and res.winner_rows is not None and res.winner_cols is not None
        found = res.winner_index >= 0
        # no winner only where the (dilated) window saw padding alone, which PyTorch reports as ∓inf
        assert np.array_equal(~found, ~np.isfinite(res.output))
        c_idx = np.broadcast_to(np.arange(x.shape[0])[:, None, None], res.output.shape)
        flat = x.reshape(x.shape[0], -1)
        assert np.array_equal(flat[c_idx[found], res.winner_index[found]], res.output[found])
        assert np.array_equal(
            x[c_idx[found], res.winner_rows[found], res.winner_cols[found]], res.output[found]
        )
    else:
        assert res.winner_index is None
    steps = range(res.n_steps) if all_steps else {0, res.n_steps - 1}
    for k, c in itertools.product(steps, range(x.shape[0])):
        st = res.step(k, c)
        assert st.value == res.output[c, st.row, st.col]
        if res.kind in ("max", "min"):
            assert (st.window.max() if res.kind == "max" else st.window.min()) == st.value
            if st.inside.any():
                assert st.winner is not None and x[c, st.winner[0], st.winner[1]] == st.value
                r, q = st.winner[0] + res.padding, st.winner[1] + res.padding
                assert r in st.rows and q in st.cols  # the winner lies under the window
            else:
                assert st.winner is None and np.isinf(st.value)
        else:
            # count_include_pad: the padding zeros are in the divisor, the part past the padded edge is not
            assert st.divisor == st.in_bounds.sum()
            assert st.window[st.in_bounds].sum() / st.divisor == pytest.approx(st.value, abs=1e-12)
        for a, b in np.argwhere(st.inside):
            assert st.window[a, b] == x[c, st.rows[a] - res.padding, st.cols[b] - res.padding]


def test_pool2d_matrix_and_indices() -> None:
    x = np.array([[1, 3, 2, 0], [4, 2, 1, 5], [0, 1, 7, 2], [3, 6, 1, 1]], dtype=np.float64)
    mx = conv.pool2d(x, "max", 2)
    np.testing.assert_array_equal(mx.output, [[[4, 5], [6, 7]]])
    _, idx = F.max_pool2d(torch.from_numpy(x)[None, None], 2, return_indices=True)
    np.testing.assert_array_equal(mx.winner_index, idx[0].numpy())
    assert mx.step(1).winner == (1, 3)
    mn = conv.pool2d(x, "min", 2)
    np.testing.assert_array_equal(mn.output, [[[1, 0], [0, 1]]])
    assert mn.step(0).winner == (0, 0)
    avg = conv.pool2d(x, "avg", 2)
    np.testing.assert_array_equal(avg.output, [[[2.5, 2], [2.5, 2.75]]])
    assert avg.step(3).divisor == 4


def test_global_average_pool() -> None:
    x = np.random.default_rng(6).normal(size=(5, 4, 3))
    expected = F.adaptive_avg_pool2d(torch.from_numpy(x), 1).reshape(-1).numpy()
    np.testing.assert_allclose(conv.global_average_pool(x), expected, rtol=1e-12)
    np.testing.assert_allclose(conv.global_average_pool(x), x.mean(axis=(1, 2)), rtol=1e-12)
    assert conv.global_average_pool(np.ones((2, 2))).shape == (1,)


# ---------------------------------------------------------------------------------------------------------
# Flatten -> FC -> softmax
# ---------------------------------------------------------------------------------------------------------


def test_fc_demo_matches_linear_and_softmax() -> None:
    fm = np.random.default_rng(7).normal(size=(2, 3, 4))
    weight, bias = conv.fc_weights(24, 5, seed=3)
    res = conv.fc_demo(fm, weight, bias)
    t = torch.from_numpy(fm)
    flat = torch.flatten(t)
    np.testing.assert_array_equal(res.flattened, flat.numpy())
    np.testing.assert_array_equal(res.flattened[:4], fm[0, 0])  # (C, H, W) order: channel 0's first row first
    scores = F.linear(flat, torch.tensor(weight), torch.tensor(bias))
    np.testing.assert_allclose(res.scores, scores.numpy(), rtol=1e-12)
    np.testing.assert_allclose(res.scores, weight @ fm.reshape(-1) + bias, rtol=1e-12)
    np.testing.assert_allclose(res.probabilities, F.softmax(scores, dim=0).numpy(), rtol=1e-12)
    assert res.probabilities.sum() == pytest.approx(1.0)
    assert res.predicted == int(np.argmax(res.scores))
    assert res.feature_map_shape == (2, 3, 4)
    layer = nn.Linear(24, 5).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
        layer.bias.copy_(torch.tensor(bias))
        np.testing.assert_allclose(res.scores, layer(nn.Flatten(0)(t)).numpy(), rtol=1e-12)
    np.testing.assert_array_equal(conv.fc_demo(fm, weight).bias, np.zeros(5))


def test_fc_weights_seeded_and_bounded() -> None:
    w1, b1 = conv.fc_weights(16, 3, seed=9)
    w2, b2 = conv.fc_weights(16, 3, seed=9)
    w3, _ = conv.fc_weights(16, 3, seed=10)
    np.testing.assert_array_equal(w1, w2)
    np.testing.assert_array_equal(b1, b2)
    assert not np.array_equal(w1, w3)
    assert w1.shape == (3, 16) and b1.shape == (3,)
    assert np.abs(w1).max() <= 0.25 and np.abs(b1).max() <= 0.25


# ---------------------------------------------------------------------------------------------------------
# Kernels, sample inputs, images
# ---------------------------------------------------------------------------------------------------------


def test_kernel_presets() -> None:
    sums = {"identity": 1, "box_blur": 1, "gaussian": 1, "sharpen": 1, "sobel_x": 0, "sobel_y": 0}
    sums |= {"laplacian": 0, "emboss": 1}
    assert set(sums) == set(conv.KERNEL_PRESETS)
    for name in conv.KERNEL_PRESETS:
        for size in range(1, 8):
            allowed = size in conv.preset_sizes(name)
            ok, k = _ours_ok(conv.kernel_preset, name, size)
            assert ok == allowed, (name, size)
            if ok:
                assert k.shape == (size, size)
                assert k.sum() == pytest.approx(sums[name])
    np.testing.assert_allclose(
        conv.kernel_preset("gaussian", 5), np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256
    )
    np.testing.assert_allclose(
        conv.kernel_preset("gaussian", 3), [[1, 2, 1], [2, 4, 2], [1, 2, 1]] / np.array(16)
    )
    np.testing.assert_array_equal(conv.kernel_preset("sobel_y"), conv.kernel_preset("sobel_x").T)


def test_kernel_presets_do_what_they_say() -> None:
    x = np.random.default_rng(8).normal(size=(6, 6))
    for size in (1, 3, 5):
        same = conv.conv2d_steps(x, conv.kernel_preset("identity", size), padding=size // 2)
        np.testing.assert_allclose(same.feature_map, x, atol=1e-12)
    ramp = np.tile(np.arange(6.0), (6, 1))  # brighter to the right
    assert np.all(conv.conv2d_steps(ramp, conv.kernel_preset("sobel_x")).feature_map == 8)
    assert np.all(conv.conv2d_steps(ramp, conv.kernel_preset("sobel_y")).feature_map == 0)
    assert np.all(conv.conv2d_steps(ramp, conv.kernel_preset("laplacian")).feature_map == 0)
    blur = conv.conv2d_steps(x, conv.kernel_preset("box_blur", 3))
    assert blur.feature_map[0, 0] == pytest.approx(x[:3, :3].mean())


def test_sample_matrix_and_seeded_kernels() -> None:
    m = conv.sample_matrix(4, 5, seed=1)
    assert m.shape == (4, 5) and m.min() >= 0 and m.max() <= 9 and np.all(m == np.round(m))
    np.testing.assert_array_equal(m, conv.sample_matrix(4, 5, seed=1))
    assert conv.sample_matrix(3, channels=3).shape == (3, 3, 3)
    k = conv.seeded_kernels(2, 3, 3, seed=1)
    assert k.shape == (2, 3, 3, 3) and set(np.unique(k)) <= {-1.0, 0.0, 1.0}


def test_downsize_gray_and_rgb() -> None:
    blocks = np.kron(np.array([[0, 100], [200, 255]], dtype=np.uint8), np.ones((4, 4), dtype=np.uint8))
    gray = conv.downsize_gray(Image.fromarray(blocks, "L").convert("RGB"), 2)
    np.testing.assert_allclose(gray, [[0, 100 / 255], [200 / 255, 1]], atol=1 / 255)
    noise = np.random.default_rng(9).integers(0, 256, size=(8, 8), dtype=np.uint8)
    small = conv.downsize_gray(Image.fromarray(noise, "L"), 4)
    block_mean = noise.reshape(4, 2, 4, 2).mean(axis=(1, 3)) / 255  # BOX on a whole factor: block means
    np.testing.assert_allclose(small, block_mean, atol=1 / 255)
    assert small.dtype == np.float64 and small.min() >= 0 and small.max() <= 1
    red = conv.downsize_rgb(Image.new("RGB", (10, 6), (255, 0, 0)), 3)
    assert red.shape == (3, 3, 3)
    np.testing.assert_array_equal(red[0], 1)
    np.testing.assert_array_equal(red[1:], 0)


def test_downsize_rgb_is_per_channel_block_means_in_chw_order() -> None:
    """A non-square noise image with whole factors (12 wide -> 4: 3, 8 high -> 4: 2): BOX = block means."""
    h, w, n = 8, 12, 4
    rgb = np.random.default_rng(21).integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    rgb[:, :, 2] = np.arange(w, dtype=np.uint8)[None, :] * 20  # blue grows left to right, constant down
    small = conv.downsize_rgb(Image.fromarray(rgb, "RGB"), n)
    assert small.shape == (3, n, n) and small.dtype == np.float64
    for c in range(3):
        for i in range(n):
            for j in range(n):
                block = rgb[i * (h // n) : (i + 1) * (h // n), j * (w // n) : (j + 1) * (w // n), c]
                assert abs(small[c, i, j] - block.mean() / 255) <= 1 / 255, (c, i, j)
    # Blue depends on the column only: equal down each column of the output, the block's mean of 3 columns.
    np.testing.assert_allclose(small[2], np.broadcast_to([20 * 1, 20 * 4, 20 * 7, 20 * 10], (n, n)) / 255)
    # A 2-wide, 1-high split image: left red, right green -> the output's left half is red, right half green.
    split = np.zeros((6, 12, 3), np.uint8)
    split[:, :6, 0] = 255
    split[:, 6:, 1] = 255
    halves = conv.downsize_rgb(Image.fromarray(split), 2)
    np.testing.assert_array_equal(halves[0], [[1, 0], [1, 0]])
    np.testing.assert_array_equal(halves[1], [[0, 1], [0, 1]])
    np.testing.assert_array_equal(halves[2], 0)


# ---------------------------------------------------------------------------------------------------------
# Impossible settings: one clear sentence each
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "key", "words"),
    [
        (lambda: conv.conv_output_size(4, 3, s=0), "stride", "stride must be at least 1, got 0"),
        (lambda: conv.conv_output_size(4, 3, p=-1), "padding", "padding must be 0 or more"),
        (lambda: conv.conv_output_size(4, 3, d=0), "dilation", "dilation must be at least 1"),
        (
            lambda: conv.conv_output_size(3, 5),
            "kernel_too_large",
            "larger than the padded input (3 + 2×0 = 3)",
        ),
        (lambda: conv.conv_output_size(3, 2, d=3), "kernel_too_large", "so it spans 4"),
        (lambda: conv.conv_output_size(0, 1), "input_size", "input size must be at least 1"),
        (lambda: conv.conv_output_size(4, 2.5), "not_integer", "kernel size must be a whole number"),
        (lambda: conv.conv_output_size(4, 2, s=True), "not_integer", "stride must be a whole number"),
        (lambda: conv.conv2d_steps(np.zeros((0, 3)), np.ones((1, 1))), "empty", "The input is empty"),
        (lambda: conv.conv2d_steps([], np.ones((1, 1))), "empty", "The input is empty"),
        (lambda: conv.conv2d_steps(np.ones(4), np.ones((1, 1))), "ndim", "2-D (H, W) or 3-D (C, H, W)"),
        (lambda: conv.conv2d_steps(np.ones((4, 4)), np.ones((2, 3))), "kernel_not_square", "square, got 2×3"),
        (lambda: conv.conv2d_steps(np.ones((4, 4)), np.ones((3, 3)), stride=0), "stride", "stride"),
        (lambda: conv.conv2d_steps(np.ones((4, 4)), np.ones((3, 3)), dilation=0), "dilation", "dilation"),
        (lambda: conv.conv2d_steps(np.ones((2, 2)), np.ones((3, 3))), "kernel_too_large", "padded input"),
        (
            lambda: conv.conv2d_steps(np.ones((3, 3)), np.ones((1, 1)), padding=3, padding_mode="reflect"),
            "reflect_padding",
            "Reflect padding must be smaller than the input size",
        ),
        (
            lambda: conv.conv2d_steps(np.ones((3, 3)), np.ones((1, 1)), padding=1, padding_mode="mirror"),
            "padding_mode",
            "padding mode must be one of zeros, reflect, replicate, circular",
        ),
        (lambda: conv.conv2d_steps(np.ones((3, 4, 4)), np.ones((3, 3))), "channels_mismatch", "1 channel(s)"),
        (lambda: conv.conv2d_steps(np.full((3, 3), np.nan), np.ones((1, 1))), "not_finite", "not finite"),
        (lambda: conv.conv2d_multi(np.ones((3, 4, 4)), np.ones((2, 3, 3))), "ndim", "4-D (K, C, F, F)"),
        (lambda: conv.conv2d_multi(np.ones((3, 4, 4)), np.ones((2, 3, 3, 3)), bias=[1.0]), "bias_shape", "2"),
        (lambda: conv.pool2d(np.ones((4, 4)), "median"), "pool_kind", "max, avg, min"),
        (lambda: conv.pool2d(np.ones((4, 4)), "max", 2, padding=2), "pool_padding", "half the kernel size"),
        (lambda: conv.pool2d(np.ones((4, 4)), "avg", 2, dilation=2), "avg_dilation", "Average pooling"),
        (lambda: conv.pool2d(np.ones((2, 2)), "max", 3), "pool_too_large", "larger than the input (2×2)"),
        (
            lambda: conv.transposed_output_size(3, 2, s=1, output_padding=1),
            "output_padding",
            "output padding",
        ),
        (lambda: conv.fc_demo(np.ones((2, 2, 2)), np.ones((3, 7))), "fc_weight_shape", "8 columns"),
        (lambda: conv.fc_demo(np.ones((2, 2, 2)), np.ones((3, 8)), np.ones(2)), "bias_shape", "3 number(s)"),
        (lambda: conv.kernel_preset("sobel_x", 5), "preset_size", "sizes 3"),
        (lambda: conv.kernel_preset("identity", 4), "preset_size", "odd sizes"),
        (lambda: conv.kernel_preset("blur"), "preset_unknown", "Unknown kernel preset 'blur'"),
        (lambda: conv.downsize_gray(Image.new("L", (4, 4)), 0), "image_size", "between 1 and 256"),
    ],
)
def test_impossible_settings_one_sentence(call, key: str, words: str) -> None:
    with pytest.raises(ConvSettingsError) as info:
        call()
    err = info.value
    assert isinstance(err, ValueError)
    assert err.key == key
    message = str(err)
    assert words in message
    assert message.endswith(".") and "\n" not in message and message[0].isupper()
    assert message == conv.ERROR_MESSAGES[key].format(**err.params)
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == message and again.key == key


def test_the_package_holds_every_public_name_of_its_modules() -> None:
    """`from cnnviz.analysis.conv import X` works for every public name of every module of the package."""
    modules = [
        importlib.import_module(f"cnnviz.analysis.conv.{info.name}")
        for info in pkgutil.iter_modules(conv.__path__)
    ]
    assert len(modules) >= 8
    public: list[str] = []
    for module in modules:
        assert isinstance(module.__all__, list), module.__name__
        public += module.__all__
        for name in module.__all__:
            assert getattr(conv, name) is getattr(module, name), name
    assert sorted(public) == sorted(conv.__all__)
    assert len(set(public)) == len(public)  # each name is defined in one module only
    # A submodule named like a public name would shadow it on the package (see cnnviz/__init__.py).
    assert not {info.name for info in pkgutil.iter_modules(conv.__path__)} & set(conv.__all__)

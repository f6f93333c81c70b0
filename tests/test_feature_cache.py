"""The Feature maps page's shared cache: one layer at a time, bounded in bytes, computed once.

`feature_index` is checked against `cnnviz.analysis.features.feature_maps` (itself tested against plain hooks)
and `layer_map` against a plain forward hook on the module; `ByteBudget` against hand-counted bytes.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from cnnviz import images, models
from cnnviz.analysis.features import feature_maps
from cnnviz.ui import cache


def _image(seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray((rng.random((200, 300, 3)) * 255).astype(np.uint8))


@pytest.mark.parametrize("name", ["lenet5", "mobilenet_v2"])
def test_index_matches_the_full_capture(name: str) -> None:
    loaded = models.load(name)
    image = images.load_sample("chelsea") if name == "mobilenet_v2" else _image(1)
    index = cache.feature_index(loaded, image)
    full = feature_maps(loaded.model, loaded.preprocess(image), mean=loaded.spec.mean, std=loaded.spec.std)
    assert index.layers == full.layers
    assert index.shapes == {n: full.maps[n].shape for n in full.layers}
    assert index.input_shape == full.input_shape
    np.testing.assert_array_equal(index.view, full.view)
    assert full.logits is not None and index.logits is not None
    np.testing.assert_allclose(index.logits, full.logits, rtol=1e-5, atol=1e-5)
    assert cache.feature_index(loaded, image) is index  # shared, not recomputed


def test_layer_map_is_the_modules_output() -> None:
    loaded = models.load("mobilenet_v2")
    image = _image(2)
    x = loaded.preprocess(image)
    modules = dict(loaded.model.named_modules())
    for layer in ["features.0.0", "features.3.conv.1", "classifier.1"]:
        got: list[torch.Tensor] = []
        handle = modules[layer].register_forward_hook(
            lambda m, a, out, got=got: got.append(out.detach().clone())
        )
        with torch.no_grad():
            loaded.model(x)
        handle.remove()
        ref = got[0][0].numpy()
        ref = ref[:, None, None] if ref.ndim == 1 else ref
        fmap = cache.layer_map(loaded, image, layer)
        np.testing.assert_allclose(fmap, ref, rtol=1e-5, atol=1e-6)
        assert not fmap.flags.writeable
        assert cache.layer_map(loaded, image, layer) is fmap
    with pytest.raises(ValueError, match=r"features\.99"):
        cache.layer_map(loaded, image, "features.99")


def _sized(n: int) -> bytes:
    return b"x" * n


def test_budget_evicts_least_recent_by_bytes() -> None:
    budget = cache.ByteBudget(100, idle=60)
    calls: list[str] = []

    def make(key: str, n: int) -> bytes:
        return budget.get(key, lambda: calls.append(key) or _sized(n), len)

    make("a", 40), make("b", 40)
    make("a", 40)  # a is now the most recent
    make("c", 40)  # 120 > 100: b goes
    assert budget.resident == 80 and len(budget) == 2
    make("a", 40), make("c", 40)
    make("b", 40)  # computed again; a (least recent) goes
    assert calls == ["a", "b", "c", "b"]
    assert budget.resident == 80
    big = make("big", 101)  # larger than the budget: returned, not kept
    assert len(big) == 101 and budget.resident == 80 and len(budget) == 2


def test_budget_drops_idle_entries() -> None:
    budget = cache.ByteBudget(1000, idle=30)
    budget.get("old", lambda: _sized(10), len)
    now = time.monotonic()
    budget.get("new", lambda: _sized(20), len)
    assert budget.sweep(now + 29) == 0
    assert budget.sweep(now + 31) == 2 and budget.resident == 0 and len(budget) == 0


def test_budget_computes_once_for_everyone() -> None:
    budget = cache.ByteBudget(1000, idle=30)
    calls = []
    release = threading.Event()

    def slow() -> bytes:
        calls.append(1)
        release.wait(5)
        return _sized(10)

    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(budget.get("k", slow, len))) for _ in range(8)]
    for th in threads:
        th.start()
    time.sleep(0.2)
    release.set()
    for th in threads:
        th.join(5)
    assert len(calls) == 1 and len(results) == 8 and all(r is results[0] for r in results)


def test_budget_failure_lets_the_next_caller_try() -> None:
    budget = cache.ByteBudget(1000, idle=30)

    def fail() -> bytes:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        budget.get("k", fail, len)
    assert budget.get("k", lambda: _sized(3), len) == b"xxx"


def test_budget_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="budget"):
        cache.ByteBudget(-1, idle=30)
    with pytest.raises(ValueError, match="idle"):
        cache.ByteBudget(10, idle=0)


def test_timing_is_off_unless_asked() -> None:
    def f() -> int:
        return 1

    assert cache.timed("layer")(f) is f  # CNNVIZ_TIMING_LOG is not set in tests
    assert cache.memory()["budget"] == cache.FEATURES.budget


def test_serving_a_page_shortens_the_gil_switch_interval() -> None:
    """A forward pass among busy session threads waits for the GIL after each operator (bench/gil.py)."""
    default = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    try:
        cache.feature_index(models.load("lenet5"), _image(3))
        assert sys.getswitchinterval() == pytest.approx(cache.SWITCH_INTERVAL)
        assert cache.SWITCH_INTERVAL < 0.005
    finally:
        sys.setswitchinterval(default)


def test_layer_map_of_a_module_that_runs_twice_is_its_last_call() -> None:
    """A ResNet block's ReLU runs twice; the map is its last output, so the early stop waits for that."""
    torch.manual_seed(0)
    loaded = models.load("resnet18", pretrained=False)
    image = _image(3)
    index = cache.feature_index(loaded, image)
    assert index.calls["layer1.0.relu"] == 2
    got: list[torch.Tensor] = []
    handle = loaded.model.layer1[0].relu.register_forward_hook(
        lambda m, a, out: got.append(out.detach().clone())
    )
    with torch.no_grad():
        loaded.model(loaded.preprocess(image))
    handle.remove()
    assert len(got) == 2
    fmap = cache.layer_map(loaded, image, "layer1.0.relu")
    np.testing.assert_allclose(fmap, got[1][0].numpy(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(fmap, got[0][0].numpy())  # the first call's output would be wrong


def test_long_lived_objects_are_frozen_out_of_full_collections() -> None:
    """What the process holds for good (imports, torch, models) is moved out of the collector's sight, so a
    full collection no longer walks it with every session's thread stopped; new objects are still tracked."""
    import gc

    models.load("lenet5")
    gc.unfreeze()  # a page test earlier in this process may have started the housekeeper, which froze once
    tracked = len(gc.get_objects())
    try:
        frozen = cache.freeze_long_lived()
        assert frozen >= tracked // 2 > 10_000
        assert len(gc.get_objects()) < tracked // 10
        fresh: list[list] = [[] for _ in range(100)]
        assert any(obj is fresh[0] for obj in gc.get_objects())
    finally:
        gc.unfreeze()
    assert len(gc.get_objects()) >= tracked // 2


def test_encode_makes_the_file_st_image_would_make() -> None:
    """`render.encode` (pictures kept encoded in the cache) against Streamlit's own encoder, which `st.image`
    runs on every rerun when given pixels: the same bytes, in the same format."""
    import io

    from streamlit.elements.lib import image_utils

    from cnnviz import render

    rng = np.random.default_rng(5)
    rgb = (rng.random((20, 30, 3)) * 255).astype(np.uint8)
    rgba = (rng.random((20, 30, 4)) * 255).astype(np.uint8)
    gray = (rng.random((20, 30)) * 255).astype(np.uint8)
    for pixels in (rgb, rgba, gray):
        assert render.encode(pixels) == image_utils._np_array_to_bytes(pixels, "auto")
    photo = Image.fromarray(rgb)
    assert render.encode(photo) == image_utils._pil_to_bytes(photo, "JPEG")
    assert Image.open(io.BytesIO(render.encode(rgba))).format == "PNG"
    one = Image.open(io.BytesIO(render.encode(gray[..., None])))  # a 1-channel model's view, (H, W, 1)
    assert one.size == (30, 20) and one.mode == "L"


def test_pictures_are_drawn_once_and_show_what_the_page_drew_before() -> None:
    """The layer switch's grid, the input view and the Grad-CAM overlay are kept encoded, for everyone: the
    same bytes as drawing and encoding them anew, and a second call draws nothing."""
    from cnnviz import render
    from cnnviz.analysis.features import rank_channels

    loaded = models.load("lenet5")
    rng = np.random.default_rng(13)
    image = Image.fromarray((rng.random((40, 40)) * 255).astype(np.uint8), "L")
    index = cache.feature_index(loaded, image)
    fmap = cache.layer_map(loaded, image, "conv2")
    order = cache.channel_order(loaded, image, "conv2")
    assert list(order) == list(rank_channels(fmap)) and cache.channel_order(loaded, image, "conv2") is order
    grid = render.channel_grid(fmap, rank_channels(fmap), max_channels=9)
    assert cache.grid_picture(loaded, image, "conv2", 9) == render.encode(grid.image)
    assert cache.grid_picture(loaded, image, "conv2", 16) != cache.grid_picture(loaded, image, "conv2", 9)
    assert cache.view_picture(loaded, image) == render.encode(index.view)
    cam = cache.grad_cam(loaded, image, "conv2", 3, "gradcam")
    overlay = render.overlay(index.view, cam.heatmap, 0.3)
    assert cache.cam_picture(loaded, image, "conv2", 3, "gradcam", 0.3) == render.encode(overlay)

    drawn: list[int] = []
    real = render.channel_grid
    try:
        render.channel_grid = lambda *a, **k: drawn.append(1) or real(*a, **k)  # type: ignore[assignment]
        first = cache.grid_picture(loaded, image, "conv1", 4)
        assert cache.grid_picture(loaded, image, "conv1", 4) is first
    finally:
        render.channel_grid = real  # type: ignore[assignment]
    assert drawn == [1]
    ranked = cache.ranked_classes(loaded, image)
    assert list(ranked) == list(np.argsort(-index.logits, kind="stable"))  # type: ignore[arg-type]


def test_the_index_spinner_shows_only_for_a_pass_and_closes_after_the_index_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A spinner is a timer thread on every run, so none around a cached index. And Streamlit may raise a
    rerun as a spinner closes: by then the index must be kept, or each waiting session runs the pass again."""
    import contextlib

    loaded = models.load("lenet5")
    rng = np.random.default_rng(14)
    image = Image.fromarray((rng.random((40, 40)) * 255).astype(np.uint8), "L")
    key = ("index", loaded.fingerprint, cache.image_key(image))
    closed_with: list[bool] = []

    @contextlib.contextmanager
    def spinner(text: str):  # type: ignore[no-untyped-def]
        yield
        closed_with.append(key in cache.FEATURES)

    monkeypatch.setattr(cache.st, "spinner", spinner)
    first = cache.feature_index(loaded, image, busy="working")
    assert closed_with == [True]
    assert cache.feature_index(loaded, image, busy="working") is first
    assert closed_with == [True]  # cached: no second spinner

"""Cached loaders shared by every page and every session.

Models are cached with `st.cache_resource` (one object for all sessions; `LoadedModel.lock` serialises
capture on it). Per-image results take the `LoadedModel` and the PIL image themselves and are keyed one way,
by `_KEYS`: a model by its `fingerprint` (name and weights for a zoo model; a digest of every parameter for
a user's model, so two user models with one name never share a result) and an image by its pixels. Changing
a channel or the language re-renders without running the model again.

The Feature maps page's maps live in `FEATURES`, a `ByteBudget` keyed the same way (fingerprint, image key):
one layer at a time, least recently used evicted past the budget, idle ones dropped, so a class of students
with their own photos costs a few MB each instead of every layer's maps (about 100 MB for MobileNetV2).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import streamlit as st
from PIL import Image

from cnnviz import images, locks, models

if TYPE_CHECKING:
    from streamlit.runtime.uploaded_file_manager import UploadedFile

    from cnnviz.analysis.architecture import Traits
    from cnnviz.analysis.augment import TranslationTest
    from cnnviz.analysis.cam import CamResult
    from cnnviz.analysis.summary import LayerRow
    from cnnviz.models.checkpoint import LoadReport

__all__ = [
    "ByteBudget",
    "FeatureIndex",
    "architecture",
    "cam_layer",
    "checkpoint_model",
    "feature_index",
    "grad_cam",
    "image_key",
    "layer_map",
    "load_model",
    "memory",
    "model_architecture",
    "sample_image",
    "timed",
    "translation",
    "upload_key",
]


F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
_TIMING_LOG = os.environ.get("CNNVIZ_TIMING_LOG")
_TIMING_WRITE = threading.Lock()


def timed(what: str) -> Callable[[F], F]:
    """Decorates a page function so that each run appends one JSON line (what, wall and thread CPU seconds,
    seconds waited for model locks, the session, the feature cache's budget and resident bytes) to
    $CNNVIZ_TIMING_LOG.

    For `bench/class.py`: with the variable unset (always, outside the bench) it returns the function itself,
    so the app pays nothing.
    """

    def decorate(fn: F) -> F:
        if not _TIMING_LOG:
            return fn

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            wall, cpu, waited = time.perf_counter(), time.thread_time(), locks.waited()
            try:
                return fn(*args, **kwargs)
            finally:
                _log_timing(
                    what,
                    time.perf_counter() - wall,
                    cpu=time.thread_time() - cpu,
                    lock_wait=locks.waited() - waited,
                )

        return run  # type: ignore[return-value]

    return decorate


def _log_timing(what: str, wall: float, **seconds: float) -> None:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    row: dict[str, Any] = {"what": what, "wall": wall, **seconds, "t": time.time()}
    row["session"] = ctx.session_id if ctx is not None else None
    row["pid"] = os.getpid()  # which server, when several share the log (bench/class.py --replicas)
    row.update(memory())
    with _TIMING_WRITE, open(str(_TIMING_LOG), "a") as log:
        log.write(json.dumps(row) + "\n")


def memory() -> dict[str, int]:
    """The per-(model, image) feature cache's budget and resident size, in bytes."""
    return {"budget": FEATURES.budget, "resident": FEATURES.resident}


class ByteBudget:
    """A least-recently-used cache for every session, bounded by bytes, that also drops idle entries.

    Streamlit's caches bound the number of entries, not their size, and a fragment's arguments keep a
    session's own copy alive after the cache has let go of it. This one is looked up by key on every run (no
    session holds its values between runs), computes a missing value once however many sessions ask for it
    at the same time, evicts the least recently used values past `budget` bytes, and `sweep()` drops values
    unused for `idle` seconds. A value larger than the whole budget is computed and returned, not kept.
    """

    def __init__(self, budget: int, idle: float) -> None:
        if budget < 0 or idle <= 0:
            raise ValueError(
                f"A byte budget needs budget >= 0 and idle > 0 seconds, got {budget} and {idle}."
            )
        self.budget, self.idle = budget, idle
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[Any, int, float]] = OrderedDict()
        self._pending: dict[Hashable, threading.Event] = {}
        self.resident = 0
        self.dropped = 0
        """How many values were evicted or expired so far."""

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        """Whether `key` holds a value now (it may be evicted right after)."""
        with self._lock:
            return key in self._entries

    def get(self, key: Hashable, compute: Callable[[], T], size: Callable[[T], int]) -> T:
        """The value of `key`, computed by `compute()` when missing (one thread computes, the others wait)."""
        while True:
            with self._lock:
                hit = self._entries.get(key)
                if hit is not None:
                    self._entries[key] = (hit[0], hit[1], time.monotonic())
                    self._entries.move_to_end(key)
                    return hit[0]
                pending = self._pending.get(key)
                if pending is None:
                    pending = self._pending[key] = threading.Event()
                    break
            pending.wait()  # another session computes it; if that failed, try ourselves
        try:
            value = compute()
            nbytes = size(value)
            with self._lock:
                if nbytes <= self.budget:
                    self._entries[key] = (value, nbytes, time.monotonic())
                    self.resident += nbytes
                    while self.resident > self.budget:
                        self._drop(next(iter(self._entries)))
            return value
        finally:
            with self._lock:
                del self._pending[key]
            pending.set()

    def sweep(self, now: float | None = None) -> int:
        """Drops the values unused for `idle` seconds (at monotonic time `now`); returns how many."""
        now = time.monotonic() if now is None else now
        with self._lock:
            old = [k for k, (_, _, used) in self._entries.items() if now - used >= self.idle]
            for key in old:
                self._drop(key)
        return len(old)

    def clear(self) -> None:
        with self._lock:
            for key in list(self._entries):
                self._drop(key)

    def _drop(self, key: Hashable) -> None:
        _, nbytes, _ = self._entries.pop(key)
        self.resident -= nbytes
        self.dropped += 1


def _env_mb(name: str, default: float) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(float(raw) * 2**20) if raw else int(default * 2**20)
    except ValueError:
        raise ValueError(f"{name} must be a number of megabytes, got {raw!r}.") from None


FEATURES = ByteBudget(_env_mb("CNNVIZ_FEATURE_CACHE_MB", 256), idle=30.0)
"""Feature maps of every session: one layer at a time, 256 MB unless $CNNVIZ_FEATURE_CACHE_MB says."""

_HOUSEKEEPING = threading.Lock()
_housekeeper: threading.Thread | None = None


SWITCH_INTERVAL = 0.0005
"""Seconds a thread may hold the GIL while others wait (Python's default: 0.005). A forward pass gives the GIL
up around every operator and must win it back each time, so among busy session threads a 14 ms MobileNetV2
pass took 5.8 s at Python's default and 0.6 s at this value (`bench/gil.py`); plain Python work loses
nothing measurable."""


def _start_housekeeping() -> None:
    """Once per process: a short GIL switch interval, fewer malloc arenas, and a thread that expires idle
    features and gives freed memory back to the system (glibc keeps freed pages of its arenas otherwise)."""
    global _housekeeper
    sys.setswitchinterval(SWITCH_INTERVAL)  # a cheap call, repeated so that nobody's later change sticks
    with _HOUSEKEEPING:
        if _housekeeper is not None:
            return
        libc = _glibc()
        if libc is not None and "MALLOC_ARENA_MAX" not in os.environ:
            libc.mallopt(-8, 2)  # M_ARENA_MAX: one arena per script thread would keep each one's free pages
        _housekeeper = threading.Thread(
            target=_housekeep, args=(libc,), name="cnnviz-housekeeping", daemon=True
        )
        _housekeeper.start()


def _housekeep(libc: Any) -> None:
    seen = FEATURES.dropped
    time.sleep(10.0)
    freeze_long_lived()
    while True:
        FEATURES.sweep()
        if FEATURES.dropped != seen and libc is not None:
            seen = FEATURES.dropped
            start = time.perf_counter()
            gc.collect()
            collected = time.perf_counter()
            libc.malloc_trim(0)
            if _TIMING_LOG:  # how long the bench's sessions may have waited behind these two
                _log_timing("housekeeping", time.perf_counter() - start, gc=collected - start)
        time.sleep(10.0)


def freeze_long_lived() -> int:
    """Moves every object alive now out of the cyclic collector's sight (`gc.freeze`); returns how many.

    Called once, 10 s after the first page ran: by then the imports, torch and the first models are loaded,
    and they live as long as the process. A full collection over them took about 0.2 s with every session's
    thread stopped, the housekeeper's own and Python's automatic ones alike (`bench/class.py` found layer
    switches waiting 0.3–0.5 s for no lock and little CPU); after it, a few milliseconds. Frozen objects are
    still freed by reference counting; only cycles among them would stay.
    """
    gc.collect()  # what is garbage already is not frozen
    gc.freeze()
    return gc.get_freeze_count()


def _glibc() -> Any:
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim, libc.mallopt  # noqa: B018 - glibc only
    except (OSError, AttributeError):
        return None
    return libc


def image_key(image: Image.Image) -> str:
    """The pixels' digest, worked out once per image object (images are never changed in place here)."""
    digest = getattr(image, "_cnnviz_digest", None)
    if digest is None:
        digest = images.image_digest(image)
        image._cnnviz_digest = digest  # type: ignore[attr-defined]
    return digest


_KEYS: dict[Any, Callable[[Any], Any]] = {
    models.LoadedModel: lambda model: model.fingerprint,
    Image.Image: image_key,
}
"""The one way a cached result is keyed by model and image: pass them as arguments, never by hand."""


def _data(max_entries: int) -> Any:
    return st.cache_data(max_entries=max_entries, show_spinner=False, hash_funcs=_KEYS)


def _resource(max_entries: int) -> Any:
    return st.cache_resource(max_entries=max_entries, show_spinner=False, hash_funcs=_KEYS)


@st.cache_resource(max_entries=6, show_spinner=False)
def load_model(
    name: str, allow_untrained: bool = False, _progress: Callable[[int, int], None] | None = None
) -> models.LoadedModel:
    """The model `name`, loaded once for all sessions (see `cnnviz.models.load`).

    `_progress(done, total)` hears about a weights download (not part of the cache key).
    """
    _start_housekeeping()
    return models.load(name, pretrained=True, allow_untrained=allow_untrained, progress=_progress or False)


def upload_key(upload: UploadedFile) -> str:
    """The sha256 of an uploaded file's bytes, worked out once per upload (Streamlit's file_id)."""
    import hashlib

    memo: dict[str, str] = st.session_state.setdefault("_cnnviz_upload_keys", {})
    if upload.file_id not in memo:
        memo[upload.file_id] = hashlib.sha256(upload.getbuffer()).hexdigest()
    return memo[upload.file_id]


@st.cache_resource(max_entries=4, show_spinner=False)
def checkpoint_model(
    arch: str,
    weights_key: str,
    labels_key: str | None,
    file_name: str,
    _weights: UploadedFile,
    _labels: UploadedFile | None,
) -> tuple[models.LoadedModel, LoadReport]:
    """A zoo architecture with an uploaded checkpoint, loaded once per (architecture, checkpoint, labels),
    keyed by the files' digests: a rerun or a second person uploading the same file loads nothing again."""
    labels = bytes(_labels.getbuffer()) if _labels is not None else None
    return models.from_checkpoint(
        arch, bytes(_weights.getbuffer()), labels=labels, name=f"{arch} · {file_name}", weights_name=file_name
    )


@st.cache_resource(max_entries=32, show_spinner=False)
def sample_image(name: str) -> Image.Image:
    return images.load_sample(name)


@dataclass(frozen=True)
class FeatureIndex:
    """What the Feature maps page shows of one (model, image) without any layer's maps.

    Attributes:
        layers: module names in the order they ran, as in `cnnviz.analysis.features.FeatureMaps.layers`.
        shapes: module name -> the (C, H, W) of its map (vectors are (C, 1, 1)).
        logits: the model's output for a classifier, (K,), else None.
        input_shape: the tensor the model saw, (1, C, H, W).
        view: that tensor as an image, (H, W, C) uint8.
        calls: module name -> how many times it ran (a map is its last call's output).
    """

    layers: tuple[str, ...]
    shapes: dict[str, tuple[int, int, int]] = field(repr=False)
    logits: np.ndarray | None
    input_shape: tuple[int, ...]
    view: np.ndarray = field(repr=False)
    calls: dict[str, int] = field(repr=False)


def feature_index(model: models.LoadedModel, image: Image.Image, busy: str | None = None) -> FeatureIndex:
    """The layers, their shapes, the logits and the model's view of one image: one forward pass that keeps
    no maps, shared by every session (`FEATURES`). `busy`: a spinner's text, shown only when the index is
    not cached yet (a spinner around a cached result still starts a timer thread on every rerun), around
    the lookup, not inside the pass: a rerun or stop that Streamlit raises as the spinner closes comes after
    the index is kept, and sessions waiting for another's pass see it too."""
    _start_housekeeping()

    def compute() -> FeatureIndex:
        import torch

        from cnnviz.hooks import capture
        from cnnviz.tensors import forward, model_view, on_model_device

        x = model.preprocess(image)
        x = on_model_device(model.model, x)
        with torch.no_grad(), capture(model.model, store=False) as cap:
            out = forward(model.model, x)
        last: dict[str, tuple[int, ...] | None] = {}
        calls: dict[str, int] = {}
        for call in cap.order:  # a module's first call fixes its place, its last call its shape
            if call.name:
                last[call.name] = call.output_shape
                calls[call.name] = call.nth + 1
        shapes = {
            name: (s[1], s[2], s[3]) if len(s) == 4 else (s[1], 1, 1)
            for name, s in last.items()
            if s is not None and len(s) in (2, 4)
        }
        logits = out[0].float().cpu().numpy() if isinstance(out, torch.Tensor) and out.dim() == 2 else None
        view = model_view(x, model.spec.mean, model.spec.std)
        return FeatureIndex(tuple(shapes), shapes, logits, tuple(x.shape), view, calls)

    key = ("index", model.fingerprint, image_key(image))
    with st.spinner(busy) if busy and key not in FEATURES else contextlib.nullcontext():
        return FEATURES.get(
            key,
            compute,
            lambda v: v.view.nbytes + (v.logits.nbytes if v.logits is not None else 0) + 200 * len(v.layers),
        )


def layer_map(model: models.LoadedModel, image: Image.Image, layer: str) -> np.ndarray:
    """One layer's (C, H, W) float32 feature map of one image, read-only, from a forward pass that records
    only that layer and stops after its last call; kept in `FEATURES` for every session (a vector layer is
    (C, 1, 1))."""
    _start_housekeeping()
    index = feature_index(model, image)

    def compute() -> np.ndarray:
        import torch

        from cnnviz.hooks import _tensor_leaves, run_until, twin
        from cnnviz.locks import short_passes
        from cnnviz.tensors import on_model_device

        calls = index.calls.get(layer)
        if calls is None:
            raise ValueError(f"Layer {layer!r} is not one of the layers of {model.spec.name}.")
        x = on_model_device(model.model, model.preprocess(image))
        # The pass stops right after the layer's last call, so nothing writes into that output later: no
        # copy, and no copy-on-write mode around every operator as `capture()` needs for passes that go on.
        # It runs on the model's twin, so it doesn't wait for other sessions' whole-network passes (first
        # views) on the model itself; short_passes() orders it first where a model has no twin.
        with short_passes(), torch.no_grad():
            net = twin(model.model)
            _, output, _ = run_until(net, x, net.get_submodule(layer), calls)
        leaves = _tensor_leaves(output, "")
        t = leaves[0][1] if leaves else None
        if t is None or t.dim() not in (2, 4):
            raise ValueError(f"Layer {layer!r} of {model.spec.name} gives no feature map or vector.")
        arr = t[0].float().cpu().numpy()
        arr = arr[:, None, None] if t.dim() == 2 else arr
        arr.flags.writeable = False
        return arr

    return FEATURES.get(("map", model.fingerprint, image_key(image), layer), compute, lambda a: a.nbytes)


def view_picture(model: models.LoadedModel, image: Image.Image) -> bytes:
    """The model's view of `image` (`FeatureIndex.view`) as the file `st.image` sends, encoded once for every
    session: a rerun (each layer switch) sends the same bytes without encoding them again."""
    from cnnviz.render import encode

    index = feature_index(model, image)
    key = ("view picture", model.fingerprint, image_key(image))
    return FEATURES.get(key, lambda: encode(index.view), len)


def channel_order(model: models.LoadedModel, image: Image.Image, layer: str) -> np.ndarray:
    """`rank_channels` of one layer's map (most active first, read-only), ranked once for every session: the
    page's channel list, its statistics table and the grid all follow it on every rerun."""
    from cnnviz.analysis.features import rank_channels

    def make() -> np.ndarray:
        order = rank_channels(layer_map(model, image, layer))
        order.setflags(write=False)
        return order

    return FEATURES.get(("order", model.fingerprint, image_key(image), layer), make, lambda a: a.nbytes)


def grid_picture(model: models.LoadedModel, image: Image.Image, layer: str, max_channels: int) -> bytes:
    """`render.channel_grid` of one layer's map (its `max_channels` most active channels first), encoded
    once for every session, kept beside the map in `FEATURES`."""
    from cnnviz.render import channel_grid, encode

    def make() -> bytes:
        fmap = layer_map(model, image, layer)
        return encode(channel_grid(fmap, channel_order(model, image, layer), max_channels=max_channels).image)

    return FEATURES.get(("grid picture", model.fingerprint, image_key(image), layer, max_channels), make, len)


def cam_picture(
    model: models.LoadedModel,
    image: Image.Image,
    layer: str,
    target: int | None,
    method: str,
    alpha: float,
) -> bytes:
    """`grad_cam`'s heat map over the model's view at opacity `alpha` (`render.overlay`), encoded once for
    every session."""
    from cnnviz.render import encode, overlay

    def make() -> bytes:
        cam = grad_cam(model, image, layer, target, method)
        return encode(overlay(feature_index(model, image).view, cam.heatmap, alpha))

    key = ("cam picture", model.fingerprint, image_key(image), layer, target, method, float(alpha))
    return FEATURES.get(key, make, len)


@_resource(max_entries=16)
def ranked_classes(model: models.LoadedModel, image: Image.Image) -> tuple[int, ...]:
    """Every class of the model, most probable first for `image` (`top_k` over all of them)."""
    from cnnviz.analysis.cam import top_k

    logits = feature_index(model, image).logits
    if logits is None:
        return ()
    return tuple(p.index for p in top_k(logits, model.categories, k=len(model.categories)))


SCORE_CAM_CHANNELS = 64
"""Score-CAM in the app masks the input with this many channels (those of largest variance): all 1,280 of
MobileNetV2's last layer take about two minutes on a CPU."""


@_data(max_entries=16)
def grad_cam(
    model: models.LoadedModel, image: Image.Image, layer: str, target: int | None, method: str = "gradcam"
) -> CamResult:
    """A class activation map of one (model, image, layer, class, method); cached so moving the opacity
    slider is free. Score-CAM uses `SCORE_CAM_CHANNELS` channels."""
    from cnnviz.analysis.cam import cam

    channels = SCORE_CAM_CHANNELS if method == "scorecam" else None
    return cam(model.model, model.preprocess(image), layer, target, method=method, max_channels=channels)


@st.cache_data(max_entries=32, show_spinner=False)
def architecture(name: str) -> tuple[list[LayerRow], Traits, int]:
    """Summary rows, traits and weight depth of a zoo architecture.

    Built on the meta device (`cnnviz.models.meta`): shapes without weights, which don't change any of these
    numbers (VGG-16 takes 0.07 s instead of seconds of weight init). One that can't be is built untrained.
    """
    from cnnviz.models.meta import MetaBuildError, build_meta

    spec = models.get_spec(name)
    shape = (1, spec.in_channels, *spec.input_size)
    try:
        return _architecture(build_meta(spec), shape)
    except (MetaBuildError, NotImplementedError, RuntimeError):  # reads values while built or run
        return _architecture(models.load(name, pretrained=False).model, shape)


@_data(max_entries=8)
def model_architecture(model: models.LoadedModel) -> tuple[list[LayerRow], Traits, int]:
    """`architecture` of a loaded model itself (a user's model has no zoo entry to build)."""
    spec = model.spec
    with model.lock:
        return _architecture(model.model, (1, spec.in_channels, *spec.input_size))


def _architecture(net: Any, shape: tuple[int, ...]) -> tuple[list[LayerRow], Traits, int]:
    from cnnviz.analysis.architecture import traits, weight_depth
    from cnnviz.analysis.summary import summary

    return summary(net, shape), traits(net), weight_depth(net)


@_data(max_entries=16)
def translation(model: models.LoadedModel, sample: str, max_shift: int) -> TranslationTest:
    """The translation test of a model on one sample image."""
    from cnnviz.analysis.augment import translation_test

    x = model.preprocess(sample_image(sample))
    return translation_test(model.model, x, max_shift, mean=model.spec.mean, std=model.spec.std)


@_data(max_entries=32)
def cam_layer(model: models.LoadedModel) -> str:
    """The default Grad-CAM layer: the last module that still returns the final spatial map."""
    import torch

    from cnnviz.analysis.cam import default_cam_layer

    spec = model.spec
    meta = _meta_twin(model)
    if meta is not None:  # shapes only: the same modules run in the same order, nothing is computed
        try:
            return default_cam_layer(meta, torch.zeros(1, spec.in_channels, *spec.input_size, device="meta"))
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    with model.lock:
        return default_cam_layer(model.model, torch.zeros(1, spec.in_channels, *spec.input_size))


def _meta_twin(model: models.LoadedModel) -> Any:
    """A zoo model's architecture on the meta device (`cnnviz.models.meta`), for what needs only shapes; None
    for a user's model (its architecture may not be its spec's) or one that can't be built without data."""
    from cnnviz.models.meta import MetaBuildError, build_meta

    if model.spec.source == "user":
        return None
    try:
        return build_meta(model.spec)
    except MetaBuildError:
        return None


# --- detection --------------------------------------------------------------------------------------------

if TYPE_CHECKING:
    from cnnviz.analysis.detection import RawDetections, SceneSample

__all__ += ["detections", "detector", "shapes_scene"]


@_data(max_entries=16)
def detections(model: models.LoadedModel, image: Image.Image) -> RawDetections:
    """Every candidate box of one (detector, image), before threshold and NMS (`RawDetections`).

    The sliders re-filter this with `cnnviz.analysis.detection.filter_detections`, without running the model.
    """
    from cnnviz.analysis.detection import detect_image

    return detect_image(model, image)


@st.cache_data(max_entries=64, show_spinner=False)
def shapes_scene(seed: int) -> SceneSample:
    """The synthetic shapes scene of `seed` with its ground-truth boxes (`SceneSample`)."""
    from cnnviz.analysis.detection import shapes_scene as make

    return make(seed)


@st.cache_resource(max_entries=4, show_spinner=False)
def detector(name: str, pretrained: bool) -> models.LoadedModel:
    """A detector for the comparison: trained weights when they are here, else explicitly untrained.

    `pretrained=False` builds the architecture untrained (torchvision: `weights=None, weights_backbone=None`)
    without trying any download.
    """
    return models.load(name, pretrained=pretrained, progress=False)


# --- segmentation -----------------------------------------------------------------------------------------

if TYPE_CHECKING:
    from cnnviz.analysis.segmentation import InstanceMasks, SemanticMasks, SizePath, TransposedConv

__all__ += ["partner_model", "seg_instances", "seg_semantic", "seg_sizes", "seg_truth", "transposed_conv"]


def seg_semantic(model: models.LoadedModel, image: Image.Image, threshold: float) -> SemanticMasks:
    """The class of every pixel of one (model, image). The threshold only changes Mask R-CNN's semantic
    map, so other models keep one cache entry whatever the slider says."""
    return _semantic(model, image, threshold if model.spec.family == "Mask R-CNN" else None)


@_data(max_entries=16)
def _semantic(model: models.LoadedModel, image: Image.Image, threshold: float | None) -> SemanticMasks:
    from cnnviz.analysis.segmentation import semantic_masks_image

    return semantic_masks_image(model, image, threshold)


@_data(max_entries=16)
def seg_instances(model: models.LoadedModel, image: Image.Image, threshold: float) -> InstanceMasks:
    """One mask per object of one (instance model, image, threshold)."""
    from cnnviz.analysis.segmentation import instance_masks_image

    return instance_masks_image(model, image, threshold)


@_data(max_entries=16)
def seg_sizes(model: models.LoadedModel, image: Image.Image) -> SizePath:
    """The spatial size of each stage in one captured forward pass.

    Run on the meta device where the model allows (sizes need no values: DeepLabV3's second full forward pass
    took as long as its masks); Mask R-CNN's sizes depend on its detections and run for real.
    """
    from cnnviz.analysis.segmentation import size_path, size_path_image

    meta = _meta_twin(model) if model.spec.family != "Mask R-CNN" else None
    if meta is not None:
        # The output's shape on the CPU (uninitialised): size_path reads only the shapes of the scores.
        meta.register_forward_hook(lambda _m, _args, out: _cpu_shaped(out))
        try:
            return size_path(meta, model.preprocess(image), name=model.spec.name)
        except (NotImplementedError, RuntimeError, ValueError):  # reads values on the way (NMS)
            pass
    return size_path_image(model, image)


def _cpu_shaped(out: Any) -> Any:
    import torch

    if isinstance(out, dict):
        return {k: _cpu_shaped(v) for k, v in out.items()}
    return torch.empty(out.shape, dtype=out.dtype) if isinstance(out, torch.Tensor) else out


@st.cache_data(max_entries=64, show_spinner=False)
def seg_truth(seed: int) -> tuple[Image.Image, SemanticMasks, InstanceMasks]:
    """A synthetic shapes scene with its true semantic and instance masks."""
    from cnnviz.analysis.segmentation import shapes_truth

    return shapes_truth(seed)


@st.cache_data(max_entries=64, show_spinner=False)
def transposed_conv(
    input_size: int, kernel_size: int, kernel: str, stride: int, padding: int
) -> TransposedConv:
    """The transposed-convolution demo for one setting (raises ConvSettingsError for impossible ones)."""
    from cnnviz.analysis.segmentation import transposed_conv as compute
    from cnnviz.analysis.segmentation import transposed_example

    x, k = transposed_example(input_size, kernel_size, kernel)
    return compute(x, k, stride, padding)


@st.cache_resource(max_entries=4, show_spinner=False)
def partner_model(name: str, untrained_ok: bool) -> models.LoadedModel:
    """The instance model shown next to a semantic one (see `cnnviz.models.segmenters.instance_partner`).

    Its trained weights when they are on this machine (never downloaded from here: picking the model in the
    sidebar does that, with a progress bar); otherwise untrained weights if `untrained_ok` (the person chose
    untrained weights for the main model).

    Raises:
        WeightsMissingError: the trained weights are not here and `untrained_ok` is false.
    """
    if models.weights_present(name):
        return models.load(name, progress=False)
    if untrained_ok:
        return models.load(name, pretrained=False)
    raise models.WeightsMissingError(
        f"The trained weights of {name} are not on this machine; pick {name} in the sidebar to fetch them.",
        key="not_here",
        model=name,
    )


# --- residual gradients and SE attention ------------------------------------------------------------------

if TYPE_CHECKING:
    from cnnviz.analysis.residual import DepthProfile, ResidualGradients
    from cnnviz.analysis.se import SEResult

__all__ += ["depth_profile", "residual_gradients", "se_weights"]


@_data(max_entries=16)
def residual_gradients(
    model: models.LoadedModel, image: Image.Image, target: int | None, objective: str
) -> ResidualGradients:
    """Per-block gradients and their skip/branch split for one (model, image, class, objective).

    `target=None` explains the top class; the result says which class that was (`.target`).
    """
    from cnnviz.analysis.residual import residual_gradients as compute

    return compute(model.model, model.preprocess(image), target, objective=objective)


@st.cache_data(max_entries=16, show_spinner=False)
def depth_profile(depth: int, residual: bool, batch_norm: bool) -> DepthProfile:
    """Gradient against depth of an untrained plain or residual stack (seeded: the same for everyone)."""
    from cnnviz.analysis.residual import depth_profile as compute

    return compute(depth, residual, batch_norm=batch_norm)


@_resource(max_entries=6)
def se_weights(model: models.LoadedModel, image: Image.Image) -> SEResult:
    """Every SE block's squeeze vector, excitation weights and maps for one (model, image).

    cache_resource, not cache_data: the before/after maps are large and read-only.
    """
    from cnnviz.analysis.se import se_weights as compute

    return compute(model.model, model.preprocess(image))


# --- generation -------------------------------------------------------------------------------------------

if TYPE_CHECKING:
    from cnnviz.analysis.generation import DiscriminatorScores, GeneratedDigits, GeneratorLayers, LatentWalk
    from cnnviz.models.gan import Snapshots

__all__ += ["gan_card", "gan_layers", "gan_samples", "gan_scores", "gan_snapshots", "gan_walk"]


@_data(max_entries=32)
def gan_samples(model: models.LoadedModel, seed: int, count: int) -> GeneratedDigits:
    """The generator's digits for one seed, with the discriminator's scores."""
    from cnnviz.analysis.generation import sample

    return sample(model, seed, count)


@_data(max_entries=32)
def gan_walk(model: models.LoadedModel, seed_a: int, seed_b: int, steps: int, mode: str) -> LatentWalk:
    """Images along a walk between the latent vectors of two seeds."""
    from cnnviz.analysis.generation import latent_walk

    return latent_walk(model, seed_a, seed_b, steps, "linear" if mode == "linear" else "spherical")


@_data(max_entries=16)
def gan_scores(model: models.LoadedModel, image: Image.Image, seed: int, count: int) -> DiscriminatorScores:
    """The discriminator's scores of held-out real digits, generated digits and the chosen picture."""
    from cnnviz.analysis.generation import discriminator_scores

    return discriminator_scores(model, seed, count, image)


@_data(max_entries=16)
def gan_layers(model: models.LoadedModel, seed: int) -> GeneratorLayers:
    """The generator's layers and feature maps from a captured forward pass of one latent vector."""
    from cnnviz.analysis.generation import generator_layers

    return generator_layers(model, seed)


@st.cache_data(max_entries=4, show_spinner=False)
def gan_snapshots(name: str) -> Snapshots:
    """The images and losses saved while the bundled GAN trained (FileNotFoundError when never trained)."""
    from cnnviz.analysis.generation import training_snapshots

    return training_snapshots(name)


@st.cache_data(max_entries=4, show_spinner=False)
def gan_card(name: str) -> dict:
    """The bundled model card `NAME.json` (FileNotFoundError when never trained)."""
    from cnnviz.weights import read_card

    return read_card(name)

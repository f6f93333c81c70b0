"""The "Many images" page's runs over an image set, cached, and the small helpers it draws with.

Each run takes the `LoadedModel` and the `ImageSet` themselves and is keyed as in `cnnviz.ui.cache`: a model
by its ``fingerprint``, a set by its ``fingerprint`` (a bundled set's name and version, an upload's digest),
plus the options. Switching views, layers or channels re-renders without running the model again; a progress
bar (not part of the key) follows the batches of a run that does.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st
from PIL import Image

from cnnviz import imagesets, models
from cnnviz.imagesets import ImageSet
from cnnviz.ui import cache

if TYPE_CHECKING:
    from streamlit.runtime.uploaded_file_manager import UploadedFile

    from cnnviz.analysis.dataset import (
        HealthReport,
        ImagePairComparison,
        MistakeReport,
        ModelComparison,
        TopImages,
    )

__all__ = [
    "BATCH_SIZE",
    "COMPARE_LAYERS",
    "class_map",
    "compare_layers",
    "compare_pair",
    "compare_two",
    "crop",
    "default_set",
    "health",
    "mistakes",
    "top_images",
    "untrained",
    "zip_set",
]

BATCH_SIZE = 32
COMPARE_LAYERS = 12
"""At most this many layers are compared between two models (their co-moment matrices must fit in memory)."""

_KEYS: dict[Any, Callable[[Any], Any]] = {**cache._KEYS, ImageSet: lambda found: found.fingerprint}


def _key(value: Any) -> Any:
    for kind, key in _KEYS.items():
        if isinstance(value, kind):
            return (kind.__name__, key(value))
    return value


class _Results:
    """Finished runs shared by every session, least recently used dropped first.

    Not `st.cache_resource` on the run itself: a run draws its progress bar while it goes, and Streamlit
    replays a cached function's elements into a block that may no longer exist.
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.lock = threading.Lock()
        self.done: OrderedDict[tuple[Any, ...], Any] = OrderedDict()

    def get(self, key: tuple[Any, ...], run: Callable[[], Any]) -> Any:
        with self.lock:
            if key in self.done:
                self.done.move_to_end(key)
                return self.done[key]
        value = run()
        with self.lock:
            self.done[key] = value
            while len(self.done) > self.max_entries:
                self.done.popitem(last=False)
        return value


@st.cache_resource(show_spinner=False)
def _results() -> _Results:
    return _Results(max_entries=24)


def _run(function: Callable[..., Any]) -> Callable[..., Any]:
    """Caches a run by its name and arguments (models and sets by fingerprint); ``_bar`` is not part of it."""

    @functools.wraps(function)
    def cached(*args: Any, _bar: Bar | None = None) -> Any:
        key = (function.__name__, *(_key(a) for a in args))
        return _results().get(key, lambda: function(*args, _bar=_bar))

    return cached


Bar = Callable[[int, int], None]


def default_set(spec: models.ModelSpec) -> str:
    """The bundled set that fits a model: digits for a 1-channel net, shapes for the minis, else photos."""
    if spec.in_channels == 1:
        return "digits"
    if spec.name.endswith("-mini"):
        return "shapes"
    return "samples"


@st.cache_resource(max_entries=4, show_spinner=False)
def zip_set(digest: str, name: str, _upload: UploadedFile) -> ImageSet:
    """An uploaded zip read as a hostile set (`cnnviz.imagesets.from_zip`), once per digest.

    Raises:
        ImageSetError: nothing usable in it, a bomb, too many members... (the error says which).
    """
    return imagesets.from_zip(bytes(_upload.getbuffer()), name=name)


def class_map(classes: Sequence[str], categories: Sequence[str]) -> list[int] | None:
    """The model's class index of each of the set's classes: by name when every class is a category's name,
    else by number when every class is an index ("0", "1", ...); None when neither fits."""
    names = {c: i for i, c in enumerate(categories)}
    if classes and all(c in names for c in classes):
        return [names[c] for c in classes]
    if classes and all(c.isdigit() and int(c) < len(categories) for c in classes):
        return [int(c) for c in classes]
    return None


def _batches(model: models.LoadedModel, found: ImageSet, bar: Bar | None, labels: bool) -> Iterator[Any]:
    """The set in the model's preprocessing; labels turned into the model's class indices."""
    import torch

    def transform(image: Image.Image) -> torch.Tensor:
        return model.preprocess(image)[0]

    mapping = class_map(found.classes, model.categories) if labels and found.labelled else None
    lookup = torch.tensor(mapping, dtype=torch.int64) if mapping is not None else None
    stream = imagesets.batches(found, transform, BATCH_SIZE)
    for paths, x, y in stream:
        if bar is not None:
            bar(stream.done, stream.total)
        yield paths, x, (lookup[y] if lookup is not None and y is not None else None)


@_run
def top_images(
    model: models.LoadedModel, found: ImageSet, layer: str, k: int, _bar: Bar | None = None
) -> TopImages:
    """Each channel's k top images of `layer` over the set."""
    from cnnviz.analysis.dataset import top_images as compute

    with model.lock:
        return compute(model.model, _batches(model, found, _bar, labels=False), layer, k=k)


@_run
def health(model: models.LoadedModel, found: ImageSet, _bar: Bar | None = None) -> HealthReport:
    """Every layer's health over the set (gradient norms when its classes match the model's)."""
    from cnnviz.analysis.dataset import layer_health

    labelled = found.labelled and class_map(found.classes, model.categories) is not None
    with model.lock:
        return layer_health(model.model, _batches(model, found, _bar, labels=labelled), gradients=labelled)


@_run
def mistakes(model: models.LoadedModel, found: ImageSet, _bar: Bar | None = None) -> MistakeReport:
    """Accuracy, confusion matrix and mistakes over a labelled set whose classes match the model's."""
    from cnnviz.analysis.dataset import mistakes as compute

    with model.lock:
        return compute(
            model.model, _batches(model, found, _bar, labels=True), categories=list(model.categories)
        )


def compare_layers(model: models.LoadedModel) -> list[str]:
    """Up to `COMPARE_LAYERS` convolution and linear layers, spread evenly from first to last."""
    names = [
        name
        for name, module in model.model.named_modules()
        if name and type(module).__name__ in ("Conv2d", "Linear", "Conv1d", "Conv3d")
    ]
    if len(names) <= COMPARE_LAYERS:
        return names
    picks = np.unique(np.linspace(0, len(names) - 1, COMPARE_LAYERS).round().astype(int))
    return [names[i] for i in picks]


@_run
def compare_two(
    model_a: models.LoadedModel, model_b: models.LoadedModel, found: ImageSet, _bar: Bar | None = None
) -> ModelComparison:
    """Two models over one set: per-layer linear CKA and where their predictions differ."""
    from cnnviz.analysis.dataset import compare_models

    layers = [n for n in compare_layers(model_a) if n in dict(model_b.model.named_modules())]
    with model_a.lock, model_b.lock:
        return compare_models(
            model_a.model, model_b.model, _batches(model_a, found, _bar, labels=True), layers=layers or None
        )


@st.cache_resource(max_entries=8, show_spinner=False, hash_funcs=_KEYS)
def compare_pair(
    model: models.LoadedModel, image_a: Image.Image, image_b: Image.Image
) -> ImagePairComparison:
    """Two images through one model, layer by layer."""
    from cnnviz.analysis.dataset import compare_images

    with model.lock:
        return compare_images(model.model, model.preprocess(image_a), model.preprocess(image_b))


def crop(view: np.ndarray, box: Sequence[int]) -> np.ndarray:
    """The receptive-field box (y0, x0, y1, x1, half-open) of an (H, W, C) picture, at least one pixel; the
    whole picture for an empty box. One channel comes back as (H, W), as PIL draws it."""
    y0, x0, y1, x1 = (int(v) for v in box) if len(box) == 4 else (0, 0, view.shape[0], view.shape[1])
    y0, x0 = max(0, y0), max(0, x0)
    part = view[y0 : max(y0 + 1, y1), x0 : max(x0 + 1, x1)]
    return part[..., 0] if part.ndim == 3 and part.shape[2] == 1 else part


@st.cache_resource(max_entries=2, show_spinner=False)
def untrained(name: str) -> models.LoadedModel:
    """A zoo architecture with untrained (random) weights, the trained one's partner in a comparison."""
    return models.load(name, pretrained=False)

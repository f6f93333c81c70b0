"""Cached loaders shared by every page and every session.

Models are cached with `st.cache_resource` (one object for all sessions; `LoadedModel.lock` serialises
capture on it). Per-image results are cached by (model, weights, image digest), so changing a layer, a
channel or the language re-renders without running the model again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import streamlit as st

from cnnviz import images, models

if TYPE_CHECKING:
    from PIL import Image

    from cnnviz.analysis.architecture import Traits
    from cnnviz.analysis.augment import TranslationTest
    from cnnviz.analysis.cam import CamResult
    from cnnviz.analysis.features import FeatureMaps
    from cnnviz.analysis.summary import LayerRow

__all__ = [
    "architecture",
    "cam_layer",
    "feature_maps",
    "grad_cam",
    "load_model",
    "sample_image",
    "translation",
]


@st.cache_resource(max_entries=6, show_spinner=False)
def load_model(
    name: str, allow_untrained: bool = False, _progress: Callable[[int, int], None] | None = None
) -> models.LoadedModel:
    """The model `name`, loaded once for all sessions (see `cnnviz.models.load`).

    `_progress(done, total)` hears about a weights download (not part of the cache key).
    """
    return models.load(name, pretrained=True, allow_untrained=allow_untrained, progress=_progress or False)


@st.cache_resource(max_entries=32, show_spinner=False)
def sample_image(name: str) -> Image.Image:
    return images.load_sample(name)


@st.cache_resource(max_entries=4, show_spinner=False)
def feature_maps(
    name: str, weights: str, digest: str, _model: models.LoadedModel, _image: Image.Image
) -> FeatureMaps:
    """Every layer's feature maps of one image, computed in one forward pass and kept read-only.

    cache_resource, not cache_data: the maps are large and read-only, and cache_data would copy them on
    every rerun.
    """
    from cnnviz.analysis.features import feature_maps as compute

    return compute(_model, _image)


@st.cache_data(max_entries=16, show_spinner=False)
def grad_cam(
    name: str,
    weights: str,
    digest: str,
    layer: str,
    target: int | None,
    _model: models.LoadedModel,
    _image: Image.Image,
) -> CamResult:
    """Grad-CAM of one (model, image, layer, class); cached so moving the opacity slider is free."""
    from cnnviz.analysis.cam import grad_cam as compute

    return compute(_model.model, _model.preprocess(_image), layer, target)


@st.cache_data(max_entries=32, show_spinner=False)
def architecture(name: str) -> tuple[list[LayerRow], Traits, int]:
    """Summary rows, traits and weight depth of a model's architecture.

    Built untrained: the weights don't change any of these numbers.
    """
    from cnnviz.analysis.architecture import traits, weight_depth
    from cnnviz.analysis.summary import summary

    net = models.load(name, pretrained=False).model
    spec = models.get_spec(name)
    rows = summary(net, (1, spec.in_channels, *spec.input_size))
    return rows, traits(net), weight_depth(net)


@st.cache_data(max_entries=16, show_spinner=False)
def translation(
    name: str, weights: str, sample: str, max_shift: int, _model: models.LoadedModel
) -> TranslationTest:
    """The translation test of a bundled model on one sample image."""
    from cnnviz.analysis.augment import translation_test

    return translation_test(_model, sample_image(sample), max_shift)


@st.cache_data(max_entries=32, show_spinner=False)
def cam_layer(name: str, weights: str, _model: models.LoadedModel) -> str:
    """The default Grad-CAM layer: the last module that still returns the final spatial map."""
    import torch

    from cnnviz.analysis.cam import default_cam_layer

    spec = _model.spec
    return default_cam_layer(_model.model, torch.zeros(1, spec.in_channels, *spec.input_size))

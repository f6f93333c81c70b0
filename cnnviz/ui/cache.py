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

    x = _model.preprocess(_image)
    return compute(_model.model, x, mean=_model.spec.mean, std=_model.spec.std)


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

    x = _model.preprocess(sample_image(sample))
    return translation_test(_model.model, x, max_shift, mean=_model.spec.mean, std=_model.spec.std)


@st.cache_data(max_entries=32, show_spinner=False)
def cam_layer(name: str, weights: str, _model: models.LoadedModel) -> str:
    """The default Grad-CAM layer: the last module that still returns the final spatial map."""
    import torch

    from cnnviz.analysis.cam import default_cam_layer

    spec = _model.spec
    return default_cam_layer(_model.model, torch.zeros(1, spec.in_channels, *spec.input_size))


# --- detection (appended for the Detection page) ----------------------------------------------------------

if TYPE_CHECKING:
    from cnnviz.analysis.detection import RawDetections, SceneSample

__all__ += ["detections", "detector", "shapes_scene"]


@st.cache_data(max_entries=16, show_spinner=False)
def detections(
    name: str, weights: str, digest: str, _model: models.LoadedModel, _image: Image.Image
) -> RawDetections:
    """Every candidate box of one (detector, image), before threshold and NMS (`RawDetections`).

    The sliders re-filter this with `cnnviz.analysis.detection.filter_detections`, without running the model.
    """
    from cnnviz.analysis.detection import detect_image

    return detect_image(_model, _image)


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


# --- segmentation (appended for the Segmentation page) ----------------------------------------------------

if TYPE_CHECKING:
    from cnnviz.analysis.segmentation import InstanceMasks, SemanticMasks, SizePath, TransposedConv

__all__ += ["partner_model", "seg_instances", "seg_semantic", "seg_sizes", "seg_truth", "transposed_conv"]


def _seg_threshold(model: models.LoadedModel, threshold: float) -> float | None:
    """The threshold only changes Mask R-CNN's semantic map, so other models keep one cache entry."""
    return threshold if model.spec.family == "Mask R-CNN" else None


@st.cache_data(max_entries=16, show_spinner=False)
def _semantic(
    name: str,
    weights: str,
    digest: str,
    threshold: float | None,
    _model: models.LoadedModel,
    _image: Image.Image,
) -> SemanticMasks:
    from cnnviz.analysis.segmentation import semantic_masks_image

    return semantic_masks_image(_model, _image, threshold)


def seg_semantic(
    model: models.LoadedModel, digest: str, image: Image.Image, threshold: float
) -> SemanticMasks:
    """The class of every pixel of one (model, image), cached by model, weights and image digest."""
    return _semantic(model.spec.name, model.weights, digest, _seg_threshold(model, threshold), model, image)


@st.cache_data(max_entries=16, show_spinner=False)
def seg_instances(
    name: str, weights: str, digest: str, threshold: float, _model: models.LoadedModel, _image: Image.Image
) -> InstanceMasks:
    """One mask per object of one (instance model, image, threshold)."""
    from cnnviz.analysis.segmentation import instance_masks_image

    return instance_masks_image(_model, _image, threshold)


@st.cache_data(max_entries=16, show_spinner=False)
def seg_sizes(
    name: str, weights: str, digest: str, _model: models.LoadedModel, _image: Image.Image
) -> SizePath:
    """The spatial size of each stage in one captured forward pass."""
    from cnnviz.analysis.segmentation import size_path_image

    return size_path_image(_model, _image)


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


# --- residual gradients and SE attention (appended for those pages) ----------------------------------------

if TYPE_CHECKING:
    from cnnviz.analysis.residual import DepthProfile, ResidualGradients
    from cnnviz.analysis.se import SEResult

__all__ += ["depth_profile", "residual_gradients", "se_weights"]


@st.cache_data(max_entries=16, show_spinner=False)
def residual_gradients(
    name: str,
    weights: str,
    digest: str,
    target: int | None,
    objective: str,
    _model: models.LoadedModel,
    _image: Image.Image,
) -> ResidualGradients:
    """Per-block gradients and their skip/branch split for one (model, image, class, objective).

    `target=None` explains the top class; the result says which class that was (`.target`).
    """
    from cnnviz.analysis.residual import residual_gradients as compute

    return compute(_model.model, _model.preprocess(_image), target, objective=objective)


@st.cache_data(max_entries=16, show_spinner=False)
def depth_profile(depth: int, residual: bool, batch_norm: bool) -> DepthProfile:
    """Gradient against depth of an untrained plain or residual stack (seeded: the same for everyone)."""
    from cnnviz.analysis.residual import depth_profile as compute

    return compute(depth, residual, batch_norm=batch_norm)


@st.cache_resource(max_entries=6, show_spinner=False)
def se_weights(
    name: str, weights: str, digest: str, _model: models.LoadedModel, _image: Image.Image
) -> SEResult:
    """Every SE block's squeeze vector, excitation weights and maps for one (model, image).

    cache_resource, not cache_data: the before/after maps are large and read-only.
    """
    from cnnviz.analysis.se import se_weights as compute

    return compute(_model.model, _model.preprocess(_image))


# --- generation (appended for the Generation page) --------------------------------------------------------

if TYPE_CHECKING:
    from cnnviz.analysis.generation import DiscriminatorScores, GeneratedDigits, GeneratorLayers, LatentWalk
    from cnnviz.models.gan import Snapshots

__all__ += ["gan_card", "gan_layers", "gan_samples", "gan_scores", "gan_snapshots", "gan_walk"]


@st.cache_data(max_entries=32, show_spinner=False)
def gan_samples(
    name: str, weights: str, seed: int, count: int, _model: models.LoadedModel
) -> GeneratedDigits:
    """The generator's digits for one seed, with the discriminator's scores."""
    from cnnviz.analysis.generation import sample

    return sample(_model, seed, count)


@st.cache_data(max_entries=32, show_spinner=False)
def gan_walk(
    name: str, weights: str, seed_a: int, seed_b: int, steps: int, mode: str, _model: models.LoadedModel
) -> LatentWalk:
    """Images along a walk between the latent vectors of two seeds."""
    from cnnviz.analysis.generation import latent_walk

    return latent_walk(_model, seed_a, seed_b, steps, "linear" if mode == "linear" else "spherical")


@st.cache_data(max_entries=16, show_spinner=False)
def gan_scores(
    name: str,
    weights: str,
    seed: int,
    count: int,
    digest: str,
    _model: models.LoadedModel,
    _image: Image.Image,
) -> DiscriminatorScores:
    """The discriminator's scores of held-out real digits, generated digits and the chosen picture."""
    from cnnviz.analysis.generation import discriminator_scores

    return discriminator_scores(_model, seed, count, _image)


@st.cache_data(max_entries=16, show_spinner=False)
def gan_layers(name: str, weights: str, seed: int, _model: models.LoadedModel) -> GeneratorLayers:
    """The generator's layers and feature maps from a captured forward pass of one latent vector."""
    from cnnviz.analysis.generation import generator_layers

    return generator_layers(_model, seed)


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

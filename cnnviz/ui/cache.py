"""Cached loaders shared by every page and every session.

Models are cached with `st.cache_resource` (one object for all sessions; `LoadedModel.lock` serialises
capture on it). Per-image results take the `LoadedModel` and the PIL image themselves and are keyed one way,
by `_KEYS`: a model by its `fingerprint` (name and weights for a zoo model; a digest of every parameter for
a user's model, so two user models with one name never share a result) and an image by its pixels. Changing
a layer, a channel or the language re-renders without running the model again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import streamlit as st
from PIL import Image

from cnnviz import images, models

if TYPE_CHECKING:
    from streamlit.runtime.uploaded_file_manager import UploadedFile

    from cnnviz.analysis.architecture import Traits
    from cnnviz.analysis.augment import TranslationTest
    from cnnviz.analysis.cam import CamResult
    from cnnviz.analysis.features import FeatureMaps
    from cnnviz.analysis.summary import LayerRow
    from cnnviz.models.checkpoint import LoadReport

__all__ = [
    "architecture",
    "cam_layer",
    "checkpoint_model",
    "feature_maps",
    "grad_cam",
    "image_key",
    "load_model",
    "model_architecture",
    "sample_image",
    "translation",
    "upload_key",
]


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


@_resource(max_entries=4)
def feature_maps(model: models.LoadedModel, image: Image.Image) -> FeatureMaps:
    """Every layer's feature maps of one image, computed in one forward pass and kept read-only.

    cache_resource, not cache_data: the maps are large and read-only, and cache_data would copy them on
    every rerun.
    """
    from cnnviz.analysis.features import feature_maps as compute

    x = model.preprocess(image)
    return compute(model.model, x, mean=model.spec.mean, std=model.spec.std)


@_data(max_entries=16)
def grad_cam(model: models.LoadedModel, image: Image.Image, layer: str, target: int | None) -> CamResult:
    """Grad-CAM of one (model, image, layer, class); cached so moving the opacity slider is free."""
    from cnnviz.analysis.cam import grad_cam as compute

    return compute(model.model, model.preprocess(image), layer, target)


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

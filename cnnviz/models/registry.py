"""The model zoo's registry: what each model is, where its weights come from, and how it is loaded.

Adding a model is one :func:`register` call in the module that defines it (plus one import line in
``cnnviz/models/__init__.py``)::

    register(ModelSpec(name="vgg-mini", family="VGG", task="classification", in_channels=3,
                       input_size=(64, 64), source="bundled", build=vgg_mini,
                       transform=ShapesTransform(), categories=shapes.CLASSES,
                       weight_source=BundledWeights("vgg-mini"), mean=..., std=...))

Its one-line note in the lecture's words goes into the EN/KO text table as ``model.note.<name>``
(``cnnviz/ui/texts/models.py``), where a translator finds every model's note in one place.

A model the zoo has never seen needs no registration: :func:`cnnviz.models.from_module` wraps it.

Nothing here knows about a particular architecture: detectors and segmenters register the same way with their
own ``task``, ``categories`` and ``build``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import torch
from PIL import Image
from torch import nn

from cnnviz.locks import ModelLock, model_lock
from cnnviz.tensors import model_view
from cnnviz.weights import bundled_path

__all__ = [
    "SOURCES",
    "TASKS",
    "BundledWeights",
    "LoadedModel",
    "ModelSpec",
    "Progress",
    "Source",
    "Task",
    "WeightSource",
    "WeightsLabel",
    "WeightsMissingError",
    "build_untrained",
    "get_spec",
    "list_specs",
    "load",
    "register",
    "weights_present",
]

Task = Literal["classification", "detection", "segmentation", "generation"]
Source = Literal["bundled", "weight pack", "torchvision", "user"]
WeightsLabel = Literal["bundled", "weight pack", "torchvision pretrained", "untrained", "user"]
TASKS: tuple[str, ...] = ("classification", "detection", "segmentation", "generation")
SOURCES: tuple[str, ...] = ("bundled", "weight pack", "torchvision", "user")

Progress = bool | Callable[[int, int], None]
"""``True``: a progress line on stderr; ``False``: silent; a callable: ``progress(done, total)`` in bytes."""

UNTRAINED_SEED = 0
"""Untrained weights are drawn with this seed, so an untrained model is the same in every session."""


class WeightsMissingError(RuntimeError):
    """Trained weights are not available; ``str(err)`` is the whole English sentence, path and cause included.

    Attributes:
        key: what went wrong, for a translated sentence: "offline" (not cached, the download failed),
            "pack_missing" (a weight-pack file is not here), "bundled_missing", "not_here" (only the
            sidebar downloads), "unreadable" (a file that can't be read or doesn't fit) or "none" (no
            trained weights).
        model: the model's registry name.
        detail: the file and the underlying error, for a line under the sentence ("" when there is none).
    """

    def __init__(self, message: str, *, key: str = "unreadable", model: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.key = key
        self.model = model
        self.detail = detail


@runtime_checkable
class WeightSource(Protocol):
    """Where a model's trained weights come from."""

    @property
    def label(self) -> WeightsLabel:
        """What :attr:`LoadedModel.weights` (a label) says when these weights are loaded."""
        ...

    def path(self) -> Path:
        """The file the weights are read from (it may not exist yet)."""
        ...

    def present(self) -> bool:
        """Whether the weights can be loaded without a download."""
        ...

    def describe(self) -> str:
        """A short name of these weights, e.g. ``"ResNet18_Weights.IMAGENET1K_V1"``."""
        ...

    def load(self, spec: ModelSpec, progress: Progress) -> nn.Module:
        """Build the model with these weights.

        Raises:
            WeightsMissingError: the weights are missing (and could not be downloaded) or do not fit.
        """
        ...


@dataclass(frozen=True)
class ModelSpec:
    """What the app needs to know about a model before loading it.

    Attributes:
        name: registry key, e.g. ``"resnet18"``.
        family: the lecture's family name: "LeNet-5", "AlexNet", "VGG", "ResNet", "SENet", "MobileNet", …
        task: "classification", "detection", "segmentation" or "generation".
        in_channels: channels of the input: 1 (grayscale), 3 (RGB), or any count for a user's model.
        input_size: ``(H, W)`` of the input after preprocessing.
        source: "bundled", "weight pack", "torchvision", or "user" (a model wrapped by `from_module`).
        build: returns the architecture with fresh (untrained) weights, offline.
        transform: PIL image (already in the model's colour mode) -> ``(C, H, W)`` float tensor, the
            model's own preprocessing.
        categories: names of the outputs (class names), known without loading any weights.
        weight_source: where trained weights come from; ``None`` when the model only exists untrained.
        mean: per-channel mean the transform subtracts (to show what the model sees).
        std: per-channel standard deviation the transform divides by.
        year: year the architecture was published, for ordering the history.
        tags: ideas the architecture shows, e.g. ``("residual", "se")``; pages filter on them.
    """

    name: str
    family: str
    task: Task
    in_channels: int
    input_size: tuple[int, int]
    source: Source
    build: Callable[[], nn.Module] = field(repr=False, compare=False)
    transform: Callable[[Image.Image], torch.Tensor] = field(repr=False, compare=False)
    categories: tuple[str, ...] = field(default=(), repr=False)
    weight_source: WeightSource | None = field(default=None, repr=False, compare=False)
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    year: int | None = None
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task of {self.name!r} must be one of {TASKS}, got {self.task!r}")
        if self.source not in SOURCES:
            raise ValueError(f"source of {self.name!r} must be one of {SOURCES}, got {self.source!r}")
        if self.in_channels < 1 or (self.source != "user" and self.in_channels not in (1, 3)):
            allowed = "at least 1" if self.source == "user" else "1 or 3 for a zoo model"
            raise ValueError(f"in_channels of {self.name!r} must be {allowed}, got {self.in_channels}")
        if len(self.mean) not in (1, self.in_channels) or len(self.std) not in (1, self.in_channels):
            raise ValueError(f"mean and std of {self.name!r} need 1 or {self.in_channels} values")


@dataclass
class LoadedModel:
    """A model ready for the pages: eval mode, its own preprocessing, its categories, a lock.

    Attributes:
        spec: the registry entry.
        model: the network in eval mode.
        categories: output names (ImageNet class names, digits, shapes, …).
        weights: "bundled", "weight pack", "torchvision pretrained", "untrained" or "user".
        message: why pretrained weights were not loaded when they were asked for and untrained ones were
            allowed instead; ``None`` otherwise.
        weights_name: which weights, e.g. ``"ResNet18_Weights.IMAGENET1K_V1"`` (``"untrained"``).
        fingerprint: what cached results are keyed by besides the image: the name and weights for a zoo
            model; for a user's model a digest of its class and every parameter and buffer, so two user
            models with one name never share a cached result.
    """

    spec: ModelSpec
    model: nn.Module
    categories: list[str]
    weights: WeightsLabel
    message: str | None = None
    weights_name: str = "untrained"
    fingerprint: str = ""

    def __post_init__(self) -> None:
        if not self.fingerprint:
            self.fingerprint = f"{self.spec.source}:{self.spec.name}:{self.weights}:{self.weights_name}"

    @property
    def lock(self) -> ModelLock:
        """Held while hooks are attached or the model runs, because a cached model is shared by sessions.

        The same lock `cnnviz.hooks.capture` takes for this model (`cnnviz.locks.model_lock`).
        """
        return model_lock(self.model)

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """The model's input for ``image``: ``(1, C, H, W)`` float32.

        Colour images become grayscale for 1-channel models and RGBA/grayscale images become RGB for 3-channel
        models before the model's own transform runs.

        Raises:
            TypeError: ``image`` is not a PIL image.
        """
        if not isinstance(image, Image.Image):
            raise TypeError(f"image must be a PIL.Image.Image, got {type(image).__name__}")
        if self.spec.in_channels in (1, 3):
            image = image.convert("L" if self.spec.in_channels == 1 else "RGB")
        tensor = self.spec.transform(image)
        if tensor.ndim == 3:
            tensor = tensor.unsqueeze(0)
        return tensor.to(torch.float32)

    def model_view(self, image: Image.Image | torch.Tensor) -> np.ndarray:
        """What the model sees: the preprocessed input with the normalisation undone.

        Args:
            image: a PIL image (preprocessed here) or an input tensor already made, ``(C, H, W)`` or
                ``(1, C, H, W)`` (a shifted or augmented copy, say).

        Returns:
            ``(H, W, C)`` uint8 (C is 1 for grayscale models).
        """
        tensor = image if isinstance(image, torch.Tensor) else self.preprocess(image)
        return model_view(tensor, self.spec.mean, self.spec.std)


@dataclass(frozen=True)
class BundledWeights:
    """Weights the project trained itself: ``cnnviz/models/bundled/NAME.safetensors``.

    Attributes:
        name: file stem (usually the model's registry name).
        directory: folder holding the file; ``None`` means the committed ``cnnviz/models/bundled``.
    """

    name: str
    directory: Path | None = None
    label: WeightsLabel = "bundled"

    def path(self) -> Path:
        return bundled_path(self.name, ".safetensors", self.directory)

    def present(self) -> bool:
        return self.path().is_file()

    def describe(self) -> str:
        return self.path().name

    def load(self, spec: ModelSpec, progress: Progress) -> nn.Module:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        path = self.path()
        if not path.is_file():
            raise WeightsMissingError(
                f"The bundled weights of {spec.name} are missing ({path}); "
                f"train them with `python -m cnnviz.train {spec.name}` or choose untrained weights.",
                key="bundled_missing",
                model=spec.name,
                detail=str(path),
            )
        model = build_untrained(spec)
        try:
            model.load_state_dict(load_file(str(path)))
        except (SafetensorError, RuntimeError, OSError) as err:
            raise WeightsMissingError(
                f"The bundled weights {path} cannot be read or do not fit the {spec.name} architecture; "
                f"retrain them with `python -m cnnviz.train {spec.name}`.",
                key="unreadable",
                model=spec.name,
                detail=f"{path}: {type(err).__name__}",
            ) from err
        return model


_REGISTRY: dict[str, ModelSpec] = {}
_REGISTRY_LOCK = threading.Lock()


def register(spec: ModelSpec, *, replace: bool = False) -> ModelSpec:
    """Add a model to the zoo.

    Registering the same spec again (a module re-imported by Streamlit's file watcher) replaces it quietly; a
    different model under a taken name is an error unless ``replace`` is set.

    Returns:
        ``spec``, so a module can keep a reference.

    Raises:
        ValueError: ``spec.name`` is taken by a different model.
    """
    with _REGISTRY_LOCK:
        old = _REGISTRY.get(spec.name)
        if old is not None and old != spec and not replace:
            raise ValueError(f"a different model is already registered as {spec.name!r}")
        _REGISTRY[spec.name] = spec
    return spec


def list_specs(task: str | None = None, tag: str | None = None) -> list[ModelSpec]:
    """Registered models in registration order, optionally only one task or only those with a tag.

    Raises:
        ValueError: ``task`` is not a known task.
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    specs = list(_REGISTRY.values())
    return [s for s in specs if (task is None or s.task == task) and (tag is None or tag in s.tags)]


def get_spec(name: str) -> ModelSpec:
    """The registered model called ``name``.

    Raises:
        KeyError: no model is registered under ``name`` (the message names it and the known names).
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no model named {name!r}; known models: {', '.join(_REGISTRY)}") from None


def weights_present(name: str) -> bool:
    """Whether ``name`` has trained weights on this machine (no download needed)."""
    spec = get_spec(name)
    return spec.weight_source is not None and spec.weight_source.present()


def build_untrained(spec: ModelSpec) -> nn.Module:
    """The architecture with untrained weights drawn with :data:`UNTRAINED_SEED` (global RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(UNTRAINED_SEED)
        return spec.build()


def load(
    name: str, *, pretrained: bool = True, allow_untrained: bool = False, progress: Progress = True
) -> LoadedModel:
    """Load a model from the zoo, in eval mode.

    Args:
        name: registry name.
        pretrained: load trained weights (``False`` asks for untrained weights explicitly).
        allow_untrained: when trained weights are missing and cannot be downloaded, fall back to
            untrained weights (labelled ``"untrained"``, with :attr:`LoadedModel.message` saying why)
            instead of raising.
        progress: how a download reports progress (see :data:`Progress`).

    Raises:
        KeyError: ``name`` is not registered.
        WeightsMissingError: trained weights are missing and ``allow_untrained`` is false.
    """
    spec = get_spec(name)
    model: nn.Module | None = None
    message: str | None = None
    label: WeightsLabel = "untrained"
    weights_name = "untrained"
    if pretrained:
        try:
            if spec.weight_source is None:
                raise WeightsMissingError(
                    f"{name} has no trained weights; choose untrained weights.", key="none", model=name
                )
            model = spec.weight_source.load(spec, progress)
            label, weights_name = spec.weight_source.label, spec.weight_source.describe()
        except WeightsMissingError as err:
            if not allow_untrained:
                raise
            message = str(err)
    if model is None:
        model = build_untrained(spec)
    model.eval()
    return LoadedModel(
        spec=spec,
        model=model,
        categories=list(spec.categories),
        weights=label,
        message=message,
        weights_name=weights_name,
    )

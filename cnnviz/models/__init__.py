"""The model zoo: the lecture's networks, where their weights come from, and one way to load them all.

>>> from cnnviz.models import load, list_specs
>>> [spec.name for spec in list_specs("classification")][:2]
['lenet5', 'mobilenet_v2']
>>> lenet = load("lenet5")  # bundled weights, offline
>>> lenet.model(lenet.preprocess(image)).softmax(dim=1)  # doctest: +SKIP

Each model module registers its specs when imported; importing this package imports them all.
"""

from __future__ import annotations

# Registration order is the order pages list the models in: the lecture's history first.
from cnnviz.models import lenet as lenet
from cnnviz.models import mini as mini
from cnnviz.models import zoo as zoo

# isort: split
from cnnviz.models import detectors as detectors  # detection models (builds on zoo's weights)
from cnnviz.models import gan as gan  # generation models after the classifiers
from cnnviz.models import segmenters as segmenters  # segmentation models (semantic, instance)
from cnnviz.models.registry import (
    BundledWeights,
    LoadedModel,
    ModelSpec,
    WeightsMissingError,
    WeightSource,
    build_untrained,
    get_spec,
    list_specs,
    load,
    register,
    weights_present,
)
from cnnviz.models.user import add_user_model, from_checkpoint, from_module, user_model, user_models

__all__ = [
    "BundledWeights",
    "LoadedModel",
    "ModelSpec",
    "WeightSource",
    "WeightsMissingError",
    "add_user_model",
    "build_untrained",
    "from_checkpoint",
    "from_module",
    "get_spec",
    "list_specs",
    "load",
    "register",
    "user_model",
    "user_models",
    "weights_present",
]

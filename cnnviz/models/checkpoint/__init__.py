"""Weights from a file someone uploads or names: read as data, never as code, and fitted to a model.

An upload is data. Weights are read only with ``safetensors`` or with ``torch.load(weights_only=True)``, whose
unpickler builds tensors and plain containers and refuses every other class. A whole pickled model
(``torch.save(model)``) or a pickle holding other objects is refused with a sentence that says how to save a
``state_dict()`` instead; nothing inside the file is ever imported or called.

>>> from cnnviz.models.checkpoint import fit_state_dict, read_labels, read_state_dict
>>> state = read_state_dict("resnet18-10.safetensors")  # doctest: +SKIP
>>> model = torchvision.models.resnet18()  # 1000 classes  # doctest: +SKIP
>>> fit_state_dict(model, state, resize_head=True).new_classes  # doctest: +SKIP
10

Every refusal is a `CheckpointError` (a ``ValueError``) whose ``str`` is one English sentence naming the file;
its ``key`` and ``params`` let the app say the same sentence in Korean (``ckpterr.<key>`` in the text table).

The package: `errors`, `reading` (a file to a state dict), `fitting` (a state dict into a model) and
`labels`. Every public name is importable from ``cnnviz.models.checkpoint``.
"""

from __future__ import annotations

from cnnviz.models.checkpoint.errors import ERROR_KEYS, CheckpointError
from cnnviz.models.checkpoint.fitting import LoadReport, fit_state_dict
from cnnviz.models.checkpoint.labels import DEFAULT_MAX_LABEL_BYTES, read_labels
from cnnviz.models.checkpoint.reading import DEFAULT_MAX_BYTES, NESTED_KEYS, read_state_dict

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_LABEL_BYTES",
    "ERROR_KEYS",
    "NESTED_KEYS",
    "CheckpointError",
    "LoadReport",
    "fit_state_dict",
    "read_labels",
    "read_state_dict",
]

"""Architectures without weights: shapes, parameter counts and MACs at no cost.

`build_meta(spec)` builds a zoo architecture under `torch.device("meta")`: every parameter and buffer has its
shape and dtype but no storage, so no memory is taken and no weight is initialised (VGG-16's 138 M random
numbers take seconds on a CPU). A forward pass on a meta tensor gives every output's shape without computing
anything, which is all a summary table needs (`cnnviz.analysis.summary`, `traits`, `weight_depth`); the tests
check that its numbers equal those of the real build for every classification model.

An architecture that reads its own values while being built or run (a `.item()`, a copy to the CPU) cannot be
built this way: `build_meta` raises `MetaBuildError`, and callers build it for real.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnviz.models.registry import ModelSpec

__all__ = ["MetaBuildError", "build_meta"]


class MetaBuildError(RuntimeError):
    """The architecture cannot be built or run without data; build it for real instead."""


def build_meta(spec: ModelSpec) -> nn.Module:
    """`spec`'s architecture with every tensor on the meta device, in eval mode.

    Raises:
        MetaBuildError: building it needs real values (the message names the model and the cause).
    """
    try:
        with torch.device("meta"):
            model = spec.build()
    except (NotImplementedError, RuntimeError) as err:
        raise MetaBuildError(f"{spec.name} cannot be built on the meta device: {err}") from err
    return model.eval()

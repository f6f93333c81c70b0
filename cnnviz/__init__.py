"""cnnviz: a visual explorer of convolutional neural networks.

The top-level names are imported lazily, so `import cnnviz.images` does not pull in torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ImageError", "capture", "conv_output_size", "load_image", "pool_output_size", "summary"]

_WHERE = {
    "capture": "cnnviz.capture",
    "summary": "cnnviz.analysis.summary",
    "conv_output_size": "cnnviz.analysis.conv",
    "pool_output_size": "cnnviz.analysis.conv",
    "load_image": "cnnviz.images",
    "ImageError": "cnnviz.images",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'cnnviz' has no attribute {name!r}")

"""cnnviz: a visual explorer of convolutional neural networks.

The top-level names are imported lazily, so `import cnnviz` and `import cnnviz.images` do not pull in torch.
No top-level name is also the name of a submodule: importing a submodule binds its name on the package, which
would shadow a function of the same name (`cnnviz.capture` once returned the module after its first use).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnviz.analysis.conv import conv_output_size, pool_output_size
    from cnnviz.analysis.summary import summary
    from cnnviz.hooks import capture
    from cnnviz.images import ImageError, load_image
    from cnnviz.models.user import from_module

__all__ = [
    "ImageError",
    "capture",
    "conv_output_size",
    "from_module",
    "load_image",
    "pool_output_size",
    "summary",
]

_WHERE = {
    "capture": "cnnviz.hooks",
    "summary": "cnnviz.analysis.summary",
    "conv_output_size": "cnnviz.analysis.conv",
    "pool_output_size": "cnnviz.analysis.conv",
    "load_image": "cnnviz.images",
    "ImageError": "cnnviz.images",
    "from_module": "cnnviz.models.user",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'cnnviz' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

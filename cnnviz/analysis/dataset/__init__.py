"""Debugging a model over many images: top images per channel, layer health, mistakes, comparisons.

Every analysis takes a plain `nn.Module` and any iterable of batches `(paths, x (N, C, H, W), labels or
None)` (what `cnnviz.imagesets` yields), streams them once, and keeps only running statistics and running
top-k lists, so memory does not grow with the set. Each batch is moved to the model's device and dtype.
"""

from cnnviz.analysis.dataset._stream import Batch, Progress
from cnnviz.analysis.dataset.compare import (
    Disagreement,
    ImagePairComparison,
    ModelComparison,
    compare_images,
    compare_models,
    linear_cka,
)
from cnnviz.analysis.dataset.health import BatchNormCheck, HealthReport, Histogram, LayerHealth, layer_health
from cnnviz.analysis.dataset.mistakes import Mistake, MistakeReport, mistakes
from cnnviz.analysis.dataset.receptive import ReceptiveGrid, receptive_grid
from cnnviz.analysis.dataset.topimages import TopImage, TopImages, top_images

__all__ = [
    "Batch",
    "BatchNormCheck",
    "Disagreement",
    "HealthReport",
    "Histogram",
    "ImagePairComparison",
    "LayerHealth",
    "Mistake",
    "MistakeReport",
    "ModelComparison",
    "Progress",
    "ReceptiveGrid",
    "TopImage",
    "TopImages",
    "compare_images",
    "compare_models",
    "layer_health",
    "linear_cka",
    "mistakes",
    "receptive_grid",
    "top_images",
]

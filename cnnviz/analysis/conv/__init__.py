"""Convolution, pooling and FC arithmetic for the "Convolution & pooling" page (lecture section 2).

Everything the page shows comes from here, one module per idea of the lecture:

- `size`: feature map sizes, O = (I + 2P − F) / S + 1 with the numbers filled in, the lecture's quiz, and how
  often each input pixel is read;
- `padding`: the four padding modes of `nn.Conv2d`;
- `steps`: a filter sliding over a small matrix one output cell at a time (window, element-wise products,
  weighted sum), and why PyTorch's convolution is a cross-correlation;
- `multi`: K filters over a C-channel image;
- `pooling`: max/average/min pooling with the winning positions, and global average pooling;
- `fc`: flatten -> FC -> softmax;
- `presets`: classic kernels, seeded matrices and filters, and images shrunk to a matrix;
- `errors`: `ConvSettingsError` and the English sentence of every error.

Arrays go in and out as numpy (float64, so the numbers on screen are exact); the arithmetic itself is done
by `torch.nn.functional` (`conv2d`, `pad`, `max_pool2d`, `avg_pool2d`, `linear`, `softmax`), so what the page
shows is what PyTorch computes. Shapes follow PyTorch: a matrix is `(H, W)`, an image `(C, H, W)`, a filter
bank `(K, C, F, F)`.

Impossible settings raise `ConvSettingsError` (a `ValueError`) whose message is one sentence naming the bad
argument and whose `key`/`params` let a page show the same sentence in another language.

Every public name is importable from this package, `from cnnviz.analysis.conv import conv2d_steps`, as well
as from its module.
"""

from __future__ import annotations

from cnnviz.analysis.conv.errors import ERROR_MESSAGES, ConvSettingsError
from cnnviz.analysis.conv.fc import FCResult, fc_demo, fc_weights
from cnnviz.analysis.conv.multi import ConvMulti, conv2d_multi
from cnnviz.analysis.conv.padding import PADDING_MODES, PaddingMode
from cnnviz.analysis.conv.pooling import (
    POOL_KINDS,
    PoolKind,
    PoolResult,
    PoolStep,
    global_average_pool,
    pool2d,
)
from cnnviz.analysis.conv.presets import (
    KERNEL_PRESETS,
    downsize_gray,
    downsize_rgb,
    kernel_preset,
    preset_sizes,
    sample_matrix,
    seeded_kernels,
)
from cnnviz.analysis.conv.size import (
    LectureQuiz,
    SizeFormula,
    conv_output_size,
    input_coverage,
    lecture_quiz,
    pool_output_size,
    size_formula,
    transposed_output_size,
)
from cnnviz.analysis.conv.steps import ConvStep, ConvSteps, conv2d_steps, flip_kernel, lecture_example

__all__ = [
    "ERROR_MESSAGES",
    "KERNEL_PRESETS",
    "PADDING_MODES",
    "POOL_KINDS",
    "ConvMulti",
    "ConvSettingsError",
    "ConvStep",
    "ConvSteps",
    "FCResult",
    "LectureQuiz",
    "PaddingMode",
    "PoolKind",
    "PoolResult",
    "PoolStep",
    "SizeFormula",
    "conv2d_multi",
    "conv2d_steps",
    "conv_output_size",
    "downsize_gray",
    "downsize_rgb",
    "fc_demo",
    "fc_weights",
    "flip_kernel",
    "global_average_pool",
    "input_coverage",
    "kernel_preset",
    "lecture_example",
    "lecture_quiz",
    "pool2d",
    "pool_output_size",
    "preset_sizes",
    "sample_matrix",
    "seeded_kernels",
    "size_formula",
    "transposed_output_size",
]

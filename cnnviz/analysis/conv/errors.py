"""Impossible convolution settings: one error type, and the English sentence of every error by key.

Every function of `cnnviz.analysis.conv` raises `ConvSettingsError` (a `ValueError`) for a setting that
cannot work. Its message is one sentence naming the bad argument; its `key`/`params` let a page show the same
sentence in another language (the Korean ones live in `cnnviz/ui/text.py` under `converr.<key>`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ERROR_MESSAGES", "ConvSettingsError"]

# English templates of every error sentence, by key. A page may look the key up in its own table (Korean) and
# fill it with `err.params`; `str(err)` is always the English sentence.
ERROR_MESSAGES: dict[str, str] = {
    "not_integer": "The {name} must be a whole number, got {value!r}.",
    "input_size": "The input size must be at least 1, got {value}.",
    "kernel_size": "The kernel size must be at least 1, got {value}.",
    "stride": "The stride must be at least 1, got {value}.",
    "padding": "The padding must be 0 or more, got {value}.",
    "dilation": "The dilation must be at least 1, got {value}.",
    "kernel_too_large": (
        "The kernel (size {kernel}, dilation {dilation}, so it spans {span}) is larger than the padded input "
        "({size} + 2×{padding} = {padded})."
    ),
    "pool_too_large": "The pooling window ({kernel}×{kernel}) is larger than the input ({size}×{size}).",
    "pool_padding": (
        "Pooling padding must be at most half the kernel size in PyTorch, got padding {padding} "
        "with kernel {kernel}."
    ),
    "output_padding": (
        "The output padding must be 0 or more and smaller than the stride or the dilation, got {value} "
        "with stride {stride} and dilation {dilation}."
    ),
    "transposed_too_small": "These settings make the transposed convolution's output size {value}, below 1.",
    "empty": "The {name} is empty.",
    "ndim": "The {name} must be {expected}, got an array of shape {shape}.",
    "not_finite": "The {name} contains values that are not finite numbers (NaN or infinity).",
    "kernel_not_square": "The kernel must be square, got {rows}×{cols}.",
    "channels_mismatch": "The kernel has {kernel_channels} channel(s) but the input has {input_channels}.",
    "padding_mode": "The padding mode must be one of {choices}, got {value!r}.",
    "reflect_padding": (
        "Reflect padding must be smaller than the input size (PyTorch's rule), got padding {padding} "
        "for a {rows}×{cols} input."
    ),
    "circular_padding": (
        "Circular padding must not be larger than the input size (PyTorch's rule), got padding {padding} "
        "for a {rows}×{cols} input."
    ),
    "pool_kind": "The pooling kind must be one of {choices}, got {value!r}.",
    "avg_dilation": "Average pooling has no dilation in PyTorch, got dilation {value}.",
    "bias_shape": "The bias must hold {expected} number(s), got shape {shape}.",
    "fc_weight_shape": (
        "The FC weight must have {expected} columns (one per flattened value), got shape {shape}."
    ),
    "preset_unknown": "Unknown kernel preset {value!r}; choose one of {choices}.",
    "preset_size": "The {name} kernel is defined for sizes {sizes}, got {value}.",
    "image_size": "The matrix size must be between 1 and {maximum}, got {value}.",
    "count": "The {name} must be at least 1, got {value}.",
}

_MAX_IMAGE_SIZE = 256


class ConvSettingsError(ValueError):
    """An impossible convolution, pooling or FC setting; `str(err)` is one plain sentence.

    Attributes:
        key: Stable identifier of the sentence (a key of `ERROR_MESSAGES`), for translation.
        params: The values filled into the sentence.
    """

    def __init__(self, key: str, **params: Any) -> None:
        self.key = key
        self.params = params
        super().__init__(ERROR_MESSAGES[key].format(**params))

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the error picklable (e.g. across processes) although __init__ takes keywords.
        return (_rebuild_error, (self.key, self.params))


def _rebuild_error(key: str, params: dict[str, Any]) -> ConvSettingsError:
    return ConvSettingsError(key, **params)

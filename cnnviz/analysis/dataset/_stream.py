"""What every analysis over an image set shares: checking and moving batches, in-hook reduction, outputs.

A set arrives as any iterable of batches `(paths, x, labels)`: `paths` a list of N strings naming the
images, `x` an (N, C, H, W) tensor already preprocessed for the model, `labels` an (N,) integer tensor of
class indices or None. `cnnviz.imagesets` makes them from folders and zips; tests make them from random
tensors. Nothing here keeps a batch after it is processed, so memory does not grow with the set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

from cnnviz.hooks import model_lock

Batch = tuple[Sequence[str], Tensor, Tensor | None]
"""One batch of an image set: (paths, x (N, C, H, W), labels (N,) or None)."""

Progress = Callable[[int], None]
"""Called after each batch with the number of images done so far (for a progress bar)."""


def check_model(model: Any, name: str = "model") -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(model).__name__}.")
    return model


def model_device(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Where the model's first floating-point parameter (or buffer) lives, and its dtype."""
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.device, tensor.dtype
    return torch.device("cpu"), torch.float32


def stream(
    model: nn.Module,
    batches: Iterable[Batch],
    *,
    labels: bool | None = None,
    progress: Progress | None = None,
) -> Iterator[tuple[list[str], Tensor, Tensor | None]]:
    """Checks each batch and yields it moved to the model's device and dtype.

    Args:
        model: The model the batches are for.
        batches: Iterable of (paths, x, labels).
        labels: True: every batch must have labels; False: labels are ignored (yielded as None); None: take
            them as they come, but all batches alike.
        progress: Called with the number of images done after each batch.

    Yields:
        (paths, x on the model's device, labels as an int64 CPU tensor or None).

    Raises:
        TypeError/ValueError: a batch is not (paths, x, labels) of matching lengths, or no batch had images.
    """
    if isinstance(batches, Tensor | str | bytes):
        raise TypeError(
            f"batches must be an iterable of (paths, x, labels) batches, got {type(batches).__name__}."
        )
    device, dtype = model_device(model)
    done = 0
    labelled: bool | None = None
    for index, batch in enumerate(batches):
        paths, x, y = _check_batch(batch, index)
        if labels is False:
            y = None
        elif labels is True and y is None:
            raise ValueError(
                f"batch {index} has no labels; this analysis needs a labelled set (class folders)."
            )
        if labelled is None:
            labelled = y is not None
        elif labelled != (y is not None):
            raise ValueError(
                f"batch {index} is {'un' if y is None else ''}labelled but the batches before it are not."
            )
        if not paths:
            continue
        yield paths, x.to(device=device, dtype=dtype), y
        done += len(paths)
        if progress is not None:
            progress(done)
    if done == 0:
        raise ValueError("batches held no images: the set is empty.")


def _check_batch(batch: Any, index: int) -> tuple[list[str], Tensor, Tensor | None]:
    if not isinstance(batch, tuple | list) or len(batch) != 3:
        raise TypeError(
            f"batch {index} must be a tuple (paths, x, labels), got {type(batch).__name__}"
            + (f" of length {len(batch)}" if isinstance(batch, tuple | list) else "")
            + "."
        )
    paths, x, y = batch
    if (
        isinstance(paths, str)
        or not isinstance(paths, Sequence)
        or not all(isinstance(p, str) for p in paths)
    ):
        raise TypeError(f"batch {index}: paths must be a list of strings, got {type(paths).__name__}.")
    if not isinstance(x, Tensor) or x.dim() < 2:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"batch {index}: x must be a tensor of shape (N, C, H, W), got {shape}.")
    if not x.is_floating_point():
        raise TypeError(f"batch {index}: x must be a preprocessed floating-point tensor, got {x.dtype}.")
    if x.shape[0] != len(paths):
        raise ValueError(f"batch {index}: x holds {x.shape[0]} images but paths names {len(paths)}.")
    if y is not None:
        if not isinstance(y, Tensor) or y.dim() != 1 or y.shape[0] != len(paths):
            shape = tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__
            raise ValueError(f"batch {index}: labels must be None or a ({len(paths)},) tensor, got {shape}.")
        if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
            raise ValueError(f"batch {index}: labels must be integer class indices, got {y.dtype}.")
        y = y.detach().to("cpu", torch.int64)
    return list(paths), x.detach(), y


def first_tensor(output: Any) -> Tensor | None:
    """The first tensor of a module's output, depth-first (as `cnnviz.hooks` records it)."""
    if isinstance(output, Tensor):
        return output
    if isinstance(output, Mapping):
        output = list(output.values())
    if isinstance(output, tuple | list):
        for item in output:
            found = first_tensor(item)
            if found is not None:
                return found
    return None


def logits_of(output: Any, what: str = "the model") -> Tensor:
    """The (N, K) class scores in a model's output (a tensor, or the first tensor of a tuple/dict)."""
    logits = first_tensor(output)
    if logits is None or logits.dim() != 2 or not logits.is_floating_point():
        shape = tuple(logits.shape) if logits is not None else type(output).__name__
        raise ValueError(f"{what} must return class scores of shape (N, K), got {shape}.")
    return logits


@contextmanager
def hooked(
    model: nn.Module, names: Sequence[str], hook: Callable[[str, nn.Module, Any, Any], None]
) -> Iterator[None]:
    """Registers `hook(name, module, args, output)` as a forward hook on each named module for the block.

    The hook reduces what it sees at once and returns None (the output flows on unchanged); the handles are
    removed in `finally`, and `model_lock(model)` is held for the block.
    """
    modules = dict(model.named_modules())
    with model_lock(model):
        handles = []
        try:
            for name in names:
                handles.append(modules[name].register_forward_hook(partial(_call, hook, name)))
            yield
        finally:
            for handle in handles:
                handle.remove()


def _call(
    hook: Callable[[str, nn.Module, Any, Any], None], name: str, module: nn.Module, args: Any, output: Any
) -> None:
    hook(name, module, args, output)

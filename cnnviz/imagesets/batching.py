"""Streaming a set through a model's transform a batch at a time (`batches`, `Batch`, `Batches`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Final, NamedTuple

from PIL import Image

from cnnviz.images import ImageError
from cnnviz.imagesets.items import ImageSet

if TYPE_CHECKING:
    import torch


__all__ = ["Batch", "Batches", "batches"]


# ---------------------------------------------------------------------------------------------- batches


class Batch(NamedTuple):
    """One step of `batches`.

    Attributes:
        paths: The images' paths in the set, in order.
        images: ``(N, C, H, W)``, the transform's outputs stacked.
        labels: ``(N,)`` int64 labels, or None for an unlabelled set.
    """

    paths: tuple[str, ...]
    images: torch.Tensor
    labels: torch.Tensor | None


class Batches(Iterator[Batch]):
    """The stream `batches` returns: iterate it for `Batch`es, read its counters for a progress bar.

    Attributes:
        total: How many items the set has.
        done: How many items have been tried so far (decoded or skipped).
        yielded: How many images have been yielded.
        skipped: Items that failed to decode, by reason (keys of `SKIP_REASONS`).
        failures: ``(path, sentence)`` of the first failures (at most 100), for a page to list.
    """

    _MAX_FAILURES: Final[int] = 100

    def __init__(
        self,
        image_set: ImageSet,
        transform: Callable[[Image.Image], torch.Tensor],
        batch_size: int,
    ) -> None:
        if not isinstance(image_set, ImageSet):
            raise TypeError(f"image_set must be an ImageSet, got {type(image_set).__name__}")
        if not callable(transform):
            raise TypeError(f"transform must be a function of a PIL image, got {type(transform).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.image_set = image_set
        self.transform = transform
        self.batch_size = batch_size
        self.total = len(image_set)
        self.done = 0
        self.yielded = 0
        self.skipped: dict[str, int] = {}
        self.failures: list[tuple[str, str]] = []

    def __next__(self) -> Batch:
        import torch

        items = self.image_set.items
        paths: list[str] = []
        tensors: list[torch.Tensor] = []
        labels: list[int] = []
        while len(paths) < self.batch_size and self.done < self.total:
            item = items[self.done]
            self.done += 1
            try:
                image = item.load(max_pixels=self.image_set.limits.max_pixels)
            except ImageError as err:
                self._skip(item.path, _IMAGE_ERROR_REASON.get(err.key, "damaged"), str(err))
                continue
            tensor = self.transform(image)
            if not isinstance(tensor, torch.Tensor) or tensor.ndim != 3:
                got = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
                raise TypeError(f"transform must return a (C, H, W) tensor, got {got} for {item.path!r}")
            if tensors and tensor.shape != tensors[0].shape:
                raise ValueError(
                    f"transform must give every image one shape, got {tuple(tensors[0].shape)} for "
                    f"{paths[0]!r} and {tuple(tensor.shape)} for {item.path!r}"
                )
            paths.append(item.path)
            tensors.append(tensor)
            if item.label is not None:
                labels.append(item.label)
        if not paths:
            raise StopIteration
        self.yielded += len(paths)
        stacked = torch.stack(tensors)
        label_tensor = torch.tensor(labels, dtype=torch.int64) if self.image_set.labelled else None
        return Batch(tuple(paths), stacked, label_tensor)

    def _skip(self, path: str, reason: str, sentence: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        if len(self.failures) < self._MAX_FAILURES:
            self.failures.append((path, sentence))


# ImageError.key -> skip reason
_IMAGE_ERROR_REASON: Final[dict[str, str]] = {
    "empty": "empty",
    "not_found": "unreadable",
    "unreadable": "unreadable",
    "not_image": "not_image",
    "truncated": "damaged",
    "zero_size": "not_image",
    "too_large": "too_large",
    "unsupported_mode": "not_image",
    "bad_array": "damaged",
}


def batches(
    image_set: ImageSet,
    transform: Callable[[Image.Image], torch.Tensor],
    batch_size: int = 32,
) -> Batches:
    """Stream a set through a model's transform, a batch at a time; memory holds one batch.

    Args:
        image_set: The set.
        transform: Maps an RGB PIL image to a ``(C, H, W)`` tensor (a `LoadedModel`'s ``transform``).
        batch_size: Images per batch; the last batch may be smaller.

    Returns:
        An iterator of `Batch` ``(paths, images (N, C, H, W), labels (N,) or None)``, in the set's order.
        An image that fails to decode is left out and counted in its ``skipped`` and ``failures``; a batch
        is never empty, and a set whose images all fail yields nothing.

    Raises:
        TypeError: ``transform`` is not callable or returns no ``(C, H, W)`` tensor.
        ValueError: ``batch_size`` is not a positive integer, or the transform gives images of one batch
            different shapes.
    """
    return Batches(image_set, transform, batch_size)

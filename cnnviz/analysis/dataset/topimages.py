"""Which images make a channel fire: each channel's top-k images over a set (Microscope-style).

For a chosen layer, an image's score for channel c is the channel's spatial maximum, max over the positions
of the layer's output (N, C, *grid) for that image; its position is the first grid position holding that
maximum (in row-major order). Each channel keeps its k best images, best first, ties broken by path
(ascending), an image whose score is NaN ranking below every number. The ranking is kept while the set
streams by (the k best so far, merged with each batch), so memory depends on k and the channel count, never
on the number of images, and the answer does not depend on how the set is split into batches.

Each kept image also gets the receptive-field box of its arg-max position on the input
(`receptive.receptive_grid`), for the crop a page shows. A module called several times in one forward pass is
scored on its last call, as `cnnviz.hooks` records it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from cnnviz.analysis.dataset._stream import Batch, Progress, check_model, first_tensor, hooked, stream
from cnnviz.analysis.dataset.receptive import ReceptiveGrid, receptive_grid
from cnnviz.hooks import Layer, capture, layer_name

__all__ = ["TopImage", "TopImages", "top_images"]


class TopImage(NamedTuple):
    """One of a channel's top images.

    Attributes:
        path: The image's path as the batch named it.
        score: The channel's spatial maximum on that image.
        position: Grid position of the maximum, e.g. (row, column); () for a layer without spatial layout.
        box: Receptive field of that position on the input, (y0, x0, y1, x1), half-open, clipped to the image.
    """

    path: str
    score: float
    position: tuple[int, ...]
    box: tuple[int, ...]


@dataclass(frozen=True)
class TopImages:
    """Each channel's top-k images of one layer over a set.

    Attributes:
        layer: Module name.
        k: The k asked for; each channel holds min(k, images) entries.
        images: Number of images seen.
        paths: (C, k') str, best first.
        scores: (C, k') float64 spatial maxima.
        positions: (C, k', D) int64 grid positions of the maxima (D = 0 without spatial layout).
        boxes: (C, k', 2·D_in) int64 receptive-field boxes (y0, x0, y1, x1), half-open.
        grid_size: Spatial size of the layer's output, e.g. (14, 14).
        input_size: Spatial size of the input, e.g. (224, 224) (of the last batch when sizes vary).
    """

    layer: str
    k: int
    images: int
    paths: np.ndarray
    scores: np.ndarray
    positions: np.ndarray
    boxes: np.ndarray
    grid_size: tuple[int, ...]
    input_size: tuple[int, ...]

    @property
    def channels(self) -> int:
        """Number of channels C."""
        return int(self.scores.shape[0])

    def channel(self, c: int) -> list[TopImage]:
        """Channel c's top images, best first."""
        if not 0 <= c < self.channels:
            raise ValueError(f"channel must be in 0..{self.channels - 1}, got {c}.")
        return [
            TopImage(
                str(self.paths[c, i]),
                float(self.scores[c, i]),
                tuple(int(v) for v in self.positions[c, i]),
                tuple(int(v) for v in self.boxes[c, i]),
            )
            for i in range(self.paths.shape[1])
        ]


def top_images(
    model: nn.Module,
    batches: Iterable[Batch],
    layer: Layer,
    *,
    k: int = 9,
    progress: Progress | None = None,
) -> TopImages:
    """Streams a set through `model` and keeps each channel of `layer` its k top images.

    Args:
        model: Any module; run in eval mode under `torch.no_grad()`, its state restored afterwards.
        batches: Iterable of (paths, x (N, C, H, W), labels or None); labels are not used.
        layer: Module name (from `model.named_modules()`) or the module object; its output must be
            (N, C, ...).
        k: Images kept per channel.
        progress: Called with the number of images done after each batch.

    Raises:
        ValueError: bad k, unknown layer, an output without a channel axis, an empty set.
    """
    check_model(model)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")
    name = layer_name(model, layer)
    ranking = _Ranking(k)
    grids: dict[tuple[int, ...], ReceptiveGrid] = {}
    seen: dict[str, Any] = {}

    def hook(_name: str, _module: nn.Module, _args: Any, output: Any) -> None:
        out = first_tensor(output)
        if out is None or out.dim() < 2 or not out.is_floating_point():
            shape = tuple(out.shape) if out is not None else type(output).__name__
            raise ValueError(f"layer {name!r} must output (N, C, ...) floating-point values, got {shape}.")
        flat = out.detach().reshape(out.shape[0], out.shape[1], -1)
        score, where = flat.max(dim=2)  # first maximum in row-major order
        seen["score"], seen["where"], seen["shape"] = score, where, tuple(out.shape[2:])

    images = 0
    input_size: tuple[int, ...] = ()
    for paths, x, _ in stream(model, batches, labels=False, progress=progress):
        size = tuple(int(v) for v in x.shape[2:])
        if size not in grids:
            grids[size] = receptive_grid(model, name, x)
        grid = grids[size]
        seen.clear()
        with capture(model, [], store=False), hooked(model, [name], hook), torch.no_grad():
            model.eval()
            model(x)
        if "score" not in seen:
            raise ValueError(f"layer {name!r} did not run in the model's forward pass.")
        scores = seen["score"].double().cpu().numpy().T  # (C, N)
        shape = tuple(int(v) for v in seen["shape"])
        flat = seen["where"].cpu().numpy()  # (N, C)
        positions = np.stack(np.unravel_index(flat, shape), axis=-1) if shape else flat[..., None][..., :0]
        positions = positions.transpose(1, 0, 2)  # (C, N, D)
        if shape != grid.grid_size:
            raise ValueError(
                f"layer {name!r} output grid {shape} does not match its traced grid {grid.grid_size}."
            )
        ranking.add(np.asarray(paths), scores, positions, grid.boxes(positions))
        images += len(paths)
        input_size = size
    return ranking.result(name, images, grids[input_size].grid_size, input_size)


class _Ranking:
    """Running top-k per channel: the k best so far, merged with each batch by one lexicographic sort."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.paths: np.ndarray | None = None
        self.scores = np.empty((0, 0))
        self.positions = np.empty((0, 0, 0), dtype=np.int64)
        self.boxes = np.empty((0, 0, 0), dtype=np.int64)

    def add(self, paths: np.ndarray, scores: np.ndarray, positions: np.ndarray, boxes: np.ndarray) -> None:
        channels = scores.shape[0]
        batch_paths = np.broadcast_to(paths.astype(str), (channels, len(paths)))
        if self.paths is None:
            all_paths, all_scores, all_positions, all_boxes = batch_paths, scores, positions, boxes
        else:
            if self.scores.shape[0] != channels:
                raise ValueError(
                    f"the layer's channel count changed from {self.scores.shape[0]} to {channels}."
                )
            all_paths = np.concatenate([self.paths, batch_paths], axis=1)
            all_scores = np.concatenate([self.scores, scores], axis=1)
            all_positions = np.concatenate([self.positions, positions], axis=1)
            all_boxes = np.concatenate([self.boxes, boxes], axis=1)
        missing = np.isnan(all_scores)
        # Last key first: NaN last, then higher score first, then path ascending.
        order = np.lexsort((all_paths, -np.where(missing, 0.0, all_scores), missing), axis=1)[:, : self.k]
        self.paths = np.take_along_axis(all_paths, order, axis=1)
        self.scores = np.take_along_axis(all_scores, order, axis=1)
        self.positions = np.take_along_axis(all_positions, order[..., None], axis=1)
        self.boxes = np.take_along_axis(all_boxes, order[..., None], axis=1)

    def result(self, name: str, images: int, grid: tuple[int, ...], size: tuple[int, ...]) -> TopImages:
        assert self.paths is not None
        paths, scores = self.paths.astype(object), self.scores.astype(np.float64)
        for a in (paths, scores, self.positions, self.boxes):
            a.setflags(write=False)
        return TopImages(name, self.k, images, paths, scores, self.positions, self.boxes, grid, size)

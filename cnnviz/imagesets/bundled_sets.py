"""The sets that ship with cnnviz, drawn in memory (`bundled`, `BUNDLED`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final

from PIL import Image

from cnnviz.images import from_array, load_sample
from cnnviz.imagesets.errors import ImageSetError
from cnnviz.imagesets.items import ImageItem, ImageSet

__all__ = ["BUNDLED", "bundled"]


BUNDLED: Final[tuple[str, ...]] = ("digits", "shapes", "samples")
"""Names `bundled` takes."""


# ---------------------------------------------------------------------------------------------- bundled


def bundled(name: str) -> ImageSet:
    """A set that ships with cnnviz, drawn in memory the same way every time (one build per process).

    - ``"digits"``: 200 held-out digits for LeNet-5, the first 20 of each class in the held-out part of
      `cnnviz.data.digits.split_digits()` (seed 0, 20 %), as 32×32 pictures the way
      `cnnviz.images.load_sample` draws ``"digit-N"`` (4× nearest neighbour, bright ink on black);
      classes ``"0"`` … ``"9"``; paths ``"<digit>/<index in the held-out part>.png"``.
    - ``"shapes"``: 180 held-out shapes for the mini classifiers, the first 180 images of
      `cnnviz.models.mini.held_out_set` (seeds ``shapes.HELD_OUT_START + i``); classes `shapes.CLASSES` in
      the models' order; paths ``"<class>/<seed>.png"``.
    - ``"samples"``: the 8 sample photos of `cnnviz.images` for MobileNetV2, each whole (``"<name>.png"``)
      and as its four quarters (``"<name>-q1.png"`` … ``"-q4"``, row by row): 40 images, unlabelled, since
      several photos show no single ImageNet class.

    Raises:
        ImageSetError: ``name`` is none of `BUNDLED` (key ``"unknown_bundled"``).
    """
    if name not in BUNDLED:
        raise ImageSetError(
            f"There is no bundled image set named {name!r}; the bundled sets are {', '.join(BUNDLED)}.",
            key="unknown_bundled",
            params={"name": name, "names": ", ".join(BUNDLED)},
        )
    return _bundled(name)


@functools.cache
def _bundled(name: str) -> ImageSet:
    build = {"digits": _digits, "shapes": _shapes, "samples": _samples}[name]
    items, classes = build()
    return ImageSet(items, classes, {}, name, f"bundled:{name}:1")


_DIGITS_PER_CLASS: Final[int] = 20
_SHAPES_COUNT: Final[int] = 180


@dataclass(frozen=True, eq=False)
class _Drawn:
    """A picture drawn once, when the bundled set was built (module level, so a set pickles)."""

    image: Image.Image

    def __call__(self) -> Image.Image:
        return self.image


def _digits() -> tuple[tuple[ImageItem, ...], tuple[str, ...]]:
    import numpy as np

    from cnnviz.data.digits import CLASSES, IMAGE_SIZE, split_digits

    split = split_digits()
    items: list[ImageItem] = []
    for digit in range(len(CLASSES)):
        rows = np.flatnonzero(split.held_out_labels == digit)[:_DIGITS_PER_CLASS]
        for row in rows:
            grey = np.rint(split.held_out_grids[row].astype(np.float64) * 255.0).astype(np.uint8)
            scale = IMAGE_SIZE // grey.shape[0]
            picture = from_array(np.kron(grey, np.ones((scale, scale), np.uint8)))
            items.append(ImageItem(f"{CLASSES[digit]}/{int(row):03d}.png", digit, _Drawn(picture)))
    return tuple(sorted(items, key=lambda item: item.path)), CLASSES


def _shapes() -> tuple[tuple[ImageItem, ...], tuple[str, ...]]:
    from cnnviz.data import shapes

    items: list[ImageItem] = []
    for seed in shapes.held_out_seeds(_SHAPES_COUNT):
        sample = shapes.classification_sample(seed)
        label = int(sample.instances[0].label)
        picture = from_array(sample.image)
        items.append(ImageItem(f"{shapes.CLASSES[label]}/{seed}.png", label, _Drawn(picture)))
    return tuple(sorted(items, key=lambda item: item.path)), shapes.CLASSES


@dataclass(frozen=True)
class _SamplePart:
    """A sample photo (quarter 0) or one of its quarters (1 to 4, row by row), loaded when asked."""

    name: str
    quarter: int

    def __call__(self) -> Image.Image:
        photo = load_sample(self.name)
        if self.quarter == 0:
            return photo
        row, col = divmod(self.quarter - 1, 2)
        width, height = photo.width // 2, photo.height // 2
        return photo.crop((col * width, row * height, (col + 1) * width, (row + 1) * height))


def _samples() -> tuple[tuple[ImageItem, ...], tuple[str, ...]]:
    from cnnviz.images import sample_names

    items = [ImageItem(f"{name}.png", None, _SamplePart(name, 0)) for name in sample_names("photo")]
    items += [
        ImageItem(f"{name}-q{quarter}.png", None, _SamplePart(name, quarter))
        for name in sample_names("photo")
        for quarter in range(1, 5)
    ]
    return tuple(sorted(items, key=lambda item: item.path)), ()

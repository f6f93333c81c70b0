"""The set and its items (`ImageSet`, `ImageItem`) and the ImageFolder layout rule that labels them."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Final

from PIL import Image, UnidentifiedImageError

from cnnviz.images import DEFAULT_MAX_PIXELS, _allowed_formats, load_image
from cnnviz.imagesets.errors import ImageSetError, _ordered, describe_skipped
from cnnviz.imagesets.limits import ZIP_LIMITS, Limits

if TYPE_CHECKING:
    from cnnviz.imagesets.folders import _FolderFile

__all__ = ["ImageItem", "ImageSet"]


# What Pillow's plugins raise on malformed data (as in cnnviz.images); MemoryError and the like pass.
_DECODE_ERRORS: Final = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error)


# ---------------------------------------------------------------------------------------------- the set


@dataclass(frozen=True, eq=False)
class ImageItem:
    """One image of a set.

    Attributes:
        path: POSIX path relative to the set's root (``"cat/001.png"``); unique within the set.
        label: Index into the set's ``classes``, or None in an unlabelled set.
        source: The encoded bytes (a zip member), or a function that reads them (a folder's file) or draws
            the image (a bundled one).
    """

    path: str
    label: int | None
    source: bytes | Callable[[], bytes | Image.Image] = field(repr=False)

    def load(self, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
        """The decoded RGB image, a new copy each time.

        Raises:
            ImageError: The file cannot be decoded (see `cnnviz.images.load_image`), or a folder's file is
                gone, changed into a link or larger than the set's limit (key ``"unreadable"`` or
                ``"too_large"``).
        """
        data = self.source if isinstance(self.source, bytes) else self.source()
        if isinstance(data, Image.Image):
            return data.copy()
        return load_image(data, max_pixels=max_pixels)


@dataclass(frozen=True, eq=False)
class ImageSet:
    """Images to run a model over, sorted by path.

    Attributes:
        items: The images, sorted by ``path``.
        classes: Class names (a label indexes them); ``()`` when the set is unlabelled.
        skipped: How many files were left out, by reason (keys of `SKIP_REASONS`, only non-zero counts).
        name: What the set is called in sentences: the folder or zip file's name, or the bundled name.
        fingerprint: A hex digest that changes whenever the set's content may have, for cache keys.
        limits: The limits it was read with (``max_pixels`` applies when its images are decoded).
    """

    items: tuple[ImageItem, ...]
    classes: tuple[str, ...]
    skipped: Mapping[str, int]
    name: str
    fingerprint: str
    limits: Limits = ZIP_LIMITS

    @property
    def labelled(self) -> bool:
        """True when every item has a label."""
        return bool(self.classes)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(item.path for item in self.items)

    @property
    def labels(self) -> tuple[int, ...] | None:
        """Every item's label in order, or None for an unlabelled set."""
        if not self.labelled:
            return None
        return tuple(int(item.label) for item in self.items if item.label is not None)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[ImageItem]:
        return iter(self.items)

    def __getitem__(self, index: int) -> ImageItem:
        return self.items[index]

    def item(self, path: str) -> ImageItem:
        """The item at ``path``.

        Raises:
            KeyError: No item has that path.
        """
        found = self._by_path().get(path)
        if found is None:
            raise KeyError(f"no image {path!r} in the set {self.name!r}")
        return found

    def load(self, path: str) -> Image.Image:
        """The decoded image at ``path``, with the set's pixel limit (see `ImageItem.load`)."""
        return self.item(path).load(max_pixels=self.limits.max_pixels)

    def _by_path(self) -> dict[str, ImageItem]:
        cached: dict[str, ImageItem] | None = self.__dict__.get("_index")
        if cached is None:
            cached = {item.path: item for item in self.items}
            object.__setattr__(self, "_index", cached)
        return cached


# ---------------------------------------------------------------------------------------------- layout


@dataclass
class _Candidate:
    path: str  # relative POSIX path, root wrapper removed
    source: bytes | _FolderFile


class _Tally:
    """Counts of skipped files by reason."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, reason: str, n: int = 1) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + n

    def ordered(self) -> dict[str, int]:
        return {reason: self.counts[reason] for reason in _ordered(self.counts)}


def _hidden(parts: Sequence[str]) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


def _assemble(
    candidates: list[_Candidate], tally: _Tally, *, name: str, fingerprint: str, limits: Limits
) -> ImageSet:
    """Candidates (already known to be images) -> labelled or unlabelled set, by the ImageFolder rule."""
    nested = [c for c in candidates if "/" in c.path]
    chosen: list[tuple[_Candidate, int | None]]
    if nested:
        if len(nested) < len(candidates):
            tally.add("unlabelled", len(candidates) - len(nested))
        classes = tuple(sorted({c.path.split("/", 1)[0] for c in nested}))
        index = {class_name: i for i, class_name in enumerate(classes)}
        chosen = [(c, index[c.path.split("/", 1)[0]]) for c in nested]
    else:
        classes = ()
        chosen = [(c, None) for c in candidates]
    items = tuple(
        ImageItem(c.path, label, c.source) for c, label in sorted(chosen, key=lambda pair: pair[0].path)
    )
    if not items:
        skipped = tally.ordered()
        described = describe_skipped(skipped) if skipped else "no files at all"
        raise ImageSetError(
            f"Nothing in {name!r} is an image cnnviz can use (skipped: {described}).",
            key="nothing_usable",
            params={"name": name, "skipped": skipped},
        )
    return ImageSet(items, classes, tally.ordered(), name, fingerprint, limits)


def _identify(data: IO[bytes], limits: Limits) -> str | None:
    """None when the header is an image cnnviz reads within the pixel limit, else the skip reason."""
    try:
        with Image.open(data, formats=_allowed_formats()) as opened:
            width, height = opened.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "too_large"
    except UnidentifiedImageError:
        return "not_image"
    except _DECODE_ERRORS:
        return "damaged"
    if width <= 0 or height <= 0:
        return "not_image"
    if width * height > limits.max_pixels:
        return "too_large"
    return None

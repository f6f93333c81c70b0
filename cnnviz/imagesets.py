"""Image sets: many images from a folder, a zip upload or a bundled set, streamed in batches.

An `ImageSet` is a sorted list of `ImageItem` (a POSIX path relative to the set's root, a label or None, and
the means to decode it with `cnnviz.images.load_image`), the class names when it is labelled, and a count of
what was skipped, by reason (`SKIP_REASONS`). `batches` streams it through a model's transform as
``(paths, (N, C, H, W) tensor, labels)``; an image that fails to decode is skipped and counted, never fatal.

Where sets come from:

- `from_folder` (the command line), `from_zip` (an upload in the app), `from_path` (either, by what the path
  is);
- `bundled` (no upload): ``"digits"``, 200 held-out digits for LeNet-5; ``"shapes"``, 180 held-out shapes
  for the mini classifiers; ``"samples"``, the 8 sample photos for MobileNetV2 with their quarters (40).

Layout (torchvision's ``ImageFolder``): images inside first-level subfolders make the set labelled, each
subfolder a class (deeper folders belong to their first-level folder's class); ``classes`` are the subfolder
names sorted as Python sorts strings, and a label is an index into them. Images lying directly in the root
make the set unlabelled, but only when no subfolder holds an image: in a mix, the loose root images are
skipped and counted as ``"unlabelled"``, as ``ImageFolder`` ignores them. A subfolder without any image is
no class. A zip whose files all sit inside one folder (what zipping a folder makes) is read from inside that
folder, so a zip of one class folder is an unlabelled set. Bundled sets keep their model's class order, so a
label is the model's output index.

A zip is hostile until proven otherwise. Its members are read into memory (never extracted); member names
with ``..``, a leading ``/``, a drive letter or a backslash, and symbolic links (by their mode bits), are
skipped and counted; the member count, each member's size, the total uncompressed size and each member's
compression ratio are limited (`Limits`), from the headers before anything is read and again while reading,
since headers can lie. Folders get the same rules: symbolic links are never followed (not even to inside the
folder), special files are never opened. A set with nothing usable is an `ImageSetError`, whose text is one
plain English sentence and whose ``key`` lets the UI show it in Korean, like `cnnviz.images.ImageError`.

Membership is decided from each file's header (what Pillow identifies, and its width × height), not by
decoding every pixel, so opening a set stays quick; a file that is damaged further in is skipped (reason
``"damaged"``) when `batches` decodes it.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, NamedTuple

from PIL import Image, UnidentifiedImageError

from cnnviz.images import (
    DEFAULT_MAX_PIXELS,
    ImageError,
    _allowed_formats,
    from_array,
    load_image,
    load_sample,
)

if TYPE_CHECKING:
    import torch

__all__ = [
    "BUNDLED",
    "ERROR_KEYS",
    "FOLDER_LIMITS",
    "SKIP_REASONS",
    "ZIP_LIMITS",
    "Batch",
    "Batches",
    "ImageItem",
    "ImageSet",
    "ImageSetError",
    "Limits",
    "batches",
    "bundled",
    "describe_skipped",
    "from_folder",
    "from_path",
    "from_zip",
]

ERROR_KEYS: Final[tuple[str, ...]] = (
    "not_found",
    "not_folder",
    "not_zip",
    "empty",
    "too_many_members",
    "too_large",
    "bomb",
    "nothing_usable",
    "unknown_bundled",
)
"""Every `ImageSetError.key`; the UI translates each as ``setserr.<key>`` with the error's ``params``."""

SKIP_REASONS: Final[dict[str, str]] = {
    "unsafe_path": "unsafe path (.., absolute, drive letter or backslash)",
    "symlink": "symbolic link",
    "not_regular": "not a regular file",
    "hidden": "hidden",
    "encrypted": "encrypted",
    "duplicate": "duplicate name",
    "unlabelled": "outside the class folders",
    "empty": "empty",
    "too_large": "too large",
    "not_image": "not an image",
    "damaged": "damaged",
    "unreadable": "unreadable",
}
"""Why a file was skipped -> the English words `describe_skipped` uses (the UI's are ``sets.skip.<reason>``),
in the order counts are listed."""

BUNDLED: Final[tuple[str, ...]] = ("digits", "shapes", "samples")
"""Names `bundled` takes."""

_MIB: Final[int] = 2**20
# A zip central-directory entry is 46 bytes plus its name, extra field and comment; 1 KiB per entry on
# average is far above what real archives use, so a larger directory means more entries than allowed.
_MAX_ENTRY_BYTES: Final[int] = 1024
_CHUNK: Final[int] = 64 * 1024
_DRIVE: Final = re.compile(r"^[A-Za-z]:")
# What Pillow's plugins raise on malformed data (as in cnnviz.images); MemoryError and the like pass.
_DECODE_ERRORS: Final = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error)
_ZIP_ERRORS: Final = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, struct.error)


# ---------------------------------------------------------------------------------------------- errors


class ImageSetError(ValueError):
    """A folder or zip cannot be used as an image set; ``str(err)`` is one plain English sentence.

    Attributes:
        key: What went wrong, one of `ERROR_KEYS`.
        params: The values the sentence mentions (``name``, ``limit``, ``skipped`` …), for a translation.
    """

    def __init__(self, message: str, *, key: str, params: Mapping[str, Any] | None = None) -> None:
        if key not in ERROR_KEYS:
            raise ValueError(f"key must be one of {ERROR_KEYS}, got {key!r}")
        super().__init__(message)
        self.key = key
        self.params: dict[str, Any] = dict(params or {})

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_error, (str(self), self.key, self.params))


def _rebuild_error(message: str, key: str, params: dict[str, Any]) -> ImageSetError:
    return ImageSetError(message, key=key, params=params)


def describe_skipped(skipped: Mapping[str, int]) -> str:
    """Skip counts in one line, in `SKIP_REASONS` order: ``{"symlink": 2}`` -> ``"symbolic link: 2"``."""
    return ", ".join(f"{SKIP_REASONS[reason]}: {skipped[reason]:,}" for reason in _ordered(skipped))


def _ordered(skipped: Mapping[str, int]) -> list[str]:
    unknown = set(skipped) - SKIP_REASONS.keys()
    if unknown:
        raise ValueError(f"unknown skip reasons {sorted(unknown)}; known: {list(SKIP_REASONS)}")
    return [reason for reason in SKIP_REASONS if skipped.get(reason, 0) > 0]


def _size(n: int) -> str:
    return f"{n / _MIB:,.1f} MiB"


# ---------------------------------------------------------------------------------------------- limits


@dataclass(frozen=True)
class Limits:
    """How much of a zip or folder is read.

    Attributes:
        max_members: Most entries (files and folders, also skipped ones) a set may have; more is refused.
        max_member_bytes: Largest file read; a larger one is skipped as ``"too_large"``.
        max_total_bytes: Most bytes read in all (zip members are held in memory); more is refused. None: no
            limit (folders are read one file at a time, when batched).
        max_ratio: Largest uncompressed / compressed size of a zip member; more is refused as a zip bomb.
        ratio_floor_bytes: Members up to this uncompressed size are not held to ``max_ratio`` (a tiny blank
            image compresses well and harms nobody).
        max_pixels: Largest width × height of an image, as in `cnnviz.images.load_image`.
    """

    max_members: int = 5_000
    max_member_bytes: int = 32 * _MIB
    max_total_bytes: int | None = 256 * _MIB
    max_ratio: float = 100.0
    ratio_floor_bytes: int = _MIB
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        for name in ("max_members", "max_member_bytes", "ratio_floor_bytes", "max_pixels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        total = self.max_total_bytes
        if total is not None and (isinstance(total, bool) or not isinstance(total, int) or total <= 0):
            raise ValueError(f"max_total_bytes must be a positive integer or None, got {total!r}")
        if not isinstance(self.max_ratio, int | float) or not self.max_ratio >= 1.0:
            raise ValueError(f"max_ratio must be a number of at least 1, got {self.max_ratio!r}")


ZIP_LIMITS: Final[Limits] = Limits()
"""For uploads: 5,000 entries, 32 MiB a member, 256 MiB in all, compression ratio 100 above 1 MiB."""
FOLDER_LIMITS: Final[Limits] = Limits(max_members=200_000, max_total_bytes=None)
"""For folders on the command line: 200,000 entries, 32 MiB a file, no total (files are read when batched)."""


# ---------------------------------------------------------------------------------------------- the set


@dataclass(frozen=True, eq=False)
class _FolderFile:
    """A file of a folder, opened again (never through a symbolic link) each time it is decoded."""

    path: Path
    max_bytes: int

    def __call__(self) -> bytes:
        return _read_file(self.path, self.max_bytes)


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


# ---------------------------------------------------------------------------------------------- zips


def from_zip(
    source: bytes | bytearray | memoryview | str | os.PathLike[str] | IO[bytes],
    *,
    name: str | None = None,
    limits: Limits = ZIP_LIMITS,
) -> ImageSet:
    """Read a zip of images in memory, treating it as hostile.

    Args:
        source: The zip's bytes (an upload), a path to a zip file, or a seekable binary file.
        name: What to call it in sentences (an upload's file name); by default the file's name, or
            ``"upload.zip"``.
        limits: What is read at most (`ZIP_LIMITS` by default).

    Returns:
        The set, with every member's bytes in memory; the zip itself is not kept open.

    Raises:
        ImageSetError: The file is missing (``"not_found"``) or not a zip (``"not_zip"``), holds no files
            (``"empty"``), more entries than allowed (``"too_many_members"``), more bytes than allowed
            (``"too_large"``), a member that expands more than ``limits.max_ratio`` times (``"bomb"``), or
            nothing usable (``"nothing_usable"``, the sentence lists what was skipped).
        TypeError: ``source`` is none of the accepted types.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        return _read_zip(io.BytesIO(data), name or "upload.zip", hashlib.sha1(data).hexdigest(), limits)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        label = name or path.name or os.fspath(source)
        if not path.exists():
            raise _not_found(os.fspath(source))
        if path.is_dir():
            raise ImageSetError(
                f"{label!r} is a folder, not a zip file.", key="not_zip", params={"name": label}
            )
        try:
            fp = path.open("rb")
        except OSError as err:
            raise _not_zip(label) from err
        with fp:
            return _read_zip(fp, label, _file_digest(fp), limits)
    if hasattr(source, "read") and hasattr(source, "seek"):
        label = name or str(getattr(source, "name", "") or "upload.zip")
        source.seek(0)
        return _read_zip(source, label, _file_digest(source), limits)
    raise TypeError(f"source must be bytes, a path or a binary file, got {type(source).__name__}")


def _file_digest(fp: IO[bytes]) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    fp.seek(0)
    while chunk := fp.read(_MIB):
        digest.update(chunk)
    fp.seek(0)
    return digest.hexdigest()


def _not_found(name: str) -> ImageSetError:
    return ImageSetError(
        f"No folder or zip file was found at {name!r}.", key="not_found", params={"name": name}
    )


def _empty(name: str) -> ImageSetError:
    return ImageSetError(f"There are no files in {name!r}.", key="empty", params={"name": name})


def _not_zip(name: str) -> ImageSetError:
    return ImageSetError(
        f"{name!r} is not a zip file, or it is damaged, so no image could be read from it.",
        key="not_zip",
        params={"name": name},
    )


def _too_many(name: str, limit: int) -> ImageSetError:
    return ImageSetError(
        f"{name!r} holds more than {limit:,} files and folders, the most cnnviz reads from one set.",
        key="too_many_members",
        params={"name": name, "limit": limit},
    )


def _too_large(name: str, total: int, limit: int) -> ImageSetError:
    return ImageSetError(
        f"The files in {name!r} add up to more than {_size(limit)} ({_size(total)} or more), the most "
        "cnnviz reads from one set.",
        key="too_large",
        params={"name": name, "size": _size(total), "limit": _size(limit)},
    )


def _check_directory_size(fp: IO[bytes], name: str, limits: Limits) -> None:
    """Refuse too many entries from the end record, before zipfile builds an object for every entry."""
    end_record = getattr(zipfile, "_EndRecData", None)  # private, but what ZipFile itself reads first
    if end_record is None:
        return
    try:
        record = end_record(fp)
    except _ZIP_ERRORS as err:
        raise _not_zip(name) from err
    if record is None:
        raise _not_zip(name)
    entries, directory_bytes = int(record[4]), int(record[5])  # _ECD_ENTRIES_TOTAL, _ECD_SIZE
    if entries > limits.max_members or directory_bytes > limits.max_members * _MAX_ENTRY_BYTES:
        raise _too_many(name, limits.max_members)


def _read_zip(fp: IO[bytes], name: str, fingerprint: str, limits: Limits) -> ImageSet:
    if fp.seek(0, os.SEEK_END) == 0:
        raise _empty(name)
    _check_directory_size(fp, name, limits)
    fp.seek(0)
    try:
        archive = zipfile.ZipFile(fp)
    except _ZIP_ERRORS as err:
        raise _not_zip(name) from err
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_members:  # the end record can understate what the directory holds
            raise _too_many(name, limits.max_members)
        tally = _Tally()
        wanted = _safe_members(infos, tally)
        if not wanted and not tally.counts:
            raise _empty(name)
        _check_headers(wanted, name, limits, tally)
        root = _wrapper(list(wanted))
        candidates: list[_Candidate] = []
        budget = _Budget(limits.max_total_bytes)
        for path, info in wanted.items():
            if info.file_size > limits.max_member_bytes:
                continue  # counted by _check_headers
            try:
                data = _read_member(archive, info, limits, budget, name)
            except ImageSetError:
                raise
            except (_MemberDamaged, zipfile.BadZipFile, EOFError, zlib.error):
                tally.add("damaged")  # a bad CRC, data unlike the header, a broken deflate stream
                continue
            except (NotImplementedError, RuntimeError, OSError, ValueError):
                tally.add("unreadable")  # an unknown compression method, a password after all
                continue
            reason = "empty" if not data else _identify(io.BytesIO(data), limits)
            if reason is not None:
                tally.add(reason)
                continue
            candidates.append(_Candidate(path[len(root) :], data))
    return _assemble(candidates, tally, name=name, fingerprint=fingerprint, limits=limits)


def _safe_members(infos: list[zipfile.ZipInfo], tally: _Tally) -> dict[str, zipfile.ZipInfo]:
    """Regular, unencrypted members with safe, unique, visible names -> {normalised path: info}."""
    wanted: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        raw = info.filename
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            tally.add("symlink")
            continue
        if info.is_dir() or stat.S_ISDIR(mode):
            continue
        if "\\" in raw or "\0" in raw or raw.startswith("/") or _DRIVE.match(raw):
            tally.add("unsafe_path")
            continue
        parts = [part for part in raw.split("/") if part not in ("", ".")]
        if not parts or ".." in parts:
            tally.add("unsafe_path")
            continue
        if mode and stat.S_IFMT(mode) and not stat.S_ISREG(mode):
            tally.add("not_regular")
            continue
        if _hidden(parts):
            tally.add("hidden")
            continue
        if info.flag_bits & 0x1:
            tally.add("encrypted")
            continue
        path = "/".join(parts)
        if path in wanted:
            tally.add("duplicate")
            continue
        wanted[path] = info
    return wanted


def _check_headers(wanted: Mapping[str, zipfile.ZipInfo], name: str, limits: Limits, tally: _Tally) -> None:
    """What the central directory says: bombs and the total refuse the zip, large members are skipped."""
    total = 0
    for path, info in wanted.items():
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_floor_bytes and ratio > limits.max_ratio:
            raise _bomb(name, path, info.file_size, info.compress_size, limits.max_ratio)
        if info.file_size > limits.max_member_bytes:
            tally.add("too_large")
            continue
        total += info.file_size
    if limits.max_total_bytes is not None and total > limits.max_total_bytes:
        raise _too_large(name, total, limits.max_total_bytes)


def _bomb(name: str, member: str, size: int, compressed: int, limit: float) -> ImageSetError:
    ratio = size / max(compressed, 1)
    return ImageSetError(
        f"The member {member!r} of {name!r} expands {ratio:,.0f} times (from {_size(compressed)} to at least "
        f"{_size(size)}), as zip bombs do; cnnviz allows {limit:,.0f} times.",
        key="bomb",
        params={
            "name": name,
            "member": member,
            "ratio": round(ratio),
            "size": _size(size),
            "compressed": _size(compressed),
            "limit": round(limit),
        },
    )


def _wrapper(paths: list[str]) -> str:
    """The folder prefix (``"set/"``) that every path shares, peeled while it is a single folder."""
    root = ""
    while paths and all("/" in path for path in paths):
        first = {path.split("/", 1)[0] for path in paths}
        if len(first) != 1:
            break
        top = first.pop() + "/"
        root += top
        paths = [path[len(top) :] for path in paths]
    return root


class _MemberDamaged(Exception):
    """A member's data disagree with its header."""


class _Budget:
    """Bytes still allowed in all, counted as members are read (None: no limit)."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.used = 0

    def spend(self, n: int, name: str) -> None:
        self.used += n
        if self.limit is not None and self.used > self.limit:
            raise _too_large(name, self.used, self.limit)


def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits, budget: _Budget, name: str
) -> bytes:
    """A member's bytes, counted as they come: never more than its header promised nor than the budget.

    The header's sizes passed `_check_headers`, so holding the data to them holds them to the limits too.
    """
    cap = min(info.file_size, limits.max_member_bytes)
    chunks: list[bytes] = []
    produced = 0
    with archive.open(info) as stream:
        while chunk := stream.read(_CHUNK):
            produced += len(chunk)
            if produced > cap:  # more data than the header said: the header lied
                raise _MemberDamaged
            budget.spend(len(chunk), name)
            chunks.append(chunk)
    if produced != info.file_size:  # fewer bytes than the header promised
        raise _MemberDamaged
    return b"".join(chunks)


# ---------------------------------------------------------------------------------------------- folders


def from_folder(path: str | os.PathLike[str], *, limits: Limits = FOLDER_LIMITS) -> ImageSet:
    """The images under a folder, by the ImageFolder layout (see the module docstring).

    Nothing is decoded or kept in memory: each file's header is checked now, its pixels read when batched.
    Symbolic links inside the folder are skipped (not followed), and so are special files and hidden ones.

    Raises:
        ImageSetError: The path is missing (``"not_found"``) or not a folder (``"not_folder"``), holds no
            files (``"empty"``), more entries than ``limits.max_members`` (``"too_many_members"``), or no
            usable image (``"nothing_usable"``).
    """
    root = Path(path)
    name = os.fspath(path)
    if not root.exists():
        raise _not_found(name)
    if not root.is_dir():
        raise ImageSetError(
            f"{name!r} is a file, not a folder of images.", key="not_folder", params={"name": name}
        )
    tally = _Tally()
    files = _walk(root, name, limits, tally)
    if not files and not tally.counts:
        raise _empty(name)
    candidates: list[_Candidate] = []
    digest = hashlib.sha1(os.fspath(root.resolve()).encode(), usedforsecurity=False)
    for rel, size, mtime in files:
        digest.update(f"\0{rel}\0{size}\0{mtime}".encode())
        if size == 0:
            tally.add("empty")
            continue
        if size > limits.max_member_bytes:
            tally.add("too_large")
            continue
        reason = _identify_file(root.joinpath(*rel.split("/")), limits)
        if reason is not None:
            tally.add(reason)
            continue
        candidates.append(
            _Candidate(rel, _FolderFile(root.joinpath(*rel.split("/")), limits.max_member_bytes))
        )
    return _assemble(candidates, tally, name=name, fingerprint=digest.hexdigest(), limits=limits)


def from_path(path: str | os.PathLike[str], *, limits: Limits | None = None) -> ImageSet:
    """`from_folder` for a folder, `from_zip` for a file (with `FOLDER_LIMITS` or `ZIP_LIMITS` by default)."""
    if Path(path).is_dir():
        return from_folder(path, limits=limits or FOLDER_LIMITS)
    return from_zip(path, limits=limits or ZIP_LIMITS)


def _walk(root: Path, name: str, limits: Limits, tally: _Tally) -> list[tuple[str, int, int]]:
    """Regular, visible files under root, never through a link -> [(relative path, size, mtime_ns)]."""
    files: list[tuple[str, int, int]] = []
    entries = 0
    stack: list[tuple[Path, str]] = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as listing:
                found = sorted(listing, key=lambda entry: entry.name)
        except OSError:
            tally.add("unreadable")
            continue
        for entry in found:
            entries += 1
            if entries > limits.max_members:
                raise _too_many(name, limits.max_members)
            rel = prefix + entry.name
            try:
                if entry.is_symlink():
                    tally.add("symlink")
                elif entry.name.startswith(".") or entry.name == "__MACOSX":
                    tally.add("hidden")
                elif entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), rel + "/"))
                elif entry.is_file(follow_symlinks=False):
                    info = entry.stat(follow_symlinks=False)
                    files.append((rel, info.st_size, info.st_mtime_ns))
                else:
                    tally.add("not_regular")
            except OSError:
                tally.add("unreadable")
    return sorted(files)


def _open_regular(path: Path) -> IO[bytes]:
    """Open a regular file for reading without following a link (a FIFO must not block the open)."""
    flags = (
        os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    )
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{os.fspath(path)!r} is not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _identify_file(path: Path, limits: Limits) -> str | None:
    try:
        fp = _open_regular(path)
    except OSError:
        return "unreadable"
    with fp:
        return _identify(fp, limits)


def _read_file(path: Path, max_bytes: int) -> bytes:
    """A folder's file as bytes, re-checked now: still regular, not a link, not over the limit."""
    name = os.fspath(path)
    try:
        fp = _open_regular(path)
        with fp:
            data = fp.read(max_bytes + 1)
    except OSError as err:
        reason = err.strerror or str(err)
        raise ImageError(
            f"The file {name!r} could not be opened ({reason}).",
            key="unreadable",
            params={"name": name, "reason": reason},
        ) from err
    if len(data) > max_bytes:
        raise ImageError(
            f"The file {name!r} is larger than {_size(max_bytes)}.",
            key="too_large",
            params={"width": None, "height": None, "limit": max_bytes},
        )
    return data


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

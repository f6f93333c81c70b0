"""Image intake: decode, validate and normalise what a person gives the app, and offline samples.

Every way an image enters cnnviz ends here and leaves as an RGB ``PIL.Image.Image`` that is fully loaded
and detached from any file:

- `load_image` takes the bytes of an upload, a path, or the name of a bundled sample;
- `from_array` takes a drawing canvas's RGBA array (or a grey/RGB array);
- `load_sample` takes one of `sample_names()` (scikit-image and scikit-learn pictures, sklearn digits).

Anything that cannot be used raises `ImageError`, whose text is one plain English sentence for the page and
whose ``key`` lets the UI show the same sentence in Korean.

How odd pixel modes become RGB (the decision is made here once, so every page shows the same thing):

- ``L``, ``1``, ``P``, ``CMYK``, ``YCbCr``, ``HSV``, ``LAB`` … use Pillow's own conversion.
- Anything with transparency (``LA``, ``PA``, ``RGBA``, ``P``/``L``/``RGB`` with a transparency entry) is
  composited on white, the background an image viewer shows.
- 16-bit grey (``I;16`` and its byte orders) is divided by 257, so 0..65535 maps exactly onto 0..255: 16-bit
  PNG and TIFF files use the full range, and a fixed scale keeps two such images comparable.
- 32-bit integer (``I``) and float (``F``) have no conventional range, so each image is stretched linearly
  from its own minimum (0) to its own maximum (255); a constant image keeps its value clipped to 0..255, NaN
  becomes 0 and infinities the ends of the range.
- Animated GIF, WebP and APNG: the first frame. Multi-page TIFF: the first page.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final, Literal

import numpy as np
from PIL import Image, ImageColor, ImageOps, UnidentifiedImageError

from cnnviz.errors import KeyedError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DIGIT_SIZE",
    "ERROR_KEYS",
    "ImageError",
    "SampleInfo",
    "from_array",
    "image_digest",
    "load_image",
    "load_sample",
    "sample_info",
    "sample_names",
]

DEFAULT_MAX_PIXELS: Final[int] = 50_000_000
"""Largest width × height `load_image` accepts by default: a 50-megapixel phone photo passes, and the limit
stays below Pillow's own decompression-bomb warning threshold (about 89.5 million pixels)."""

ERROR_KEYS: Final[tuple[str, ...]] = (
    "empty",
    "not_found",
    "unreadable",
    "not_image",
    "truncated",
    "zero_size",
    "too_large",
    "unsupported_mode",
    "bad_array",
)
"""Every `ImageError.key`, so the UI can check that its text table translates each one."""

# Only formats a person plausibly uploads. Leaving Pillow to try every plugin would also reach EPS, whose
# loader runs Ghostscript on the uploaded file, and a dozen scientific formats nobody means to upload.
_FORMATS: Final[tuple[str, ...]] = (
    "PNG",
    "JPEG",
    "GIF",
    "WEBP",
    "AVIF",
    "BMP",
    "TIFF",
    "PPM",
    "ICO",
    "QOI",
    "TGA",
)

# What Pillow's plugins raise on malformed data; anything else (MemoryError, KeyboardInterrupt) passes.
_DECODE_ERRORS: Final = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error)

_ALPHA_WHITE: Final[tuple[int, int, int]] = (255, 255, 255)


class ImageError(KeyedError):
    """An image could not be used; ``str(err)`` is one plain English sentence to show the person.

    Attributes:
        key: What went wrong, one of `ERROR_KEYS`, so the UI can show the sentence in another language.
        params: The values the sentence mentions (``width``, ``height``, ``limit``, ``name``, ``mode`` …), for
            that translation.
    """

    KEYS = ERROR_KEYS


# --------------------------------------------------------------------------------------------- load_image


def load_image(
    source: bytes | bytearray | memoryview | str | os.PathLike[str],
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Image.Image:
    """Decode an image into RGB, with its EXIF orientation applied.

    Args:
        source: The encoded file's bytes (an upload), a path to an image file, or a name from
            `sample_names()`. A string that is a sample name loads the sample, even if a file of that name
            exists in the working directory.
        max_pixels: The largest width × height accepted. It is checked from the file's header before any pixel
            is decoded. Pillow refuses images above twice ``PIL.Image.MAX_IMAGE_PIXELS`` by itself and warns
            (``DecompressionBombWarning``) above it; this function never changes that global, which all
            threads share, so a larger ``max_pixels`` cannot lift Pillow's own refusal, and a warning that a
            warnings filter turns into an error becomes an `ImageError` like any other oversized image.

    Returns:
        A loaded RGB image, detached from any file. For a decoded file, ``image.info["frames"]`` is how many
        frames it has (an animation's first frame is the image).

    Raises:
        ImageError: The input is empty, missing, not an image, truncated or damaged, has no pixels, has more
            than ``max_pixels`` pixels, or uses a pixel mode that cannot be shown.
        TypeError: ``source`` is none of the accepted types.
        ValueError: ``max_pixels`` is not a positive integer.
    """
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels <= 0:
        raise ValueError(f"max_pixels must be a positive integer, got {max_pixels!r}")
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if not data:
            raise ImageError("The image file is empty.", key="empty")
        return _decode(io.BytesIO(data), max_pixels)
    if isinstance(source, str) and source in _SAMPLES:
        image = load_sample(source)
        _check_size(image.size, max_pixels)
        return image
    if isinstance(source, str) and not source:
        raise ImageError("No image file or sample name was given.", key="not_found", params={"name": ""})
    if isinstance(source, str | os.PathLike):
        return _load_path(source, max_pixels)
    raise TypeError(f"source must be bytes, a path or a sample name, got {type(source).__name__}")


def _load_path(source: str | os.PathLike[str], max_pixels: int) -> Image.Image:
    path = Path(source)
    name = os.fspath(source)
    try:
        size = path.stat().st_size
        is_dir = path.is_dir()
    except FileNotFoundError:
        message = (
            f"No image file or sample named {name!r} was found."
            if isinstance(source, str)
            else f"No image file was found at {name!r}."
        )
        raise ImageError(message, key="not_found", params={"name": name}) from None
    except OSError as err:
        raise _unreadable(name, err) from err
    if is_dir:
        raise ImageError(
            f"The path {name!r} is a folder, not an image file.", key="not_image", params={"name": name}
        )
    if size == 0:
        raise ImageError("The image file is empty.", key="empty", params={"name": name})
    try:
        fp = path.open("rb")
    except OSError as err:
        raise _unreadable(name, err) from err
    with fp:
        return _decode(fp, max_pixels)


def _unreadable(name: str, err: OSError) -> ImageError:
    reason = err.strerror or type(err).__name__
    return ImageError(
        f"The file {name!r} could not be opened ({reason}).",
        key="unreadable",
        params={"name": name, "reason": reason},
    )


def _decode(fp: IO[bytes], max_pixels: int) -> Image.Image:
    """Open lazily, check the header's size, then decode the first frame into RGB."""
    head = fp.read(32)
    fp.seek(0)
    try:
        opened = Image.open(fp, formats=_allowed_formats())
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        # Pillow's own limit fired while opening (a warning only arrives here when a warnings filter turns it
        # into an error); our limit is the stricter one whenever it is smaller.
        pil_limit = Image.MAX_IMAGE_PIXELS or max_pixels
        if isinstance(err, Image.DecompressionBombError):
            pil_limit *= 2
        raise _too_large(_header_size(head), min(max_pixels, pil_limit)) from err
    except UnidentifiedImageError as err:
        # Pillow refuses a zero width or height as "unidentified"; a header that says so deserves the
        # precise sentence.
        size = _header_size(head)
        if size is not None and 0 in size:
            raise _zero_size(size) from err
        raise ImageError(
            "The file is not an image that can be read; use PNG, JPEG, GIF, WebP, BMP or TIFF.",
            key="not_image",
        ) from err
    except _DECODE_ERRORS as err:
        raise _damaged() from err

    with opened:
        _check_size(opened.size, max_pixels)
        try:
            frames = int(getattr(opened, "n_frames", 1))
            opened.load()
            upright = ImageOps.exif_transpose(opened)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            raise _too_large(opened.size, max_pixels) from err
        except _DECODE_ERRORS as err:
            raise _damaged() from err
    rgb = _to_rgb(upright)
    rgb.info["frames"] = frames  # an animation's first frame is used; the page says so
    return rgb


@functools.cache
def _allowed_formats() -> tuple[str, ...]:
    Image.init()
    # Image.open raises KeyError for a format name whose plugin is missing (AVIF needs libavif).
    return tuple(fmt for fmt in _FORMATS if fmt in Image.OPEN)


def _header_size(head: bytes) -> tuple[int, int] | None:
    """Width and height as written in a PNG, GIF or BMP header, or None for other or short headers."""
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR" and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        return int(width), int(height)
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        width, height = struct.unpack("<HH", head[6:10])
        return int(width), int(height)
    if head[:2] == b"BM" and len(head) >= 26:
        (info_size,) = struct.unpack("<I", head[14:18])
        if info_size == 12:  # OS/2 BITMAPCOREHEADER
            width, height = struct.unpack("<HH", head[18:22])
        else:  # a negative height means rows are stored top-down
            width, height = struct.unpack("<ii", head[18:26])
        return abs(int(width)), abs(int(height))
    return None


def _check_size(size: tuple[int, int], max_pixels: int) -> None:
    if size[0] <= 0 or size[1] <= 0:
        raise _zero_size(size)
    if size[0] * size[1] > max_pixels:
        raise _too_large(size, max_pixels)


def _zero_size(size: tuple[int, int]) -> ImageError:
    return ImageError(
        f"The image is {size[0]}×{size[1]} pixels, so it has no pixels to show.",
        key="zero_size",
        params={"width": size[0], "height": size[1]},
    )


def _too_large(size: tuple[int, int] | None, limit: int) -> ImageError:
    if size is None:
        return ImageError(
            f"The image has more pixels than the limit of {limit:,}.",
            key="too_large",
            params={"width": None, "height": None, "limit": limit},
        )
    return ImageError(
        f"The image is {size[0]}×{size[1]} pixels, more than the limit of {limit:,} pixels.",
        key="too_large",
        params={"width": size[0], "height": size[1], "limit": limit},
    )


def _damaged() -> ImageError:
    return ImageError(
        "The image file is truncated or damaged, so its pixels could not be read.", key="truncated"
    )


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any decoded mode -> RGB, following the rules in the module docstring."""
    mode = image.mode
    if mode.startswith("I;16"):
        # astype(float64) reads big- and little-endian layouts alike; 65535 / 257 == 255 exactly.
        grey = np.rint(np.asarray(image).astype(np.float64) / 257.0).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if mode in ("I", "F"):
        return Image.fromarray(_stretch_to_uint8(np.asarray(image))).convert("RGB")
    if image.has_transparency_data:
        # Premultiplied "La" has no direct conversion to RGBA; "LA" does.
        rgba = (image.convert("LA") if mode == "La" else image).convert("RGBA")
        values = np.asarray(rgba)
        return Image.fromarray(_composite(values[..., :3], values[..., 3], _ALPHA_WHITE))
    if mode == "RGB":
        return image
    try:
        return image.convert("RGB")
    except ValueError as err:
        raise ImageError(
            f"Images with the pixel mode {mode!r} cannot be shown.",
            key="unsupported_mode",
            params={"mode": mode},
        ) from err


def _stretch_to_uint8(values: np.ndarray) -> np.ndarray:
    """(H, W) int32 or float32 -> uint8, from the image's own finite minimum (0) to maximum (255)."""
    values = values.astype(np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(values.shape, np.uint8)
    low = float(values[finite].min())
    high = float(values[finite].max())
    scaled = (
        np.full(values.shape, min(max(low, 0.0), 255.0))
        if high == low
        else (values - low) * (255.0 / (high - low))
    )
    scaled = np.where(finite, scaled, np.nan_to_num(values, nan=0.0, posinf=255.0, neginf=0.0))
    return np.rint(np.clip(scaled, 0.0, 255.0)).astype(np.uint8)


def _composite(rgb: np.ndarray, alpha: np.ndarray, background: tuple[int, int, int]) -> np.ndarray:
    """(H, W, 3) uint8 over a background colour with (H, W) uint8 alpha, rounded to the nearest integer."""
    weight = alpha.astype(np.float64)[..., None] / 255.0
    mixed = rgb.astype(np.float64) * weight + np.asarray(background, np.float64) * (1.0 - weight)
    return np.rint(mixed).astype(np.uint8)


# --------------------------------------------------------------------------------------------- from_array


def from_array(
    array: np.ndarray,
    *,
    background: str | tuple[int, int, int] = (0, 0, 0),
) -> Image.Image:
    """Turn an array, such as a drawing canvas's image data, into an RGB image.

    Args:
        array: ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)`` (RGBA, as streamlit-drawable-canvas
            returns it: transparent wherever nothing was drawn). Integers must lie in 0..255, floats in 0..1,
            booleans are black and white.
        background: The colour transparent pixels are composited on, as an RGB tuple or a CSS colour string
            (``"#000"``). Black by default, so white strokes on it look like MNIST and scikit-learn's digits.

    Returns:
        A new RGB image.

    Raises:
        ImageError: The array's shape, dtype or values cannot be an image (key ``"bad_array"``), or it has
            no pixels (key ``"zero_size"``).
        ValueError: ``background`` is not a colour.
    """
    fill = _parse_colour(background)
    values = np.asarray(array)
    if values.ndim == 3 and values.shape[2] == 1:
        values = values[..., 0]
    if values.ndim not in (2, 3) or (values.ndim == 3 and values.shape[2] not in (3, 4)):
        raise ImageError(
            f"The array has shape {values.shape}, but an image needs (H, W), (H, W, 3) or (H, W, 4).",
            key="bad_array",
            params={"shape": values.shape},
        )
    if values.shape[0] == 0 or values.shape[1] == 0:
        raise _zero_size((values.shape[1], values.shape[0]))
    pixels = _to_uint8(values)
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        pixels = _composite(pixels[..., :3], pixels[..., 3], fill)
    return Image.fromarray(np.ascontiguousarray(pixels)).convert("RGB")


def _parse_colour(background: str | tuple[int, int, int]) -> tuple[int, int, int]:
    if isinstance(background, str):
        try:
            rgb = ImageColor.getrgb(background)
        except ValueError:
            raise ValueError(f"background must be a colour such as '#000000', got {background!r}") from None
        return int(rgb[0]), int(rgb[1]), int(rgb[2])
    parts = tuple(background)
    if len(parts) != 3 or not all(
        isinstance(part, int | np.integer) and not isinstance(part, bool) and 0 <= part <= 255
        for part in parts
    ):
        raise ValueError(f"background must be three integers from 0 to 255, got {background!r}")
    return int(parts[0]), int(parts[1]), int(parts[2])


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Bool, integer (0..255) or float (0..1) values -> uint8."""
    if values.dtype == np.bool_:
        return values.astype(np.uint8) * 255
    if values.dtype == np.uint8:
        return values
    if np.issubdtype(values.dtype, np.integer):
        if values.min() < 0 or values.max() > 255:
            raise ImageError(
                "An integer image array must hold values from 0 to 255.",
                key="bad_array",
                params={"dtype": str(values.dtype)},
            )
        return values.astype(np.uint8)
    if np.issubdtype(values.dtype, np.floating):
        if not np.isfinite(values).all() or values.min() < 0.0 or values.max() > 1.0:
            raise ImageError(
                "A float image array must hold finite values from 0 to 1.",
                key="bad_array",
                params={"dtype": str(values.dtype)},
            )
        return np.rint(values.astype(np.float64) * 255.0).astype(np.uint8)
    raise ImageError(
        f"An image array must hold numbers, not values of type {values.dtype}.",
        key="bad_array",
        params={"dtype": str(values.dtype)},
    )


# --------------------------------------------------------------------------------------------- samples


@dataclass(frozen=True)
class SampleInfo:
    """One bundled sample picture.

    Attributes:
        name: What `load_sample` takes, e.g. ``"chelsea"`` or ``"digit-3"``.
        kind: ``"photo"`` (natural pictures for classifiers), ``"texture"`` (style images for style transfer)
            or ``"digit"`` (a scikit-learn handwritten digit, for LeNet-5).
        source: Where the pixels come from, e.g. ``"skimage.data.chelsea"``.
    """

    name: str
    kind: Literal["photo", "texture", "digit"]
    source: str


DIGIT_SIZE: Final[int] = 32
"""Digit samples are scikit-learn's 8×8 digits enlarged 4× by nearest neighbour to LeNet-5's 32×32 input,
values ``round(count × 255 / 16)``, bright ink on black, upright as scikit-learn stores them."""


def _skimage_loader(function: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data  # imported on first use: it costs a second and few pages need samples

        return np.asarray(getattr(skimage.data, function)())

    return load


def _sklearn_loader(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return np.asarray(load_sample_image(filename))

    return load


@functools.cache
def _digit_images() -> np.ndarray:
    from sklearn.datasets import load_digits

    return np.asarray(load_digits().images)


# The first example of each digit 0..9 in the held-out part of cnnviz.data.digits.split_digits() (seed 0,
# 20 %), so LeNet-5 is shown digits it never trained on; tests/test_images.py checks this stays true.
_DIGIT_ROWS: Final[tuple[int, ...]] = (78, 21, 51, 45, 24, 35, 34, 81, 28, 37)


def _digit_loader(row: int) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        # 0..16 ink intensity, bright on dark like MNIST; upright and unflipped, as scikit-learn stores it.
        grey = np.rint(_digit_images()[row] * (255.0 / 16.0)).astype(np.uint8)
        scale = DIGIT_SIZE // grey.shape[0]
        return np.kron(grey, np.ones((scale, scale), np.uint8))

    return load


def _sample_table() -> dict[str, tuple[SampleInfo, Callable[[], np.ndarray]]]:
    table: dict[str, tuple[SampleInfo, Callable[[], np.ndarray]]] = {}
    # Only pictures that ship inside the installed packages: other skimage.data images are downloaded on
    # first use, and no machine running cnnviz is assumed to be online.
    for name in ("chelsea", "coffee", "astronaut", "rocket"):
        table[name] = (SampleInfo(name, "photo", f"skimage.data.{name}"), _skimage_loader(name))
    for name in ("china", "flower"):
        source = f"sklearn.datasets.load_sample_image('{name}.jpg')"
        table[name] = (SampleInfo(name, "photo", source), _sklearn_loader(f"{name}.jpg"))
    for name in ("camera", "coins"):
        table[name] = (SampleInfo(name, "photo", f"skimage.data.{name}"), _skimage_loader(name))
    for name in ("brick", "grass", "gravel"):
        table[name] = (SampleInfo(name, "texture", f"skimage.data.{name}"), _skimage_loader(name))
    for digit, row in enumerate(_DIGIT_ROWS):
        source = f"sklearn.datasets.load_digits().images[{row}]"
        table[f"digit-{digit}"] = (SampleInfo(f"digit-{digit}", "digit", source), _digit_loader(row))
    return table


_SAMPLES: Final = _sample_table()


def sample_names(kind: str | None = None) -> list[str]:
    """Names of the bundled samples: colour photos, grey photos, textures, then digits 0 to 9.

    Args:
        kind: Only samples of this kind (``"photo"``, ``"texture"`` or ``"digit"``); all when None.

    Raises:
        ValueError: ``kind`` is not one of those.
    """
    if kind is not None and kind not in ("photo", "texture", "digit"):
        raise ValueError(f"kind must be 'photo', 'texture', 'digit' or None, got {kind!r}")
    return [name for name, (info, _) in _SAMPLES.items() if kind is None or info.kind == kind]


def sample_info(name: str) -> SampleInfo:
    """What and where the sample ``name`` is.

    Raises:
        ImageError: There is no sample called ``name`` (key ``"not_found"``).
    """
    if name not in _SAMPLES:
        raise _no_sample(name)
    return _SAMPLES[name][0]


def load_sample(name: str) -> Image.Image:
    """Load a bundled sample as RGB; offline, from files that ship with scikit-image and scikit-learn.

    Each sample is decoded once per process; every call returns a new copy, so callers may change it.

    Raises:
        ImageError: There is no sample called ``name`` (key ``"not_found"``).
    """
    if name not in _SAMPLES:
        raise _no_sample(name)
    return _cached_sample(name).copy()


@functools.lru_cache(maxsize=len(_SAMPLES))
def _cached_sample(name: str) -> Image.Image:
    return from_array(_SAMPLES[name][1]())


def _no_sample(name: str) -> ImageError:
    return ImageError(f"There is no sample image named {name!r}.", key="not_found", params={"name": name})


# --------------------------------------------------------------------------------------------- digest


def image_digest(image: Image.Image) -> str:
    """A stable hex digest of an image's mode, size, palette and pixels, for cache keys.

    Two images get the same digest exactly when they would look the same pixel for pixel; metadata such as
    EXIF or the file format does not count.
    """
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(f"{image.mode}\0{image.width}x{image.height}\0".encode())
    if image.mode in ("P", "PA"):
        palette = image.getpalette(rawmode=None)
        if palette is not None:
            digest.update(bytes(palette))
    digest.update(image.tobytes())
    return digest.hexdigest()

"""Image intake: every mode, odd and broken files, bombs, samples, canvas arrays and digests.

All files are made in memory or in tmp_path at test time; nothing binary is committed.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import struct
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, PngImagePlugin

from cnnviz import images
from cnnviz.images import (
    DEFAULT_MAX_PIXELS,
    DIGIT_SIZE,
    ERROR_KEYS,
    ImageError,
    from_array,
    image_digest,
    load_image,
    load_sample,
    sample_info,
    sample_names,
)

RED, GREEN, BLUE, WHITE, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)


# ------------------------------------------------------------------------------------------ file makers


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _pixels(image: Image.Image) -> list[tuple[int, ...]]:
    return [tuple(int(v) for v in pixel) for pixel in np.asarray(image).reshape(-1, 3)]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_claiming(width: int, height: int) -> bytes:
    """A few dozen bytes of valid PNG structure whose header claims any size (8-bit grey)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + _png_chunk(b"IEND", b"")
    )


def _gif_claiming(width: int, height: int) -> bytes:
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0)
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return screen + frame + b"\x3b"


def _bmp_with_width(width: int) -> bytes:
    data = bytearray(_encode(Image.new("RGB", (4, 4)), "BMP"))
    data[18:22] = struct.pack("<i", width)
    return bytes(data)


def _noisy_png_and_jpeg() -> tuple[bytes, bytes]:
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    image = Image.fromarray(noise)
    return _encode(image, "PNG"), _encode(image, "JPEG", quality=90)


def _assert_sentence(err: ImageError, key: str) -> None:
    text = str(err)
    assert err.key == key, text
    assert key in ERROR_KEYS
    assert text[0].isupper() and text.endswith(".") and "\n" not in text
    assert ". " not in text, f"more than one sentence: {text}"


# ------------------------------------------------------------------------------------------ pixel modes


def _mode_l() -> Image.Image:
    return Image.fromarray(np.array([[0, 100, 255]], np.uint8))


def _mode_1() -> Image.Image:
    image = Image.new("1", (3, 1))
    image.putpixel((1, 0), 1)
    return image


def _mode_la() -> Image.Image:
    return Image.frombytes("LA", (3, 1), bytes([100, 255, 100, 0, 0, 128]))


def _mode_p_transparent() -> Image.Image:
    image = Image.new("P", (3, 1))
    image.putpalette([255, 0, 0, 0, 0, 255, 0, 255, 0])
    image.putdata([0, 1, 2])
    image.info["transparency"] = 1
    return image


def _mode_l_keyed() -> Image.Image:
    image = _mode_l()
    image.info["transparency"] = 100  # PNG's tRNS: one grey level means "transparent"
    return image


def _mode_rgb_keyed() -> Image.Image:
    image = Image.frombytes("RGB", (2, 1), bytes([1, 2, 3, 4, 5, 6]))
    image.info["transparency"] = (1, 2, 3)
    return image


def _mode_rgba() -> Image.Image:
    return Image.frombytes("RGBA", (3, 1), bytes([255, 0, 0, 128, 0, 0, 255, 0, 10, 20, 30, 255]))


def _mode_cmyk() -> Image.Image:
    return Image.frombytes("CMYK", (3, 1), bytes([0, 0, 0, 0, 0, 255, 255, 0, 0, 0, 0, 255]))


def _mode_i16() -> Image.Image:
    return Image.frombytes("I;16", (4, 1), np.array([0, 257, 65535, 1000], "<u2").tobytes())


def _mode_i16b() -> Image.Image:
    return Image.frombytes("I;16B", (4, 1), np.array([0, 257, 65535, 1000], ">u2").tobytes())


def _mode_i() -> Image.Image:
    return Image.fromarray(np.array([[-100, 0, 155]], np.int32))


def _mode_f() -> Image.Image:
    return Image.fromarray(np.array([[0.0, 0.25, 1.0]], np.float32))


def _mode_f_constant() -> Image.Image:
    return Image.fromarray(np.full((1, 2), 3.0, np.float32))


def _mode_f_nonfinite() -> Image.Image:
    return Image.fromarray(np.array([[np.nan, np.inf, -np.inf, 2.0, 4.0]], np.float32))


def _mode_rgb() -> Image.Image:
    return Image.new("RGB", (1, 1), (12, 34, 56))


@pytest.mark.parametrize(
    ("make", "fmt", "expected"),
    [
        pytest.param(_mode_l, "PNG", [BLACK, (100, 100, 100), WHITE], id="L"),
        pytest.param(_mode_1, "PNG", [BLACK, WHITE, BLACK], id="1"),
        # alpha 0 -> the white background exactly; 128 over white: 255 * 127 / 255 = 127
        pytest.param(_mode_la, "PNG", [(100, 100, 100), WHITE, (127, 127, 127)], id="LA"),
        pytest.param(_mode_l_keyed, "PNG", [BLACK, WHITE, WHITE], id="L-transparency"),
        pytest.param(_mode_rgb_keyed, "PNG", [WHITE, (4, 5, 6)], id="RGB-transparency"),
        pytest.param(_mode_p_transparent, "PNG", [RED, WHITE, GREEN], id="P-transparency-png"),
        pytest.param(_mode_p_transparent, "GIF", [RED, WHITE, GREEN], id="P-transparency-gif"),
        # red at alpha 128 over white: R = 255, G = B = 255 * 127 / 255 = 127
        pytest.param(_mode_rgba, "PNG", [(255, 127, 127), WHITE, (10, 20, 30)], id="RGBA"),
        pytest.param(_mode_rgba, "WEBP", [(255, 127, 127), WHITE, (10, 20, 30)], id="RGBA-webp"),
        pytest.param(_mode_cmyk, "TIFF", [WHITE, RED, BLACK], id="CMYK"),
        # 16-bit / 257: 0, 1, 255 and 1000 / 257 = 3.89 -> 4
        pytest.param(_mode_i16, "PNG", [BLACK, (1, 1, 1), WHITE, (4, 4, 4)], id="I;16-png"),
        pytest.param(_mode_i16, "TIFF", [BLACK, (1, 1, 1), WHITE, (4, 4, 4)], id="I;16-tiff"),
        pytest.param(_mode_i16b, "TIFF", [BLACK, (1, 1, 1), WHITE, (4, 4, 4)], id="I;16B-tiff"),
        # own range -100..155 onto 0..255: value + 100
        pytest.param(_mode_i, "TIFF", [BLACK, (100, 100, 100), WHITE], id="I"),
        # own range 0..1 onto 0..255: 0.25 -> 63.75 -> 64
        pytest.param(_mode_f, "TIFF", [BLACK, (64, 64, 64), WHITE], id="F"),
        pytest.param(_mode_f_constant, "TIFF", [(3, 3, 3), (3, 3, 3)], id="F-constant"),
        # finite range 2..4: NaN -> 0, +inf -> 255, -inf -> 0, 2 -> 0, 4 -> 255
        pytest.param(_mode_f_nonfinite, "TIFF", [BLACK, WHITE, BLACK, BLACK, WHITE], id="F-nonfinite"),
        pytest.param(_mode_rgb, "BMP", [(12, 34, 56)], id="RGB-bmp"),
        pytest.param(_mode_rgb, "PPM", [(12, 34, 56)], id="RGB-ppm"),
    ],
)
def test_every_mode_becomes_the_documented_rgb(
    make: Callable[[], Image.Image], fmt: str, expected: list[tuple[int, int, int]]
) -> None:
    original = make()
    data = _encode(original, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    assert Image.open(io.BytesIO(data)).mode == original.mode  # the file really holds that mode

    image = load_image(data)

    assert image.mode == "RGB"
    assert image.size == original.size
    assert _pixels(image) == expected
    assert not isinstance(image, ImageFile.ImageFile), "the result must be detached from the file"


def test_rgba_composite_matches_pillows_alpha_composite() -> None:
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 256, (16, 16, 4), dtype=np.uint8)
    reference = Image.alpha_composite(
        Image.new("RGBA", (16, 16), (*WHITE, 255)), Image.fromarray(rgba, "RGBA")
    ).convert("RGB")

    image = load_image(_encode(Image.fromarray(rgba, "RGBA"), "PNG"))

    difference = np.abs(np.asarray(image, np.int16) - np.asarray(reference, np.int16))
    assert difference.max() <= 1  # same compositing, rounding may differ by one


@pytest.mark.parametrize(
    ("orientation", "size", "top_left", "bottom_right"),
    [
        (1, (40, 20), RED, BLUE),
        (3, (40, 20), BLUE, RED),  # rotated 180°
        (6, (20, 40), RED, BLUE),  # rotated 90° clockwise: the left (red) half comes to the top
        (8, (20, 40), BLUE, RED),  # rotated 90° counter-clockwise: the right (blue) half comes to the top
    ],
)
def test_exif_orientation_is_applied(
    orientation: int,
    size: tuple[int, int],
    top_left: tuple[int, int, int],
    bottom_right: tuple[int, int, int],
) -> None:
    stored = Image.new("RGB", (40, 20), RED)
    stored.paste(BLUE, (20, 0, 40, 20))
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _encode(stored, "JPEG", quality=95, exif=exif.tobytes())

    image = load_image(data)

    assert image.size == size
    pixels = np.asarray(image, np.int16)
    np.testing.assert_allclose(pixels[2, 2], top_left, atol=6)
    np.testing.assert_allclose(pixels[-3, -3], bottom_right, atol=6)


@pytest.mark.parametrize(("fmt", "options"), [("GIF", {}), ("WEBP", {"lossless": True}), ("PNG", {})])
def test_animations_give_their_first_frame(fmt: str, options: dict[str, object]) -> None:
    frames = [Image.new("RGB", (8, 6), colour) for colour in (RED, GREEN, BLUE)]
    data = _encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, **options)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 3  # really animated

    image = load_image(data)

    assert image.mode == "RGB" and image.size == (8, 6)
    assert set(_pixels(image)) == {RED}


def test_multipage_tiff_gives_its_first_page() -> None:
    pages = [Image.new("L", (5, 5), value) for value in (10, 200)]
    image = load_image(_encode(pages[0], "TIFF", save_all=True, append_images=pages[1:]))
    assert set(_pixels(image)) == {(10, 10, 10)}


# ------------------------------------------------------------------------------------------ bad input


def _truncated_png() -> bytes:
    png, _ = _noisy_png_and_jpeg()
    return png[: len(png) // 2]


def _truncated_jpeg() -> bytes:
    _, jpeg = _noisy_png_and_jpeg()
    return jpeg[: len(jpeg) // 2]


def _jpeg_header_only() -> bytes:
    _, jpeg = _noisy_png_and_jpeg()
    return jpeg[:30]


def _corrupted_png() -> bytes:
    png, _ = _noisy_png_and_jpeg()
    data = bytearray(png)
    data[200:260] = bytes(b ^ 0xFF for b in data[200:260])  # inside the compressed pixel data
    return bytes(data)


@pytest.mark.parametrize(
    ("make", "key"),
    [
        pytest.param(lambda: b"", "empty", id="empty"),
        pytest.param(_truncated_png, "truncated", id="png-cut-in-half"),
        pytest.param(_truncated_jpeg, "truncated", id="jpeg-cut-in-half"),
        pytest.param(_jpeg_header_only, "truncated", id="jpeg-first-30-bytes"),
        pytest.param(_corrupted_png, "truncated", id="png-corrupted-data"),
        pytest.param(lambda: _noisy_png_and_jpeg()[0][:20], "truncated", id="png-cut-inside-header"),
        pytest.param(
            lambda: np.random.default_rng(2).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
            "not_image",
            id="random-bytes",
        ),
        pytest.param(lambda: b"Dear class,\nthe lecture notes are attached.\n", "not_image", id="text"),
        pytest.param(lambda: b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not_image", id="svg"),
        # Pillow would hand EPS to Ghostscript; it is not an accepted format
        pytest.param(
            lambda: b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n%%EndComments\nshowpage\n",
            "not_image",
            id="eps",
        ),
        pytest.param(lambda: _png_claiming(0, 5), "zero_size", id="png-width-0"),
        pytest.param(lambda: _png_claiming(5, 0), "zero_size", id="png-height-0"),
        pytest.param(lambda: _gif_claiming(0, 0), "zero_size", id="gif-0x0"),
        pytest.param(lambda: _bmp_with_width(0), "zero_size", id="bmp-width-0"),
    ],
)
def test_bad_bytes_raise_image_error_with_key(make: Callable[[], bytes], key: str) -> None:
    with pytest.raises(ImageError) as caught:
        load_image(make())
    _assert_sentence(caught.value, key)


@pytest.mark.parametrize(
    ("name", "content", "key"),
    [
        ("empty.png", b"", "empty"),
        ("notes.txt", b"Convolution, pooling, flatten.\n", "not_image"),
        ("photo.png", None, "truncated"),
        ("tiny.png", b"\x89PNG", "not_image"),
    ],
)
def test_bad_files_raise_image_error_with_key(
    tmp_path: Path, name: str, content: bytes | None, key: str
) -> None:
    path = tmp_path / name
    path.write_bytes(_truncated_png() if content is None else content)

    for source in (path, str(path)):
        with pytest.raises(ImageError) as caught:
            load_image(source)
        _assert_sentence(caught.value, key)


def test_good_file_loads_from_path_and_str(tmp_path: Path) -> None:
    path = tmp_path / "square.png"
    path.write_bytes(_encode(Image.new("RGB", (7, 3), GREEN), "PNG"))

    for source in (path, str(path)):
        image = load_image(source)
        assert image.size == (7, 3) and set(_pixels(image)) == {GREEN}
    path.unlink()  # the image no longer needs its file
    assert image.getpixel((0, 0)) == GREEN


def test_missing_path_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageError) as caught:
        load_image(tmp_path / "absent.png")
    _assert_sentence(caught.value, "not_found")
    assert caught.value.params["name"] == str(tmp_path / "absent.png")

    with pytest.raises(ImageError) as caught:
        load_image("no-such-sample-or-file")
    _assert_sentence(caught.value, "not_found")
    assert "no-such-sample-or-file" in str(caught.value)

    with pytest.raises(ImageError) as caught:
        load_image("")
    _assert_sentence(caught.value, "not_found")

    with pytest.raises(ImageError) as caught:
        load_image(tmp_path)
    _assert_sentence(caught.value, "not_image")


@pytest.mark.parametrize("source", [None, 42, 3.5, ["a.png"], Image.new("RGB", (1, 1))])
def test_wrong_source_type_is_a_type_error(source: object) -> None:
    with pytest.raises(TypeError, match="source"):
        load_image(source)  # type: ignore[arg-type]


@pytest.mark.parametrize("max_pixels", [0, -1, True, 1.5, "100"])
def test_max_pixels_must_be_a_positive_integer(max_pixels: object) -> None:
    with pytest.raises(ValueError, match="max_pixels"):
        load_image(_png_claiming(2, 2), max_pixels=max_pixels)  # type: ignore[arg-type]


def test_bytearray_and_memoryview_are_bytes() -> None:
    data = _encode(Image.new("RGB", (2, 2), BLUE), "PNG")
    for source in (bytearray(data), memoryview(data)):
        assert set(_pixels(load_image(source))) == {BLUE}


# ------------------------------------------------------------------------------------------ bombs


def test_header_claiming_a_huge_size_is_refused_before_decoding() -> None:
    # 40000 × 40000 = 1.6 billion pixels, above twice Pillow's limit: Pillow's own error, as ours
    limit_before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageError) as caught:
        load_image(_png_claiming(40_000, 40_000))
    _assert_sentence(caught.value, "too_large")
    assert caught.value.params == {"width": 40_000, "height": 40_000, "limit": DEFAULT_MAX_PIXELS}
    assert "40000×40000" in str(caught.value)
    assert limit_before == Image.MAX_IMAGE_PIXELS  # no global state changed
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_header_in_pillows_warning_band_is_refused() -> None:
    # 10000 × 10000 = 100 million: Pillow only warns, our default limit (50 million) refuses
    data = _png_claiming(10_000, 10_000)
    with pytest.warns(Image.DecompressionBombWarning), pytest.raises(ImageError) as caught:
        load_image(data)
    _assert_sentence(caught.value, "too_large")

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(ImageError) as caught:
            load_image(data, max_pixels=10**9)
    _assert_sentence(caught.value, "too_large")
    assert caught.value.params["limit"] == Image.MAX_IMAGE_PIXELS


def test_header_above_max_pixels_is_refused() -> None:
    with pytest.raises(ImageError) as caught:
        load_image(_png_claiming(3000, 3000), max_pixels=1_000_000)
    _assert_sentence(caught.value, "too_large")
    assert caught.value.params == {"width": 3000, "height": 3000, "limit": 1_000_000}
    assert "1,000,000" in str(caught.value)


def test_real_compressible_image_against_max_pixels() -> None:
    data = _encode(Image.new("L", (2000, 1500), 7), "PNG", optimize=True)
    assert len(data) < 20_000  # a few kilobytes that decode to 3 million pixels

    with pytest.raises(ImageError) as caught:
        load_image(data, max_pixels=2_999_999)
    _assert_sentence(caught.value, "too_large")

    image = load_image(data, max_pixels=3_000_000)  # the limit itself is allowed
    assert image.size == (2000, 1500) and image.getpixel((1999, 1499)) == (7, 7, 7)


def test_max_pixels_applies_to_samples() -> None:
    with pytest.raises(ImageError) as caught:
        load_image("digit-3", max_pixels=DIGIT_SIZE * DIGIT_SIZE - 1)
    _assert_sentence(caught.value, "too_large")
    assert load_image("digit-3", max_pixels=DIGIT_SIZE * DIGIT_SIZE).size == (DIGIT_SIZE, DIGIT_SIZE)


# ------------------------------------------------------------------------------------------ samples

EXPECTED_SAMPLES = [
    "chelsea",
    "coffee",
    "astronaut",
    "rocket",
    "china",
    "flower",
    "camera",
    "coins",
    "brick",
    "grass",
    "gravel",
    *(f"digit-{digit}" for digit in range(10)),
]


def test_sample_names_and_kinds() -> None:
    assert sample_names() == EXPECTED_SAMPLES
    assert sample_names("texture") == ["brick", "grass", "gravel"]
    assert sample_names("digit") == [f"digit-{digit}" for digit in range(10)]
    assert sample_names("photo") == EXPECTED_SAMPLES[:8]
    assert sample_info("chelsea").source == "skimage.data.chelsea"
    with pytest.raises(ValueError, match="kind"):
        sample_names("faces")


@pytest.mark.parametrize("name", EXPECTED_SAMPLES)
def test_every_sample_loads_as_rgb(name: str) -> None:
    image = load_sample(name)

    assert image.mode == "RGB"
    if sample_info(name).kind == "digit":
        assert image.size == (DIGIT_SIZE, DIGIT_SIZE)
    else:
        assert 256 <= image.width <= 1024 and 256 <= image.height <= 1024
    assert image_digest(load_image(name)) == image_digest(image)
    assert np.asarray(image).std() > 10  # a picture, not a blank


def _library_pixels(name: str) -> np.ndarray:
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    import skimage.data

    pixels = getattr(skimage.data, name)()
    return pixels if pixels.ndim == 3 else np.stack([pixels] * 3, axis=-1)


@pytest.mark.parametrize("name", ["chelsea", "camera", "gravel", "china"])
def test_samples_are_the_library_pixels(name: str) -> None:
    np.testing.assert_array_equal(np.asarray(load_sample(name)), _library_pixels(name))


@pytest.mark.parametrize("digit", range(10))
def test_digit_samples_are_sklearn_digits_bright_on_dark(digit: int) -> None:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    row = images._DIGIT_ROWS[digit]
    assert sample_info(f"digit-{digit}").source == f"sklearn.datasets.load_digits().images[{row}]"
    assert bunch.target[row] == digit
    expected = np.rint(bunch.images[row] * 255 / 16).astype(np.uint8)

    image = load_sample(f"digit-{digit}")

    grey = np.asarray(image)[..., 0]
    assert (np.asarray(image) == grey[..., None]).all()
    # Each 8×8 cell became a 4×4 block, so averaging the blocks gives back scikit-learn's values.
    np.testing.assert_array_equal(np.asarray(image.resize((8, 8), Image.Resampling.BOX))[..., 0], expected)
    assert grey[0, 0] == 0 and grey.max() > 200  # dark background, bright ink


def test_digit_samples_are_held_out_from_lenet_training() -> None:
    from cnnviz.data.digits import split_digits

    split = split_digits()
    for digit in range(10):
        grid = load_sample(f"digit-{digit}").resize((8, 8), Image.Resampling.BOX)
        # back to the data set's whole counts 0..16 (255 / 16 per count, so rounding is exact)
        counts = np.rint(np.asarray(grid, np.float64)[..., 0] * 16 / 255)
        held = (np.rint(split.held_out_grids * 16) == counts).all(axis=(1, 2))
        trained = (np.rint(split.train_grids * 16) == counts).all(axis=(1, 2))
        assert held.any() and not trained.any(), f"digit-{digit} should be a held-out digit"


def test_samples_are_cached_but_callers_get_copies() -> None:
    first = load_sample("coins")
    first.paste((1, 2, 3), (0, 0, first.width, first.height))
    second = load_sample("coins")
    assert second is not first
    assert second.getpixel((0, 0)) != (1, 2, 3)
    assert images._cached_sample.cache_info().hits >= 1


def test_unknown_sample() -> None:
    for call in (load_sample, sample_info):
        with pytest.raises(ImageError) as caught:
            call("digit-10")
        _assert_sentence(caught.value, "not_found")
        assert caught.value.params == {"name": "digit-10"} and "'digit-10'" in str(caught.value)


# ------------------------------------------------------------------------------------------ from_array


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        pytest.param(np.array([[0, 128, 255]], np.uint8), [BLACK, (128, 128, 128), WHITE], id="HxW-uint8"),
        pytest.param(np.array([[[9], [250]]], np.uint8), [(9, 9, 9), (250, 250, 250)], id="HxWx1"),
        pytest.param(np.array([[[1, 2, 3], [4, 5, 6]]], np.uint8), [(1, 2, 3), (4, 5, 6)], id="HxWx3-uint8"),
        # 0.5 * 255 = 127.5 -> 128 (round half to even), 0.2 * 255 = 51 …
        pytest.param(
            np.array([[[0.0, 0.5, 1.0], [0.2, 0.4, 0.6]]], np.float32),
            [(0, 128, 255), (51, 102, 153)],
            id="HxWx3-float",
        ),
        pytest.param(np.array([[True, False]]), [WHITE, BLACK], id="bool"),
        pytest.param(np.array([[0, 77, 255]], np.int64), [BLACK, (77, 77, 77), WHITE], id="int64"),
        # canvas RGBA: not drawn (alpha 0) -> black, white stroke -> white, half-opaque white -> 128
        pytest.param(
            np.array([[[200, 100, 50, 0], [255, 255, 255, 255], [255, 255, 255, 128]]], np.uint8),
            [BLACK, WHITE, (128, 128, 128)],
            id="canvas-RGBA",
        ),
    ],
)
def test_from_array(array: np.ndarray, expected: list[tuple[int, int, int]]) -> None:
    before = array.copy()

    image = from_array(array)

    assert image.mode == "RGB" and image.size == (array.shape[1], array.shape[0])
    assert _pixels(image) == expected
    np.testing.assert_array_equal(array, before)  # the caller's array is untouched


@pytest.mark.parametrize(
    ("background", "transparent", "half"),
    [
        ((0, 0, 0), BLACK, (128, 0, 0)),
        ("#ffffff", WHITE, (255, 127, 127)),
        ("#fff", WHITE, (255, 127, 127)),
        ((10, 20, 30), (10, 20, 30), (133, 10, 15)),  # 255·128/255 + 10·127/255 = 132.98 -> 133
    ],
)
def test_from_array_composites_on_the_background(
    background: str | tuple[int, int, int], transparent: tuple[int, int, int], half: tuple[int, int, int]
) -> None:
    canvas = np.array([[[0, 255, 0, 0], [255, 0, 0, 128]]], np.uint8)
    assert _pixels(from_array(canvas, background=background)) == [transparent, half]


@pytest.mark.parametrize(
    ("array", "key"),
    [
        pytest.param(np.zeros(5, np.uint8), "bad_array", id="1-D"),
        pytest.param(np.zeros((2, 2, 2), np.uint8), "bad_array", id="2-channels"),
        pytest.param(np.zeros((2, 2, 5), np.uint8), "bad_array", id="5-channels"),
        pytest.param(np.zeros((1, 2, 2, 3), np.uint8), "bad_array", id="4-D"),
        pytest.param(np.zeros((0, 5), np.uint8), "zero_size", id="0-rows"),
        pytest.param(np.zeros((5, 0, 4), np.uint8), "zero_size", id="0-columns-RGBA"),
        pytest.param(np.array([[0.0, 1.5]]), "bad_array", id="float-above-1"),
        pytest.param(np.array([[0.0, np.nan]]), "bad_array", id="float-nan"),
        pytest.param(np.array([[-1, 5]]), "bad_array", id="negative-int"),
        pytest.param(np.array([[0, 256]], np.int32), "bad_array", id="int-above-255"),
        pytest.param(np.array([[1j, 0]]), "bad_array", id="complex"),
        pytest.param(np.array([["a", "b"]]), "bad_array", id="strings"),
    ],
)
def test_from_array_rejects(array: np.ndarray, key: str) -> None:
    with pytest.raises(ImageError) as caught:
        from_array(array)
    _assert_sentence(caught.value, key)


@pytest.mark.parametrize("background", ["not-a-colour", (1, 2), (0, 0, 256), (True, 0, 0), (0.5, 0, 0)])
def test_from_array_rejects_bad_background(background: object) -> None:
    with pytest.raises(ValueError, match="background"):
        from_array(np.zeros((2, 2, 4), np.uint8), background=background)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ digest


def test_image_digest_is_stable_and_pixel_exact() -> None:
    image = Image.fromarray(np.arange(12, dtype=np.uint8).reshape(2, 2, 3))
    digest = image_digest(image)

    # hand-built from the documented recipe: mode, size, then the raw bytes
    assert digest == hashlib.sha1(b"RGB\x002x2\x00" + bytes(range(12))).hexdigest()
    assert digest == image_digest(image.copy())
    # same pixels through a file with metadata: same digest
    metadata = PngImagePlugin.PngInfo()
    metadata.add_text("Comment", "lecture 2")
    assert image_digest(load_image(_encode(image, "PNG", pnginfo=metadata))) == digest
    changed = image.copy()
    changed.putpixel((1, 1), (9, 10, 12))
    assert image_digest(changed) != digest
    # same bytes, other shape or mode
    assert image_digest(Image.frombytes("RGB", (4, 1), image.tobytes())) != digest
    assert image_digest(Image.frombytes("L", (4, 3), image.tobytes())) != image_digest(
        Image.frombytes("L", (3, 4), image.tobytes())
    )


def test_image_digest_sees_the_palette() -> None:
    first = Image.new("P", (2, 2), 0)
    first.putpalette([255, 0, 0])
    second = first.copy()
    second.putpalette([0, 0, 255])
    assert first.tobytes() == second.tobytes()
    assert image_digest(first) != image_digest(second)


# ------------------------------------------------------------------------------------------ ImageError


def test_image_error_keeps_key_and_params_through_pickle() -> None:
    err = ImageError(
        "The image is 3×3 pixels, more than the limit of 4 pixels.", key="too_large", params={"limit": 4}
    )
    copy = pickle.loads(pickle.dumps(err))
    assert isinstance(copy, ImageError) and isinstance(copy, ValueError)
    assert (str(copy), copy.key, copy.params) == (str(err), "too_large", {"limit": 4})


def test_image_error_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match="key"):
        ImageError("Something.", key="oops")


def test_frame_count_is_kept_with_the_first_frame() -> None:
    frames = [Image.new("RGB", (8, 6), c) for c in ((255, 0, 0), (0, 255, 0))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=50)
    image = images.load_image(buf.getvalue())
    assert image.info["frames"] == 2
    assert image.getpixel((0, 0)) == (255, 0, 0)  # the first frame
    still = io.BytesIO()
    frames[1].save(still, "PNG")
    assert images.load_image(still.getvalue()).info["frames"] == 1

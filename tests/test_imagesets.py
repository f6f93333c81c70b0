"""Image sets (cnnviz.imagesets): folder and zip layouts, the hostile-zip corpus, batches, bundled sets.

Every folder and zip is made at test time (in tmp_path or in memory). Layouts are checked against
torchvision's ImageFolder, pixels against the PNGs written, bundled sets against their generators.
"""

from __future__ import annotations

import io
import os
import pickle
import stat
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnviz import imagesets
from cnnviz.imagesets import (
    ERROR_KEYS,
    SKIP_REASONS,
    ZIP_LIMITS,
    ImageSet,
    ImageSetError,
    Limits,
    batches,
    bundled,
    describe_skipped,
    from_folder,
    from_path,
    from_zip,
    zips,
)

# ------------------------------------------------------------------------------------------ file makers


def _pixels(seed: int, size: tuple[int, int] = (12, 10)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)


def _png(seed: int, size: tuple[int, int] = (12, 10)) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(_pixels(seed, size)).save(buffer, "PNG")
    return buffer.getvalue()


def _zip(
    members: list[tuple[str | zipfile.ZipInfo, bytes]], compression: int = zipfile.ZIP_DEFLATED
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def _symlink_member(name: str, kind: int = stat.S_IFLNK) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix: the high 16 bits of external_attr are st_mode
    info.external_attr = (kind | 0o777) << 16
    return info


def _write(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


LABELLED = {
    "cat/a.png": _png(1),
    "cat/b.png": _png(2),
    "cat/deeper/c.png": _png(3),  # deeper folders belong to their first-level class, as in ImageFolder
    "dog/a.png": _png(4),
    "Zebra/z.png": _png(5),  # upper case sorts first, as Python (and ImageFolder) sorts
}
UNLABELLED = {"b.png": _png(6), "a.png": _png(7), "c.png": _png(8)}


def _same_pixels(image: Image.Image, data: bytes) -> bool:
    return np.array_equal(np.asarray(image), np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))


# --------------------------------------------------------------------------------------- folder layouts


def test_labelled_folder_matches_torchvision_image_folder(tmp_path: Path) -> None:
    from torchvision.datasets import ImageFolder

    root = _write(tmp_path / "set", LABELLED)
    image_set = from_folder(root)
    reference = ImageFolder(os.fspath(root))
    assert image_set.classes == tuple(reference.classes) == ("Zebra", "cat", "dog")
    expected = sorted((Path(path).relative_to(root).as_posix(), target) for path, target in reference.samples)
    assert [(item.path, item.label) for item in image_set] == expected
    assert image_set.labels == tuple(target for _, target in expected)
    assert image_set.labelled and image_set.skipped == {} and len(image_set) == 5
    for item in image_set:
        assert _same_pixels(item.load(), LABELLED[item.path])
    assert _same_pixels(image_set.load("cat/deeper/c.png"), LABELLED["cat/deeper/c.png"])
    with pytest.raises(KeyError, match=r"nope\.png"):
        image_set.item("nope.png")


def test_unlabelled_folder_round_trips_sorted(tmp_path: Path) -> None:
    image_set = from_folder(_write(tmp_path / "flat", UNLABELLED))
    assert image_set.paths == ("a.png", "b.png", "c.png")
    assert image_set.classes == () and image_set.labels is None and not image_set.labelled
    assert all(item.label is None for item in image_set)
    for item in image_set:
        assert _same_pixels(item.load(), UNLABELLED[item.path])


def test_a_mix_is_labelled_and_loose_root_images_are_counted(tmp_path: Path) -> None:
    from torchvision.datasets import ImageFolder

    root = _write(tmp_path / "mix", {**LABELLED, **UNLABELLED, "empty-class/notes.txt": b"no images here"})
    image_set = from_folder(root)
    # ImageFolder ignores root files too; a folder with no image is no class here (ImageFolder refuses it).
    reference = ImageFolder(os.fspath(tmp_path / "mix"), allow_empty=True)
    assert image_set.classes == tuple(c for c in reference.classes if c != "empty-class")
    assert image_set.skipped == {"unlabelled": 3, "not_image": 1}
    assert {item.path for item in image_set} == set(LABELLED)


def test_folder_skips_links_special_and_hidden_files(tmp_path: Path) -> None:
    outside = _write(tmp_path / "outside", {"secret.png": _png(9), "inner/x.png": _png(10)})
    root = _write(tmp_path / "set", {"ok.png": _png(11), ".hidden.png": _png(12), "notes.txt": b"hello"})
    (root / "link.png").symlink_to(outside / "secret.png")
    (root / "linked-dir").symlink_to(outside / "inner", target_is_directory=True)
    (root / "inside-link.png").symlink_to(root / "ok.png")  # even links within the folder are not followed
    os.mkfifo(root / "pipe.png")  # opening a FIFO would block forever
    (root / "empty.png").write_bytes(b"")
    image_set = from_folder(root)
    assert image_set.paths == ("ok.png",)
    assert image_set.skipped == {"symlink": 3, "not_regular": 1, "hidden": 1, "empty": 1, "not_image": 1}


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(ImageSetError) as caught:
        from_folder(tmp_path / "missing")
    assert caught.value.key == "not_found" and "missing" in str(caught.value)
    (tmp_path / "file.png").write_bytes(_png(0))
    with pytest.raises(ImageSetError) as caught:
        from_folder(tmp_path / "file.png")
    assert caught.value.key == "not_folder" and "not a folder" in str(caught.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageSetError) as caught:
        from_folder(tmp_path / "empty")
    assert caught.value.key == "empty"
    _write(tmp_path / "many", {f"{i}.png": b"" for i in range(6)})
    with pytest.raises(ImageSetError) as caught:
        from_folder(tmp_path / "many", limits=Limits(max_members=5))
    assert caught.value.key == "too_many_members" and "5" in str(caught.value)


def test_folder_file_over_the_member_limit_is_skipped(tmp_path: Path) -> None:
    big = _png(1, (64, 64))
    root = _write(tmp_path / "set", {"big.png": big, "small.png": _png(2, (2, 2))})
    image_set = from_folder(root, limits=Limits(max_member_bytes=len(big) - 1))
    assert image_set.paths == ("small.png",) and image_set.skipped == {"too_large": 1}


def test_too_many_pixels_by_the_header_is_skipped(tmp_path: Path) -> None:
    root = _write(tmp_path / "set", {"wide.png": _png(1, (40, 30)), "ok.png": _png(2, (10, 10))})
    image_set = from_folder(root, limits=Limits(max_pixels=40 * 30 - 1))
    assert image_set.paths == ("ok.png",) and image_set.skipped == {"too_large": 1}


# ------------------------------------------------------------------------------------------ zip layouts


def test_zip_of_a_folder_reads_like_the_folder(tmp_path: Path) -> None:
    root = _write(tmp_path / "set", LABELLED)
    folder = from_folder(root)
    # zipping a folder puts everything inside that folder (and directory entries, and macOS's __MACOSX)
    members: list[tuple[str | zipfile.ZipInfo, bytes]] = [("set/", b""), ("set/cat/", b"")]
    members += [(f"set/{rel}", data) for rel, data in reversed(LABELLED.items())]
    members += [("__MACOSX/set/._a.png", b"\0\5\x16\7"), ("set/.DS_Store", b"\0\0\0\1Bud1")]
    data = _zip(members)
    zipped = from_zip(data, name="set.zip")
    assert (
        zipped.paths == folder.paths and zipped.labels == folder.labels and zipped.classes == folder.classes
    )
    assert zipped.skipped == {"hidden": 2} and zipped.name == "set.zip"
    for item in zipped:
        assert isinstance(item.source, bytes)
        assert _same_pixels(item.load(), LABELLED[item.path])
    # the same zip from a path and from a file object; stored instead of deflated changes nothing visible
    path = tmp_path / "set.zip"
    path.write_bytes(data)
    for again in (from_zip(path), from_path(path), from_zip(io.BytesIO(data), name="set.zip")):
        assert again.paths == zipped.paths and again.fingerprint == zipped.fingerprint
    stored = from_zip(_zip(members, zipfile.ZIP_STORED))
    assert stored.paths == zipped.paths and stored.fingerprint != zipped.fingerprint


def test_zip_of_flat_files_is_unlabelled_and_ordered_by_path() -> None:
    image_set = from_zip(_zip([(name, data) for name, data in UNLABELLED.items()]))
    assert image_set.paths == ("a.png", "b.png", "c.png") and image_set.labels is None
    assert image_set.name == "upload.zip"


def test_one_wrapper_folder_is_peeled_but_two_folders_are_classes() -> None:
    peeled = from_zip(_zip([("outer/inner/a.png", _png(1)), ("outer/inner/b.png", _png(2))]))
    assert peeled.paths == ("a.png", "b.png") and not peeled.labelled
    classes = from_zip(_zip([("outer/x/a.png", _png(1)), ("outer/y/b.png", _png(2))]))
    assert classes.paths == ("x/a.png", "y/b.png") and classes.labels == (0, 1)


def test_duplicate_names_keep_the_first() -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = _zip([("a.png", _png(1)), ("a.png", _png(2)), ("./b.png", _png(3)), ("b.png", _png(4))])
    image_set = from_zip(data)
    assert image_set.paths == ("a.png", "b.png") and image_set.skipped == {"duplicate": 2}
    assert _same_pixels(image_set.load("a.png"), _png(1)) and _same_pixels(image_set.load("b.png"), _png(3))


# ------------------------------------------------------------------------------------- hostile zip corpus


def _patch_sizes(data: bytes, file_size: int) -> bytes:
    """Make every header (local and central) claim ``file_size`` uncompressed bytes."""
    patched = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = patched.find(signature)
        while start >= 0:
            patched[start + offset : start + offset + 4] = struct.pack("<I", file_size)
            start = patched.find(signature, start + 4)
    return bytes(patched)


def _lying_small() -> bytes:
    # 5 MiB of data whose headers say 100 bytes: reading stops at 100, whose CRC cannot match.
    return _patch_sizes(_zip([("liar.png", _png(1) + b"\0" * (5 * 2**20))]), 100)


def _lying_large() -> bytes:
    # A tiny member whose headers claim 30 MiB: the claimed expansion is a bomb's.
    return _patch_sizes(_zip([("claims.png", _png(1))]), 30 * 2**20)


def _encrypted() -> bytes:
    data = bytearray(_zip([("secret.png", _png(1))], zipfile.ZIP_STORED))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = data.find(signature)
        data[start + offset] |= 0x1  # the "encrypted" flag bit
    return bytes(data)


_PNG = _png(1)
TRAVERSAL = (
    "../evil.png",
    "../../../../evil2.png",
    "/etc/evil.png",
    "C:/Windows/evil.png",
    "c:evil.png",
    "a\\..\\..\\evil.png",
    "ok/../../evil.png",
)

# name -> (zip bytes or a function making them, limits, expected key, words the sentence must contain)
HOSTILE = {
    "traversal": (
        lambda: _zip([(name, _PNG) for name in TRAVERSAL]),
        ZIP_LIMITS,
        "nothing_usable",
        ["unsafe path (", "backslash): 7"],
    ),
    "symlink": (
        lambda: _zip([(_symlink_member("passwd.png"), b"../../../etc/passwd")]),
        ZIP_LIMITS,
        "nothing_usable",
        ["symbolic link: 1"],
    ),
    "bomb": (
        lambda: _zip([("big.png", b"\0" * (20 * 2**20))]),
        ZIP_LIMITS,
        "bomb",
        ["'big.png'", "zip bomb", "expands"],
    ),
    "lying_small_header": (_lying_small, ZIP_LIMITS, "nothing_usable", ["damaged: 1"]),
    "lying_large_header": (_lying_large, ZIP_LIMITS, "bomb", ["'claims.png'", "zip bomb"]),
    "10000_empty_members": (
        lambda: _zip([(f"e{i:05d}.png", b"") for i in range(10_000)], zipfile.ZIP_STORED),
        ZIP_LIMITS,
        "too_many_members",
        ["more than 5,000 files"],
    ),
    "10000_empty_members_allowed": (
        lambda: _zip([(f"e{i:05d}.png", b"") for i in range(10_000)], zipfile.ZIP_STORED),
        Limits(max_members=20_000),
        "nothing_usable",
        ["empty: 10,000"],
    ),
    "non_images": (
        lambda: _zip(
            [
                ("notes.txt", b"hello"),
                ("table.csv", b"a,b\n1,2\n"),
                ("fake.png", b"not a png at all"),
                ("archive.zip", _zip([("a.png", _PNG)])),  # zips inside zips are not opened
                ("blank.png", b""),
            ]
        ),
        ZIP_LIMITS,
        "nothing_usable",
        ["not an image: 4", "empty: 1"],
    ),
    "member_too_large": (
        lambda: _zip([("photo.png", _png(1, (64, 64)))], zipfile.ZIP_STORED),
        Limits(max_member_bytes=1_000),
        "nothing_usable",
        ["too large: 1"],
    ),
    "total_too_large": (
        lambda: _zip([(f"{i}.png", _png(i, (32, 32))) for i in range(4)], zipfile.ZIP_STORED),
        Limits(max_total_bytes=6_000),
        "too_large",
        ["add up to more than"],
    ),
    "encrypted": (_encrypted, ZIP_LIMITS, "nothing_usable", ["encrypted: 1"]),
    "empty_zip": (lambda: _zip([]), ZIP_LIMITS, "empty", ["no files"]),
    "only_folders": (lambda: _zip([("a/", b""), ("a/b/", b"")]), ZIP_LIMITS, "empty", ["no files"]),
    "zero_bytes": (lambda: b"", ZIP_LIMITS, "empty", ["no files"]),
    "not_a_zip": (lambda: b"this is plain text, not a zip archive", ZIP_LIMITS, "not_zip", ["not a zip"]),
    "truncated_zip": (
        lambda: _zip([("a.png", _PNG), ("b.png", _PNG)])[:-30],
        ZIP_LIMITS,
        "not_zip",
        ["not a zip", "damaged"],
    ),
    "png_named_zip": (lambda: _PNG, ZIP_LIMITS, "not_zip", ["not a zip"]),
}


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The working directory and the temporary folder are empty folders inside tmp_path; extracting fails."""
    cwd, tmp = tmp_path / "cwd" / "deeper", tmp_path / "tmp"
    cwd.mkdir(parents=True)
    tmp.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(tempfile, "tempdir", os.fspath(tmp))

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a zip member was extracted")

    monkeypatch.setattr(zipfile.ZipFile, "extract", refuse)
    monkeypatch.setattr(zipfile.ZipFile, "extractall", refuse)
    yield tmp_path
    for name in TRAVERSAL:  # where an extraction relative to the working directory would have written
        assert not (cwd / name.replace("\\", "/")).resolve().exists(), name
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "cwd",
        "cwd/deeper",
        "tmp",
    ]


def _korean(err: ImageSetError) -> str:
    from cnnviz.ui.text import tr

    params = dict(err.params)
    if err.key == "nothing_usable":
        params["skipped"] = ", ".join(
            tr(f"sets.skip.{r}", "ko", count=n) for r, n in err.params["skipped"].items()
        )
    return tr(f"setserr.{err.key}", "ko", **params)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_zip_gets_its_sentence(case: str, sandbox: Path) -> None:
    make, limits, key, words = HOSTILE[case]
    data = make()
    with pytest.raises(ImageSetError) as caught:
        from_zip(data, name="hostile.zip", limits=limits)
    err = caught.value
    assert err.key == key and key in ERROR_KEYS
    sentence = str(err)
    assert sentence.endswith(".") and "'hostile.zip'" in sentence
    for word in words:
        assert word in sentence, (word, sentence)
    assert err.params["name"] == "hostile.zip"
    korean = _korean(err)  # every parameter the Korean sentence needs is in params
    assert "hostile.zip" in korean
    # the same zip from a file on disk behaves the same and writes nothing beside it
    path = sandbox / "tmp" / "hostile.zip"
    path.write_bytes(data)
    try:
        with pytest.raises(ImageSetError) as again:
            from_zip(path, limits=limits)
        assert again.value.key == key and str(again.value) == sentence
    finally:
        path.unlink()


def test_every_hostile_member_is_counted_beside_good_images(sandbox: Path) -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = _zip(
            [
                ("good/a.png", _png(1)),
                ("good/b.png", _png(2)),
                ("../evil.png", _PNG),
                ("/abs.png", _PNG),
                (_symlink_member("link.png"), b"/etc/passwd"),
                (_symlink_member("fifo.png", stat.S_IFIFO), _PNG),
                ("notes.txt", b"hello"),
                ("blank.png", b""),
                (".hidden.png", _PNG),
                ("good/a.png", _png(3)),
            ]
        )
    image_set = from_zip(data)
    # notes.txt and blank.png sit in the root, so good/ is no wrapper but a class
    assert image_set.paths == ("good/a.png", "good/b.png") and image_set.classes == ("good",)
    assert image_set.skipped == {
        "unsafe_path": 2,
        "symlink": 1,
        "not_regular": 1,
        "hidden": 1,
        "duplicate": 1,
        "empty": 1,
        "not_image": 1,
    }
    assert describe_skipped(image_set.skipped).startswith("unsafe path (.., absolute")
    assert image_set.skipped_total == 8


def test_an_unknown_compression_method_is_unreadable() -> None:
    data = bytearray(_zip([("odd.png", _png(1)), ("ok.png", _png(2))]))
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        start = data.find(signature)  # the first member's headers
        data[start + offset : start + offset + 2] = struct.pack("<H", 99)
    image_set = from_zip(bytes(data))
    assert image_set.paths == ("ok.png",) and image_set.skipped == {"unreadable": 1}


def test_the_entry_count_is_refused_before_zipfile_reads_the_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = _zip([(f"{i}.png", b"") for i in range(10_000)], zipfile.ZIP_STORED)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("ZipFile parsed a directory that was already too large")

    monkeypatch.setattr(zips.zipfile, "ZipFile", refuse)
    with pytest.raises(ImageSetError) as caught:
        from_zip(data)
    assert caught.value.key == "too_many_members"


def test_an_understated_entry_count_is_still_caught() -> None:
    data = bytearray(_zip([(f"{i}.png", _PNG) for i in range(10)]))
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = struct.pack("<HH", 1, 1)  # the end record says 1 entry; the directory holds 10
    with pytest.raises(ImageSetError) as caught:
        from_zip(bytes(data), limits=Limits(max_members=5))
    assert caught.value.key == "too_many_members"


def test_reading_stops_where_a_member_runs_past_its_header(monkeypatch: pytest.MonkeyPatch) -> None:
    """Headers can lie: the bytes are counted as they come, whatever the zip library does."""
    data = _zip([("a.png", _png(1)), ("b.png", _png(2))])
    real_open = zipfile.ZipFile.open

    def overflowing(self: zipfile.ZipFile, info: zipfile.ZipInfo, *args: object, **kwargs: object) -> object:
        if info.filename == "a.png":
            return io.BytesIO(b"\0" * (info.file_size + 1))
        return real_open(self, info)

    monkeypatch.setattr(zipfile.ZipFile, "open", overflowing)
    image_set = from_zip(data)
    assert image_set.paths == ("b.png",) and image_set.skipped == {"damaged": 1}


def test_the_total_is_enforced_while_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _zip([(f"{i}.png", _png(i, (32, 32))) for i in range(4)], zipfile.ZIP_STORED)
    monkeypatch.setattr(zips, "_check_headers", lambda *args: None)  # as if the headers had passed
    with pytest.raises(ImageSetError) as caught:
        from_zip(data, limits=Limits(max_total_bytes=6_000))
    assert caught.value.key == "too_large"


def test_a_small_member_may_compress_well() -> None:
    blank = io.BytesIO()
    Image.new("RGB", (300, 300)).save(blank, "BMP")  # 270 KB of zeros: ratio far above 100, below the floor
    image_set = from_zip(_zip([("blank.bmp", blank.getvalue())]))
    assert image_set.paths == ("blank.bmp",) and image_set.load("blank.bmp").size == (300, 300)


# ------------------------------------------------------------------------------------------ batches


def _to_tensor(image: Image.Image) -> object:
    import torch

    return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).float() / 255.0


def test_batches_stream_every_image_and_skip_the_damaged_one(tmp_path: Path) -> None:
    import torch
    from torchvision.transforms.functional import pil_to_tensor

    files = {f"{c}/{i}.png": _png(10 * k + i) for k, c in enumerate("ab") for i in range(3)}
    broken = _png(99, (64, 64))
    files["a/broken.png"] = broken[: len(broken) // 2]  # a valid header, half the pixels
    root = _write(tmp_path / "set", files)
    image_set = from_folder(root)
    assert len(image_set) == 7  # the header is fine, so it belongs to the set
    stream = batches(image_set, _to_tensor, batch_size=2)
    assert (stream.total, stream.done, stream.yielded) == (7, 0, 0)
    got = list(stream)
    assert [len(batch.paths) for batch in got] == [2, 2, 2]
    assert stream.done == 7 and stream.yielded == 6 and stream.skipped == {"damaged": 1}
    assert stream.failures[0][0] == "a/broken.png" and "truncated or damaged" in stream.failures[0][1]
    paths = [path for batch in got for path in batch.paths]
    assert paths == [p for p in image_set.paths if p != "a/broken.png"]
    for batch in got:
        assert batch.images.shape == (len(batch.paths), 3, 10, 12) and batch.labels is not None
        assert batch.labels.dtype == torch.int64
        for path, image, label in zip(batch.paths, batch.images, batch.labels, strict=True):
            expected = pil_to_tensor(Image.open(io.BytesIO(files[path])).convert("RGB")).float() / 255.0
            torch.testing.assert_close(image, expected, rtol=0, atol=0)
            assert image_set.classes[int(label)] == path.split("/")[0]


def test_batches_of_an_unlabelled_set_have_no_labels_and_survive_vanished_files(tmp_path: Path) -> None:
    root = _write(tmp_path / "set", UNLABELLED)
    image_set = from_folder(root)
    (root / "a.png").unlink()
    (root / "b.png").unlink()
    (root / "b.png").symlink_to(tmp_path / "elsewhere.png")  # swapped for a link after the set was read
    (tmp_path / "elsewhere.png").write_bytes(_png(0))
    stream = batches(image_set, _to_tensor, batch_size=8)
    [batch] = list(stream)
    assert batch.paths == ("c.png",) and batch.labels is None
    assert stream.skipped == {"unreadable": 2}


def test_batches_where_nothing_decodes_yield_nothing(tmp_path: Path) -> None:
    broken = _png(1, (64, 64))
    image_set = from_folder(_write(tmp_path / "set", {"x.png": broken[:100]}))
    stream = batches(image_set, _to_tensor)
    assert list(stream) == [] and stream.skipped == {"damaged": 1} and stream.done == 1


def test_batches_check_their_arguments(tmp_path: Path) -> None:
    image_set = from_folder(_write(tmp_path / "set", {"a.png": _png(1), "b.png": _png(2, (5, 5))}))
    with pytest.raises(ValueError, match="batch_size"):
        batches(image_set, _to_tensor, batch_size=0)
    with pytest.raises(TypeError, match="transform"):
        batches(image_set, "not callable", batch_size=2)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="image_set"):
        batches([], _to_tensor)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"one shape.*'a.png'.*'b.png'"):
        list(batches(image_set, _to_tensor, batch_size=2))
    with pytest.raises(TypeError, match=r"\(C, H, W\)"):
        list(batches(image_set, lambda image: np.asarray(image), batch_size=2))  # type: ignore[arg-type,return-value]


# ------------------------------------------------------------------------------------------ bundled sets


def test_bundled_digits_are_the_held_out_split_of_lenet_5() -> None:
    from cnnviz.data.digits import CLASSES, split_digits

    digits = bundled("digits")
    assert digits is bundled("digits")  # built once
    split = split_digits()
    assert len(digits) == 200 and digits.classes == CLASSES == tuple("0123456789")
    counts = np.bincount(np.asarray(digits.labels), minlength=10)
    assert counts.tolist() == [20] * 10
    for item in digits:
        folder, file = item.path.split("/")
        row = int(file.removesuffix(".png"))
        assert int(split.held_out_labels[row]) == item.label == int(folder)
        grey = np.rint(split.held_out_grids[row].astype(np.float64) * 255).astype(np.uint8)
        expected = np.repeat(np.repeat(grey, 4, axis=0), 4, axis=1)
        assert np.array_equal(np.asarray(item.load())[..., 0], expected)


def test_bundled_shapes_are_the_cards_held_out_images() -> None:
    from cnnviz.data import shapes
    from cnnviz.models.mini import held_out_set

    image_set = bundled("shapes")
    assert len(image_set) == 180 and image_set.classes == shapes.CLASSES
    images, labels = held_out_set(180)
    by_seed = {seed: i for i, seed in enumerate(shapes.held_out_seeds(180))}
    assert image_set.paths == tuple(sorted(image_set.paths))
    for item in image_set:
        folder, file = item.path.split("/")
        i = by_seed[int(file.removesuffix(".png"))]
        assert item.label == int(labels[i]) and folder == shapes.CLASSES[int(labels[i])]
        assert np.array_equal(np.asarray(item.load()), images[i].permute(1, 2, 0).numpy())
    assert sorted(by_seed) == sorted(int(p.split("/")[1][:-4]) for p in image_set.paths)


def test_bundled_samples_are_the_photos_and_their_quarters() -> None:
    from cnnviz.images import load_sample, sample_names

    image_set = bundled("samples")
    photos = sample_names("photo")
    assert len(photos) == 8 and len(image_set) == 40 and not image_set.labelled
    for name in photos:
        photo = np.asarray(load_sample(name))
        assert np.array_equal(np.asarray(image_set.load(f"{name}.png")), photo)
        h, w = photo.shape[0] // 2, photo.shape[1] // 2
        quarters = [np.asarray(image_set.load(f"{name}-q{q}.png")) for q in range(1, 5)]
        assert all(quarter.shape == (h, w, 3) for quarter in quarters)
        tiled = np.concatenate([np.concatenate(quarters[:2], axis=1), np.concatenate(quarters[2:], axis=1)])
        assert np.array_equal(tiled, photo[: 2 * h, : 2 * w])


def test_unknown_bundled_set() -> None:
    with pytest.raises(ImageSetError) as caught:
        bundled("mnist")
    assert caught.value.key == "unknown_bundled" and "'mnist'" in str(caught.value)
    assert "digits, shapes, samples" in str(caught.value)


# ------------------------------------------------------------------------------------------ the rest


def test_every_error_and_skip_reason_is_translated() -> None:
    from cnnviz.ui.text import TEXT

    assert {f"setserr.{key}" for key in ERROR_KEYS} <= TEXT.keys()
    assert {f"sets.skip.{reason}" for reason in SKIP_REASONS} <= TEXT.keys()
    assert {f"sets.bundled.{name}" for name in imagesets.BUNDLED} <= TEXT.keys()


def test_sets_pickle_for_caches(tmp_path: Path) -> None:
    sets = [
        from_zip(_zip(list(LABELLED.items()))),
        from_folder(_write(tmp_path / "set", LABELLED)),
        bundled("shapes"),
        bundled("samples"),
    ]
    for image_set in sets:
        again = pickle.loads(pickle.dumps(image_set))
        assert (again.paths, again.labels, again.classes, again.fingerprint) == (
            image_set.paths,
            image_set.labels,
            image_set.classes,
            image_set.fingerprint,
        )
        path = image_set.paths[-1]
        assert np.array_equal(np.asarray(again.load(path)), np.asarray(image_set.load(path)))


def test_errors_pickle_and_keys_are_checked() -> None:
    err = ImageSetError("x.", key="empty", params={"name": "a.zip"})
    again = pickle.loads(pickle.dumps(err))
    assert (again.key, again.params, str(again)) == ("empty", {"name": "a.zip"}, "x.")
    with pytest.raises(ValueError, match="key"):
        ImageSetError("x.", key="nope")
    with pytest.raises(ValueError, match="unknown skip reasons"):
        describe_skipped({"bogus": 1})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_members": 0},
        {"max_member_bytes": -1},
        {"max_total_bytes": 0},
        {"max_ratio": 0.5},
        {"max_pixels": True},
    ],
)
def test_limits_are_checked(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        Limits(**kwargs)  # type: ignore[arg-type]


def test_from_zip_rejects_other_types_and_folders(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="source"):
        from_zip(42)  # type: ignore[arg-type]
    with pytest.raises(ImageSetError) as caught:
        from_zip(tmp_path)
    assert caught.value.key == "not_zip"
    with pytest.raises(ImageSetError) as caught:
        from_zip(tmp_path / "missing.zip")
    assert caught.value.key == "not_found"
    assert isinstance(from_path(_write(tmp_path / "set", UNLABELLED)), ImageSet)


def test_import_does_not_import_torch() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys, cnnviz.imagesets; print('torch' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "False"

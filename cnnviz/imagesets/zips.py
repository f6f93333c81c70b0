"""Reading a zip of images in memory, treating it as hostile (`from_zip`)."""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Final

from cnnviz.imagesets.errors import ImageSetError, _empty, _not_found, _not_zip, _size, _too_large, _too_many
from cnnviz.imagesets.items import ImageSet, _assemble, _Candidate, _hidden, _identify, _Tally
from cnnviz.imagesets.limits import _MIB, ZIP_LIMITS, Limits

__all__ = ["from_zip"]


# A zip central-directory entry is 46 bytes plus its name, extra field and comment; 1 KiB per entry on
# average is far above what real archives use, so a larger directory means more entries than allowed.
_MAX_ENTRY_BYTES: Final[int] = 1024
_CHUNK: Final[int] = 64 * 1024
_DRIVE: Final = re.compile(r"^[A-Za-z]:")


_ZIP_ERRORS: Final = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, struct.error)


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

"""Reading a folder of images without following links (`from_folder`, `from_path`)."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from cnnviz.images import ImageError
from cnnviz.imagesets.errors import ImageSetError, _empty, _not_found, _size, _too_many
from cnnviz.imagesets.items import ImageSet, _assemble, _Candidate, _identify, _Tally
from cnnviz.imagesets.limits import FOLDER_LIMITS, ZIP_LIMITS, Limits
from cnnviz.imagesets.zips import from_zip

__all__ = ["from_folder", "from_path"]


@dataclass(frozen=True, eq=False)
class _FolderFile:
    """A file of a folder, opened again (never through a symbolic link) each time it is decoded."""

    path: Path
    max_bytes: int

    def __call__(self) -> bytes:
        return _read_file(self.path, self.max_bytes)


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

"""How much of a zip or folder is read: `Limits`, `ZIP_LIMITS` and `FOLDER_LIMITS`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cnnviz.images import DEFAULT_MAX_PIXELS

__all__ = ["FOLDER_LIMITS", "ZIP_LIMITS", "Limits"]


_MIB: Final[int] = 2**20


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

"""Why a set cannot be used (`ImageSetError`) and why a file was skipped (`SKIP_REASONS`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from cnnviz.errors import KeyedError
from cnnviz.imagesets.limits import _MIB

__all__ = ["ERROR_KEYS", "SKIP_REASONS", "ImageSetError", "describe_skipped"]


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


# ---------------------------------------------------------------------------------------------- errors


class ImageSetError(KeyedError):
    """A folder or zip cannot be used as an image set; ``str(err)`` is one plain English sentence.

    Attributes:
        key: What went wrong, one of `ERROR_KEYS`.
        params: The values the sentence mentions (``name``, ``limit``, ``skipped`` …), for a translation.
    """

    KEYS = ERROR_KEYS


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

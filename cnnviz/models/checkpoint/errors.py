"""`CheckpointError`, the one error a checkpoint or labels file gives, and the helpers its sentences share."""

from __future__ import annotations

from typing import Final

from cnnviz.errors import KeyedError

__all__ = ["ERROR_KEYS", "CheckpointError"]


ERROR_KEYS: Final[tuple[str, ...]] = (
    "empty",
    "not_found",
    "unreadable",
    "too_large",
    "not_checkpoint",
    "damaged",
    "bad_safetensors",
    "whole_model",
    "objects",
    "not_state_dict",
    "no_tensors",
    "no_match",
    "mismatch",
    "load_failed",
    "labels_empty",
    "labels_too_large",
    "labels_not_text",
    "labels_bad_json",
    "labels_json_type",
    "labels_item",
)
"""Every `CheckpointError.key`, so the UI can check that its text table translates each one."""


_LISTED: Final[int] = 5  # names shown per list in a sentence; the count says how many there are in all


class CheckpointError(KeyedError):
    """A checkpoint or labels file could not be used; ``str(err)`` is one plain English sentence.

    Attributes:
        key: What went wrong, one of `ERROR_KEYS`, so the UI can show the sentence in another language.
        params: The values the sentence mentions (``name`` of the file always; ``cls``, ``reason``, lists of
            key names, sizes …), for that translation.
    """

    KEYS = ERROR_KEYS


def _first_line(err: BaseException) -> str:
    """The first sentence of an error from a library, for the end of ours."""
    lines = str(err).strip().splitlines()
    if not lines:
        return type(err).__name__
    return lines[0].split(". ")[0].rstrip(".")[:200]


def _listing(names: list[str], most: int = _LISTED) -> str:
    """ "a, b, c and 4 more", or "—" for none."""
    if not names:
        return "—"
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown} and {len(names) - most} more"


def _no_labels(label: str) -> CheckpointError:
    return CheckpointError(
        f"The labels file “{label}” names no classes.", key="labels_empty", params={"name": label}
    )

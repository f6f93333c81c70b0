"""Reading class names from a text or JSON labels file (`read_labels`)."""

from __future__ import annotations

import json
import os
from typing import Final

from cnnviz.models.checkpoint.errors import CheckpointError, _no_labels
from cnnviz.models.checkpoint.reading import _check_limit, _read_source

__all__ = ["DEFAULT_MAX_LABEL_BYTES", "read_labels"]


DEFAULT_MAX_LABEL_BYTES: Final[int] = 4 << 20
"""Largest labels file `read_labels` reads by default (4 MiB: ImageNet-21k's names take about 0.5 MiB)."""


# --------------------------------------------------------------------------------------------- labels


def read_labels(
    source: bytes | bytearray | memoryview | str | os.PathLike[str],
    *,
    name: str = "",
    max_bytes: int = DEFAULT_MAX_LABEL_BYTES,
) -> list[str]:
    """Class names from a text file (one per line) or a JSON list of strings.

    Lines and names are stripped; blank lines are ignored. A file whose first character (after spaces) is
    ``[`` or ``{`` is read as JSON. The count is not checked here: the caller compares it with the model's.

    Args:
        source: The file's bytes (an upload) or a path to it.
        name: The file's name for sentences; a path names itself when this is empty.
        max_bytes: The largest file accepted.

    Returns:
        The class names in order; the i-th names output i.

    Raises:
        CheckpointError: The file is missing, unreadable, empty, too large, not UTF-8 text, invalid JSON, a
            JSON value other than a list, or a list with an entry that is not a non-empty string; or it names
            no class.
        TypeError: ``source`` is neither bytes nor a path.
        ValueError: ``max_bytes`` is not a positive integer.
    """
    _check_limit(max_bytes, "max_bytes")
    data, label = _read_source(source, name, max_bytes, "labels_too_large")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise CheckpointError(
            f"The labels file “{label}” is not UTF-8 text.", key="labels_not_text", params={"name": label}
        ) from err
    if text.lstrip()[:1] in ("[", "{"):
        labels = _json_labels(text, label)
    else:
        labels = [line.strip() for line in text.splitlines() if line.strip()]
    if not labels:
        raise _no_labels(label)
    return labels


_JSON_TYPES: Final[dict[type, str]] = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def _json_labels(text: str, label: str) -> list[str]:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        reason = err.msg if isinstance(err, json.JSONDecodeError) else "nested too deeply"
        raise CheckpointError(
            f"The labels file “{label}” is not valid JSON ({reason}); use a JSON list of class names, or one "
            "name per line.",
            key="labels_bad_json",
            params={"name": label, "reason": reason},
        ) from err
    if not isinstance(value, list):
        found = _JSON_TYPES.get(type(value), type(value).__name__)
        raise CheckpointError(
            f"The labels file “{label}” holds a JSON {found}; it must be a JSON list of class names "
            "(strings).",
            key="labels_json_type",
            params={"name": label, "found": found},
        )
    labels: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            found = "empty string" if isinstance(item, str) else _JSON_TYPES.get(type(item), "value")
            raise CheckpointError(
                f"Entry {index} of the labels list in “{label}” is a JSON {found}, not a class name.",
                key="labels_item",
                params={"name": label, "index": index, "found": found},
            )
        labels.append(item.strip())
    return labels

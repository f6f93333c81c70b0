"""What the many-image commands share: a folder (or zip, or bundled set) as batches, with a progress line."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from cnnviz import imagesets, models
from cnnviz.cli.errors import CliError

__all__ = ["BATCH_SIZE", "image_set", "progress_batches"]

BATCH_SIZE = 32


def image_set(folder: str) -> imagesets.ImageSet:
    """A folder or zip (class subfolders make it labelled), or a bundled set as `bundled:NAME`.

    Raises:
        CliError: it can't be read, or nothing in it is usable (the sentence says why).
    """
    try:
        if folder.startswith("bundled:"):
            return imagesets.bundled(folder.removeprefix("bundled:"))
        if not Path(folder).exists():
            raise CliError(f"FOLDER {folder}: no such folder or zip.")
        found = imagesets.from_path(folder)
    except imagesets.ImageSetError as err:
        raise CliError(f"FOLDER {folder}: {err}") from None
    if found.skipped_total:
        print(
            f"skipped {found.skipped_total} files ({imagesets.describe_skipped(found.skipped)})",
            file=sys.stderr,
        )
    return found


def progress_batches(
    found: imagesets.ImageSet, model: models.LoadedModel, what: str
) -> Iterator[imagesets.Batch]:
    """Batches of `found` in the model's own preprocessing, with a progress line on stderr."""

    def transform(image):  # type: ignore[no-untyped-def]
        return model.preprocess(image)[0]

    stream = imagesets.batches(found, transform, BATCH_SIZE)
    tty = sys.stderr.isatty()
    for batch in stream:
        line = f"{what}: {stream.done}/{stream.total} images"
        print(f"\r{line}" if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
        yield batch
    if tty:
        print(file=sys.stderr)
    if stream.failures:
        path, sentence = stream.failures[0]
        print(f"{len(stream.failures)} images could not be read, e.g. {path}: {sentence}", file=sys.stderr)

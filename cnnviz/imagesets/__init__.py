"""Image sets: many images from a folder, a zip upload or a bundled set, streamed in batches.

An `ImageSet` is a sorted list of `ImageItem` (a POSIX path relative to the set's root, a label or None, and
the means to decode it with `cnnviz.images.load_image`), the class names when it is labelled, and a count of
what was skipped, by reason (`SKIP_REASONS`). `batches` streams it through a model's transform as
``(paths, (N, C, H, W) tensor, labels)``; an image that fails to decode is skipped and counted, never fatal.

Where sets come from:

- `from_folder` (the command line), `from_zip` (an upload in the app), `from_path` (either, by what the path
  is);
- `bundled` (no upload): ``"digits"``, 200 held-out digits for LeNet-5; ``"shapes"``, 180 held-out shapes
  for the mini classifiers; ``"samples"``, the 8 sample photos for MobileNetV2 with their quarters (40).

Layout (torchvision's ``ImageFolder``): images inside first-level subfolders make the set labelled, each
subfolder a class (deeper folders belong to their first-level folder's class); ``classes`` are the subfolder
names sorted as Python sorts strings, and a label is an index into them. Images lying directly in the root
make the set unlabelled, but only when no subfolder holds an image: in a mix, the loose root images are
skipped and counted as ``"unlabelled"``, as ``ImageFolder`` ignores them. A subfolder without any image is
no class. A zip whose files all sit inside one folder (what zipping a folder makes) is read from inside that
folder, so a zip of one class folder is an unlabelled set. Bundled sets keep their model's class order, so a
label is the model's output index.

A zip is hostile until proven otherwise. Its members are read into memory (never extracted); member names
with ``..``, a leading ``/``, a drive letter or a backslash, and symbolic links (by their mode bits), are
skipped and counted; the member count, each member's size, the total uncompressed size and each member's
compression ratio are limited (`Limits`), from the headers before anything is read and again while reading,
since headers can lie. Folders get the same rules: symbolic links are never followed (not even to inside the
folder), special files are never opened. A set with nothing usable is an `ImageSetError`, whose text is one
plain English sentence and whose ``key`` lets the UI show it in Korean, like `cnnviz.images.ImageError`.

Membership is decided from each file's header (what Pillow identifies, and its width × height), not by
decoding every pixel, so opening a set stays quick; a file that is damaged further in is skipped (reason
``"damaged"``) when `batches` decodes it.

The package, one module per idea: `errors` (the error and the skip reasons), `limits`, `items` (the set,
its items and the layout rule), `zips`, `folders`, `bundled_sets` and `batching`. Every public name is
importable from ``cnnviz.imagesets``.
"""

from __future__ import annotations

from cnnviz.imagesets.batching import Batch, Batches, batches
from cnnviz.imagesets.bundled_sets import BUNDLED, bundled
from cnnviz.imagesets.errors import ERROR_KEYS, SKIP_REASONS, ImageSetError, describe_skipped
from cnnviz.imagesets.folders import from_folder, from_path
from cnnviz.imagesets.items import ImageItem, ImageSet
from cnnviz.imagesets.limits import FOLDER_LIMITS, ZIP_LIMITS, Limits
from cnnviz.imagesets.zips import from_zip

__all__ = [
    "BUNDLED",
    "ERROR_KEYS",
    "FOLDER_LIMITS",
    "SKIP_REASONS",
    "ZIP_LIMITS",
    "Batch",
    "Batches",
    "ImageItem",
    "ImageSet",
    "ImageSetError",
    "Limits",
    "batches",
    "bundled",
    "describe_skipped",
    "from_folder",
    "from_path",
    "from_zip",
]

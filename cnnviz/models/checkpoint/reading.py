"""Reading a checkpoint as data, never as code: ``safetensors`` or ``torch.load(weights_only=True)``, and a
sentence for a pickle that holds more than tensors (`read_state_dict`)."""

from __future__ import annotations

import errno
import io
import os
import pickle
import pickletools
import struct
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import torch

from cnnviz.models.checkpoint.errors import CheckpointError, _first_line, _listing, _no_labels

__all__ = ["DEFAULT_MAX_BYTES", "NESTED_KEYS", "read_state_dict"]


DEFAULT_MAX_BYTES: Final[int] = 1 << 30
"""Largest checkpoint `read_state_dict` reads by default (1 GiB: VGG-16's 528 MB fits)."""


NESTED_KEYS: Final[tuple[str, ...]] = ("state_dict", "model_state_dict", "model")
"""Keys a training checkpoint keeps its state dict under (Lightning, the PyTorch tutorials, many repos)."""


_TORCH_SUFFIXES: Final[tuple[str, ...]] = (".pt", ".pth", ".bin", ".ckpt")
_SAVE_ADVICE: Final[str] = 'torch.save(model.state_dict(), "weights.pt")'


_UNNAMED: Final[str] = "upload"
_MAX_SAFETENSORS_HEADER: Final[int] = 100_000_000  # the safetensors library's own limit


# -------------------------------------------------------------------------------------------- reading


def read_state_dict(
    source: bytes | bytearray | memoryview | str | os.PathLike[str],
    *,
    name: str = "",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> dict[str, torch.Tensor]:
    """Read a state dict from a ``.safetensors`` file or a PyTorch checkpoint, without running its code.

    The format is told from the content: a safetensors header (an 8-byte length, then a JSON object), a
    ``torch.save`` zip archive, or a legacy ``torch.save`` pickle. A PyTorch file is read only with
    ``torch.load(weights_only=True, map_location="cpu")``. A state dict nested under one of `NESTED_KEYS` is
    unwrapped; other entries of a training checkpoint (epoch, optimizer, ...) are left out.

    Args:
        source: The file's bytes (an upload) or a path to it.
        name: The file's name for sentences (an upload's name); a path names itself when this is empty.
        max_bytes: The largest file accepted, checked before anything is read from a path.

    Returns:
        Parameter and buffer names mapped to CPU tensors, in the file's order (a safetensors file keeps none:
        there, the library's).

    Raises:
        CheckpointError: The file is missing, unreadable, empty, larger than ``max_bytes``, not a checkpoint,
            damaged, a whole pickled model, a pickle holding other objects, or holds no named tensors.
        TypeError: ``source`` is neither bytes nor a path.
        ValueError: ``max_bytes`` is not a positive integer.
    """
    _check_limit(max_bytes, "max_bytes")
    data, label = _read_source(source, name, max_bytes, "too_large")
    loaded: object
    if _looks_like_safetensors(data):
        loaded = _load_safetensors(data, label)
    elif data.startswith(b"PK\x03\x04") or data.startswith(b"\x80"):
        loaded = _load_torch(data, label, max_bytes)
    elif label.lower().endswith(".safetensors"):
        raise _bad_safetensors(label, "the header is not an 8-byte length followed by a JSON object")
    else:
        raise CheckpointError(
            f"“{label}” is not a checkpoint: cnnviz reads .safetensors files and state dicts saved with "
            f"torch.save ({', '.join(_TORCH_SUFFIXES)}).",
            key="not_checkpoint",
            params={"name": label},
        )
    return _state_dict_in(loaded, label)


def _check_limit(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")


def _read_source(
    source: bytes | bytearray | memoryview | str | os.PathLike[str], name: str, max_bytes: int, too_large: str
) -> tuple[bytes, str]:
    """The file's bytes and the name sentences call it by; size and emptiness checked."""
    if isinstance(source, bytes | bytearray | memoryview):
        label = name or _UNNAMED
        data = bytes(source)
        _check_size(len(data), max_bytes, label, too_large)
        return data, label
    if not isinstance(source, str | os.PathLike):
        raise TypeError(f"source must be bytes or a path, got {type(source).__name__}")
    path = Path(source)
    label = name or os.fspath(source)
    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "it is a folder")
        size = path.stat().st_size
        _check_size(size, max_bytes, label, too_large)
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(
            f"No file was found at “{label}”.", key="not_found", params={"name": label}
        ) from None
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise CheckpointError(
            f"The file “{label}” could not be opened ({reason}).",
            key="unreadable",
            params={"name": label, "reason": reason},
        ) from err
    _check_size(len(data), max_bytes, label, too_large)  # it may have grown since stat
    return data, label


def _check_size(size: int, limit: int, label: str, too_large: str) -> None:
    labels = too_large == "labels_too_large"
    if size == 0 and labels:
        raise _no_labels(label)
    if size == 0:
        raise CheckpointError(f"The checkpoint file “{label}” is empty.", key="empty", params={"name": label})
    if size > limit:
        params = {"name": label, "size_mb": size / 2**20, "limit_mb": limit / 2**20}
        what = "a labels file" if labels else "a checkpoint"
        raise CheckpointError(
            f"“{label}” is {params['size_mb']:.1f} MB; {what} may have at most {params['limit_mb']:.1f} MB.",
            key=too_large,
            params=params,
        )


def _looks_like_safetensors(data: bytes) -> bool:
    """An 8-byte little-endian header length that fits the file, then a JSON object."""
    if len(data) < 10:
        return False
    (length,) = struct.unpack("<Q", data[:8])
    return 2 <= length <= min(len(data) - 8, _MAX_SAFETENSORS_HEADER) and data[8:9] == b"{"


def _bad_safetensors(label: str, reason: str) -> CheckpointError:
    return CheckpointError(
        f"“{label}” is not a valid safetensors file ({reason}).",
        key="bad_safetensors",
        params={"name": label, "reason": reason},
    )


def _load_safetensors(data: bytes, label: str) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        return load(data)
    except (SafetensorError, ValueError, TypeError, OverflowError) as err:
        raise _bad_safetensors(label, _first_line(err)) from err


def _load_torch(data: bytes, label: str, max_bytes: int) -> object:
    try:
        return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as err:
        # The safe unpickler met a class it does not build, or the pickle is damaged. Which one is read from
        # the pickle's opcodes, never by loading it.
        refused = _refused_pickle(data, label, max_bytes)
        if refused is not None:
            raise refused from err
        raise _damaged(label, "its pickle could not be read") from err
    except (RuntimeError, EOFError, KeyError, IndexError, ValueError, TypeError, AttributeError) as err:
        raise _damaged(label, _first_line(err)) from err
    except (OSError, struct.error, OverflowError, zipfile.BadZipFile) as err:
        raise _damaged(label, _first_line(err)) from err


def _damaged(label: str, reason: str) -> CheckpointError:
    return CheckpointError(
        f"“{label}” looks like a PyTorch checkpoint but could not be read; it may be truncated or damaged "
        f"({reason}).",
        key="damaged",
        params={"name": label, "reason": reason},
    )


# A state dict's pickle refers to these for its tensors and containers; the first other global names what was
# pickled (a model's class, or whatever a payload calls).
_TENSOR_GLOBALS: Final[tuple[str, ...]] = ("torch._utils.", "collections.", "copyreg.", "_codecs.")
_STRING_OPS: Final[frozenset[str]] = frozenset(
    {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING", "SHORT_BINSTRING"}
)
_GET_OPS: Final[frozenset[str]] = frozenset({"BINGET", "LONG_BINGET", "GET"})
_PUT_OPS: Final[frozenset[str]] = frozenset({"BINPUT", "LONG_BINPUT", "PUT"})
_PY3_NAMES: Final[dict[str, str]] = {
    "__builtin__": "builtins",
    "copy_reg": "copyreg",
}  # protocol 2's spelling


def _refused_pickle(data: bytes, label: str, max_bytes: int) -> CheckpointError | None:
    """The sentence for a pickle of a model or of other objects, found by reading its opcodes only.

    None when the pickle is damaged rather than refused.
    """
    scan = _scan_pickles(data, max_bytes)
    if scan is None:
        return None
    globals_, strings, complete = scan
    named = [g for g in globals_ if not g.startswith((*_TENSOR_GLOBALS, "torch."))] or [
        g for g in globals_ if not g.startswith(_TENSOR_GLOBALS)
    ]
    # A pickled nn.Module carries its own __dict__, whose keys include these attribute names.
    if {"_modules", "_parameters"} <= strings:
        cls = next((g for g in globals_ if not g.startswith(_TENSOR_GLOBALS)), "torch.nn.Module")
        return CheckpointError(
            f"“{label}” holds a whole pickled model ({cls}), not only its weights; loading it would run code "
            f"from the file, so cnnviz does not. Save the weights instead with {_SAVE_ADVICE} (or "
            'safetensors.torch.save_file(model.state_dict(), "weights.safetensors")) and use that file.',
            key="whole_model",
            params={"name": label, "cls": cls},
        )
    if not named and not complete:
        return None
    cls = named[0] if named else "?"
    return CheckpointError(
        f"“{label}” holds Python objects besides tensors ({cls}); loading them would run code from the file, "
        f"so cnnviz does not. Save only the weights, with {_SAVE_ADVICE}.",
        key="objects",
        params={"name": label, "cls": cls},
    )


def _scan_pickles(data: bytes, max_bytes: int) -> tuple[list[str], set[str], bool] | None:
    """Globals (``module.name``) and string constants in the checkpoint's pickles, and whether every pickle
    read to its end; None when there is no pickle to read."""
    streams: list[bytes] = []
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for info in archive.infolist():
                    # torch.save writes "<archive>/data.pkl"; a member bigger than the file limit is no
                    # state dict's pickle (and is not decompressed here).
                    if info.filename.endswith("data.pkl") and info.file_size <= max_bytes:
                        streams.append(archive.read(info))
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError):
            return None
    else:
        streams.append(data)  # the legacy format: several pickles one after another, then raw storage
    globals_: list[str] = []
    strings: set[str] = set()
    parsed = False
    complete = True
    for stream in streams:
        for ops, whole in _pickles_in(stream):
            parsed = True
            complete = complete and whole
            _collect(ops, globals_, strings)
    return (globals_, strings, complete) if parsed else None


def _pickles_in(stream: bytes, most: int = 8) -> Iterator[tuple[list[tuple[str, Any]], bool]]:
    """The opcodes of each pickle at the start of `stream`, and whether it reads to its STOP.

    Legacy files hold several pickles and then raw bytes, which end the scan.
    """
    fp = io.BytesIO(stream)
    for _ in range(most):
        if fp.tell() >= len(stream):
            return
        ops: list[tuple[str, Any]] = []
        try:
            for opcode, arg, _pos in pickletools.genops(fp):
                ops.append((opcode.name, arg))
        except (ValueError, EOFError, KeyError, IndexError, TypeError, UnicodeDecodeError, struct.error):
            if ops:
                yield ops, False  # the readable part still names what it builds
            return
        yield ops, True


def _collect(ops: list[tuple[str, Any]], globals_: list[str], strings: set[str]) -> None:
    """Adds the globals and strings in `ops`, following the memo so a repeated STACK_GLOBAL is named too."""
    memo: dict[int, str] = {}
    recent: list[str] = []  # strings pushed since the last other opcode: STACK_GLOBAL's module and name
    memo_count = 0  # MEMOIZE's implicit index
    for op, arg in ops:
        if op in _STRING_OPS:
            recent.append(str(arg))
            strings.add(str(arg))
            continue
        if op in _GET_OPS and int(arg) in memo:
            recent.append(memo[int(arg)])
            continue
        if op == "MEMOIZE" or op in _PUT_OPS:
            index = memo_count if op == "MEMOIZE" else int(arg)
            memo_count += op == "MEMOIZE"
            if recent:
                memo[index] = recent[-1]
            continue
        if op == "GLOBAL":
            module, _, name = str(arg).partition(" ")
            globals_.append(f"{_PY3_NAMES.get(module, module)}.{name}")
        elif op == "STACK_GLOBAL" and len(recent) >= 2:
            globals_.append(f"{_PY3_NAMES.get(recent[-2], recent[-2])}.{recent[-1]}")
        recent.clear()


def _state_dict_in(loaded: object, label: str) -> dict[str, torch.Tensor]:
    """The named tensors of what the file held, unwrapping `NESTED_KEYS` (a training checkpoint)."""
    if isinstance(loaded, torch.Tensor) or not isinstance(loaded, Mapping):
        kind = "single tensor" if isinstance(loaded, torch.Tensor) else type(loaded).__name__
        raise CheckpointError(
            f"“{label}” holds a {kind}, not a state dict (parameter names mapped to tensors); save one with "
            f"{_SAVE_ADVICE}.",
            key="not_state_dict",
            params={"name": label, "kind": kind},
        )
    top = loaded
    current: Mapping[Any, Any] = loaded
    for _ in range(3):  # {"state_dict": {...}} and, rarely, one level more
        inner = next(
            (current[k] for k in NESTED_KEYS if isinstance(current.get(k), Mapping) and _tensors(current[k])),
            None,
        )
        if inner is None:
            break
        current = inner
    state = _tensors(current)
    if not state:
        keys = _listing([str(k) for k in top])
        raise CheckpointError(
            f"“{label}” holds no tensors by name (its keys: {keys}); cnnviz looks for a state dict at the "
            f"top or under {', '.join(f'“{k}”' for k in NESTED_KEYS)}.",
            key="no_tensors",
            params={"name": label, "keys": keys},
        )
    return state


def _tensors(mapping: Mapping[Any, Any]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in mapping.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}

"""Weights from a file someone uploads or names: read as data, never as code, and fitted to a model.

An upload is data. Weights are read only with ``safetensors`` or with ``torch.load(weights_only=True)``, whose
unpickler builds tensors and plain containers and refuses every other class. A whole pickled model
(``torch.save(model)``) or a pickle holding other objects is refused with a sentence that says how to save a
``state_dict()`` instead; nothing inside the file is ever imported or called.

>>> from cnnviz.models.checkpoint import fit_state_dict, read_labels, read_state_dict
>>> state = read_state_dict("resnet18-10.safetensors")  # doctest: +SKIP
>>> model = torchvision.models.resnet18()  # 1000 classes  # doctest: +SKIP
>>> fit_state_dict(model, state, resize_head=True).new_classes  # doctest: +SKIP
10

Every refusal is a `CheckpointError` (a ``ValueError``) whose ``str`` is one English sentence naming the file;
its ``key`` and ``params`` let the app say the same sentence in Korean (``ckpterr.<key>`` in the text table).
"""

from __future__ import annotations

import errno
import io
import json
import os
import pickle
import pickletools
import struct
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import torch
from torch import nn

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_LABEL_BYTES",
    "ERROR_KEYS",
    "NESTED_KEYS",
    "CheckpointError",
    "LoadReport",
    "fit_state_dict",
    "read_labels",
    "read_state_dict",
]

DEFAULT_MAX_BYTES: Final[int] = 1 << 30
"""Largest checkpoint `read_state_dict` reads by default (1 GiB: VGG-16's 528 MB fits)."""

DEFAULT_MAX_LABEL_BYTES: Final[int] = 4 << 20
"""Largest labels file `read_labels` reads by default (4 MiB: ImageNet-21k's names take about 0.5 MiB)."""

NESTED_KEYS: Final[tuple[str, ...]] = ("state_dict", "model_state_dict", "model")
"""Keys a training checkpoint keeps its state dict under (Lightning, the PyTorch tutorials, many repos)."""

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

_TORCH_SUFFIXES: Final[tuple[str, ...]] = (".pt", ".pth", ".bin", ".ckpt")
_SAVE_ADVICE: Final[str] = 'torch.save(model.state_dict(), "weights.pt")'
_LISTED: Final[int] = 5  # names shown per list in a sentence; the count says how many there are in all
_UNNAMED: Final[str] = "upload"
_MAX_SAFETENSORS_HEADER: Final[int] = 100_000_000  # the safetensors library's own limit


class CheckpointError(ValueError):
    """A checkpoint or labels file could not be used; ``str(err)`` is one plain English sentence.

    Attributes:
        key: What went wrong, one of `ERROR_KEYS`, so the UI can show the sentence in another language.
        params: The values the sentence mentions (``name`` of the file always; ``cls``, ``reason``, lists of
            key names, sizes …), for that translation.
    """

    def __init__(self, message: str, *, key: str, params: Mapping[str, Any] | None = None) -> None:
        if key not in ERROR_KEYS:
            raise ValueError(f"key must be one of {ERROR_KEYS}, got {key!r}")
        super().__init__(message)
        self.key = key
        self.params: dict[str, Any] = dict(params or {})

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments are lost by the default exception pickling; keep them.
        return (_rebuild_error, (str(self), self.key, self.params))


def _rebuild_error(message: str, key: str, params: dict[str, Any]) -> CheckpointError:
    return CheckpointError(message, key=key, params=params)


@dataclass(frozen=True)
class LoadReport:
    """What `fit_state_dict` did to make a checkpoint fit.

    Attributes:
        stripped: The prefix removed from the checkpoint's keys (``"module."``, ``"model."``,
            ``"_orig_mod.module."`` …), or ``""`` when the keys fitted as they were.
        ignored: Keys outside that prefix which the model has no place for (a Lightning module's loss weights,
            say), left out of the load. Empty when nothing was stripped.
        head: Name of the classifier head replaced to take the checkpoint's class count (``"fc"``,
            ``"classifier.1"``), or None when no head was resized.
        old_classes: The head's output count before it was replaced (None when not resized).
        new_classes: Its output count after, the checkpoint's class count (None when not resized).
        loaded: How many tensors were copied into the model.
    """

    stripped: str
    ignored: tuple[str, ...]
    head: str | None
    old_classes: int | None
    new_classes: int | None
    loaded: int


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


def _first_line(err: BaseException) -> str:
    """The first sentence of an error from a library, for the end of ours."""
    lines = str(err).strip().splitlines()
    if not lines:
        return type(err).__name__
    return lines[0].split(". ")[0].rstrip(".")[:200]


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


def _listing(names: list[str], most: int = _LISTED) -> str:
    """ "a, b, c and 4 more", or "—" for none."""
    if not names:
        return "—"
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown} and {len(names) - most} more"


# -------------------------------------------------------------------------------------------- fitting


def fit_state_dict(
    model: nn.Module,
    state: Mapping[str, torch.Tensor],
    *,
    resize_head: bool = False,
    name: str = "",
) -> LoadReport:
    """Load `state` into `model` strictly, after the few changes that make a fair checkpoint fit.

    1. A prefix that wrappers add (``module.`` from DataParallel, ``model.`` from a Lightning module,
       ``_orig_mod.`` from ``torch.compile``, or any other leading name) is stripped when that makes more of
       the keys name the model's parameters. Keys outside it that the model has no place for are left out
       (they belong to the wrapper) and listed in the report.
    2. With ``resize_head``, the classifier head (the model's last ``nn.Linear``, else its last 1×1
       ``nn.Conv2d``) is replaced by a new layer with the checkpoint's class count when only that differs, so
       a ResNet-18 built for 1000 classes takes a 10-class checkpoint.
    3. Every key must then be there with its shape; the model is unchanged if not.

    Args:
        model: The network to load into (changed in place: its head may be replaced).
        state: Names mapped to tensors, as from `read_state_dict`.
        resize_head: Whether the classifier head may take the checkpoint's class count.
        name: The checkpoint's file name for sentences.

    Returns:
        What was stripped, left out and resized, and how many tensors were loaded.

    Raises:
        CheckpointError: Keys are missing, unexpected or of another shape (each listed by name, first few,
            with counts), or none of them belong to the model.
        TypeError: ``model`` is not an ``nn.Module`` or ``state`` is not a mapping of names to tensors.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise TypeError("state must map parameter names (str) to tensors, as read_state_dict returns")
    label = name or _UNNAMED
    model_name = type(model).__name__
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    stripped, renamed, ignored = _strip_prefix(dict(state), expected.keys())

    head = _head(model) if resize_head else None
    resized: tuple[str, nn.Module, nn.Module] | None = None
    if head is not None:
        resized = _resized_head(model, head, renamed)
        if resized is not None:
            for param in resized[1].state_dict():
                del expected[f"{head}.{param}"]
            for param, value in resized[2].state_dict().items():
                expected[f"{head}.{param}"] = tuple(value.shape)

    _check_keys(renamed, expected, model, label, model_name)
    old_classes = new_classes = None
    if resized is not None:
        head_name, old, new = resized
        _replace(model, head_name, new)
        old_classes, new_classes = _classes(old), _classes(new)
    try:
        model.load_state_dict(renamed, strict=True)
    except RuntimeError as err:  # a case the check above does not foresee (a dtype that cannot be copied)
        if resized is not None:
            _replace(model, resized[0], resized[1])
        reason = _first_line(err)
        raise CheckpointError(
            f"The weights in “{label}” could not be copied into {model_name} ({reason}).",
            key="load_failed",
            params={"name": label, "model": model_name, "reason": reason},
        ) from err
    return LoadReport(
        stripped=stripped,
        ignored=tuple(ignored),
        head=resized[0] if resized is not None else None,
        old_classes=old_classes,
        new_classes=new_classes,
        loaded=len(renamed),
    )


def _strip_prefix(
    state: dict[str, torch.Tensor], wanted: Iterable[str]
) -> tuple[str, dict[str, torch.Tensor], list[str]]:
    """The prefix whose removal makes the most keys name the model's entries.

    Candidates are each key's first name (``module.``), and its first two or three names
    (``_orig_mod.module.``) where those cover at least half of the keys, as a wrapper's do.

    Returns the prefix (``""`` for none), the renamed state, and the names of the keys left out.
    """
    wanted = set(wanted)
    counts: dict[str, int] = {}
    for key in state:
        parts = key.split(".")[:-1]
        for depth in range(1, min(3, len(parts)) + 1):
            prefix = ".".join(parts[:depth]) + "."
            counts[prefix] = counts.get(prefix, 0) + 1
    candidates = sorted(p for p, n in counts.items() if p.count(".") == 1 or 2 * n >= len(state))
    best_score = sum(k in wanted for k in state)
    best: tuple[str, dict[str, torch.Tensor], list[str]] = ("", state, [])
    for prefix in candidates:
        inside = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
        outside = [k for k in state if not k.startswith(prefix)]
        kept = {k: state[k] for k in outside if k in wanted}
        if kept.keys() & inside.keys():
            continue  # both spellings of a name: not a wrapper's prefix
        score = sum(k in wanted for k in inside) + len(kept)
        if score > best_score:
            best_score = score
            best = (prefix, {**inside, **kept}, [k for k in outside if k not in wanted])
    return best


def _head(model: nn.Module) -> str | None:
    """Name of the classifier head: the last nn.Linear, else the last 1×1 nn.Conv2d."""
    linear = [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and n]
    if linear:
        return linear[-1]
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and n]
    if convs:
        last = model.get_submodule(convs[-1])
        if isinstance(last, nn.Conv2d) and tuple(last.kernel_size) == (1, 1):
            return convs[-1]
    return None


def _resized_head(
    model: nn.Module, head: str, state: Mapping[str, torch.Tensor]
) -> tuple[str, nn.Module, nn.Module] | None:
    """(name, old, new) when the checkpoint's head differs from the model's in its output count only."""
    old = model.get_submodule(head)
    weight = state.get(f"{head}.weight")
    if weight is None or not isinstance(old, nn.Linear | nn.Conv2d):
        return None
    shape, current = tuple(weight.shape), tuple(old.weight.shape)
    if shape == current or len(shape) != len(current) or shape[1:] != current[1:] or shape[0] == 0:
        return None
    classes = shape[0]
    bias = f"{head}.bias" in state
    device, dtype = old.weight.device, old.weight.dtype
    new: nn.Module
    if isinstance(old, nn.Linear):
        new = nn.Linear(old.in_features, classes, bias=bias, device=device, dtype=dtype)
    else:
        if old.groups != 1:
            return None
        settings: dict[str, Any] = {"stride": old.stride, "padding": old.padding, "dilation": old.dilation}
        new = nn.Conv2d(
            old.in_channels,
            classes,
            kernel_size=1,
            **settings,
            bias=bias,
            padding_mode=old.padding_mode,
            device=device,
            dtype=dtype,
        )
    new.train(old.training)
    return head, old, new


def _classes(module: nn.Module) -> int:
    if isinstance(module, nn.Linear):
        return module.out_features
    if isinstance(module, nn.Conv2d):
        return module.out_channels
    raise TypeError(f"a head is an nn.Linear or nn.Conv2d, got {type(module).__name__}")


def _replace(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, module)


def _check_keys(
    state: Mapping[str, torch.Tensor],
    expected: Mapping[str, tuple[int, ...]],
    model: nn.Module,
    label: str,
    model_name: str,
) -> None:
    # BatchNorm fills in a missing num_batches_tracked itself (checkpoints from before it existed).
    filled = {
        f"{n}.num_batches_tracked" if n else "num_batches_tracked"
        for n, m in model.named_modules()
        if isinstance(m, nn.modules.batchnorm._NormBase)
    }
    missing = [k for k in expected if k not in state and k not in filled]
    unexpected = [k for k in state if k not in expected]
    shapes = [k for k in expected if k in state and tuple(state[k].shape) != expected[k]]  # the model's order
    if not (missing or unexpected or shapes):
        return
    if state and not any(k in expected for k in state):
        params = {
            "name": label,
            "model": model_name,
            "count": len(state),
            "keys": _listing(list(state), 3),
            "model_keys": _listing(list(expected), 3),
        }
        raise CheckpointError(
            f"None of the {params['count']} tensor names in “{label}” belong to {model_name} (the file's: "
            f"{params['keys']}; the model's: {params['model_keys']}); it was probably saved from another "
            "architecture.",
            key="no_match",
            params=params,
        )
    params = {
        "name": label,
        "model": model_name,
        "n_missing": len(missing),
        "missing": _listing(missing),
        "n_unexpected": len(unexpected),
        "unexpected": _listing(unexpected),
        "n_shape": len(shapes),
        "shapes": _listing([f"{k} {_shape(state[k].shape)} ≠ {_shape(expected[k])}" for k in shapes]),
    }
    raise CheckpointError(
        f"The weights in “{label}” do not fit {model_name}: {params['n_missing']} missing "
        f"({params['missing']}), {params['n_unexpected']} unexpected ({params['unexpected']}), "
        f"{params['n_shape']} shaped differently, file ≠ model ({params['shapes']}).",
        key="mismatch",
        params=params,
    )


def _shape(shape: Any) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


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


def _no_labels(label: str) -> CheckpointError:
    return CheckpointError(
        f"The labels file “{label}” names no classes.", key="labels_empty", params={"name": label}
    )


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

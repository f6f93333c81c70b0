"""Fitting a state dict to a model: prefixes stripped, the classifier head resized, every mismatch named
(`fit_state_dict`, `LoadReport`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from cnnviz.models.checkpoint.errors import CheckpointError, _first_line, _listing
from cnnviz.models.checkpoint.reading import _UNNAMED

__all__ = ["LoadReport", "fit_state_dict"]


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

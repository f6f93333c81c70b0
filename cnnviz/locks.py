"""One re-entrant lock per model object, shared by everything that runs or hooks a cached model.

It sits at the bottom of the package so both `cnnviz.models` (which hands models to the pages) and
`cnnviz.hooks` (which attaches hooks) use the same lock for the same model.
"""

from __future__ import annotations

import threading
import weakref

from torch import nn

__all__ = ["model_lock"]

_LOCKS: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def model_lock(model: nn.Module) -> threading.RLock:
    """Returns the one re-entrant lock that belongs to `model` (created on first use).

    The lock lives as long as the model object does; `capture()` holds it for its whole block, and callers
    that run a shared model outside `capture()` should hold it too.

    Args:
        model: Any module; the lock is keyed by the object, not by its architecture.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    with _LOCKS_GUARD:
        lock = _LOCKS.get(model)
        if lock is None:
            lock = threading.RLock()
            _LOCKS[model] = lock
        return lock

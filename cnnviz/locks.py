"""One re-entrant lock per model object, shared by everything that runs or hooks a cached model.

It sits at the bottom of the package so both `cnnviz.models` (which hands models to the pages) and
`cnnviz.hooks` (which attaches hooks) use the same lock for the same model.

Two things set it apart from a plain `threading.RLock`, both for a room of students on one server:
- passes declared short (`short_passes()`: one layer's map, a traced cell, each stopping early) that are
  waiting take the lock before waiting whole-network passes, so a layer switch is not queued behind the
  first views of everyone who just arrived (shortest job first);
- each thread's time spent waiting for any model's lock is counted (`waited()`), for `bench/class.py`.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
import time
import weakref
from collections.abc import Iterator

from torch import nn

__all__ = ["ModelLock", "model_lock", "short_passes", "waited"]

_SHORT: contextvars.ContextVar[bool] = contextvars.ContextVar("cnnviz_short_passes", default=False)
_WAITED = threading.local()
SHORT_FIRST = os.environ.get("CNNVIZ_SHORT_FIRST", "1") != "0"
"""Whether `short_passes()` has an effect; `CNNVIZ_SHORT_FIRST=0` turns it off, for `bench/class.py`'s
comparison of both orders on one machine."""


@contextlib.contextmanager
def short_passes() -> Iterator[None]:
    """Within the block, this thread's waits for a model's lock go ahead of other waits."""
    token = _SHORT.set(SHORT_FIRST)
    try:
        yield
    finally:
        _SHORT.reset(token)


def waited() -> float:
    """Seconds this thread has spent waiting for model locks, since it started (subtract two readings)."""
    return float(getattr(_WAITED, "seconds", 0.0))


class ModelLock:
    """A re-entrant lock where waiting short passes go first; otherwise like `threading.RLock`.

    A thread that holds it may take it again; it must release it as often. Among waiters, any that entered
    under `short_passes()` get the lock before the others; within a group the order is not defined (as with
    `RLock`). Whole-network passes wait while short ones keep coming, which in the app lasts a click's work.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._short_waiting = 0

    def _free_for(self, short: bool) -> bool:
        return self._owner is None and (short or self._short_waiting == 0)

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        me = threading.get_ident()
        short = _SHORT.get()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return True
            if not self._free_for(short):
                if not blocking:
                    return False
                start = time.perf_counter()
                self._short_waiting += short
                try:
                    got = self._cond.wait_for(
                        lambda: self._free_for(short), timeout=None if timeout < 0 else timeout
                    )
                finally:
                    self._short_waiting -= short
                    _WAITED.seconds = waited() + time.perf_counter() - start
                if not got:
                    return False
            self._owner, self._depth = me, 1
            return True

    def release(self) -> None:
        with self._cond:
            if self._owner != threading.get_ident():
                raise RuntimeError("cannot release a model lock held by another thread")
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cond.notify_all()  # short and long waiters re-check; a short one wins

    def locked(self) -> bool:
        return self._owner is not None

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


_LOCKS: weakref.WeakKeyDictionary[nn.Module, ModelLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def model_lock(model: nn.Module) -> ModelLock:
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
            lock = ModelLock()
            _LOCKS[model] = lock
        return lock

"""A test helper: when an analysis module takes and releases a model's lock, and when the model runs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import ModuleType

import pytest
from torch import nn


@contextlib.contextmanager
def watch_lock(monkeypatch: pytest.MonkeyPatch, module: ModuleType, model: nn.Module) -> Iterator[list[str]]:
    """Within the block: events "lock" / "unlock" each time `module` takes `model_lock` (its own import of
    it), and "pass" each time `model` starts a forward pass."""
    events: list[str] = []
    real = module.model_lock

    @contextlib.contextmanager
    def watched(m: nn.Module) -> Iterator[None]:
        with real(m):
            events.append("lock")
            yield
            events.append("unlock")

    monkeypatch.setattr(module, "model_lock", watched)
    handle = model.register_forward_pre_hook(lambda m, a: events.append("pass"))
    try:
        yield events
    finally:
        handle.remove()
        monkeypatch.setattr(module, "model_lock", real)

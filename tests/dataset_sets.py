"""Shared by the tests/test_dataset_*.py files: a generated image set and plain-hook references."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def make_set(
    n: int, shape: Sequence[int] = (3, 16, 16), *, seed: int = 0, classes: int | None = None, batch: int = 4
) -> tuple[
    list[str], torch.Tensor, torch.Tensor | None, list[tuple[list[str], torch.Tensor, torch.Tensor | None]]
]:
    """n random images named img_000 … (shuffled names, so path order is not batch order), in batches."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, *shape, generator=g)
    order = torch.randperm(n, generator=g).tolist()
    paths = [f"set/img_{i:03d}.png" for i in order]
    labels = torch.randint(0, classes, (n,), generator=g) if classes else None
    batches = [
        (paths[i : i + batch], x[i : i + batch], labels[i : i + batch] if labels is not None else None)
        for i in range(0, n, batch)
    ]
    return paths, x, labels, batches


def plain_outputs(model: nn.Module, names: Sequence[str], x: torch.Tensor) -> dict[str, list[torch.Tensor]]:
    """Every call's output of the named modules on x (eval, no grad), by plain register_forward_hook."""
    modules = dict(model.named_modules())
    found: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    handles = [
        modules[n].register_forward_hook(lambda m, a, o, n=n: found[n].append(o.detach().clone()))
        for n in names
    ]
    try:
        was = model.training
        model.eval()
        with torch.no_grad():
            model(x)
        model.train(was)
    finally:
        for h in handles:
            h.remove()
    return found


def hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())

"""torch's CPU thread count for one block of work, restored after it.

Small networks train fastest on one thread (more threads mostly wait for each other), and the live demos
(a GAN step, style transfer) say how many threads they may take. With torch's OpenMP backend the count is
the calling thread's own (a session's script thread), and the default for threads that have not run a
parallel operator yet; `make class` starts the server with one thread fewer than the cores.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["torch_threads"]


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Sets torch's intra-op thread count to `count` inside the block (None: leave it as it is)."""
    if count is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)

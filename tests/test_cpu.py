"""cnnviz.cpu.torch_threads sets torch's thread count for a block and always restores it."""

from __future__ import annotations

import pytest
import torch

from cnnviz.cpu import torch_threads


def test_thread_count_set_inside_and_restored_after() -> None:
    before = torch.get_num_threads()
    other = 2 if before == 1 else 1  # a count that differs from the current one, on any machine
    with torch_threads(other):
        assert torch.get_num_threads() == other
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before


def test_thread_count_restored_after_an_error() -> None:
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="boom"), torch_threads(2 if before == 1 else 1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before

"""Fixtures shared by the test files: a temporary weight cache, a blocked network, a seed.

torch is imported inside the fixtures, so test files that never use them do not pay for it.
"""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest


class NetworkAttempts(list[str]):
    """What tried to reach the network while :func:`no_network` was active (each attempt raised OSError)."""


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> NetworkAttempts:
    """Every way the code reaches the network raises ``OSError`` and is recorded.

    Assert ``no_network == []`` to prove that no download was even attempted (code that falls back on failure
    would otherwise hide the attempt).
    """
    attempts = NetworkAttempts()

    def refuse(what: str):
        def blocked(*args: object, **kwargs: object) -> None:
            target = getattr(args[0], "full_url", args[0]) if args else ""  # a urllib Request names its URL
            attempts.append(f"{what}: {target}")
            raise OSError(f"network blocked in tests ({what})")

        return blocked

    import torch.hub

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse("torch.hub.download_url_to_file"))
    monkeypatch.setattr(urllib.request, "urlopen", refuse("urllib.request.urlopen"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    return attempts


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub cache: ``TORCH_HOME`` points at a temporary folder.

    Returns:
        The (created, empty) ``checkpoints`` folder where torchvision looks for pretrained weights.
    """
    import torch.hub

    home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.setattr(
        torch.hub, "_hub_dir", None
    )  # an earlier torch.hub.set_dir() would win over TORCH_HOME
    checkpoints = home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    assert Path(torch.hub.get_dir()) == home / "hub"
    return checkpoints


@pytest.fixture
def cnnviz_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cnnviz weight cache: ``CNNVIZ_CACHE`` points at a temporary folder."""
    cache = tmp_path / "cnnviz_cache"
    monkeypatch.setenv("CNNVIZ_CACHE", str(cache))
    return cache


@pytest.fixture
def seeded() -> int:
    """Seeds Python's, numpy's and torch's global generators with 0 and returns the seed."""
    import random

    import numpy as np
    import torch

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    return 0

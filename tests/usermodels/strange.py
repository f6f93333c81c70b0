"""A user's model: 1 channel at 40 × 40, a functional residual "+", a hand-written SE gate, 7 classes."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Gate(nn.Module):
    """Squeeze (global average) -> FC -> ReLU -> FC -> sigmoid -> scale."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.down = nn.Linear(channels, channels // 2)
        self.up = nn.Linear(channels // 2, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = torch.sigmoid(self.up(F.relu(self.down(x.mean(dim=(2, 3))))))
        return x * w[:, :, None, None]


class Unit(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.a = nn.Conv2d(channels, channels, 3, padding=1)
        self.b = nn.Conv2d(channels, channels, 3, padding=1)
        self.gate = Gate(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.gate(self.b(F.relu(self.a(x)))) + x)  # the residual "+" is a function, no module


class Strange(nn.Module):
    def __init__(self, classes: int = 7) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, stride=2, padding=1)
        self.unit = Unit(8)
        self.head = nn.Linear(8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.relu(self.unit(F.relu(self.stem(x)))).mean(dim=(2, 3)))


def build() -> Strange:
    return Strange()


def not_a_module() -> str:
    return "a string"


def seeded(seed: int = 3) -> Strange:
    torch.manual_seed(seed)
    return Strange()

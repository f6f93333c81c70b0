"""What the browser benches share: Debian's chromium with this workplace's flags, and a loopback port."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

__all__ = ["CHROMIUM", "FLAGS", "ROOT", "SERVER_FLAGS", "free_port"]

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
"""Chromium's flags: headless, nothing fetched from outside (the benches only ever open loopback pages)."""
SERVER_FLAGS = [
    "--server.address",
    "127.0.0.1",
    "--server.headless",
    "true",
    "--browser.gatherUsageStats",
    "false",
]
"""`streamlit run` on loopback only."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

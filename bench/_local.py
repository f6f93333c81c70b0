"""What the browser benches share: Debian's chromium with this workplace's flags, and a loopback port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

__all__ = ["CHROMIUM", "FLAGS", "ROOT", "SERVER_FLAGS", "free_port", "serve"]

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


def serve(
    port: int, env: dict[str, str] | None = None, timeout: float = 120, script: str = "app.py"
) -> subprocess.Popen[bytes]:
    """`streamlit run app.py` (or `script`, from the project root) on loopback, once it is healthy.

    Raises:
        SystemExit: it did not answer within `timeout` seconds (the server is killed).
    """
    cmd = [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port), *SERVER_FLAGS]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"streamlit did not start within {timeout:.0f} s")

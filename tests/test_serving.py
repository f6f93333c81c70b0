"""`make class`, the command that serves a room: torch's passes get one core fewer than the machine has
(the sessions' Python runs on one core at a time); `make run` keeps torch's default (README "Serving a
class")."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def _dry_run(*args: str) -> str:
    return subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize(("cores", "threads"), [(1, 1), (2, 1), (3, 2), (16, 15)])
def test_a_class_server_leaves_one_core_to_python(cores: int, threads: int) -> None:
    out = _dry_run("class", f"CORES={cores}")
    assert f"OMP_NUM_THREADS={threads} " in out
    assert "streamlit run app.py" in out and "--server.address 0.0.0.0" in out


def test_the_lecturers_own_server_keeps_every_core() -> None:
    out = _dry_run("run")
    assert "streamlit run app.py" in out and "OMP_NUM_THREADS" not in out

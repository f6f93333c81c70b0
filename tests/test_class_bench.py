"""A small class (3 students) through bench/class.py: a real server, real chromium sessions, no errors.

The bench's times are not checked (a shared machine swings); what is checked is that every student saw the
first view and three layer switches, that the server logged its own run for each, and that nothing failed.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)", allow_module_level=True)
pytest.importorskip("playwright.async_api")


def test_three_students_at_once() -> None:
    spec = importlib.util.spec_from_file_location("class_bench", ROOT / "bench" / "class.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    [(n, students, own, before, peak, _after, _)] = bench.measure([3], think=0.3, after=0.0, env={})
    assert n == 3 and len(students) == 3
    for s in students:
        assert s.errors == [] and not s.lost
        assert s.first_view is not None and len(s.switches) == 3
    # One run of the layer column per first view and per switch, each logged by the server with the cache.
    assert len(own) >= 3 * 4
    assert {r["session"] for r in own} and all(0 <= r["resident"] <= r["budget"] for r in own)
    assert 0 < before <= peak

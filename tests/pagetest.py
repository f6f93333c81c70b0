"""Helpers the page tests share: open the real app (app.py) with AppTest, find widgets, check exceptions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 180


def open_app(**query: str) -> AppTest:
    """The app, not yet run, with URL query parameters (e.g. lang="ko", model="lenet5")."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in query.items():
        at.query_params[k] = v
    return at


def open_page(path: str, **query: str) -> AppTest:
    """The app run once, then switched to `path` ("pages/...py") and run again."""
    at = open_app(**query)
    at.run()
    at.switch_page(path)
    at.run()
    return at


def assert_ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def widget(at: AppTest, kind: str, key: str) -> Any:
    """A widget by its key, whichever language suffix cnnviz.ui.widgets gave it (key@en, key@ko)."""
    for w in at.get(kind):
        if w.key == key or (w.key or "").split("@")[0] == key:
            return w
    raise AssertionError(f"no {kind} with key {key!r}")

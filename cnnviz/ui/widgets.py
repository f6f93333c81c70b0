"""Option widgets that remember their choice across pages and languages, and can start from the URL.

Two Streamlit behaviours shape this:
- a page switch (in an app of `pages/` files) drops the state of every widget, so the chosen option itself is
  kept under a plain session-state key, and each page's widget starts from it;
- a selectbox (multiselect, segmented control, ...) keeps its value as its *formatted label*, so a label that
  changes with the language would match no option after a switch: each language gets its own widget key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import streamlit as st

from cnnviz.ui.text import language

__all__ = ["remembered", "remembered_tabs"]

T = TypeVar("T")


def remembered(
    widget: Callable[..., Any],
    label: str,
    options: Sequence[T],  # hashable: labels are looked up by option
    key: str,
    format_func: Callable[[T], str] = str,
    default: T | list[T] | None = None,
    url: bool = False,
    **kwargs: Any,
) -> Any:
    """Draws `widget` (st.selectbox, st.radio, st.segmented_control, st.multiselect, or their st.sidebar
    versions) and returns the chosen option(s).

    The choice is remembered under `st.session_state[key]`. With `url`, a first visit starts from the URL's
    query parameter `key` when it names an option (so shared links work); the page writes it back.
    """
    opts = list(options)
    remembered_value = st.session_state.get(key)
    if remembered_value is None and url and st.query_params.get(key) in [str(o) for o in opts]:
        remembered_value = next(o for o in opts if str(o) == st.query_params.get(key))
    if remembered_value is None:
        remembered_value = default
    name = getattr(widget, "__name__", "")
    if name == "multiselect":
        chosen = remembered_value if isinstance(remembered_value, list) else []
        kwargs["default"] = [o for o in chosen if o in opts]
    elif name == "segmented_control":
        kwargs["default"] = remembered_value if remembered_value in opts else opts[0]
    else:
        kwargs["index"] = opts.index(remembered_value) if remembered_value in opts else 0
    # Labels are made now, in this run's language: Streamlit may call format_func again after the run.
    labels = {o: format_func(o) for o in opts}
    value = widget(label, opts, format_func=labels.__getitem__, key=f"{key}@{language()}", **kwargs)
    st.session_state[key] = value
    return value


def remembered_tabs(options: Sequence[str], key: str, format_func: Callable[[str], str] = str) -> list[Any]:
    """`st.tabs` for `options` (ids; `format_func` gives each its label) that keeps the open tab across
    reruns, a language switch and a page switch; returns the tab containers in the order of `options`.

    The open tab's *id* is remembered under `st.session_state[key]`: Streamlit keeps a tab by its label, which
    changes with the language. Switching tabs reruns the script (the tabs track their state).
    """
    opts = list(options)
    labels = [format_func(o) for o in opts]
    widget_key = f"{key}@{language()}"
    chosen = st.session_state.get(key)

    def remember() -> None:
        label = st.session_state.get(widget_key)
        st.session_state[key] = opts[labels.index(label)] if label in labels else opts[0]

    default = labels[opts.index(chosen)] if chosen in opts else labels[0]
    return list(st.tabs(labels, default=default, key=widget_key, on_change=remember))

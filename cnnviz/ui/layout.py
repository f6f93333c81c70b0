"""The page's layout in a narrow window: a projector at 1024 × 768, a laptop at 800 px, a phone.

Streamlit stacks columns only when the whole *window* is at most 640 px wide. With the sidebar open, an
800 px window leaves the page about 500 px, and three columns of 150 px each cut numbers, labels and
matrices. One rule fixes that for every page: while the page's own area is narrow (a CSS container query
on Streamlit's main area, so an open or closed sidebar counts), a column is at least `MIN_COLUMN_REM` wide,
and columns that don't fit side by side wrap onto the next line, growing to fill it (Streamlit's columns
already flex-grow and wrap). In a wide page nothing changes.
"""

from __future__ import annotations

import streamlit as st

__all__ = ["MIN_COLUMN_REM", "NARROW_PAGE_PX", "narrow_page_css", "use_narrow_page_layout"]

NARROW_PAGE_PX = 760
"""Below this width of the page's area (the window less the sidebar) columns get a minimum width."""

MIN_COLUMN_REM = 12
"""A column's least width in a narrow page (192 px): room for a 5 × 5 matrix, a metric, a labelled slider."""


def narrow_page_css() -> str:
    """The style sheet (a `<style>` element) that makes columns wrap in a narrow page."""
    return (
        "<style>"
        '[data-testid="stMain"] { container-type: inline-size; container-name: cnnviz-page; }'
        f"@container cnnviz-page (max-width: {NARROW_PAGE_PX}px) {{"
        '  [data-testid="stHorizontalBlock"] > [data-testid="stColumn"]'
        f"  {{ min-width: min(100%, {MIN_COLUMN_REM}rem); }}"
        "}"
        "</style>"
    )


def use_narrow_page_layout() -> None:
    """Adds the style sheet to this run's page (style-only HTML takes no room on the page)."""
    st.html(narrow_page_css())

"""Starting the app's server from Python (`python -m cnnviz serve`): the one place outside the pages that
starts Streamlit, kept in the only package that imports it."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["APP", "run_app"]

APP = Path(__file__).resolve().parents[2] / "app.py"


def run_app(options: Sequence[str]) -> int:
    """`streamlit run app.py OPTIONS` in this process, so the models this process offers are the app's."""
    from streamlit.web import cli as streamlit_cli

    sys.argv = ["streamlit", "run", str(APP), *options]
    return int(streamlit_cli.main(standalone_mode=False) or 0)

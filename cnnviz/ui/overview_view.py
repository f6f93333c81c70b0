"""The Network-at-a-glance page's cached overview and its click-to-highlight (`cnnviz.analysis.overview`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import streamlit as st
from PIL import Image

from cnnviz import models
from cnnviz.ui import cache

if TYPE_CHECKING:
    from cnnviz.analysis.overview import Overview

__all__ = ["SUMMARY_NODES", "clicked", "highlight_note", "network_overview"]

SUMMARY_NODES = 48
"""The summary view groups a network with more layers than this by module name."""


@st.cache_resource(
    max_entries=8,
    show_spinner=False,
    hash_funcs={models.LoadedModel: lambda m: m.fingerprint, Image.Image: cache.image_key},
)
def network_overview(loaded: models.LoadedModel, image: Image.Image, every_layer: bool) -> Overview:
    """The overview of one (model, image), every layer or the summary; read-only, so kept as a resource."""
    from cnnviz.analysis.overview import overview

    return overview(
        loaded.model, loaded.preprocess(image), max_nodes=10**9 if every_layer else SUMMARY_NODES, channels=4
    )


def clicked(key: str, nodes: int) -> int | None:
    """The node last clicked in the chart under `key` (Streamlit keeps the selected point there), or None."""
    event: Any = st.session_state.get(key)
    points = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else []
    for point in points:
        data = point.get("customdata")
        index = data[0] if isinstance(data, list | tuple) else data
        if isinstance(index, int | float) and 0 <= int(index) < nodes:
            return int(index)
    return None


def highlight_note(ov: Overview, index: int) -> str:
    """The sentence under the chart for a clicked node: where it feeds, what feeds it."""
    from cnnviz.ui.text import t

    def names(ids: list[int]) -> str:
        return ", ".join(ov.nodes[i].label for i in ids) or "—"

    return t(
        "ov.highlight",
        name=ov.nodes[index].label,
        feeds=names(ov.feeds(index)),
        fed_by=names(ov.fed_by(index)),
    )

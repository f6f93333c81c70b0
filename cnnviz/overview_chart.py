"""Plain data -> a plotly figure of the whole network: one column of small channel maps per layer, in order,
joined by the dataflow's edges (`cnnviz.analysis.overview.Overview`).

What plotly can and can't do here, without custom JavaScript: hovering a layer shows a label that names the
layers it is fed by and the layers it feeds (plotly's hover text), but plotly cannot restyle other shapes on
hover. Highlighting is therefore done on a click: the page passes the clicked layer as `highlight`, and the
figure is drawn again with that layer's outgoing edges in red, its incoming edges in blue and the layers it
feeds outlined.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go

from cnnviz.render import colorize

if TYPE_CHECKING:
    from cnnviz.analysis.overview import Overview

__all__ = ["FED_BY_COLOR", "FEEDS_COLOR", "network_strip"]

FEEDS_COLOR = "#e4002b"
FED_BY_COLOR = "#1f5fd6"
_EDGE_COLOR = "rgba(90,90,90,0.55)"
_GAP = 2  # pixels between the maps of one column
_ARC = 36  # room above each row for the edges that skip ahead
_LABEL = 58  # room below each row for the names


def _shape_text(shape: tuple[int, ...] | None) -> str:
    if shape is None:
        return "—"
    return "×".join(str(s) for s in shape[1:]) or "scalar"


def _short(label: str) -> str:
    """A column's name under it: "add_" for "layer1.0: add_", "conv1" for "layer1.0.conv1", and
    "downsample.0" where the last part alone is a bare index."""
    if ": " in label:
        return label.split(": ")[-1]
    parts = label.split(".")
    return ".".join(parts[-2:]) if parts[-1].isdigit() and len(parts) > 1 else parts[-1]


def network_strip(
    ov: Overview,
    highlight: int | None = None,
    per_row: int = 16,
    title: str = "",
    feeds_word: str = "feeds",
    fed_by_word: str = "fed by",
) -> go.Figure:
    """Every node as a column of its thumbnails, `per_row` columns a row, edges drawn between them.

    Args:
        ov: the overview.
        highlight: a node index whose edges and consumers are drawn in colour, or None.
        per_row: columns before the strip wraps to the next row.
        title: figure title.
        feeds_word, fed_by_word: the words of the hover text (translated by the page).
    """
    n = len(ov.nodes)
    size = max((node.thumbnails.shape[1] for node in ov.nodes), default=32)
    maps = max(1, max((len(node.thumbnails) for node in ov.nodes), default=1))
    pitch = size + 22
    column_h = maps * (size + _GAP) - _GAP
    row_h = _ARC + column_h + _LABEL
    rows = -(-n // per_row)
    canvas = np.full((rows * row_h, min(n, per_row) * pitch, 3), 255, np.uint8)

    def place(i: int) -> tuple[int, int]:
        """Top-left pixel of node i's column."""
        return (i // per_row) * row_h + _ARC, (i % per_row) * pitch + 11

    for node in ov.nodes:
        top, left = place(node.index)
        if len(node.thumbnails) == 0:  # a vector or scalar: a grey bar where the maps would be
            canvas[top : top + size // 3, left : left + size] = 205
        for c, thumb in enumerate(node.thumbnails):
            y = top + c * (size + _GAP)
            canvas[y : y + size, left : left + size] = colorize(thumb, vmin=0.0, vmax=255.0)

    feeds = set(ov.feeds(highlight)) if highlight is not None else set()
    shapes: list[dict[str, Any]] = []
    for u, v in ov.edges:
        color, width = _EDGE_COLOR, 1.5
        if highlight is not None and u == highlight:
            color, width = FEEDS_COLOR, 3.0
        elif highlight is not None and v == highlight:
            color, width = FED_BY_COLOR, 2.5
        (tu, lu), (tv, lv) = place(u), place(v)
        if v == u + 1 and tu == tv:  # the next column: a short arrow between the two
            mid = tu + size / 2
            path = f"M {lu + size + 1},{mid} L {lv - 2},{mid}"
        elif tu == tv:  # skips ahead in the same row: an arc above
            x0, x1 = lu + size / 2, lv + size / 2
            lift = min(_ARC - 4, 8 + 3 * (v - u))
            path = f"M {x0},{tu - 1} Q {(x0 + x1) / 2},{tu - 2 * lift} {x1},{tu - 1}"
        else:  # on to a later row
            path = f"M {lu + size / 2},{tu + column_h + 2} L {lv + size / 2},{tv - 2}"
        shapes.append(dict(type="path", path=path, line=dict(color=color, width=width), layer="above"))
    if highlight is not None:
        for i in {highlight, *feeds}:
            top, left = place(i)
            shapes.append(
                dict(
                    type="rect",
                    x0=left - 3,
                    x1=left + size + 3,
                    y0=top - 3,
                    y1=top + column_h + 3,
                    line=dict(color=FEEDS_COLOR if i != highlight else "#111111", width=2.5),
                    layer="above",
                )
            )

    def names(indices: list[int]) -> str:
        return ", ".join(ov.nodes[i].label for i in indices) or "—"

    centres = [place(node.index) for node in ov.nodes]
    hover = [
        f"<b>{node.label}</b> ({node.kind}{f', {node.members} layers' if node.members > 1 else ''})<br>"
        f"{_shape_text(node.shape)}<br>{fed_by_word}: {names(ov.fed_by(node.index))}<br>"
        f"{feeds_word}: {names(ov.feeds(node.index))}"
        for node in ov.nodes
    ]
    annotations = [
        dict(
            x=left + size / 2,
            y=top + column_h + 6,
            text=_short(node.label),
            showarrow=False,
            textangle=-40,
            xanchor="right",
            yanchor="top",
            font=dict(size=10, color=FEEDS_COLOR if node.index in feeds else "#333333"),
        )
        for node, (top, left) in zip(ov.nodes, centres, strict=True)
    ]
    return go.Figure(
        data=[
            go.Image(z=canvas, hoverinfo="skip"),
            go.Scatter(
                x=[left + size / 2 for _, left in centres],
                y=[top + column_h / 2 for top, _ in centres],
                mode="markers",
                marker=dict(size=max(10, size), symbol="square", color="rgba(0,0,0,0)"),
                customdata=list(range(n)),
                hovertext=hover,
                hovertemplate="%{hovertext}<extra></extra>",
                showlegend=False,
            ),
        ],
        layout=dict(
            title=dict(text=title),
            height=min(1400, 70 + rows * (row_h + 10)),
            margin=dict(l=10, r=10, t=40 if title else 10, b=10),
            shapes=shapes,
            annotations=annotations,
            clickmode="event+select",
            dragmode=False,
            plot_bgcolor="white",
            xaxis=dict(visible=False, constrain="domain"),
            yaxis=dict(visible=False, autorange="reversed", scaleanchor="x", constrain="domain"),
        ),
    )

"""Plain data -> plotly figures for the cell trace: a channel to click on, with the traced cell marked."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

__all__ = ["MAX_CLICKABLE", "pick_map"]

MAX_CLICKABLE = 96 * 96
"""Larger maps get no click targets (one invisible marker per cell would make the chart slow)."""


def pick_map(fmap: np.ndarray, row: int, col: int, title: str = "") -> go.Figure:
    """One (H, W) channel as a heatmap, the cell (row, col) outlined, and a click target on every cell.

    Plotly selects points of scatter traces only, never heatmap cells, so an invisible marker sits on each
    cell; a click selects it and its `customdata` is its (row, col).
    """
    a = np.asarray(fmap, dtype=np.float64)
    h, w = a.shape
    data: list[go.BaseTraceType] = [
        go.Heatmap(z=a, colorscale="Viridis", hovertemplate="row %{y}, col %{x}: %{z:.4g}<extra></extra>")
    ]
    if h * w <= MAX_CLICKABLE:
        rows, cols = np.mgrid[0:h, 0:w]
        data.append(
            go.Scatter(
                x=cols.ravel(),
                y=rows.ravel(),
                mode="markers",
                marker=dict(size=max(4, min(24, 400 // max(h, w))), color="rgba(0,0,0,0)", symbol="square"),
                customdata=np.stack([rows.ravel(), cols.ravel()], axis=1),
                text=[f"{v:.4g}" for v in a.ravel()],
                hovertemplate="row %{y}, col %{x}: %{text}<extra></extra>",
                showlegend=False,
            )
        )
    return go.Figure(
        data=data,
        layout=dict(
            title=dict(text=title),
            margin=dict(l=10, r=10, t=40 if title else 10, b=10),
            height=420,
            clickmode="event+select",
            dragmode=False,
            yaxis=dict(autorange="reversed", scaleanchor="x", constrain="domain"),
            xaxis=dict(constrain="domain"),
            shapes=[
                dict(
                    type="rect",
                    x0=col - 0.5,
                    x1=col + 0.5,
                    y0=row - 0.5,
                    y1=row + 0.5,
                    line=dict(color="#ff2b2b", width=3),
                )
            ],
        ),
    )

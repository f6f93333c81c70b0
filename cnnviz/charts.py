"""Plain data -> plotly figures. No torch here: inputs are numpy arrays, lists and dataclasses."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

__all__ = ["bars", "heatmap", "layer_diagram", "line_chart", "matrix"]


def heatmap(
    arr: np.ndarray,
    title: str = "",
    colorscale: str = "Viridis",
    text: bool = False,
    zmid: float | None = None,
) -> go.Figure:
    """One 2-D array as a heatmap with its values on hover (and written in the cells when `text`)."""
    a = np.asarray(arr, dtype=np.float64)
    fig = go.Figure(
        go.Heatmap(
            z=a,
            colorscale=colorscale,
            zmid=zmid,
            text=np.round(a, 2) if text else None,
            texttemplate="%{text}" if text else None,
            hovertemplate="row %{y}, col %{x}: %{z:.4g}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain")
    fig.update_xaxes(constrain="domain")
    fig.update_layout(title=title, margin=dict(l=10, r=10, t=40 if title else 10, b=10), height=420)
    return fig


def matrix(
    arr: np.ndarray,
    title: str = "",
    fmt: str = ".2f",
    colorscale: str = "Greys",
    highlight: tuple[int, int, int, int] | None = None,
    dim: np.ndarray | None = None,
) -> go.Figure:
    """A small matrix with every number written in its cell (pixels, kernels, windows).

    Args:
        highlight: (top, left, height, width) cells to outline, e.g. the window under a filter.
        dim: boolean mask of cells to grey out, e.g. padding around the input.
    """
    a = np.asarray(arr, dtype=np.float64)
    fig = go.Figure(
        go.Heatmap(
            z=a,
            colorscale=colorscale,
            showscale=False,
            text=[[format(v, fmt) for v in row] for row in a],
            texttemplate="%{text}",
            hovertemplate="row %{y}, col %{x}: %{z}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain", dtick=1)
    fig.update_xaxes(constrain="domain", dtick=1, side="top")
    if highlight is not None:
        top, left, hh, ww = highlight
        fig.add_shape(
            type="rect",
            x0=left - 0.5,
            x1=left + ww - 0.5,
            y0=top - 0.5,
            y1=top + hh - 0.5,
            line=dict(color="#ff2b2b", width=3),
        )
    if dim is not None:
        for r, c in zip(*np.nonzero(np.asarray(dim)), strict=True):
            fig.add_shape(
                type="rect",
                x0=c - 0.5,
                x1=c + 0.5,
                y0=r - 0.5,
                y1=r + 0.5,
                fillcolor="rgba(120,120,255,0.25)",
                line=dict(width=0),
            )
    h = max(200, min(640, 36 * a.shape[0] + 70))
    fig.update_layout(title=title, margin=dict(l=10, r=10, t=50 if title else 30, b=10), height=h)
    return fig


def bars(
    labels: Sequence[str],
    values: Sequence[float],
    title: str = "",
    horizontal: bool = True,
    log: bool = False,
    value_format: str = ".3f",
) -> go.Figure:
    """A bar chart; horizontal bars read top-down in the given order."""
    vals = list(values)
    labs = [str(s) for s in labels]
    text = [format(v, value_format) for v in vals]
    trace = (
        go.Bar(x=vals[::-1], y=labs[::-1], orientation="h", text=text[::-1])
        if horizontal
        else go.Bar(x=labs, y=vals, text=text)
    )
    fig = go.Figure(trace)
    # Labels are names even when they look like numbers ("8" is a digit class, not a position on an axis).
    (fig.update_yaxes if horizontal else fig.update_xaxes)(type="category")
    if log:
        (fig.update_xaxes if horizontal else fig.update_yaxes)(type="log")
    fig.update_layout(
        title=title,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        height=max(250, 28 * len(labs) + 80),
    )
    return fig


def line_chart(
    x: Sequence[float | str],
    series: dict[str, Sequence[float]],
    title: str = "",
    log_y: bool = False,
    x_title: str = "",
    y_title: str = "",
) -> go.Figure:
    """Several named lines over the same x."""
    fig = go.Figure(
        [go.Scatter(x=list(x), y=list(v), mode="lines+markers", name=k) for k, v in series.items()]
    )
    if log_y:
        fig.update_yaxes(type="log")
    fig.update_layout(
        title=title, xaxis_title=x_title, yaxis_title=y_title, margin=dict(l=10, r=10, t=40, b=10), height=380
    )
    return fig


def layer_diagram(
    names: Sequence[str], kinds: Sequence[str], shapes: Sequence[str], input_shape: str
) -> go.Figure:
    """The layer sequence as boxes left to right, with the tensor shape written on each edge."""
    n = len(names)
    fig = go.Figure()
    xs = np.arange(n + 1) * 1.6
    labels = ["input", *[f"{nm}<br><i>{k}</i>" for nm, k in zip(names, kinds, strict=True)]]
    edge_shapes = [input_shape, *shapes]
    for i in range(n):
        fig.add_annotation(
            x=xs[i] + 0.8,
            y=0,
            ax=xs[i] + 0.45,
            ay=0,
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=2,
            arrowwidth=1.5,
            text="",
        )
        fig.add_annotation(x=xs[i] + 0.8, y=0.42, text=edge_shapes[i], showarrow=False, font=dict(size=10))
    palette = {"Conv2d": "#4C78A8", "Linear": "#F58518", "MaxPool2d": "#54A24B", "AvgPool2d": "#54A24B"}
    for i, lab in enumerate(labels):
        kind = "input" if i == 0 else kinds[i - 1]
        fig.add_shape(
            type="rect",
            x0=xs[i] - 0.4,
            x1=xs[i] + 0.4,
            y0=-0.3,
            y1=0.3,
            fillcolor=palette.get(kind, "#BAB0AC"),
            opacity=0.85,
            line=dict(width=0),
        )
        fig.add_annotation(x=xs[i], y=0, text=lab, showarrow=False, font=dict(size=10, color="white"))
    fig.update_xaxes(visible=False, range=[-0.6, xs[-1] + 0.6])
    fig.update_yaxes(visible=False, range=[-0.6, 0.7])
    fig.update_layout(
        height=200, width=max(600, int(110 * (n + 1))), margin=dict(l=0, r=0, t=0, b=0), plot_bgcolor="white"
    )
    return fig

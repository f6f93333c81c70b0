"""Plain data -> plotly figures. No torch here: inputs are numpy arrays, lists and dataclasses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

__all__ = ["bars", "heatmap", "layer_diagram", "line_chart", "matrix"]


# Labels between decades written in full (2e-1, not plotly's default "2", which reads as a whole number).
_LOG_AXIS = dict(type="log", exponentformat="e", minorloglabels="complete")


def heatmap(
    arr: np.ndarray,
    title: str = "",
    colorscale: str = "Viridis",
    text: bool = False,
    zmid: float | None = None,
    compact: bool = False,
) -> go.Figure:
    """One 2-D array as a heatmap with its values on hover (and written in the cells when `text`).

    `compact`: for a narrow column (several maps side by side): no colour bar, a small title, 240 px high.
    """
    a = np.asarray(arr, dtype=np.float64)
    # One constructor call: plotly validates every update_* call, and this figure is rebuilt on every rerun.
    return go.Figure(
        data=[
            go.Heatmap(
                z=a,
                colorscale=colorscale,
                zmid=zmid,
                text=np.round(a, 2) if text else None,
                texttemplate="%{text}" if text else None,
                hovertemplate="row %{y}, col %{x}: %{z:.4g}<extra></extra>",
                showscale=not compact,
            )
        ],
        layout=dict(
            title=dict(text=title, font=dict(size=12), x=0.0) if compact else dict(text=title),
            margin=dict(l=10, r=10, t=40 if title else 10, b=10),
            height=240 if compact else 420,
            # Small maps get a tick per row and column; plotly's own would fall on half cells.
            yaxis=dict(
                autorange="reversed",
                scaleanchor="x",
                constrain="domain",
                dtick=1 if a.shape[0] <= 12 else None,
            ),
            xaxis=dict(constrain="domain", dtick=1 if a.shape[-1] <= 12 else None),
        ),
    )


def _number(value: float, fmt: str) -> str:
    """`format(value, fmt)`, without the sign of a value that rounds to zero ("-0.00" reads as a number)."""
    text = format(value, fmt)
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def channel_colorscale(channel: int) -> list[list]:
    """The colour scale of one channel of an RGB image (0 = R, 1 = G, 2 = B): black at 0, the pure channel
    colour at the top, the way the channel is pictured alone (the other two set to 0): larger is brighter.

    (plotly's "Reds", "Greens" and "Blues" run from white to dark, the opposite of the channel pictures.)
    """
    if channel not in (0, 1, 2):
        raise ValueError(f"channel must be 0 (R), 1 (G) or 2 (B), got {channel!r}.")
    top = ["rgb(255,0,0)", "rgb(0,255,0)", "rgb(0,0,255)"][channel]
    return [[0.0, "rgb(0,0,0)"], [1.0, top]]


__all__ += ["channel_colorscale"]

MAX_WRITTEN_COLUMNS = 20
"""Wider matrices (a flattened vector, say) keep their numbers on hover only: written, they overprint."""


def matrix(
    arr: np.ndarray,
    title: str = "",
    fmt: str = ".2f",
    colorscale: str = "gray",
    highlight: tuple[int, int, int, int] | None = None,
    dim: np.ndarray | None = None,
    zmin: float | None = None,
    zmax: float | None = None,
    zmid: float | None = None,
) -> go.Figure:
    """A small matrix with every number written in its cell (pixels, kernels, windows).

    Args:
        colorscale: "gray" by default, black for low values and white for high ones, as pixels are shown.
        highlight: (top, left, height, width) cells to outline, e.g. the window under a filter.
        dim: boolean mask of cells to grey out, e.g. padding around the input.
        zmin, zmax: the values of the scale's ends, e.g. 0 and 255 for pixels, so a window's brightness reads
            the same whatever its own range (default: the matrix's min and max).
        zmid: the value at the scale's middle, e.g. 0 for signed weights on a diverging scale ("RdBu").
    """
    a = np.asarray(arr, dtype=np.float64)
    written = a.ndim == 2 and a.shape[1] <= MAX_WRITTEN_COLUMNS
    fig = go.Figure(
        go.Heatmap(
            z=a,
            colorscale=colorscale,
            zmin=zmin,
            zmax=zmax,
            zmid=zmid,
            showscale=False,
            text=[[_number(v, fmt) for v in row] for row in a],
            texttemplate="%{text}" if written else None,
            hovertemplate="row %{y}, col %{x}: %{text}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain", dtick=1)
    fig.update_xaxes(constrain="domain", dtick=1 if written else None, side="top")
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
    h = max(200, min(640, 36 * a.shape[0] + 90))
    # The column numbers sit on top, so the title needs a line of its own above them.
    fig.update_layout(
        title=dict(text=title, y=0.98, yanchor="top"),
        margin=dict(l=10, r=10, t=75 if title else 30, b=10),
        height=h,
    )
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
    # Labels are names even when they look like numbers ("8" is a digit class, not a position on an axis).
    label_axis: dict = dict(type="category")
    value_axis: dict = dict(_LOG_AXIS) if log else {}
    return go.Figure(
        data=[trace],
        layout=dict(
            title=dict(text=title),
            margin=dict(l=10, r=10, t=40 if title else 10, b=10),
            height=max(250, 28 * len(labs) + 80),
            yaxis=label_axis if horizontal else value_axis,
            xaxis=value_axis if horizontal else label_axis,
        ),
    )


def histogram(
    counts: Sequence[int] | np.ndarray, edges: Sequence[float] | np.ndarray, title: str = ""
) -> go.Figure:
    """Binned counts as touching bars: bin i spans edges[i]..edges[i + 1] (log count axis: a ReLU's zeros
    would flatten every other bin)."""
    e = np.asarray(edges, dtype=np.float64)
    c = np.asarray(counts, dtype=np.float64)
    return go.Figure(
        go.Bar(
            x=(e[:-1] + e[1:]) / 2,
            y=c,
            width=np.diff(e),
            marker=dict(line=dict(width=0)),
            hovertemplate="%{x:.4g}: %{y:,}<extra></extra>",
        ),
        layout=dict(
            title=dict(text=title),
            margin=dict(l=10, r=10, t=40, b=10),
            height=320,
            yaxis_type="log",
            bargap=0,
        ),
    )


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
        fig.update_yaxes(**_LOG_AXIS)
    fig.update_layout(
        title=title, xaxis_title=x_title, yaxis_title=y_title, margin=dict(l=10, r=10, t=40, b=10), height=380
    )
    return fig


def _arrow(x0: float, y0: float, x1: float, y1: float) -> dict:
    """An annotation that is only an arrow from (x0, y0) to (x1, y1), in data coordinates."""
    return dict(
        x=x1,
        y=y1,
        ax=x0,
        ay=y0,
        xref="x",
        yref="y",
        axref="x",
        ayref="y",
        showarrow=True,
        arrowhead=2,
        arrowwidth=1.5,
        text="",
    )


def layer_diagram(
    names: Sequence[str], kinds: Sequence[str], shapes: Sequence[str], input_shape: str
) -> go.Figure:
    """The layer sequence as boxes top to bottom, with the tensor shape written on each edge.

    `shapes[i]` is the output of layer i; the last one goes on an arrow out of the last box. Top to bottom so
    that long names and shapes have the page's width whatever the number of layers.
    """
    n = len(names)
    labels = ["input", *[f"{nm} · <i>{k}</i>" for nm, k, _ in zip(names, kinds, shapes, strict=True)]]
    kinds_all = ["input", *kinds]
    edge_shapes = [input_shape, *shapes]
    ys = -np.arange(n + 1, dtype=np.float64)  # box i is centred at y = -i
    half = 0.3
    palette = {"Conv2d": "#4C78A8", "Linear": "#F58518", "MaxPool2d": "#54A24B", "AvgPool2d": "#54A24B"}
    shapes_drawn = [
        dict(
            type="rect",
            x0=-1.0,
            x1=1.0,
            y0=y - half,
            y1=y + half,
            fillcolor=palette.get(kind, "#79706E"),  # dark enough for the white label
            opacity=0.85,
            line=dict(width=0),
        )
        for y, kind in zip(ys, kinds_all, strict=True)
    ]
    notes = [
        dict(x=0.0, y=y, text=lab, showarrow=False, font=dict(size=12, color="white"))
        for y, lab in zip(ys, labels, strict=True)
    ]
    for y, shape in zip(ys, edge_shapes, strict=True):  # edge i leaves box i downwards (box 0 is the input)
        notes.append(_arrow(0.0, y - half, 0.0, y - 1 + half))
        notes.append(dict(x=0.08, y=y - 0.5, text=shape, showarrow=False, xanchor="left", font=dict(size=11)))
    return go.Figure(
        layout=dict(
            shapes=shapes_drawn,
            annotations=notes,
            xaxis=dict(visible=False, range=[-1.1, 1.1]),
            yaxis=dict(visible=False, range=[ys[-1] - 1.1, 0.5]),
            height=int(48 * (n + 2)) + 20,
            margin=dict(l=0, r=0, t=0, b=0),
            plot_bgcolor="white",
        )
    )


# --- detection (appended for the Detection page) ----------------------------------------------------------

__all__ += ["category_grid"]


def category_grid(
    labels: np.ndarray, names: Sequence[str], colors: Sequence[str], title: str = ""
) -> go.Figure:
    """A grid of class indices, each cell coloured by its class and labelled with its name (YOLO's class map).

    Args:
        labels: (rows, cols) int class index per cell.
        names: class names; `names[k]` is written in cells of class k.
        colors: colour of class k is `colors[k % len(colors)]`.
    """
    a = np.asarray(labels, dtype=np.int64)
    k = max(1, len(names))
    # A stepped colour scale: class k owns the band [k / K, (k + 1) / K] of the scale.
    scale = []
    for i in range(k):
        color = colors[i % len(colors)]
        scale += [[i / k, color], [(i + 1) / k, color]]
    fig = go.Figure(
        go.Heatmap(
            z=a,
            zmin=-0.5,
            zmax=k - 0.5,
            colorscale=scale,
            showscale=False,
            text=[[names[v] if 0 <= v < len(names) else str(v) for v in row] for row in a],
            texttemplate="%{text}",
            hovertemplate="row %{y}, col %{x}: %{text}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain", dtick=1)
    fig.update_xaxes(constrain="domain", dtick=1)
    fig.update_layout(title=title, margin=dict(l=10, r=10, t=40 if title else 10, b=10), height=420)
    return fig


# --- segmentation (appended for the Segmentation page) ---------------------------------------------------

__all__ += ["class_shares", "spatial_sizes"]

_PHASE_COLORS = {"input": "#7f7f7f", "down": "#1f77b4", "same": "#9ecae1", "up": "#d62728"}


def spatial_sizes(
    names: Sequence[str],
    heights: Sequence[int],
    widths: Sequence[int],
    channels: Sequence[int],
    phases: Sequence[str],
    phase_names: dict[str, str],
    title: str = "",
    y_title: str = "",
    per_box: Sequence[bool] | None = None,
) -> go.Figure:
    """Spatial size (H) of every stage as bars, coloured by whether the map shrank, kept its size or grew.

    Args:
        names: stage names in the order they ran.
        heights: H per stage; widths and channels go into the hover text.
        phases: "input", "down", "same" or "up" per stage (colours the bar).
        phase_names: legend label of each phase (translated by the page).
        per_box: stages that run on each detected box (drawn hatched).
    """
    boxed = list(per_box) if per_box is not None else [False] * len(names)
    fig = go.Figure()
    for phase, color in _PHASE_COLORS.items():
        idx = [i for i, p in enumerate(phases) if p == phase]
        if not idx:
            continue
        fig.add_trace(
            go.Bar(
                x=[names[i] for i in idx],
                y=[heights[i] for i in idx],
                name=phase_names.get(phase, phase),
                marker=dict(color=color, pattern=dict(shape=["/" if boxed[i] else "" for i in idx])),
                text=[f"{heights[i]}×{widths[i]}" for i in idx],
                customdata=[[channels[i], widths[i]] for i in idx],
                hovertemplate="%{x}: C=%{customdata[0]}, H×W=%{y}×%{customdata[1]}<extra></extra>",
            )
        )
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=list(names))
    fig.update_layout(
        title=title,
        yaxis_title=y_title,
        barmode="overlay",
        # Room above the bars for the title and, under it, the legend.
        margin=dict(l=10, r=10, t=90 if title else 50, b=10),
        height=440,
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
    )
    return fig


def class_shares(
    names: Sequence[str], shares: Sequence[float], colors: Sequence[str], title: str = ""
) -> go.Figure:
    """Share of the pixels per class as horizontal bars in each class's mask colour (doubles as a legend)."""
    labs = [str(n) for n in names]
    vals = [float(v) for v in shares]
    fig = go.Figure(
        go.Bar(
            x=vals[::-1],
            y=labs[::-1],
            orientation="h",
            marker=dict(color=list(colors)[::-1], line=dict(color="#444", width=1)),
            text=[f"{v:.1%}" for v in vals[::-1]],
            hovertemplate="%{y}: %{x:.2%}<extra></extra>",
        )
    )
    fig.update_yaxes(type="category")
    fig.update_xaxes(tickformat=".0%", range=[0, max(1e-9, max(vals, default=0)) * 1.15])
    fig.update_layout(
        title=title,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        height=max(220, 28 * len(labs) + 80),
    )
    return fig


# --- residual gradients and SE attention (appended for those pages) --------------------------------------

__all__ += ["block_channel_heatmap", "channel_bars", "grouped_bars", "pipeline", "scatter_compare"]


def grouped_bars(
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    title: str = "",
    log_y: bool = False,
    stacked: bool = False,
    x_title: str = "",
    y_title: str = "",
) -> go.Figure:
    """Vertical bars: one group per label (a block), one bar per series; `stacked` piles positive and negative
    parts (shares that add up to 1). Non-finite values are left out."""
    labs = [str(s) for s in labels]
    traces = []
    for name, values in series.items():
        vals = [float(v) if np.isfinite(v) and (not log_y or v > 0) else None for v in values]
        traces.append(
            go.Bar(x=labs, y=vals, name=name, hovertemplate="%{x}: %{y:.4g}<extra>" + name + "</extra>")
        )
    fig = go.Figure(traces)
    fig.update_xaxes(type="category", title=x_title)
    fig.update_yaxes(**(_LOG_AXIS if log_y else dict(type="linear")), title=y_title)
    # The legend goes below the x axis: above the plot it would run into the title in narrow columns.
    fig.update_layout(
        title=title,
        barmode="relative" if stacked else "group",
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        height=420,
        legend=dict(orientation="h", yanchor="top", y=-0.22, xanchor="left", x=0),
        showlegend=len(series) > 1,
    )
    return fig


def block_channel_heatmap(
    matrix: np.ndarray,
    rows: Sequence[str],
    title: str = "",
    x_title: str = "",
    y_title: str = "",
    zmin: float = 0.0,
    zmax: float = 1.0,
    colorscale: str = "RdBu_r",
) -> go.Figure:
    """Rows (blocks) × columns (channels) of values in [zmin, zmax]; NaN cells (narrower rows) stay empty.

    Unlike `heatmap`, cells are not square: a block of 1280 channels fits the page's width.
    """
    a = np.asarray(matrix, dtype=np.float64)
    fig = go.Figure(
        go.Heatmap(
            z=a,
            y=[str(r) for r in rows],
            colorscale=colorscale,
            zmin=zmin,
            zmax=zmax,
            hoverongaps=False,
            hovertemplate="%{y}, channel %{x}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_yaxes(type="category", autorange="reversed", title=y_title)
    fig.update_xaxes(title=x_title)
    fig.update_layout(
        title=title,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        height=max(260, 22 * len(rows) + 120),
        plot_bgcolor="#eeeeee",
    )
    return fig


def channel_bars(
    values: np.ndarray,
    title: str = "",
    sort: bool = False,
    x_title: str = "",
    y_title: str = "",
    y_range: tuple[float, float] | None = None,
) -> go.Figure:
    """One bar per channel; with `sort`, highest first (the channel number stays in the hover text)."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    order = np.argsort(-v, kind="stable") if sort else np.arange(len(v))
    fig = go.Figure(
        go.Bar(
            x=np.arange(len(v)),
            y=v[order],
            customdata=order,
            hovertemplate="channel %{customdata}: %{y:.4g}<extra></extra>",
            marker=dict(color=v[order], colorscale="RdBu_r", cmin=y_range[0], cmax=y_range[1])
            if y_range is not None
            else None,
        )
    )
    fig.update_xaxes(title=x_title, showticklabels=not sort)
    fig.update_yaxes(title=y_title, range=list(y_range) if y_range is not None else None)
    fig.update_layout(
        title=title, margin=dict(l=10, r=10, t=40 if title else 10, b=10), height=300, bargap=0.05
    )
    return fig


def pipeline(steps: Sequence[tuple[str, str]], title: str = "", multiply_back: bool = True) -> go.Figure:
    """Steps left to right as boxes, each with its name and the shape it outputs, joined by arrows.

    With `multiply_back`, an arc from the first box to the last shows that the last step multiplies the first
    box's tensor (the SE block's scale: the feature map times the weights).
    """
    n = len(steps)
    xs = np.arange(n) * 1.7
    fig = go.Figure()
    palette = ["#BAB0AC", "#54A24B", "#F58518", "#E45756", "#F58518", "#B279A2", "#4C78A8"]
    for i, (name, shape) in enumerate(steps):
        fig.add_shape(
            type="rect",
            x0=xs[i] - 0.6,
            x1=xs[i] + 0.6,
            y0=-0.32,
            y1=0.32,
            fillcolor=palette[i % len(palette)] if 0 < i < n - 1 else "#4C78A8",
            opacity=0.9,
            line=dict(width=0),
        )
        fig.add_annotation(x=xs[i], y=0.08, text=f"<b>{name}</b>", showarrow=False, font=dict(color="white"))
        fig.add_annotation(x=xs[i], y=-0.14, text=shape, showarrow=False, font=dict(color="white", size=11))
        if i:
            fig.add_annotation(_arrow(xs[i - 1] + 0.62, 0, xs[i] - 0.62, 0))
    if multiply_back and n > 2:
        fig.add_shape(
            type="path",
            path=f"M {xs[0]},0.32 C {xs[0]},0.9 {xs[-1]},0.9 {xs[-1]},0.34",
            line=dict(color="#4C78A8", width=1.5, dash="dot"),
        )
    fig.update_xaxes(visible=False, range=[-0.8, xs[-1] + 0.8])
    fig.update_yaxes(visible=False, range=[-0.5, 0.95])
    fig.update_layout(
        title=title,
        height=220,
        margin=dict(l=0, r=0, t=40 if title else 0, b=0),
        plot_bgcolor="white",
    )
    return fig


# --- generation (appended for the Generation page) --------------------------------------------------------

__all__ += ["score_strip"]


def score_strip(groups: dict[str, Sequence[float]], title: str = "", x_title: str = "") -> go.Figure:
    """Several groups of scores in 0..1 as horizontal box plots with every point shown (a GAN's D(x))."""
    fig = go.Figure(
        [
            go.Box(
                x=list(values),
                name=name,
                boxpoints="all",
                jitter=0.5,
                pointpos=0,
                orientation="h",
                hovertemplate="%{x:.3f}<extra></extra>",
            )
            for name, values in groups.items()
        ]
    )
    fig.update_xaxes(range=[0, 1], title=x_title)
    fig.update_layout(
        title=title, showlegend=False, margin=dict(l=10, r=10, t=40 if title else 10, b=10), height=300
    )
    return fig


def scatter_compare(
    x: np.ndarray,
    y: np.ndarray,
    title: str = "",
    x_title: str = "",
    y_title: str = "",
    limits: tuple[float, float] = (0.0, 1.0),
) -> go.Figure:
    """One point per channel at (its value for A, its value for B), with the diagonal where A = B."""
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    b = np.asarray(y, dtype=np.float64).reshape(-1)
    lo, hi = limits
    fig = go.Figure(
        [
            go.Scatter(
                x=[lo, hi], y=[lo, hi], mode="lines", line=dict(color="#BAB0AC", dash="dot"), hoverinfo="skip"
            ),
            go.Scatter(
                x=a,
                y=b,
                mode="markers",
                customdata=np.arange(len(a)),
                marker=dict(size=7, color="#4C78A8", opacity=0.75),
                hovertemplate="channel %{customdata}: %{x:.3f} vs %{y:.3f}<extra></extra>",
            ),
        ]
    )
    fig.update_xaxes(title=x_title, range=[lo - 0.03, hi + 0.03], constrain="domain")
    fig.update_yaxes(title=y_title, range=[lo - 0.03, hi + 0.03], scaleanchor="x")
    fig.update_layout(
        title=title, showlegend=False, margin=dict(l=10, r=10, t=40 if title else 10, b=10), height=380
    )
    return fig


# --- convolution animation (the Convolution page's "Play", run by the browser) ---------------------------

__all__ += ["conv_animation"]

ANIMATION_SPEEDS: dict[str, int] = {"0.5×": 1200, "1×": 600, "2×": 300, "4×": 150}
"""Play buttons: label -> milliseconds per step."""


def _window_rect(top: int, left: int, span: int, axis: str, color: str = "#ff2b2b") -> dict:
    suffix = "" if axis == "1" else axis
    return dict(
        type="rect",
        xref=f"x{suffix}",
        yref=f"y{suffix}",
        x0=left - 0.5,
        x1=left + span - 0.5,
        y0=top - 0.5,
        y1=top + span - 0.5,
        line=dict(color=color, width=3),
    )


def conv_animation(
    padded: np.ndarray,
    products: Sequence[np.ndarray],
    windows: Sequence[tuple[int, int, int]],
    cells: Sequence[tuple[int, int]],
    feature_map: np.ndarray,
    formulas: Sequence[str],
    titles: tuple[str, str, str],
    zmin: float | None = None,
    zmax: float | None = None,
    play_label: str = "▶",
    pause_label: str = "❚❚",
    step_label: str = "step",
) -> go.Figure:
    """The convolution step by step as one animated figure: the browser plays it (no server call per step).

    Three panels: the (padded) input with the window in red, the window × filter products, and the feature
    map filled in cell by cell up to the current one (outlined). Frame k is step k; play buttons at several
    speeds (`ANIMATION_SPEEDS`), a pause button, and a slider to any step.

    Args:
        padded: (H, W) the input with its padding.
        products: per step, the (F, F) window × filter products.
        windows: per step, (top, left, span) of the window on `padded`.
        cells: per step, (row, col) of the output cell it computes.
        feature_map: (OH, OW) the finished output.
        formulas: per step, the weighted sum written out (shown under the panels).
        titles: the three panels' titles.
        zmin, zmax: the input's colour range (e.g. 0 and 1 for brightness).
    """
    from plotly.subplots import make_subplots

    n = len(products)
    if not (n == len(windows) == len(cells) == len(formulas)) or n == 0:
        raise ValueError(
            "products, windows, cells and formulas must have one entry per step (at least one), got "
            f"{len(products)}, {len(windows)}, {len(cells)} and {len(formulas)}."
        )
    x = np.asarray(padded, dtype=np.float64)
    fm = np.asarray(feature_map, dtype=np.float64)
    span = max(float(np.abs(np.asarray(products)).max()), 1e-12)  # one diverging range for every step

    def text(a: np.ndarray) -> list[list[str]]:
        return [[_number(v, ".2f") if np.isfinite(v) else "" for v in row] for row in a]

    def partial(k: int) -> np.ndarray:
        """The feature map as far as step k has filled it (later cells empty)."""
        out = np.full(fm.shape, np.nan)
        for r, c in cells[: k + 1]:
            out[r, c] = fm[r, c]
        return out

    def output_trace(k: int) -> go.Heatmap:
        z = partial(k)
        return go.Heatmap(
            z=z, text=text(z), texttemplate="%{text}", colorscale="Viridis", zmin=float(fm.min()),
            zmax=float(fm.max()), showscale=False, hoverinfo="skip", xaxis="x3", yaxis="y3",
        )  # fmt: skip

    def product_trace(k: int) -> go.Heatmap:
        p = np.asarray(products[k], dtype=np.float64)
        return go.Heatmap(
            z=p, text=text(p), texttemplate="%{text}", colorscale="RdBu", zmid=0, zmin=-span, zmax=span,
            showscale=False, hoverinfo="skip", xaxis="x2", yaxis="y2",
        )  # fmt: skip

    def frame_layout(k: int) -> dict:
        top, left, w = windows[k]
        r, c = cells[k]
        return dict(
            shapes=[_window_rect(top, left, w, "1"), _window_rect(r, c, 1, "3")],
            annotations=[*base_notes, _formula_note(formulas[k])],
        )

    fig = make_subplots(
        rows=1, cols=3, subplot_titles=titles, horizontal_spacing=0.06,
        column_widths=[x.shape[1], max(3, np.asarray(products[0]).shape[1]), max(3, fm.shape[1])],
    )  # fmt: skip
    base_notes = list(fig.layout.annotations)  # the subplot titles
    fig.add_trace(
        go.Heatmap(
            z=x, text=text(x), texttemplate="%{text}", colorscale="gray", zmin=zmin, zmax=zmax,
            showscale=False, hoverinfo="skip",
        ),
        row=1, col=1,
    )  # fmt: skip
    fig.add_trace(product_trace(0), row=1, col=2)
    fig.add_trace(output_trace(0), row=1, col=3)
    shapes = [x.shape, np.asarray(products[0]).shape, fm.shape]
    for i, (rows, cols) in enumerate(shapes, start=1):
        # Fixed ranges: the feature map starts almost empty (NaN), and plotly would fit its axes to the few
        # cells filled. Rows numbered on the left; no column numbers (on top they ran into the titles).
        fig.update_yaxes(
            range=[rows - 0.5, -0.5], scaleanchor=f"x{'' if i == 1 else i}", constrain="domain", dtick=1,
            row=1, col=i,
        )  # fmt: skip
        fig.update_xaxes(range=[-0.5, cols - 0.5], constrain="domain", showticklabels=False, row=1, col=i)
    for title in fig.layout.annotations:  # the panel titles, small enough for a narrow page
        title.font = dict(size=12)
    fig.frames = [
        go.Frame(name=str(k), data=[product_trace(k), output_trace(k)], traces=[1, 2], layout=frame_layout(k))
        for k in range(n)
    ]

    def play(ms: int) -> dict:
        return dict(frame=dict(duration=ms, redraw=True), transition=dict(duration=0), fromcurrent=True)

    buttons: list[dict[str, Any]] = [
        dict(label=f"{play_label} {speed}", method="animate", args=[None, play(ms)])
        for speed, ms in ANIMATION_SPEEDS.items()
    ]
    buttons.append(
        dict(
            label=pause_label,
            method="animate",
            args=[[None], dict(frame=dict(duration=0, redraw=False), mode="immediate")],
        )
    )
    # Under the panels, in pixels of the plot area: the sum (up to three lines), the buttons, the slider.
    plot_px = max(220, min(420, 34 * x.shape[0]))
    below = {"buttons": 62, "slider": 102, "bottom": 190}
    fig.update_layout(
        **frame_layout(0),
        height=plot_px + 50 + below["bottom"],
        margin=dict(l=10, r=10, t=50, b=below["bottom"]),
        updatemenus=[
            dict(type="buttons", direction="left", buttons=buttons, x=0, y=-below["buttons"] / plot_px,
                 xanchor="left", yanchor="top", showactive=False, pad=dict(t=0, r=4))
        ],
        sliders=[
            dict(
                active=0, x=0, y=-below["slider"] / plot_px, yanchor="top", len=1.0, pad=dict(t=10),
                currentvalue=dict(prefix=f"{step_label} "),
                steps=[
                    dict(label=str(k), method="animate",
                         args=[[str(k)], dict(mode="immediate", frame=dict(duration=0, redraw=True))])
                    for k in range(n)
                ],
            )
        ],
    )  # fmt: skip
    return fig


def _wrap_sum(formula: str, width: int = 64) -> str:
    """A long written-out sum broken into lines (plotly's `<br>`) before a "+", each about `width` long."""
    lines = [""]
    for k, term in enumerate(formula.split(" + ")):
        joiner = "" if k == 0 else " + "
        if lines[-1] and len(lines[-1]) + len(joiner) + len(term) > width:
            lines.append("+ " + term)
        else:
            lines[-1] += joiner + term
    return "<br>".join(lines)


def _formula_note(formula: str) -> dict:
    """The step's weighted sum, written under the panels."""
    return dict(
        text=_wrap_sum(formula), x=0, y=-0.02, xref="paper", yref="paper", xanchor="left", yanchor="top",
        showarrow=False, font=dict(family="monospace", size=12), align="left",
    )  # fmt: skip

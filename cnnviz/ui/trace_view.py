"""Feature maps' "trace a cell back": pick a cell of a conv layer's channel, see its receptive field on the
input, the filter and window behind it, and the convolution written out (`cnnviz.analysis.trace`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw

from cnnviz import charts, models, trace_chart
from cnnviz.ui import cache
from cnnviz.ui.text import t

if TYPE_CHECKING:
    from cnnviz.analysis.trace import Box, CellTrace

__all__ = ["MAX_WRITTEN_TERMS", "cell_trace", "is_conv", "trace_ui", "written_sum"]

MAX_WRITTEN_TERMS = 12
"""The written sum names this many terms (largest first); the table below it lists every one."""


def is_conv(loaded: models.LoadedModel, layer: str) -> bool:
    from torch import nn

    return isinstance(dict(loaded.model.named_modules()).get(layer), nn.Conv2d)


@st.cache_data(
    max_entries=64,
    show_spinner=False,
    hash_funcs={models.LoadedModel: lambda m: m.fingerprint, Image.Image: cache.image_key},
)
def cell_trace(
    loaded: models.LoadedModel,
    image: Image.Image,
    layer: str,
    channel: int,
    row: int,
    col: int,
    calls: int | None = None,
) -> CellTrace:
    """`trace_cell` of one (model, image, layer, cell), cached: changing the input channel is free. `calls`:
    how often the layer runs (the feature index knows), so that the pass stops after its last call."""
    from cnnviz.analysis.trace import trace_cell
    from cnnviz.hooks import twin
    from cnnviz.locks import short_passes

    # Each of its passes stops at the layer: on the model's twin they don't wait for other sessions' whole
    # passes on the model (short_passes() puts them first where there is no twin).
    with short_passes():
        return trace_cell(twin(loaded.model), loaded.preprocess(image), layer, channel, row, col, calls=calls)


def written_sum(tr: CellTrace) -> tuple[str, str]:
    """The sum as a line of terms (bias first, then the largest terms) and its total, both as shown."""
    order = np.argsort(-np.abs(tr.partials), kind="stable")
    shown = order[:MAX_WRITTEN_TERMS]
    terms = [f"{tr.bias:.4g}"] + [f"({tr.partials[c]:.4g})" for c in shown]
    if len(order) > len(shown):
        rest = float(tr.partials[order[len(shown) :]].sum())
        terms.append(f"({rest:.4g} {t('trace.rest', n=len(order) - len(shown))})")
    return " + ".join(terms), f"{tr.total:.6g}"


def _picked(pick_key: str, row_key: str, col_key: str) -> None:
    """A click on the map (a selected point, kept by Streamlit under the chart's key) moves the row and
    column inputs, once per click, so typing a number afterwards is not undone by the old click."""
    event: Any = st.session_state.get(pick_key)
    points = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else []
    if not points:
        return
    point = points[0]
    # The click targets sit on whole cells, so a point's x and y are its column and row (its customdata,
    # (row, col), arrives in another shape from one Streamlit version to the next: not relied on).
    try:
        row, col = round(float(point["y"])), round(float(point["x"]))
    except (KeyError, TypeError, ValueError):
        return
    if st.session_state.get(pick_key + "_applied") != (row, col):
        st.session_state[pick_key + "_applied"] = (row, col)
        st.session_state[row_key] = row
        st.session_state[col_key] = col


def _field_image(view: np.ndarray, field: Box | None, support: Box | None) -> Image.Image:
    """The model's input, scaled up by a whole factor to about 320 px, with the field (red) and the gradient
    support (yellow) outlined."""
    pixels = view[..., 0] if view.shape[-1] == 1 else view
    image = Image.fromarray(pixels).convert("RGB")
    scale = max(1, 320 // max(image.size))
    image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(image)
    width = max(2, scale // 2)
    for box, color in ((support, "#ffd400"), (field, "#ff2b2b")):
        if box is not None:
            draw.rectangle(
                (box.left * scale, box.top * scale, box.right * scale - 1, box.bottom * scale - 1),
                outline=color,
                width=width,
            )
    return image


def trace_ui(
    loaded: models.LoadedModel,
    image: Image.Image,
    layer: str,
    fmap: np.ndarray,
    view: np.ndarray,
    channel: int = 0,
    calls: int | None = None,
) -> None:
    """The whole trace view for `channel` of `layer` (its (C, H, W) map `fmap`, the model's input `view`, how
    often the layer runs in one pass `calls` when known); a sentence instead for a layer that is no Conv2d."""
    st.subheader(t("trace.title"))
    if not is_conv(loaded, layer):
        st.info(t("trace.not_conv"))
        return
    st.caption(t("trace.intro"))
    _, h, w = fmap.shape
    base = f"trace_{loaded.spec.name}_{layer}"
    pick_key, row_key, col_key = f"{base}_{channel}_pick", f"{base}_row", f"{base}_col"
    _picked(pick_key, row_key, col_key)
    if row_key not in st.session_state:  # start on the channel's strongest cell
        i, j = np.unravel_index(int(np.argmax(fmap[channel])), (h, w))
        st.session_state[row_key], st.session_state[col_key] = int(i), int(j)
    st.session_state[row_key] = min(int(st.session_state[row_key]), h - 1)
    st.session_state[col_key] = min(int(st.session_state[col_key]), w - 1)

    a, b = st.columns(2)
    row = int(a.number_input(t("trace.row"), 0, h - 1, step=1, key=row_key))
    col = int(b.number_input(t("trace.col"), 0, w - 1, step=1, key=col_key))
    st.plotly_chart(
        trace_chart.pick_map(fmap[channel], row, col, title=t("trace.pick_title", k=channel, layer=layer)),
        key=pick_key,
        on_select="rerun",
        selection_mode="points",
    )
    if h * w > trace_chart.MAX_CLICKABLE:
        st.caption(t("trace.pick_big"))

    with st.spinner(t("trace.running")):
        tr = cell_trace(loaded, image, layer, channel, row, col, calls)

    left, right = st.columns([1, 1])
    with left:
        box = tr.receptive_field
        caption = (
            t(
                "trace.field",
                i=row,
                j=col,
                top=box.top,
                bottom=box.bottom - 1,
                left=box.left,
                right=box.right - 1,
                h=box.height,
                w=box.width,
                H=tr.input_size[0],
                W=tr.input_size[1],
            )
            if box is not None
            else t("trace.field_none")
        )
        st.image(_field_image(view, box, tr.support))
        st.caption(caption)
        st.caption(t("trace.support"))
    with right:
        st.markdown(f"**{t('trace.sum_title')}**")
        st.write(t("trace.sum", k=channel, i=row, j=col, n=len(tr.partials)))
        terms, total = written_sum(tr)
        st.code(f"{terms}\n= {total}", language=None, wrap_lines=True)
        st.markdown(t("trace.total", total=total, value=f"{tr.value:.6g}", tol=max(tr.tolerance, 1e-300)))
        if tr.groups > 1:
            first, last = int(tr.in_channels[0]), int(tr.in_channels[-1])
            st.caption(
                t("trace.groups_one", first=first)
                if first == last
                else t("trace.groups", first=first, last=last)
            )
        order = np.argsort(-np.abs(tr.partials), kind="stable")
        st.dataframe(
            {
                t("trace.col.channel"): tr.in_channels[order],
                t("trace.col.partial"): tr.partials[order],
            },
            hide_index=True,
            height=220,
            key=f"{base}_terms",
        )

    picked = st.selectbox(
        t("trace.in_channel"),
        [int(i) for i in order],
        format_func=lambda i: f"{int(tr.in_channels[i])}  ({tr.partials[i]:.4g})",
        key=f"{base}_{channel}_in",
    )
    c = int(tr.in_channels[picked])
    m1, m2, m3 = st.columns(3)
    m1.plotly_chart(
        charts.matrix(tr.window[picked], title=t("trace.window", c=c), fmt=".2f", dim=~tr.inside),
        key=f"{base}_window",
    )
    m2.plotly_chart(
        charts.matrix(
            tr.kernel[picked], title=t("trace.kernel", c=c), fmt=".2f", colorscale="RdBu", zmid=0.0
        ),
        key=f"{base}_kernel",
    )
    m3.plotly_chart(
        charts.matrix(
            tr.window[picked] * tr.kernel[picked],
            title=t("trace.products", partial=f"{tr.partials[picked]:.4g}"),
            fmt=".2f",
            colorscale="RdBu",
            zmid=0.0,
        ),
        key=f"{base}_products",
    )
    st.caption(t("trace.matrices", layer=layer))

"""Feature maps: any layer of any model on the chosen image, channel grid, statistics, top-k, Grad-CAM."""

import streamlit as st
from PIL import Image

from cnnviz import charts, render
from cnnviz.analysis.cam import top_k
from cnnviz.analysis.features import feature_map_stats, rank_channels
from cnnviz.models import LoadedModel
from cnnviz.ui import cache
from cnnviz.ui.sidebar import model_caption, page, require_model
from cnnviz.ui.text import t
from cnnviz.ui.widgets import remembered

choice = page("page.features", tasks=("classification",))
st.title(t("page.features"))
loaded = require_model(choice.model_name)
if loaded is None:
    st.stop()
st.caption(model_caption(loaded))

digest = cache.image_key(choice.image)
with st.spinner(t("fm.running")):
    fmaps = cache.feature_index(loaded, choice.image)

left, right = st.columns([1, 2])
with left:
    st.subheader(t("fm.input"))
    st.image(
        fmaps.view,
        caption=t("fm.input_caption", shape=str(fmaps.input_shape)),
        width=224,
    )
    if loaded.spec.in_channels == 1:
        st.caption(t("note.gray"))
    if fmaps.logits is not None:
        preds = top_k(fmaps.logits, loaded.categories, k=5)
        st.plotly_chart(
            charts.bars([p.name for p in preds], [p.probability for p in preds], title=t("fm.topk")),
            key="fm_topk",
        )


@st.fragment
@cache.timed("layer")
def layer_view(loaded: LoadedModel, image: Image.Image) -> None:
    """Layer, grid, channel and statistics: a fragment, so switching them redraws only this column.

    It is given the model and image, not their maps: the shared cache keeps one layer's map, a session none.
    """
    model_name = loaded.spec.name
    layers = cache.feature_index(loaded, image).layers
    layer = st.selectbox(
        t("fm.layer"), layers, index=0, key="layer", bind="query-params", help=t("fm.layer_help")
    )
    fmap = cache.layer_map(loaded, image, layer)
    c, h, w = fmap.shape
    st.write(t("fm.shape", c=c, h=h, w=w))
    order = rank_channels(fmap)
    n_show = st.slider(t("fm.n_channels"), 1, min(c, 256), min(c, 64), key="n_channels")
    grid = render.channel_grid(fmap, order, max_channels=n_show, cell=64 if h > 1 else 16)
    st.image(grid.image, caption=t("fm.grid_caption"))

    channel = remembered(
        st.selectbox,
        t("fm.channel"),
        [int(i) for i in order],
        format_func=lambda i: t("fm.channel_item", i=i),
        # One choice per model and layer: channel 5 of one layer is not channel 5 of another.
        key=f"channel_{model_name}_{layer}",
    )
    st.plotly_chart(
        charts.heatmap(fmap[channel], title=t("fm.channel_title", i=channel, layer=layer)), key="fm_channel"
    )
    stats = feature_map_stats(fmap)
    with st.expander(t("fm.stats")):
        st.dataframe(
            {
                t("fm.col.channel"): order,
                t("fm.col.mean"): stats.mean[order],
                t("fm.col.std"): stats.std[order],
                t("fm.col.min"): stats.min[order],
                t("fm.col.max"): stats.max[order],
                t("fm.col.zeros"): stats.zero_fraction[order],
            },
            hide_index=True,
            key="fm_stats",
        )


with right:
    layer_view(loaded, choice.image)

if fmaps.logits is not None:
    st.subheader("Grad-CAM")
    st.caption(t("fm.cam_help"))
    cam_layers = [n for n in fmaps.layers if fmaps.shapes[n][1] > 1]
    default_layer = cache.cam_layer(loaded)
    cols = st.columns(3)
    cam_layer = cols[0].selectbox(
        t("fm.cam_layer"),
        cam_layers,
        index=cam_layers.index(default_layer) if default_layer in cam_layers else len(cam_layers) - 1,
        key="cam_layer",
    )
    ranked = [p.index for p in top_k(fmaps.logits, loaded.categories, k=len(loaded.categories))]
    target = cols[1].selectbox(
        t("fm.cam_target"),
        ranked,
        format_func=lambda i: loaded.categories[i],
        # Keyed by model and image: a new picture starts from its own top-1 class, not the last one's.
        key=f"cam_target_{loaded.spec.name}_{digest[:12]}",
    )
    alpha = cols[2].slider(t("fm.cam_alpha"), 0.0, 1.0, 0.5, key="cam_alpha")
    cam = cache.grad_cam(loaded, choice.image, cam_layer, int(target))
    a, b = st.columns(2)
    caption = t("fm.cam_caption", name=loaded.categories[cam.target], p=cam.probability)
    a.image(render.overlay(fmaps.view, cam.heatmap, alpha), caption=caption)
    b.plotly_chart(charts.heatmap(cam.raw, title=t("fm.cam_raw")), key="fm_cam_raw")

"""Feature maps: any layer of any model on the chosen image, channel grid, statistics, top-k, Grad-CAM."""

import streamlit as st
from PIL import Image

from cnnviz import charts
from cnnviz.analysis.cam import CAM_METHODS, top_k
from cnnviz.analysis.features import feature_map_stats
from cnnviz.models import LoadedModel
from cnnviz.ui import cache, trace_view
from cnnviz.ui.sidebar import model_caption, page, require_model
from cnnviz.ui.text import t
from cnnviz.ui.widgets import remembered

choice = page("page.features", tasks=("classification",), view=("layer",))
st.title(t("page.features"))
loaded = require_model(choice.model_name)
if loaded is None:
    st.stop()
st.caption(model_caption(loaded))

digest = cache.image_key(choice.image)
fmaps = cache.feature_index(loaded, choice.image, busy=t("fm.running"))

left, right = st.columns([1, 2])
with left:
    st.subheader(t("fm.input"))
    # The column's width, not a fixed 224 px: in a narrow window a fixed width ran over the layer column.
    view = cache.view_picture(loaded, choice.image)
    st.image(view, caption=t("fm.input_caption", shape=str(fmaps.input_shape)), width="stretch")
    if loaded.spec.in_channels == 1:
        st.caption(t("note.gray"))
    if fmaps.logits is not None:
        preds = top_k(fmaps.logits, loaded.categories, k=5)
        st.markdown(f"**{t('fm.topk')}**")  # a page title wraps in a narrow column; a plotly title is cut
        st.plotly_chart(charts.bars([p.name for p in preds], [p.probability for p in preds]), key="fm_topk")


@cache.timed("layer")
def layer_view(loaded: LoadedModel, image: Image.Image) -> None:
    """Layer, grid, channel and statistics.

    Not a fragment: a layer switch reruns the page (the forward pass is cached), so the sidebar's share link
    carries the new layer. It is given the model and image, not their maps: the shared cache keeps one
    layer's map, a session none.
    """
    model_name = loaded.spec.name
    index = cache.feature_index(loaded, image)
    layers = index.layers
    layer = st.selectbox(
        t("fm.layer"), layers, index=0, key="layer", bind="query-params", help=t("fm.layer_help")
    )
    fmap = cache.layer_map(loaded, image, layer)
    c, h, w = fmap.shape
    st.write(t("fm.shape", c=c, h=h, w=w))
    order = cache.channel_order(loaded, image, layer)
    if h == w == 1:
        # A vector (a fully connected layer, a global pool): one number per channel, drawn as bars. As a grid
        # each 1 × 1 channel scaled to its own range would be one flat square, all of them alike.
        st.caption(t("fm.vector_caption", c=c))
        channel = int(order[0])
        st.plotly_chart(
            charts.channel_bars(fmap[:, 0, 0], x_title=t("fm.col.channel"), y_title=t("fm.value")),
            key="fm_vector",
        )
    else:
        n_show = st.slider(t("fm.n_channels"), 1, min(c, 256), min(c, 64), key="n_channels")
        st.image(cache.grid_picture(loaded, image, layer, n_show), caption=t("fm.grid_caption"))

        channel = remembered(
            st.selectbox,
            t("fm.channel"),
            [int(i) for i in order],
            format_func=lambda i: t("fm.channel_item", i=i),
            # One choice per model and layer: channel 5 of one layer is not channel 5 of another.
            key=f"channel_{model_name}_{layer}",
        )
        st.plotly_chart(
            charts.heatmap(fmap[channel], title=t("fm.channel_title", i=channel, layer=layer)),
            key="fm_channel",
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
    trace_view.trace_ui(loaded, image, layer, fmap, index.view, channel, calls=index.calls.get(layer))


with right:
    layer_view(loaded, choice.image)

if fmaps.logits is not None:
    st.subheader("Grad-CAM")
    st.caption(t("fm.cam_help"))
    cam_layers = [n for n in fmaps.layers if fmaps.shapes[n][1] > 1]
    default_layer = cache.cam_layer(loaded)
    cols = st.columns(4)
    method = cols[3].selectbox(
        t("fm.cam_method"), CAM_METHODS, format_func=lambda m: t(f"cam.method.{m}"), key="cam_method"
    )
    cam_layer = cols[0].selectbox(
        t("fm.cam_layer"),
        cam_layers,
        index=cam_layers.index(default_layer) if default_layer in cam_layers else len(cam_layers) - 1,
        key="cam_layer",
    )
    ranked = cache.ranked_classes(loaded, choice.image)
    target = cols[1].selectbox(
        t("fm.cam_target"),
        ranked,
        format_func=lambda i: loaded.categories[i],
        # Keyed by model and image: a new picture starts from its own top-1 class, not the last one's.
        key=f"cam_target_{loaded.spec.name}_{digest[:12]}",
    )
    alpha = cols[2].slider(t("fm.cam_alpha"), 0.0, 1.0, 0.5, key="cam_alpha")
    with st.spinner(t("fm.cam_running", method=t(f"cam.method.{method}"))):
        cam = cache.grad_cam(loaded, choice.image, cam_layer, int(target), method)
    st.caption(t(f"cam.about.{method}", n=cache.SCORE_CAM_CHANNELS))
    a, b = st.columns(2)
    caption = t("fm.cam_caption", name=loaded.categories[cam.target], p=cam.probability)
    a.image(cache.cam_picture(loaded, choice.image, cam_layer, int(target), method, alpha), caption=caption)
    raw_title = t("fm.cam_raw", method=t(f"cam.method.{method}"))
    b.plotly_chart(charts.heatmap(cam.raw, title=raw_title), key="fm_cam_raw")

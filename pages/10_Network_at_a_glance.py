"""Network at a glance: every layer as a strip of small channel maps, joined by the real dataflow."""

import streamlit as st

from cnnviz import overview_chart
from cnnviz.ui import overview_view
from cnnviz.ui.sidebar import model_caption, page, require_model
from cnnviz.ui.text import t
from cnnviz.ui.widgets import remembered

choice = page("page.overview", tasks=("classification",))
st.title(t("page.overview"))
loaded = require_model(choice.model_name)
if loaded is None:
    st.stop()
st.caption(model_caption(loaded))
st.write(t("ov.intro"))

detail = remembered(
    st.segmented_control,
    t("ov.detail"),
    ["summary", "every"],
    format_func=lambda d: t(f"ov.detail.{d}"),
    key="ov_detail",
)
with st.spinner(t("ov.running")):
    ov = overview_view.network_overview(loaded, choice.image, detail == "every")
if ov.level is None:
    st.caption(t("ov.every", layers=ov.layers, edges=len(ov.edges)))
else:
    st.caption(t("ov.summary", layers=ov.layers, nodes=len(ov.nodes) - 1, level=ov.level))

chart_key = f"ov_chart_{loaded.spec.name}_{detail}"
picked = overview_view.clicked(chart_key, len(ov.nodes))
if picked is not None:
    st.info(overview_view.highlight_note(ov, picked))
st.plotly_chart(
    overview_chart.network_strip(ov, picked, feeds_word=t("ov.feeds"), fed_by_word=t("ov.fed_by")),
    key=chart_key,
    on_select="rerun",
    selection_mode="points",
)

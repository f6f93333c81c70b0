"""cnnviz home: what it is, and a link to every page. Each page draws the same sidebar itself."""

import streamlit as st

from cnnviz import render
from cnnviz.ui import nav
from cnnviz.ui.sidebar import model_label, page
from cnnviz.ui.text import t

choice = page("app.title", tasks=("classification",))
st.title(t("app.title"))
st.write(t("app.intro"))
st.subheader(t("app.pages"))
left, right = st.columns([2, 1])
for info in nav.PAGES:
    left.page_link(
        info.path,
        label=f"{t(info.title_key)} — {t(info.title_key + '.blurb')}",
        icon=info.icon,
    )
# An upload of any shape: a 2000×3 picture shown 260 px wide would be 0 px high.
right.image(render.for_display(choice.image), caption=choice.image_name, width=260)
if choice.model_name:
    right.caption(model_label(choice.model_name))

"""Image as data: pixels as numbers, grayscale and binary, R/G/B channels, (H, W, C) vs (C, H, W)."""

import streamlit as st

from cnnviz import charts, render
from cnnviz.analysis.pixels import binarize, layouts, otsu_threshold, pixel_region
from cnnviz.ui.sidebar import page
from cnnviz.ui.text import t

choice = page("page.image")
image = choice.image
w, h = image.size
st.title(t("page.image"))
st.write(t("img.intro"))

st.subheader(t("img.zoom"))
c1, c2, c3 = st.columns(3)
size = c1.slider(t("img.size"), 2, 16, 8, key="px_size")


def position(column, label: str, room: int, start: int, key: str) -> int:
    """Where the window starts along one side; no slider when the window already covers that side."""
    return column.slider(label, 0, room, min(start, room), key=key) if room > 0 else 0


top = position(c2, t("img.top"), h - size, h // 2, "px_top")
left = position(c3, t("img.left"), w - size, w // 2, "px_left")
region = pixel_region(image, top, left, size)
scale01 = st.toggle(t("img.scale01"), key="px_scale01")
a, b = st.columns(2)
a.image(
    render.for_display(render.mark_region(image, left, top, region.rgb.shape[1], region.rgb.shape[0])),
    caption=t("img.where", w=w, h=h),
)
b.image(render.zoom(region.rgb, 24), caption=t("img.zoomed"))
gray = region.gray / 255.0 if scale01 else region.gray
top_value = 1.0 if scale01 else 255.0  # 0 is black and the top value white, whatever the window holds
# The page's full width: a 16 × 16 window in a third of a narrow page wrote its numbers 7 px high.
st.plotly_chart(
    charts.matrix(gray, t("img.gray_matrix"), ".2f" if scale01 else ".0f", zmin=0.0, zmax=top_value),
    key="px_gray",
)

st.subheader(t("img.binary"))
auto = st.toggle(t("img.threshold_auto"), value=True, key="px_threshold_auto", help=t("img.threshold_help"))
if auto or "px_threshold" not in st.session_state:
    # Otsu's split of this window: a fixed 128 left a light window all white, a picture that looks empty.
    st.session_state["px_threshold"] = otsu_threshold(region.gray)
threshold = st.slider(t("img.threshold"), 0, 256, key="px_threshold", disabled=auto)
binary = binarize(region.gray, threshold)
a, b = st.columns([1, 2])
a.image(render.zoom((1 - binary) * 255, 24).astype("uint8"), caption=t("img.binary_caption"))
# Ink is 1 and drawn black, as in the picture beside it.
b.plotly_chart(charts.matrix(binary, t("img.binary_matrix"), ".0f", "Greys", zmin=0, zmax=1), key="px_binary")

st.subheader(t("img.channels"))
st.write(t("img.channels_help"))
# One row of equal pictures that wraps in a narrow window (columns would let a wrapped one fill the row).
st.image([render.for_display(c) for c in render.channel_images(image)], caption=list("RGB"), width=240)
# One channel's matrix at a time, at the page's full width, so its numbers stay readable; each drawn from
# black (0) to the pure channel colour (the top value), as in the pictures above: a larger value is brighter.
for c, tab in enumerate(st.tabs([t("img.channel_matrix", c=c) for c in "RGB"], key="px_channel_tab")):
    values = region.rgb[..., c] / 255.0 if scale01 else region.rgb[..., c]
    tab.plotly_chart(
        charts.matrix(
            values,
            t("img.channel_matrix", c="RGB"[c]),
            ".2f" if scale01 else ".0f",
            charts.channel_colorscale(c),
            zmin=0.0,
            zmax=top_value,
        ),
        key=f"px_channel_{c}",
    )

st.subheader(t("img.layouts"))
lay = layouts(image)
a, b = st.columns(2)
a.markdown(t("img.hwc", shape=lay.hwc_shape, dtype=lay.hwc_dtype, pixel=lay.first_pixel_hwc))
a.code("np.asarray(image).shape  # (H, W, C)", language="python")
b.markdown(
    t(
        "img.chw",
        shape=lay.chw_shape,
        dtype=lay.chw_dtype,
        fdtype=lay.chw_float_dtype,
        pixel=lay.first_pixel_chw,
    )
)
b.code("torchvision.transforms.v2.functional.pil_to_tensor(image).shape  # (C, H, W)", language="python")

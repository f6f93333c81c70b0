"""Segmentation: semantic vs instance masks, the encoder's sizes going down and the decoder's going up,
and a transposed convolution worked out by hand."""

import streamlit as st

from cnnviz import charts, render
from cnnviz.analysis.conv import ConvSettingsError
from cnnviz.analysis.segmentation import default_threshold
from cnnviz.models import WeightsMissingError, weights_present
from cnnviz.models.segmenters import instance_partner
from cnnviz.ui import cache
from cnnviz.ui.feedback import show_error
from cnnviz.ui.sidebar import model_caption, page, require_model
from cnnviz.ui.text import t
from cnnviz.ui.widgets import remembered
from cnnviz.weights import read_card

choice = page("page.segmentation", tasks=("segmentation",), model_key="segmenter")
st.title(t("page.segmentation"))
st.write(t("seg.intro"))

loaded = require_model(choice.model_name)
if loaded is None:
    st.stop()
spec = loaded.spec
st.caption(model_caption(loaded))
if loaded.weights == "untrained":
    st.warning(t("seg.untrained_note"))
elif spec.source == "bundled":
    card = read_card(spec.name)
    st.caption(t("seg.card", miou=card["held_out_mean_iou"], count=card["held_out_count"]))
    if "held_out_panoptic_quality" in card:
        st.caption(
            t(
                "seg.card_instance",
                precision=card["held_out_instance_precision"],
                recall=card["held_out_instance_recall"],
                pq=card["held_out_panoptic_quality"],
            )
        )


def image_ui():
    """The image to segment: a shapes scene (with its true masks) or the sidebar's image."""
    shapes_model = spec.source == "bundled"
    source = remembered(
        st.segmented_control,
        t("seg.source"),
        ["scene", "sidebar"],
        key="seg_source_shapes" if shapes_model else "seg_source_photo",
        format_func=lambda s: t("seg.source." + s),
        default="scene" if shapes_model else "sidebar",
        required=True,
    )
    if source == "sidebar":
        if shapes_model:
            st.caption(t("seg.photo_hint"))
        return choice.image, None
    seed = st.number_input(t("seg.seed"), 0, 2_000_000, 1_000_006, step=1, key="seg_seed")
    image, semantic, instances = cache.seg_truth(int(seed))
    return image, (semantic, instances)


def controls_ui(start: float) -> tuple[float, float]:
    """Mask opacity and the lowest instance score."""
    left, right = st.columns(2)
    alpha = left.slider(t("seg.alpha"), 0.0, 1.0, 0.6, 0.05, key="seg_alpha")
    threshold = right.slider(
        t("seg.threshold"), 0.05, 1.0, start, 0.05, key="seg_threshold", help=t("seg.threshold_help")
    )
    return alpha, threshold


def swatch(color: tuple[int, int, int], label: str) -> str:
    """A colour square and its label, kept together when the legend wraps."""
    return (
        '<span style="white-space:nowrap">'
        f'<span style="display:inline-block;width:0.9em;height:0.9em;background:{render.hex_color(color)};'
        f'border:1px solid #555;margin-right:0.3em;vertical-align:middle"></span>{label}</span>'
    )


def scale_for(height: int) -> int:
    """Small model inputs (96×96) are enlarged so their pixels stay visible."""
    return max(1, 288 // max(height, 1))


def semantic_ui(semantic, alpha: float, model_name: str) -> None:
    palette = render.class_palette(len(semantic.categories))
    classes = [k for k in semantic.present if k != 0]
    overlay = render.mask_overlay(
        semantic.image,
        semantic.masks(classes),
        [palette[k] for k in classes],
        alpha,
        scale_for(len(semantic.image)),
    )
    key = "seg.semantic_from_instances" if semantic.source == "instances" else "seg.semantic_caption"
    st.image(render.for_display(overlay), caption=t(key, model=model_name), width="stretch")
    legend = " &nbsp; ".join(swatch(palette[k], semantic.categories[k]) for k in classes)
    if legend:
        st.markdown(legend, unsafe_allow_html=True)


def instance_ui(instances, alpha: float, model_name: str) -> None:
    palette = render.instance_palette(len(instances.instances))
    overlay = render.mask_overlay(
        instances.image, instances.masks, palette, alpha, scale_for(len(instances.image))
    )
    st.image(
        render.for_display(overlay), caption=t("seg.instance_caption", model=model_name), width="stretch"
    )
    if not instances.instances:
        st.caption(t("seg.no_instances"))
        return
    counts: dict[str, int] = {}
    parts = []
    for inst, color in zip(instances.instances, palette, strict=True):
        counts[inst.name] = counts.get(inst.name, 0) + 1
        parts.append(swatch(color, t("seg.object", name=inst.name, n=counts[inst.name], score=inst.score)))
    st.markdown(" &nbsp; ".join(parts), unsafe_allow_html=True)


image, truth = image_ui()


partner_name = instance_partner(spec.name)
partner = loaded
partner_error = None
# An untrained partner (Mask R-CNN) doubles an untrained model's first view: it runs only when asked.
deferred = (
    partner_name != spec.name
    and loaded.weights == "untrained"
    and not weights_present(partner_name)
    and not st.toggle(t("seg.partner_run", name=partner_name), key="seg_partner_run")
)
if deferred:
    partner = None
elif partner_name != spec.name:
    try:
        with st.spinner(t("loading.model", name=partner_name)):
            partner = cache.partner_model(partner_name, loaded.weights == "untrained")
    except WeightsMissingError as err:
        partner, partner_error = None, err

alpha, threshold = controls_ui(default_threshold(partner if partner is not None else loaded))

st.header(t("seg.masks"))
try:
    with st.spinner(t("loading.model", name=spec.name)):
        semantic = cache.seg_semantic(loaded, image, threshold)
        instances = cache.seg_instances(partner, image, threshold) if partner is not None else None
except (ValueError, RuntimeError) as err:
    show_error(err)
    st.stop()

columns = st.columns(3 if truth is not None else 2)
with columns[0]:
    st.subheader(t("seg.semantic"))
    semantic_ui(semantic, alpha, spec.name)
with columns[1]:
    st.subheader(t("seg.instance"))
    if instances is not None and partner is not None:
        instance_ui(instances, alpha, partner.spec.name)
    elif deferred:
        st.info(t("seg.partner_deferred", name=partner_name))
    else:
        st.info(t("seg.instance_missing", name=partner_name, why=str(partner_error)))
if truth is not None:
    with columns[2]:
        st.subheader(t("seg.truth"))
        true_semantic, true_instances = truth
        semantic_ui(true_semantic, alpha, t("seg.truth"))
        instance_ui(true_instances, alpha, t("seg.truth"))

h, w = semantic.labels.shape
st.caption(t("seg.mask_size", ih=semantic.image.shape[0], iw=semantic.image.shape[1], mh=h, mw=w))

palette = render.class_palette(len(semantic.categories))
shown = list(semantic.present)
st.plotly_chart(
    charts.class_shares(
        [semantic.categories[k] for k in shown],
        [float(semantic.shares[k]) for k in shown],
        [render.hex_color(palette[k]) if k != 0 else "#d0d0d0" for k in shown],
        title=t("seg.shares"),
    ),
    key="seg_shares",
)
st.caption(t("seg.shares_help"))

# --- down, then up -----------------------------------------------------------------------------------------
st.header(t("seg.sizes"))
st.write(t("seg.sizes_intro", model=spec.name))
path = cache.seg_sizes(loaded, image)
stages = path.stages
phase_names = {p: t("seg.phase." + p) for p in ("input", "down", "same", "up")}
st.plotly_chart(
    charts.spatial_sizes(
        [s.name for s in stages],
        [s.height for s in stages],
        [s.width for s in stages],
        [s.channels for s in stages],
        [s.phase for s in stages],
        phase_names,
        title=t("seg.sizes_title"),
        y_title=t("seg.sizes_y"),
        per_box=[s.per_box for s in stages],
    ),
    key="seg_sizes",
)
bottom = path.smallest
st.write(
    t(
        "seg.smallest",
        name=bottom.name,
        h=bottom.height,
        w=bottom.width,
        c=bottom.channels,
        mh=stages[-1].height,
        mw=stages[-1].width,
    )
)
if any(s.per_box for s in stages):
    st.caption(t("seg.per_box"))
with st.expander(t("seg.stages")):
    st.dataframe(
        {
            t("seg.col.stage"): [s.name for s in stages],
            t("seg.col.kind"): [s.kind for s in stages],
            t("seg.col.channels"): [s.channels for s in stages],
            t("seg.col.height"): [s.height for s in stages],
            t("seg.col.width"): [s.width for s in stages],
            t("seg.col.phase"): [phase_names[s.phase] for s in stages],
        },
        hide_index=True,
        key="seg_stage_table",
    )

# --- transposed convolution ------------------------------------------------------------------------------
st.header(t("seg.tconv"))
st.write(t("seg.tconv_intro"))
cols = st.columns(5)
size_i = int(cols[0].number_input(t("seg.tconv_input"), 1, 4, 2, key="tc_input"))
size_f = int(cols[1].number_input(t("seg.tconv_kernel"), 1, 4, 3, key="tc_kernel"))
stride = int(cols[2].number_input(t("seg.tconv_stride"), 1, 3, 2, key="tc_stride"))
padding = int(cols[3].number_input(t("seg.tconv_padding"), 0, 3, 0, key="tc_padding"))
with cols[4]:
    preset = remembered(
        st.selectbox,
        t("seg.tconv_preset"),
        ["ones", "counting"],
        key="tc_preset",
        format_func=lambda p: t("seg.tconv_preset." + p),
        default="ones",
    )
try:
    demo = cache.transposed_conv(size_i, size_f, preset, stride, padding)
except ConvSettingsError as err:
    show_error(err)
    st.stop()

st.latex(
    rf"O = (I - 1)S - 2P + F = ({size_i} - 1) \cdot {stride} - 2 \cdot {padding} + {size_f} = {demo.size}"
)
oh, ow = demo.torch_output.shape
st.write(t("seg.tconv_check", h=oh, w=ow, ok=t("seg.yes") if demo.matches else t("seg.no")))
a, b, c, d = st.columns([1, 1, 2, 2])
a.plotly_chart(charts.matrix(demo.input, t("seg.tconv_in"), fmt=".0f"), key="tc_in")
b.plotly_chart(charts.matrix(demo.kernel, t("seg.tconv_k"), fmt=".0f"), key="tc_k")
c.plotly_chart(charts.matrix(demo.output, t("seg.tconv_out"), fmt=".0f"), key="tc_out")
d.plotly_chart(charts.matrix(demo.torch_output, t("seg.tconv_torch"), fmt=".0f"), key="tc_torch")

cells = [(r, q) for r in range(size_i) for q in range(size_i)]
cell = remembered(
    st.selectbox,
    t("seg.tconv_cell"),
    cells,
    key="tc_cell",
    format_func=lambda rc: t("seg.tconv_cell_item", r=rc[0], c=rc[1], v=float(demo.input[rc[0], rc[1]])),
)
r, q = cell
f = demo.kernel.shape[0]
st.plotly_chart(
    charts.matrix(
        demo.stamps[r, q],
        t("seg.tconv_stamp", r=r, c=q, v=float(demo.input[r, q]), y=r * stride, x=q * stride),
        fmt=".0f",
        highlight=(r * stride, q * stride, f, f),
    ),
    key="tc_stamp",
)

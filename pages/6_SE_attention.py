"""SE attention: squeeze -> FC -> ReLU -> FC -> sigmoid -> scale, block by block and channel by channel."""

import streamlit as st

from cnnviz import charts, images, models, render
from cnnviz.analysis.cam import top_k
from cnnviz.analysis.se import SEActivation, SEResult
from cnnviz.ui import cache
from cnnviz.ui.sidebar import Choice, model_caption, page, require_model
from cnnviz.ui.text import t


def prediction(se: SEResult, categories: list[str]) -> tuple[str, float] | None:
    if se.logits is None or len(categories) != len(se.logits):
        return None
    best = top_k(se.logits.copy(), categories, k=1)[0]
    return best.name, best.probability


def heatmap_ui(se: SEResult, key: str, title: str) -> None:
    st.plotly_chart(
        charts.block_channel_heatmap(
            se.weight_matrix(),
            se.names,
            title=title,
            x_title=t("se.axis.channel"),
            y_title=t("se.axis.block"),
        ),
        key=key,
    )


def pipeline_ui(b: SEActivation) -> None:
    """The block's steps with their shapes, as in the lecture: 1×1×C -> 1×1×C/r -> 1×1×C."""
    info = b.block
    c, cr = info.channels, info.reduced_channels
    h, w = (b.before.shape[1], b.before.shape[2]) if b.before is not None else ("H", "W")
    steps = [
        (t("se.step.input"), f"{h}×{w}×{c}"),
        (t("se.step.squeeze"), f"1×1×{c}"),
        (t("se.step.fc1"), f"1×1×{cr}"),
        *([(info.activation, f"1×1×{cr}")] if info.activation else []),
        (t("se.step.fc2"), f"1×1×{c}"),
        (info.gate, f"1×1×{c}"),
        (t("se.step.scale"), f"{h}×{w}×{c}"),
    ]
    st.plotly_chart(charts.pipeline(steps, title=t("se.pipeline", name=info.name)), key="se_pipeline")
    st.caption(
        t(
            "se.shapes_caption",
            c=c,
            cr=cr,
            r=info.reduction,
            act=info.activation or "—",
            gate=info.gate,
            h=h,
            w=w,
        )
    )
    cols = st.columns(3)
    cols[0].plotly_chart(
        charts.channel_bars(b.squeeze, title=t("se.squeeze"), x_title=t("se.axis.channel")), key="se_squeeze"
    )
    cols[1].plotly_chart(
        charts.channel_bars(
            b.reduced, title=t("se.reduced", act=info.activation or "FC"), x_title=t("se.axis.channel")
        ),
        key="se_reduced",
    )
    cols[2].plotly_chart(
        charts.channel_bars(
            b.weights, title=t("se.sorted"), sort=True, y_title=t("se.axis.weight"), y_range=(0.0, 1.0)
        ),
        key="se_sorted",
    )
    st.caption(t("se.vectors_caption"))


def channels_ui(b: SEActivation) -> None:
    """The most boosted and most suppressed channels, before and after the scaling."""
    if b.before is None or b.after is None:
        return
    # At most half the channels on each side: a channel is boosted or suppressed, never both.
    most = min(12, len(b.weights) // 2)
    if most < 1:
        return
    k = st.slider(t("se.k"), 1, most, min(4, most), key="se_k") if most > 1 else 1
    for col, title, picked in zip(
        st.columns(2), (t("se.boosted"), t("se.suppressed")), (b.boosted(k), b.suppressed(k)), strict=True
    ):
        col.markdown(f"**{title}**")
        col.image(render.channel_pairs(b.before, b.after, picked, cell=72))
        items = ", ".join(t("se.channel_weight", c=int(c), w=float(b.weights[c])) for c in picked)
        col.caption(t("se.pairs_caption", items=items))


def compare_ui(loaded: models.LoadedModel, choice: Choice, se: SEResult, block: str) -> None:
    """The same SE blocks on a second image: how the excitation differs by class."""
    st.header(t("se.compare"))
    st.caption(t("se.compare_help"))
    samples = images.sample_names()
    default = next(s for s in samples if s != choice.image_name) if len(samples) > 1 else samples[0]
    second_name = st.selectbox(t("se.second"), samples, index=samples.index(default), key="se_image2")
    second_image = cache.sample_image(second_name)
    with st.spinner(t("se.running")):
        se2 = cache.se_weights(loaded, second_image)
    left, right = st.columns(2)
    for col, result, image, caption_key, label in (
        (left, se, choice.image, "se.first_caption", choice.image_name),
        (right, se2, second_image, "se.second_caption", second_name),
    ):
        with col:
            st.image(loaded.model_view(image), width=160)
            pred = prediction(result, loaded.categories)
            if pred is not None:
                st.caption(t(caption_key, image=label, name=pred[0], p=pred[1]))
            heatmap_ui(result, key=f"se_heatmap_{caption_key}", title=t("se.heatmap"))
    first, second = se.block(block), se2.block(block)
    cols = st.columns(2)
    cols[0].plotly_chart(
        charts.scatter_compare(
            first.weights,
            second.weights,
            title=t("se.block_compare", name=block),
            x_title=t("se.axis.first"),
            y_title=t("se.axis.second", image=second_name),
        ),
        key="se_block_compare",
    )
    cols[0].caption(t("se.block_compare_help"))
    cols[1].plotly_chart(
        charts.grouped_bars(
            se.names,
            {t("se.mean_abs"): se.mean_abs_difference(se2).tolist()},
            title=t("se.diff_chart"),
            x_title=t("se.axis.block"),
        ),
        key="se_diff_chart",
    )


choice = page("page.se", tasks=("classification",), model_key="se_model", tag="se")
st.title(t("page.se"))
st.write(t("se.intro"))
loaded = require_model(choice.model_name)
if loaded is None:
    st.stop()
st.caption(model_caption(loaded))
with st.spinner(t("se.running")):
    se = cache.se_weights(loaded, choice.image)
if not se.blocks:
    with_se = [s.name for s in models.list_specs("classification", tag="se")]
    st.info(t("se.none", model=loaded.spec.name, models=", ".join(with_se)))
    st.stop()
pred = prediction(se, loaded.categories)
st.write(
    t("se.found", n=len(se.blocks), name=pred[0], p=pred[1])
    if pred
    else t("se.found_plain", n=len(se.blocks))
)
st.caption(t("se.heatmap_help"))
heatmap_ui(se, key="se_heatmap", title=t("se.heatmap"))
block = st.selectbox(t("se.block"), se.names, index=len(se.names) - 1, key="se_block")
chosen = se.block(block)
pipeline_ui(chosen)
channels_ui(chosen)
st.divider()
compare_ui(loaded, choice, se, block)

"""Residual gradients: H(x) = F(x) + x and ∂H/∂x = F'(x) + 1 block by block; plain vs residual at depth."""

import streamlit as st

from cnnviz import charts, models
from cnnviz.analysis.cam import top_k
from cnnviz.analysis.residual import (
    DEPTH_MEASURES,
    OBJECTIVES,
    STACK_DEPTHS,
    BlockGradients,
    ResidualGradients,
    compare_depth,
)
from cnnviz.ui import cache
from cnnviz.ui.sidebar import Choice, model_caption, page, require_model
from cnnviz.ui.text import language, t, tr
from cnnviz.ui.widgets import remembered


def skip_label(block: BlockGradients, lang: str) -> str:
    return tr("res.skip." + block.block.skip, lang)


def blocks_ui(loaded: models.LoadedModel, choice: Choice) -> None:
    """Per-block gradient and activation norms of the chosen model on the chosen image."""
    name = loaded.spec.name

    lang = language()  # bound now: a widget may format its options after the run (AppTest does)
    cols = st.columns(2)
    with cols[0]:
        objective = remembered(
            st.radio,
            t("res.objective"),
            list(OBJECTIVES),
            key="res_objective",
            format_func=lambda o: tr("res.objective." + o, lang),
            default="loss",
            horizontal=True,
        )
    with st.spinner(t("res.running")):
        first = cache.residual_gradients(loaded, choice.image, None, objective)
    if not first.blocks:
        residual = [s.name for s in models.list_specs("classification", tag="residual")]
        st.info(t("res.none", model=name, models=", ".join(residual)))
        return
    ranked = [p.index for p in top_k(first.logits.copy(), loaded.categories, k=len(loaded.categories))]
    target = cols[1].selectbox(
        t("res.target"), ranked, format_func=lambda i: loaded.categories[i], key="res_target"
    )
    result = first
    if int(target) != first.target:
        with st.spinner(t("res.running")):
            result = cache.residual_gradients(loaded, choice.image, int(target), objective)
    identity = sum(b.block.skip == "identity" for b in result.blocks)
    st.write(
        t(
            "res.found",
            n=len(result.blocks),
            identity=identity,
            other=len(result.blocks) - identity,
            value=result.value,
            name=loaded.categories[result.target],
            p=result.probability,
        )
    )
    overview_ui(result)
    block_ui(result)


def overview_ui(result: ResidualGradients) -> None:
    """Three per-block charts: gradient norms, activation norms, skip/branch shares."""
    names = result.names
    blocks = result.blocks
    st.plotly_chart(
        charts.grouped_bars(
            names,
            {
                t("res.series.input"): [b.grad_input for b in blocks],
                t("res.series.output"): [b.grad_output for b in blocks],
                t("res.series.skip"): [b.grad_skip for b in blocks],
                t("res.series.branch"): [b.grad_branch for b in blocks],
            },
            title=t("res.grad_chart"),
            log_y=True,
            # no x title: the ticks are block names, and it would meet the legend below them
            y_title=t("res.axis.norm"),
        ),
        key="res_grad_chart",
    )
    left, right = st.columns(2)
    left.plotly_chart(
        charts.grouped_bars(
            names,
            {
                t("res.series.x"): [b.input_norm for b in blocks],
                t("res.series.fx"): [b.branch_norm for b in blocks],
                t("res.series.sx"): [b.skip_norm for b in blocks],
                t("res.series.h"): [b.output_norm for b in blocks],
            },
            title=t("res.act_chart"),
            log_y=True,
            y_title=t("res.axis.norm"),
        ),
        key="res_act_chart",
    )
    right.plotly_chart(
        charts.grouped_bars(
            names,
            {
                t("res.series.skip_share"): [b.skip_share for b in blocks],
                t("res.series.branch_share"): [b.branch_share for b in blocks],
            },
            title=t("res.share_chart"),
            stacked=True,
            y_title=t("res.axis.share"),
        ),
        key="res_share_chart",
    )


def block_ui(result: ResidualGradients) -> None:
    """One block: H(x) = F(x) + s(x) and ∂L/∂x = F'(x)ᵀg + s'(x)ᵀg with its own numbers."""
    by_name = {b.name: b for b in result.blocks}
    lang = language()
    chosen = remembered(
        st.selectbox,
        t("res.block"),
        result.names,
        key="res_block",
        format_func=lambda n: tr(
            "res.block_item", lang, name=n, kind=by_name[n].block.kind, skip=skip_label(by_name[n], lang)
        ),
    )
    b = by_name[chosen]
    st.subheader(t("res.block_title", name=b.name))
    skip = b.block.skip
    if skip == "identity":
        st.latex(r"H(x) = F(x) + x \qquad \frac{\partial L}{\partial x} = F'(x)^{\top} g + g")
        st.caption(t("res.identity_eq"))
    else:
        st.latex(r"H(x) = F(x) + s(x) \qquad \frac{\partial L}{\partial x} = F'(x)^{\top} g + s'(x)^{\top} g")
        key = "res.projection_eq" if skip == "projection" else "res.other_eq"
        st.caption(t(key, modules=", ".join(b.block.skip_modules)))
    if b.block.after_sum:
        st.caption(t("res.relu_note", modules=", ".join(b.block.after_sum)))
    if not b.split:
        st.warning(t("res.nosplit"))
        return
    m = st.columns(4)
    m[0].metric(t("res.metric.g"), f"{b.grad_sum:.4g}")
    skip_title = "res.metric.skip" if skip == "identity" else "res.metric.skip_projection"
    m[1].metric(
        t(skip_title),
        f"{b.grad_skip:.4g}",
        t("res.metric.share", share=b.skip_share),
        delta_color="off",
        delta_arrow="off",
    )
    m[2].metric(
        t("res.metric.branch"),
        f"{b.grad_branch:.4g}",
        t("res.metric.share", share=b.branch_share),
        delta_color="off",
        delta_arrow="off",
    )
    m[3].metric(t("res.metric.total"), f"{b.grad_input:.4g}")
    st.write(t("res.gain", gain=b.gain, branch=b.grad_branch))
    if b.skip_map is not None and b.branch_map is not None:
        left, right = st.columns(2)
        left.plotly_chart(charts.heatmap(b.skip_map, title=t("res.map.skip")), key="res_skip_map")
        right.plotly_chart(charts.heatmap(b.branch_map, title=t("res.map.branch")), key="res_branch_map")


def depth_ui() -> None:
    """The same untrained stack with and without skips: the gradient reaching each layer."""
    lang = language()
    st.header(t("res.depth_title"))
    st.write(t("res.depth_intro"))
    cols = st.columns(2)
    depths = cols[0].multiselect(t("res.depths"), list(STACK_DEPTHS), default=[20, 56], key="res_depths")
    # Its own line: in a narrow column its label was cut ("with batch normalis…").
    batch_norm = cols[0].checkbox(t("res.bn"), key="res_bn", help=t("res.bn_help"))
    with cols[1]:
        measure = remembered(
            st.radio,
            t("res.measure"),
            list(DEPTH_MEASURES),
            key="res_measure",
            format_func=lambda m: tr("res.measure." + m, lang),
            default="activation",
        )
    if not depths:
        st.info(t("res.depth_none"))
        return
    charts_cols = st.columns(len(depths))
    for col, depth in zip(charts_cols, sorted(depths), strict=True):
        with st.spinner(t("res.depth_running")):
            plain = cache.depth_profile(depth, False, batch_norm)
            residual = cache.depth_profile(depth, True, batch_norm)
        plain_norms, residual_norms = plain.norms(measure), residual.norms(measure)
        col.plotly_chart(
            charts.line_chart(
                list(range(1, len(plain.layers) + 1)),
                {t("res.plain"): list(plain_norms), t("res.residual"): list(residual_norms)},
                title=t("res.depth_chart", depth=depth),
                log_y=True,
                x_title=t("res.layer_axis"),
                y_title=t("res.grad_axis"),
            ),
            key=f"res_depth_{depth}",
        )
        numbers = compare_depth(plain, residual, measure)
        if numbers.residual_over_plain >= 1:
            ratio = t("res.ratio_smaller", x=numbers.residual_over_plain)
        else:
            larger = 1 / numbers.residual_over_plain if numbers.residual_over_plain > 0 else float("inf")
            ratio = t("res.ratio_larger", x=larger)
        caption = t(
            "res.depth_caption", plain=numbers.plain_first, residual=numbers.residual_first, ratio=ratio
        )
        col.caption(caption)
        # Said from the measured numbers, so the sentence can't contradict the chart above it.
        shrinks = numbers.plain_shrinks
        change = numbers.plain_change
        trend = t(
            "res.trend.shrinks" if shrinks else "res.trend.grows",
            x=1 / change if shrinks else change,
            residual=numbers.residual_change,
        )
        # The usual cause of each direction, said where this set-up is that cause.
        if shrinks != batch_norm:
            trend += " " + t("res.reason.bn" if batch_norm else "res.reason.default")
        col.write(trend)


choice = page("page.residual", tasks=("classification",), model_key="resnet_model", tag="residual")
st.title(t("page.residual"))
st.write(t("res.intro"))
st.latex(r"H(x) = F(x) + x \qquad \frac{\partial H(x)}{\partial x} = F'(x) + 1")
loaded = require_model(choice.model_name)
if loaded is not None:
    st.caption(model_caption(loaded))
    blocks_ui(loaded, choice)
st.divider()
depth_ui()

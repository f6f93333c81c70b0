"""Convolution & pooling: a filter step by step, the size formula, channels, pooling, FC, augmentation."""

import numpy as np
import streamlit as st

from cnnviz import charts
from cnnviz.analysis import conv
from cnnviz.analysis.augment import AUGMENTATIONS, augment
from cnnviz.images import sample_names
from cnnviz.ui import cache
from cnnviz.ui.feedback import show_error
from cnnviz.ui.sidebar import page, require_model
from cnnviz.ui.text import t
from cnnviz.ui.widgets import remembered, remembered_tabs

MAX_FRAMES = 144  # steps the animation holds at most (a 12 × 12 output); a larger one plays its first 144

choice = page("page.conv")
st.title(t("page.conv"))
st.write(t("conv.intro"))
TABS = ("conv", "size", "multi", "pool", "fc", "aug")
# The open tab survives a language switch (its label changes) and every rerun.
tab_conv, tab_size, tab_multi, tab_pool, tab_fc, tab_aug = remembered_tabs(
    TABS, key="conv_tab", format_func=lambda name: t("conv.tab." + name)
)


def settings_ui(prefix: str, with_mode: bool = True) -> dict:
    c = st.columns(4 if with_mode else 3)
    out = {
        "stride": c[0].number_input(t("conv.stride"), 0, 5, 1, key=f"{prefix}_stride"),
        "padding": c[1].number_input(t("conv.padding"), 0, 4, 0, key=f"{prefix}_padding"),
        "dilation": c[2].number_input(t("conv.dilation"), 0, 3, 1, key=f"{prefix}_dilation"),
    }
    if with_mode:
        out["padding_mode"] = remembered(
            c[3].selectbox,
            t("conv.padding_mode"),
            conv.PADDING_MODES,
            format_func=lambda m: t("conv.mode." + m),
            key=f"{prefix}_mode",
        )
    return out


with tab_conv:
    left, right = st.columns(2)
    with left:
        source = remembered(
            st.radio,
            t("conv.input"),
            ["image", "matrix"],
            format_func=lambda s: t("conv.input." + s),
            key="conv_src",
            horizontal=True,
        )
        size = st.slider(t("conv.input_size"), 3, 12, 6, key="conv_size")
        if source == "image":
            x = np.round(conv.downsize_gray(choice.image, size), 2)
            pixel_range = {"zmin": 0.0, "zmax": 1.0}  # brightness 0..1: black to white
        else:
            pixel_range = {}  # any numbers: the scale spans them
            x = np.asarray(
                st.data_editor(conv.sample_matrix(size, seed=0).tolist(), key=f"conv_matrix_{size}"),
                dtype=float,
            )
    with right:
        preset = remembered(
            st.selectbox,
            t("conv.preset"),
            conv.KERNEL_PRESETS,
            format_func=lambda k: t("conv.k." + k),
            key="conv_preset",
        )
        ksize = st.select_slider(
            t("conv.kernel_size"),
            conv.preset_sizes(preset),
            value=3 if 3 in conv.preset_sizes(preset) else conv.preset_sizes(preset)[0],
            key="conv_ksize",
        )
        kernel = np.asarray(
            st.data_editor(
                np.round(conv.kernel_preset(preset, ksize), 4).tolist(), key=f"conv_kernel_{preset}_{ksize}"
            ),
            dtype=float,
        )
    opts = settings_ui("conv")
    try:
        steps = conv.conv2d_steps(x, kernel, **opts)
    except conv.ConvSettingsError as err:
        show_error(err)
        steps = None
    if steps is not None:
        n = steps.n_steps
        animate = st.toggle(t("conv.animate"), key="conv_animate", help=t("conv.animate_help"))

        def draw(k: int) -> None:
            step = steps.step(k)
            f_span = step.rows[-1] - step.rows[0] + 1
            pad = steps.padding
            h, w = steps.input.shape[1:]
            dim = np.ones(steps.padded.shape[1:], bool)
            dim[pad : pad + h, pad : pad + w] = False
            with st.container():
                a, b, c = st.columns([3, 2, 2])
                a.plotly_chart(
                    charts.matrix(
                        steps.padded[0],
                        t("conv.padded"),
                        ".2f",
                        highlight=(step.top, step.left, f_span, f_span),
                        dim=dim if pad else None,
                        **pixel_range,
                    ),
                    key=f"conv_in_{k}",
                )
                b.plotly_chart(
                    charts.matrix(steps.kernel[0], t("conv.kernel"), ".2f", "RdBu", zmid=0), key=f"conv_k_{k}"
                )
                b.plotly_chart(
                    charts.matrix(step.products[0], t("conv.products"), ".2f", "RdBu", zmid=0),
                    key=f"conv_p_{k}",
                )
                fm = steps.feature_map
                c.plotly_chart(
                    charts.matrix(
                        fm,
                        t("conv.output", h=fm.shape[0], w=fm.shape[1]),
                        ".2f",
                        "Viridis",
                        highlight=(step.row, step.col, 1, 1),
                    ),
                    key=f"conv_out_{k}",
                )
                st.code(
                    steps.formula(k, symbolic=True, max_terms=12) + "\n" + steps.formula(k, max_terms=12),
                    language=None,
                )

        if animate:
            # Every step is a frame of one figure: the browser plays, pauses and changes speed by itself,
            # with no rerun of this script per step (a rerun each took over a second).
            shown = min(n, MAX_FRAMES)
            frames = [steps.step(kk) for kk in range(shown)]
            fm_h, fm_w = steps.feature_map.shape
            st.plotly_chart(
                charts.conv_animation(
                    steps.padded[0],
                    [f.products[0] for f in frames],
                    [(f.top, f.left, int(f.rows[-1] - f.rows[0] + 1)) for f in frames],
                    [(f.row, f.col) for f in frames],
                    steps.feature_map,
                    [steps.formula(kk, max_terms=12) for kk in range(shown)],
                    (t("conv.anim.input"), t("conv.anim.products"), t("conv.output", h=fm_h, w=fm_w)),
                    play_label=t("conv.play"),
                    pause_label=t("conv.pause"),
                    step_label=t("conv.step"),
                    **pixel_range,
                ),
                key="conv_animation",
            )
            if shown < n:
                st.caption(t("conv.frames_cut", shown=shown, n=n))
        else:
            k = st.slider(t("conv.step"), 0, n - 1, 0, key="conv_step") if n > 1 else 0
            draw(k)
        st.caption(t("conv.cross_correlation"))

with tab_size:
    c = st.columns(5)
    i_ = c[0].number_input(t("conv.I"), 1, 512, 32, key="size_i")
    f_ = c[1].number_input(t("conv.F"), 1, 15, 4, key="size_f")
    s_ = c[2].number_input(t("conv.S"), 0, 8, 2, key="size_s")
    p_ = c[3].number_input(t("conv.P"), 0, 8, 1, key="size_p")
    d_ = c[4].number_input(t("conv.D"), 0, 4, 1, key="size_d")
    try:
        formula = conv.size_formula(i_, f_, s_, p_, d_)
    except conv.ConvSettingsError as err:
        show_error(err)
    else:
        st.latex(r"O = \frac{I + 2P - F}{S} + 1" if d_ == 1 else r"O = \frac{I + 2P - d(F-1) - 1}{S} + 1")
        st.markdown(f"### {formula.text}")
        if not formula.divisible:
            st.warning(
                t(
                    "conv.not_divisible",
                    num=formula.numerator,
                    s=s_,
                    r=formula.remainder,
                    o=formula.output_size,
                )
            )
        st.caption(t("conv.checked"))
    quiz = conv.lecture_quiz()
    st.subheader(t("conv.quiz"))
    st.write(t("conv.quiz_q"))
    with st.expander(t("conv.quiz_answer")):  # closed: the class works it out first
        st.markdown(
            f"`{quiz.formula.text}` → **{quiz.output_hwc}** (H, W, C) = `{quiz.output_chw}` (C, H, W)"
        )

with tab_multi:
    st.write(t("conv.multi_help"))
    c = st.columns(3)
    msize = c[0].slider(t("conv.input_size"), 4, 16, 8, key="multi_size")
    n_filters = c[1].slider(t("conv.n_filters"), 1, 4, 2, key="multi_filters")
    mk = c[2].select_slider(t("conv.kernel_size"), [1, 3, 5], 3, key="multi_k")
    rgb = conv.downsize_rgb(choice.image, msize)
    kernels = conv.seeded_kernels(n_filters, 3, mk, seed=0)
    try:
        multi = conv.conv2d_multi(rgb, kernels, **settings_ui("multi", with_mode=False))
    except conv.ConvSettingsError as err:
        show_error(err)
    else:
        for k in range(n_filters):
            cols = st.columns([3, 3, 3, 1, 3])
            for ch in range(3):
                cols[ch].plotly_chart(
                    charts.heatmap(
                        multi.partial_maps[k, ch], t("conv.partial", k=k, c="RGB"[ch]), compact=True
                    ),
                    key=f"multi_{k}_{ch}",
                )
            cols[3].markdown("### =")
            cols[4].plotly_chart(
                charts.heatmap(multi.feature_maps[k], t("conv.sum", k=k), compact=True), key=f"multi_sum_{k}"
            )
        st.write(t("conv.multi_shape", c=3, k=n_filters, shape=multi.feature_maps.shape))

with tab_pool:
    c = st.columns(3)
    psize = c[0].slider(t("conv.input_size"), 2, 16, 8, key="pool_size")
    pk = c[1].slider(t("conv.kernel_size"), 1, 4, 2, key="pool_k")
    ps = c[2].slider(t("conv.stride"), 1, 4, 2, key="pool_s")
    gray = conv.downsize_gray(choice.image, psize)
    st.plotly_chart(charts.matrix(gray, t("conv.pool_input"), ".2f", zmin=0, zmax=1), key="pool_in")
    cols = st.columns(3)
    for col, kind in zip(cols, conv.POOL_KINDS, strict=True):
        try:
            res = conv.pool2d(gray, kind, pk, ps)
        except conv.ConvSettingsError as err:
            with col:
                show_error(err)
            continue
        col.plotly_chart(
            charts.matrix(
                res.output[0] if res.output.ndim == 3 else res.output,
                t("conv.pool." + kind),
                ".2f",
                zmin=0,
                zmax=1,
            ),
            key=f"pool_{kind}",
        )
    gap = conv.global_average_pool(conv.downsize_rgb(choice.image, psize))
    st.write(t("conv.gap", values=", ".join(f"{v:.3f}" for v in gap)))

with tab_fc:
    st.write(t("conv.fc_help"))
    fmap = conv.pool2d(conv.downsize_rgb(choice.image, 8), "max", 2, 2).output  # (3, 4, 4)
    n_classes = st.slider(t("conv.n_classes"), 2, 6, 3, key="fc_classes")
    weight, bias = conv.fc_weights(fmap.size, n_classes, seed=0)
    fc = conv.fc_demo(fmap, weight, bias)
    a, b = st.columns(2)
    a.write(t("conv.flatten", shape=fc.feature_map_shape, n=fc.flattened.size))
    a.plotly_chart(charts.matrix(fc.flattened[None, :], t("conv.flat_vector"), ".2f"), key="fc_flat")
    b.plotly_chart(
        charts.bars([str(i) for i in range(n_classes)], fc.scores.tolist(), t("conv.scores")), key="fc_scores"
    )
    b.plotly_chart(
        charts.bars([str(i) for i in range(n_classes)], fc.probabilities.tolist(), t("conv.probs")),
        key="fc_probs",
    )
    st.write(t("conv.fc_result", k=fc.predicted, p=float(fc.probabilities[fc.predicted])))

with tab_aug:
    st.write(t("conv.aug_help"))
    ops = remembered(
        st.multiselect,
        t("conv.aug_ops"),
        AUGMENTATIONS,
        format_func=lambda o: t("conv.aug." + o),
        key="aug_ops",
        default=list(AUGMENTATIONS),
    )
    seed = st.number_input(t("conv.seed"), 0, 10_000, 0, key="aug_seed")
    samples = augment(choice.image, ops, n=8, seed=int(seed))
    st.image([np.asarray(s) for s in samples], width=150)
    st.subheader(t("conv.shift"))
    st.write(t("conv.shift_help"))
    loaded = require_model("lenet5")
    if loaded is not None:
        c = st.columns(2)
        digit = c[0].selectbox(t("conv.shift_digit"), sample_names("digit"), index=3, key="shift_digit")
        max_shift = c[1].slider(t("conv.max_shift"), 1, 12, 8, key="shift_max")
        test = cache.translation(loaded, digit, max_shift)
        st.plotly_chart(
            charts.line_chart(
                list(test.shifts),
                {loaded.categories[test.target]: test.target_probability.tolist()},
                t("conv.shift_chart"),
                x_title=t("conv.shift_x"),
                y_title="p",
            ),
            key="shift_chart",
        )
        st.image(
            list(test.images),
            caption=[
                f"{s:+d}px → {loaded.categories[int(p)]}"
                for s, p in zip(test.shifts, test.predicted, strict=True)
            ],
            width=64,
        )

"""Architectures: the per-layer table, a diagram, and the lecture's side-by-side comparisons."""

import streamlit as st

from cnnviz import charts
from cnnviz.analysis.architecture import compare_stacks
from cnnviz.ui import cache
from cnnviz.ui.sidebar import model_spec, page, require_model
from cnnviz.ui.text import t


def dims(value: object) -> str:
    """(5, 5) -> "5 × 5", None -> "", "same" -> "same"."""
    if value is None:
        return ""
    if isinstance(value, tuple):
        return " × ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return str(value)


choice = page("page.arch", tasks=("classification",), image=False)
st.title(t("page.arch"))
st.write(t("arch.intro"))
name = choice.model_name
if name is None:
    st.stop()

spec = model_spec(name)
if spec.source == "user":  # a user's model has no zoo entry to build untrained: the loaded one is read
    loaded = require_model(name)
    if loaded is None:
        st.stop()
    rows, _, depth = cache.model_architecture(loaded)
else:
    rows, _, depth = cache.architecture(name)
st.subheader(t("arch.table", name=name))
st.caption(t("arch.table_help"))
st.dataframe(
    {
        t("arch.col.name"): [r.label for r in rows],
        t("arch.col.kind"): [r.kind for r in rows],
        t("arch.col.kernel"): [dims(r.kernel_size) for r in rows],
        t("arch.col.stride"): [dims(r.stride) for r in rows],
        t("arch.col.padding"): [dims(r.padding) for r in rows],
        t("arch.col.output"): [dims(r.output_shape[1:] if r.output_shape else None) for r in rows],
        t("arch.col.activation"): [r.activation or "" for r in rows],
        t("arch.col.params"): [r.params for r in rows],
        t("arch.col.macs"): [r.macs for r in rows],
        t("arch.col.rf"): [dims(r.receptive_field) for r in rows],
    },
    hide_index=True,
    key="arch_table",
)
c1, c2, c3 = st.columns(3)
c1.metric(t("arch.params"), f"{sum(r.params for r in rows):,}")
c2.metric(t("arch.macs"), f"{sum(r.macs for r in rows):,}")
c3.metric(t("arch.depth"), depth)

st.subheader(t("arch.diagram"))
main = [r for r in rows if r.kind in ("Conv2d", "Linear", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d")]
limit = st.slider(t("arch.diagram_n"), 1, max(1, len(main)), min(len(main), 16), key="diagram_n")
shown = main[:limit]
st.plotly_chart(
    charts.layer_diagram(
        [r.name for r in shown],
        [r.kind for r in shown],
        [dims(r.output_shape[1:] if r.output_shape else None) for r in shown],
        dims((spec.in_channels, *spec.input_size)),
    ),
    key="arch_diagram",
)

st.header(t("arch.compare"))
st.subheader(t("arch.lenet_vs_alexnet"))
_, lenet, _ = cache.architecture("lenet5")
_, alex, _ = cache.architecture("alexnet")
yes, no = "O", "X"
st.table(
    {
        "": [
            t("arch.row.activation"),
            t("arch.row.pooling"),
            t("arch.row.dropout"),
            t("arch.row.augmentation"),
        ],
        "LeNet-5": [
            ", ".join(lenet.activations),
            ", ".join(lenet.pooling),
            yes if lenet.dropout else no,
            t("arch.aug.lenet"),
        ],
        "AlexNet": [
            ", ".join(alex.activations),
            ", ".join(alex.pooling),
            yes if alex.dropout else no,
            t("arch.aug.alexnet"),
        ],
    }
)

st.subheader(t("arch.stack"))
channels = st.slider(t("arch.channels"), 1, 512, 64, key="stack_c")
cmp = compare_stacks(channels)
a, b = st.columns(2)
a.metric(t("arch.two3"), f"{cmp.params_two_3x3:,}", help=t("arch.two3_help", c=channels))
b.metric(t("arch.one5"), f"{cmp.params_one_5x5:,}", help=t("arch.one5_help", c=channels))
st.write(
    t(
        "arch.stack_result",
        rf3=cmp.receptive_field_two_3x3,
        rf5=cmp.receptive_field_one_5x5,
        ratio=cmp.params_two_3x3 / cmp.params_one_5x5,
        n3=cmp.nonlinearities_two_3x3,
        n5=cmp.nonlinearities_one_5x5,
    )
)

st.subheader(t("arch.vgg_vs_resnet"))
vgg_rows, vgg, vgg_depth = cache.architecture("vgg16")
res_rows, res, res_depth = cache.architecture("resnet18")
st.table(
    {
        "": [t("arch.depth"), t("arch.params"), t("arch.macs"), t("arch.row.bn")],
        "VGG-16": [
            str(vgg_depth),
            f"{vgg.params:,}",
            f"{sum(r.macs for r in vgg_rows):,}",
            yes if vgg.batch_norm else no,
        ],
        "ResNet-18": [
            str(res_depth),
            f"{res.params:,}",
            f"{sum(r.macs for r in res_rows):,}",
            yes if res.batch_norm else no,
        ],
    }
)
st.caption(t("arch.vgg_vs_resnet_note"))

"""Detection: boxes and NMS, a 1-stage grid detector against 2-stage proposals and the MTCNN cascade."""

import streamlit as st

from cnnviz import charts, images, models, render
from cnnviz.analysis.detection import (
    DEFAULT_SCENE_SEED,
    DEFAULT_SCORE_THRESHOLDS,
    comparison_choices,
    explain_nms,
    filter_detections,
    responsible_cells,
)
from cnnviz.models.detectors import HELD_OUT_COUNT, detector_kind, reference_map
from cnnviz.ui import cache
from cnnviz.ui.feedback import show_error
from cnnviz.ui.sidebar import model_note, page, require_model
from cnnviz.ui.text import language, t

choice = page("page.detection", tasks=("detection",), model_key="detector")
st.title(t("page.detection"))
st.write(t("det.intro"))

# Chosen values kept under plain keys: a widget that is not drawn in a run (the seed while the scene is
# off, another detector's threshold) loses its own state.
SCORES, SEED = "_det_scores", "_det_seed"


def _forget_widgets() -> None:
    """Drops the state of this page's widgets before an early stop.

    After st.stop() Streamlit keeps the state of the widgets the run did not reach, while the browser forgets
    them: a "Run both" toggle would come back drawn off with its comparison still running.
    """
    for key in [k for k in st.session_state if str(k).startswith("det_")]:
        if "_use_" not in str(key):  # buttons keep theirs: without it Streamlit would fire their callbacks
            del st.session_state[key]


def score_threshold(name: str) -> float:
    """The score threshold chosen for detector `name`, or its kind's default."""
    chosen = st.session_state.get(SCORES, {})
    return float(chosen.get(name, DEFAULT_SCORE_THRESHOLDS[detector_kind(models.get_spec(name))]))


def _switch_model(name: str) -> None:
    """Button callback: picks another detector in the sidebar before its widget is drawn again.

    Only the remembered choice is set, and the picker's own state dropped, so the picker starts from it:
    setting the widget's key as well gave it a value twice (its index and Session State), which Streamlit
    logs as a warning.
    """
    st.session_state["detector"] = name
    st.session_state.pop(f"detector@{language()}", None)


def present_ui(key: str, exclude: str | None = None) -> None:
    """Says which detectors have their weights here, with a button to switch to each."""
    names = [
        s.name for s in models.list_specs("detection") if s.name != exclude and models.weights_present(s.name)
    ]
    if not names:
        st.info(t("det.present_none"))
        return
    st.info(t("det.present", names=", ".join(names)))
    for col, name in zip(st.columns(len(names)), names, strict=True):
        col.button(t("det.use", name=name), key=f"{key}_{name}", on_click=_switch_model, args=(name,))


loaded = require_model(choice.model_name)
if loaded is None:
    present_ui("det_use", exclude=choice.model_name)
    _forget_widgets()
    st.stop()

spec = loaded.spec
kind = detector_kind(spec)
st.caption(
    " · ".join(
        [t("weights.label", what=t("det.weights." + loaded.weights)), t("det.kind." + kind), model_note(spec)]
    )
)
if loaded.weights == "untrained":
    st.warning(t("det.untrained_note"))
elif spec.source == "bundled" and (card_map := reference_map(spec)) is not None:
    st.caption(t("det.card", map=card_map, count=HELD_OUT_COUNT))


def image_ui():
    """The image to detect in: the sidebar's, or a shapes scene for the detector trained on shapes."""
    if spec.source != "bundled":
        return choice.image, None
    # The person's own image (an upload, a drawing) wins: its toggle starts off. A toggle of its own, so an
    # upload arriving while the scene is on switches to the upload.
    own = choice.image_name not in images.sample_names()
    left, right = st.columns([2, 1])
    if not left.toggle(t("det.scene"), value=not own, key="det_scene_own" if own else "det_scene"):
        return choice.image, None
    seed = right.number_input(
        t("det.scene_seed"),
        0,
        2_000_000,
        int(st.session_state.get(SEED, DEFAULT_SCENE_SEED)),
        step=1,
        key="det_seed",
    )
    st.session_state[SEED] = int(seed)
    scene = cache.shapes_scene(int(seed))
    st.caption(t("det.scene_caption", seed=scene.seed, objects=", ".join(scene.names)))
    if own:
        st.caption(t("det.scene_instead", name=choice.image_name))
    return render.to_image(scene.image), scene


def threshold_ui() -> tuple[float, float]:
    """Score threshold and NMS IoU: they only re-filter the cached candidates."""
    left, right = st.columns(2)
    # One threshold per detector: each one's scores mean something else (a grid's, an RPN's, a face's).
    score = left.slider(
        t("det.score"),
        0.0,
        1.0,
        score_threshold(spec.name),
        0.01,
        key=f"det_score_{spec.name}",
        help=t("det.score_help"),
    )
    st.session_state[SCORES] = {**st.session_state.get(SCORES, {}), spec.name: score}
    iou = right.slider(t("det.iou"), 0.05, 1.0, 0.5, 0.05, key="det_iou", help=t("det.iou_help"))
    return score, iou


image, scene = image_ui()

try:
    with st.spinner(t("det.running", name=spec.name)):
        raw = cache.detections(loaded, image)
except (RuntimeError, ValueError) as err:  # e.g. an image too small for the model's pyramid
    show_error(err)
    st.stop()
score, iou = threshold_ui()
found = filter_detections(raw, score, iou)
labels = [f"{n} {s:.2f}" for n, s in zip(found.names, found.scores, strict=True)]

# --- the boxes ----------------------------------------------------------------------------------------------
st.subheader(t("det.result"))
left, right = st.columns([3, 2])
left.image(
    render.for_display(
        render.draw_boxes(image, found.boxes, labels, class_ids=found.labels, landmarks=found.landmarks)
    ),
    caption=t("det.result_caption", n=len(found.boxes)),
)
with right:
    # Each metric as wide as its words, wrapping to a new line when the column is narrow: in fixed columns a
    # narrow window cut "12 ms" to "12…".
    with st.container(horizontal=True, gap="medium"):
        st.metric(t("det.time"), t("det.ms", ms=raw.seconds * 1000), width="content")
        st.metric(t("det.candidates"), found.candidates, width="content")
        st.metric(t("det.above"), found.above_threshold, width="content")
        st.metric(t("det.kept"), len(found.boxes), width="content")
    if len(found.boxes):
        table = {
            t("det.col.class"): list(found.names),
            t("det.col.score"): [round(float(s), 3) for s in found.scores],
            t("det.col.box"): [", ".join(str(round(float(v))) for v in box) for box in found.boxes],
        }
        if found.cells is not None:
            table[t("det.col.cell")] = [", ".join(str(int(v)) for v in cell) for cell in found.cells]
        st.dataframe(table, hide_index=True, key="det_table")
    elif found.candidates == 0:
        st.info(t("det.nothing") + (" " + t("det.nothing.faces") if kind == "cascade" else ""))
    else:
        st.info(t("det.none"))

with st.expander(t("det.nms.title")):
    trace = explain_nms(raw, score, iou)
    removed = trace.suppressed_by >= 0
    st.image(
        render.for_display(render.draw_nms(image, raw.boxes, trace.keep, trace.boxes[removed], raw.labels)),
        caption=t("det.nms.caption", iou=iou),
    )
    if removed.any():
        st.dataframe(
            {
                t("det.nms.removed"): [f"#{int(i)}" for i in trace.boxes[removed]],
                t("det.nms.by"): [f"#{int(i)}" for i in trace.suppressed_by[removed]],
                t("det.nms.overlap"): [round(float(v), 3) for v in trace.overlap[removed]],
            },
            hide_index=True,
            key="det_nms_table",
        )
    else:
        st.caption(t("det.nms.nothing"))

# --- how the detector got there -----------------------------------------------------------------------------
if kind == "1-stage" and raw.cells is not None and raw.grids:
    st.subheader(t("det.grid.title"))
    st.write(t("det.grid.steps"))
    grid = raw.grids[0]
    rows = grid.confidence.shape[0]
    objects = scene.boxes if scene is not None else found.boxes
    cells = responsible_cells(objects, raw.image_size, rows)
    left, mid, right = st.columns(3)
    left.image(
        render.for_display(render.grid_overlay(image, grid.confidence, highlight=cells)),
        caption=t("det.grid.overlay"),
    )
    boxes_per_cell = int(raw.cells[:, 2].max()) + 1
    mid.plotly_chart(
        charts.heatmap(grid.confidence, title=t("det.grid.conf", b=boxes_per_cell), text=True),
        key="det_grid_conf",
    )
    if grid.labels is not None:
        right.plotly_chart(
            charts.category_grid(
                grid.labels, list(raw.categories), render.DETECTION_COLORS, title=t("det.grid.class")
            ),
            key="det_grid_class",
        )
elif kind == "1-stage" and raw.grids:
    st.subheader(t("det.dense.title"))
    names = [g.name for g in raw.grids]
    level_name = st.select_slider(t("det.dense.level"), names, value=names[0], key="det_level")
    grid = raw.grids[names.index(level_name)]
    rows, cols = grid.confidence.shape
    st.caption(t("det.dense.caption", name=grid.name, rows=rows, cols=cols, cell=grid.cell[0]))
    left, right = st.columns(2)
    left.image(render.for_display(render.grid_overlay(image, grid.confidence, lines=max(rows, cols) <= 32)))
    right.plotly_chart(charts.heatmap(grid.confidence, title=grid.name), key="det_level_map")
elif kind == "2-stage" and raw.proposals is not None:
    st.subheader(t("det.two.title"))
    total = len(raw.proposals)
    shown = st.slider(t("det.two.nprop"), 1, max(total, 1), min(50, max(total, 1)), key="det_nprop")
    left, right = st.columns(2)
    left.image(
        render.for_display(render.draw_boxes(image, raw.proposals[:shown], color="#46f0f0", width=1)),
        caption=t("det.two.stage1", n=total),
    )
    right.image(
        render.for_display(render.draw_boxes(image, found.boxes, labels, class_ids=found.labels)),
        caption=t("det.two.stage2", n=len(found.boxes)),
    )
elif kind == "cascade" and raw.grids:
    st.subheader(t("det.cascade.title"))
    names = [g.name for g in raw.grids]
    scale_name = st.select_slider(t("det.cascade.scale"), names, value=names[0], key="det_scale")
    grid = raw.grids[names.index(scale_name)]
    left, right = st.columns([3, 2])
    left.plotly_chart(charts.heatmap(grid.confidence, title=grid.name), key="det_pnet_map")
    left.caption(
        t("det.cascade.map", scale=scale_name.split()[-1], window=grid.window or 12.0, cell=grid.cell[0])
    )
    right.plotly_chart(
        charts.bars(
            [name for name, _ in raw.stage_seconds],
            [sec * 1000 for _, sec in raw.stage_seconds],
            title=t("det.stage_times"),
            value_format=".0f",
        ),
        key="det_stage_times",
    )
    proposals = raw.proposals if raw.proposals is not None else found.boxes[:0]
    refined = raw.refined if raw.refined is not None else found.boxes[:0]
    a, b, c = st.columns(3)
    a.image(
        render.for_display(render.draw_boxes(image, proposals, color="#46f0f0", width=1)),
        caption=t("det.cascade.pnet", n=len(proposals)),
    )
    b.image(
        render.for_display(render.draw_boxes(image, refined, color="#ffe119", width=2)),
        caption=t("det.cascade.rnet", n=len(refined)),
    )
    c.image(
        render.for_display(
            render.draw_boxes(image, found.boxes, labels, class_ids=found.labels, landmarks=found.landmarks)
        ),
        caption=t("det.cascade.onet", n=len(found.boxes)),
    )

# --- 1-stage vs 2-stage -------------------------------------------------------------------------------------
st.subheader(t("det.compare.title"))
st.write(t("det.compare.intro"))
ones, twos = comparison_choices()
a, b = st.columns(2)
first = a.selectbox(t("det.compare.one"), ones, key="det_cmp_one")
second = b.selectbox(t("det.compare.two"), twos, key="det_cmp_two")
allow = st.checkbox(t("det.compare.untrained"), key="det_cmp_untrained")
if st.toggle(t("det.compare.run"), key="det_cmp_run"):
    results = []
    for col, name in zip(st.columns(2), (first, second), strict=True):
        with col:
            present = models.weights_present(name)
            if not present and not allow:
                st.info(t("det.missing", name=name))
                present_ui(f"det_cmp_use_{name}", exclude=name)
                continue
            try:
                with st.spinner(t("det.running", name=name)):
                    other = cache.detector(name, present)
                    other_raw = cache.detections(other, image)
            except (models.WeightsMissingError, RuntimeError, ValueError) as err:
                show_error(err)
                continue
            # Each detector at its own threshold (the one its slider was last set to, or its default).
            other_score = score if name == spec.name else score_threshold(name)
            shown = filter_detections(other_raw, other_score, iou)
            other_kind = detector_kind(other.spec)
            st.image(
                render.for_display(
                    render.draw_boxes(
                        image,
                        shown.boxes,
                        [f"{n} {s:.2f}" for n, s in zip(shown.names, shown.scores, strict=True)],
                        class_ids=shown.labels,
                        landmarks=shown.landmarks,
                    )
                ),
                caption=t(
                    "det.compare.boxes",
                    name=name,
                    kind=other_kind,
                    n=len(shown.boxes),
                    ms=other_raw.seconds * 1000,
                ),
            )
            # A published mAP belongs to the trained weights only.
            published = reference_map(other.spec) if other.weights != "untrained" else None
            results.append(
                {
                    t("det.compare.col.model"): name,
                    t("det.compare.col.kind"): other_kind,
                    t("det.compare.col.weights"): t("det.weights." + other.weights),
                    t("det.compare.col.time"): round(other_raw.seconds * 1000, 1),
                    t("det.compare.col.score"): other_score,
                    t("det.compare.col.boxes"): len(shown.boxes),
                    t("det.compare.col.map"): "" if published is None else f"{published:.3f}",
                }
            )
    if results:
        st.dataframe(results, hide_index=True, key="det_cmp_table")
        st.plotly_chart(
            charts.bars(
                [r[t("det.compare.col.model")] for r in results],
                [r[t("det.compare.col.time")] for r in results],
                title=t("det.compare.time"),
                value_format=".0f",
            ),
            key="det_cmp_times",
        )
        st.caption(t("det.compare.map_note"))

"""Many images: each channel's top images, layer health, mistakes and comparisons over an image set."""

import streamlit as st
from PIL import Image

from cnnviz import charts, imagesets, models, render
from cnnviz.analysis.cam import top_k
from cnnviz.analysis.features import rank_channels
from cnnviz.imagesets import ImageSet, ImageSetError
from cnnviz.report import Report, png_bytes
from cnnviz.ui import cache, many
from cnnviz.ui.feedback import describe_skipped, show_error
from cnnviz.ui.sidebar import model_caption, page, require_model
from cnnviz.ui.text import t
from cnnviz.ui.widgets import remembered

VIEWS = ("top", "health", "mistakes", "compare")
CELL = 96  # a crop's side on screen and in the report

choice = page("page.dataset", tasks=("classification",))
st.title(t("page.dataset"))
st.caption(t("many.intro"))
loaded = require_model(choice.model_name)
if loaded is None:
    st.stop()
st.caption(model_caption(loaded))
name = loaded.spec.name


# --- the image set -------------------------------------------------------------------------------------


def pick_set() -> ImageSet | None:
    left, right = st.columns([1, 2])
    with left:
        source = remembered(
            st.segmented_control,
            t("many.source"),
            ("bundled", "zip"),
            key="many_source",
            format_func=lambda s: t(f"many.source.{s}"),
            default="bundled",
            required=True,
        )
    with right:
        if source == "bundled":
            # One choice per model: the digits mean nothing to a photo classifier.
            bundled = remembered(
                st.selectbox,
                t("many.bundled"),
                imagesets.BUNDLED,
                key=f"many_set_{name}",
                format_func=lambda s: t(f"sets.bundled.{s}"),
                default=many.default_set(loaded.spec),
            )
            return imagesets.bundled(bundled)
        upload = st.file_uploader(t("many.zip"), type=["zip"], key="many_zip", help=t("many.zip_help"))
        if upload is None:
            st.info(t("many.zip_none"))
            return None
        try:
            return many.zip_set(cache.upload_key(upload), upload.name, _upload=upload)
        except ImageSetError as err:
            show_error(err)
            return None


found = pick_set()
if found is None:
    st.stop()
kind = t("many.classes", n=len(found.classes)) if found.labelled else t("many.unlabelled")
st.write(t("many.set", name=found.name, n=len(found), kind=kind))
if found.skipped:
    st.caption(describe_skipped(dict(found.skipped)))

view = remembered(
    st.segmented_control,
    t("many.view"),
    VIEWS,
    key="many_view",
    format_func=lambda v: t(f"many.view.{v}"),
    default="top",
    required=True,
)
report = Report(f"{t('page.dataset')} · {t(f'many.view.{view}')} · {name}", lang=choice.lang)
report.paragraph(t("many.set", name=found.name, n=len(found), kind=kind))


class Bar:
    """A progress bar that follows a run's batches, gone when the run ends."""

    def __enter__(self) -> "Bar":
        self.holder = st.empty()
        return self

    def __call__(self, done: int, total: int) -> None:
        self.holder.progress(done / max(1, total), text=t("many.progress", done=done, total=total))

    def __exit__(self, *_: object) -> None:
        self.holder.empty()


def view_of(image: Image.Image, model: models.LoadedModel = loaded):  # type: ignore[no-untyped-def]
    """The picture as the model sees it (its size, its channels; one channel as (H, W))."""
    return many.crop(model.model_view(model.preprocess(image)), ())


def matched() -> bool:
    """Whether the set's classes are the model's (by name or index); says why not."""
    if not found.labelled:
        st.info(t("many.needs_labels"))
        return False
    if many.class_map(found.classes, loaded.categories) is None:
        st.info(t("many.mismatch", classes=", ".join(found.classes[:8])))
        return False
    return True


def open_in_feature_maps(path: str, layer: str, channel: int) -> None:
    """Makes `path` the sidebar's uploaded image and opens Feature maps at `layer` and `channel`."""
    st.session_state["_upload"] = (path.rsplit("/", 1)[-1], png_bytes(found.load(path)))
    st.session_state["src"] = "upload"
    st.session_state[f"channel_{name}_{layer}"] = channel
    st.switch_page("pages/4_Feature_maps.py", query_params={"layer": layer})


def cam_picture(model: models.LoadedModel, image: Image.Image, target: int | None) -> Image.Image:
    layer = cache.cam_layer(model)
    result = cache.grad_cam(model, image, layer, target)
    return render.overlay(view_of(image, model), result.heatmap, 0.5)


# --- views ---------------------------------------------------------------------------------------------


def top_view() -> None:
    layers = list(cache.feature_index(loaded, choice.image).layers)
    default = cache.cam_layer(loaded)
    cols = st.columns([2, 1])
    layer = remembered(
        cols[0].selectbox,
        t("many.top.layer"),
        layers,
        key=f"many_layer_{name}",
        default=default if default in layers else layers[-1],
    )
    k = cols[1].slider(t("many.top.k"), 1, 16, 6, key="many_k")
    with Bar() as bar:
        result = many.top_images(loaded, found, layer, k, _bar=bar)
    best = result.scores[:, 0]
    st.plotly_chart(
        charts.grouped_bars(
            [str(c) for c in range(result.channels)],
            {t("many.top.best"): best.tolist()},
            title=t("many.top.chart", layer=layer),
            x_title=t("many.col.channel"),
        ),
        key="many_top_chart",
    )
    order = [int(c) for c in (-best).argsort(kind="stable")]
    channel = remembered(
        st.selectbox,
        t("many.top.channel"),
        order,
        key=f"many_channel_{name}_{layer}",
        format_func=lambda c: t("many.top.channel_item", c=c, s=float(best[c])),
    )
    st.caption(t("many.top.help", k=result.k, layer=layer))
    tops = result.channel(channel)
    report.paragraph(t("many.top.help", k=result.k, layer=layer))
    cols = st.columns(max(1, len(tops)))
    tiles = []
    for i, (col, top) in enumerate(zip(cols, tops, strict=False)):
        part = many.crop(view_of(found.load(top.path)), top.box)
        tile = Image.fromarray(part).convert("RGB").resize((CELL, CELL), Image.Resampling.NEAREST)
        caption = t("many.top.tile", path=top.path, s=top.score)
        col.image(tile, caption=caption)
        if col.button(t("many.top.open"), key=f"many_open_{i}", help=t("many.top.open_help")):
            open_in_feature_maps(top.path, layer, channel)
        tiles.append(tile)
        report.image(tile, caption)
    report.heading(t("many.top.chart", layer=layer))
    report.table(
        [t("many.col.channel"), t("many.top.best"), t("many.col.image")],
        [(c, float(best[c]), result.channel(c)[0].path) for c in order],
    )


def health_view() -> None:
    with Bar() as bar:
        result = many.health(loaded, found, _bar=bar)
    worst = result.worst(3)
    summary = (
        t("many.health.worst", layers="; ".join(f"{r.layer} ({', '.join(r.problems)})" for r in worst))
        if worst
        else t("many.health.none")
    )
    (st.warning if worst else st.success)(summary)
    report.paragraph(summary)
    rows = result.table()
    columns = ("layer", "kind", "channels", "dead", "always_on", "saturated", "mean", "std", "zero_fraction")
    extra = ("gradient_norm",) if result.gradients else ()
    extra += ("bn_mean_shift", "bn_var_ratio") if any(r["bn_mean_shift"] is not None for r in rows) else ()
    shown = columns + extra
    st.dataframe(
        {t(f"many.col.{c}"): [r[c] for r in rows] for c in shown}, hide_index=True, key="many_health_table"
    )
    report.table([t(f"many.col.{c}") for c in shown], [[r[c] for c in shown] for r in rows])
    if result.gradients:
        layers = [r.layer for r in result.layers if r.gradient_norm is not None]
        norms = [r.gradient_norm for r in result.layers if r.gradient_norm is not None]
        st.plotly_chart(
            charts.bars(layers, norms, title=t("many.health.grad"), log=True, value_format=".2e"),
            key="many_grad_chart",
        )
    else:
        st.caption(t("many.health.no_grad"))
    layer = remembered(
        st.selectbox, t("many.health.layer"), [r.layer for r in result.layers], key=f"many_hlayer_{name}"
    )
    row = result.layer(layer)
    hist = row.histogram
    st.plotly_chart(
        charts.histogram(hist.counts, hist.edges, title=t("many.health.hist", layer=layer, kind=row.kind)),
        key="many_hist",
    )
    report.bars(hist.counts, hist.edges, t("many.health.hist", layer=layer, kind=row.kind))
    lines = [
        t("many.health.dead", n=row.dead, c=row.channels, list=_listed(row.dead_channels)),
        t("many.health.always_on", n=row.always_on, c=row.channels, list=_listed(row.always_on_channels)),
    ]
    if row.saturated is not None:
        lines.append(
            t("many.health.saturated", n=row.saturated, c=row.channels, list=_listed(row.saturated_channels))
        )
    if row.batch_norm is not None:
        lines.append(t("many.health.bn", shift=row.batch_norm.mean_shift, ratio=row.batch_norm.var_ratio))
    for line in lines:
        st.write(line)
        report.paragraph(line)


def _listed(channels) -> str:  # type: ignore[no-untyped-def]
    shown = ", ".join(str(int(c)) for c in channels[:32])
    return shown + (" …" if len(channels) > 32 else "") if len(channels) else "—"


def mistakes_view() -> None:
    if not matched():
        return
    with Bar() as bar:
        result = many.mistakes(loaded, found, _bar=bar)
    st.metric(t("many.mis.accuracy"), f"{result.accuracy:.1%}", help=t("many.mis.count", **_counts(result)))
    report.paragraph(t("many.mis.count", **_counts(result)))
    st.plotly_chart(
        charts.heatmap(result.confusion, title=t("many.mis.confusion"), colorscale="Blues", text=True),
        key="many_confusion",
    )
    st.caption(t("many.mis.confusion_help", classes=", ".join(loaded.categories[: result.classes])))
    report.heading(t("many.mis.confusion"))
    report.table(
        [t("many.mis.true_pred"), *loaded.categories[: result.classes]],
        [[loaded.categories[i], *map(int, result.confusion[i])] for i in range(result.classes)],
    )
    if not result.mistakes:
        st.success(t("many.mis.none"))
        return
    names = loaded.categories
    table = {
        t("many.col.image"): [m.path for m in result.mistakes],
        t("many.mis.true"): [names[m.true] for m in result.mistakes],
        t("many.mis.predicted"): [names[m.predicted] for m in result.mistakes],
        t("many.mis.confidence"): [m.confidence for m in result.mistakes],
    }
    st.dataframe(table, hide_index=True, key="many_mistakes")
    report.heading(t("many.mis.list"))
    report.table(list(table), list(zip(*table.values(), strict=True)))
    # Labels made now, in this run's language (Streamlit may format the options again after the run).
    labels = [
        t("many.mis.item", path=m.path, true=names[m.true], pred=names[m.predicted], p=m.confidence)
        for m in result.mistakes
    ]
    index = st.selectbox(
        t("many.mis.pick"),
        range(len(result.mistakes)),
        format_func=labels.__getitem__,
        key=f"many_mistake_{found.fingerprint[:12]}",
    )
    wrong = result.mistakes[index]
    image = found.load(wrong.path)
    cols = st.columns(4)
    cols[0].image(view_of(image), caption=wrong.path, width=160)
    top5 = [names[int(c)] for c in wrong.top_classes]
    cols[1].plotly_chart(
        charts.bars(top5, wrong.top_probabilities.tolist(), title=t("many.mis.top5")), key="many_top5"
    )
    predicted_cam = cam_picture(loaded, image, wrong.predicted)
    true_cam = cam_picture(loaded, image, wrong.true)
    cols[2].image(predicted_cam, caption=t("many.mis.cam", name=names[wrong.predicted]), width=160)
    cols[3].image(true_cam, caption=t("many.mis.cam", name=names[wrong.true]), width=160)
    fmap = cache.layer_map(loaded, image, cache.cam_layer(loaded))
    order = rank_channels(fmap)[:8]
    grid = render.channel_grid(fmap, order, max_channels=8, cell=64)
    active = t("many.mis.active", layer=cache.cam_layer(loaded), list=", ".join(str(int(c)) for c in order))
    st.image(grid.image, caption=active)
    report.heading(
        t(
            "many.mis.item",
            path=wrong.path,
            true=names[wrong.true],
            pred=names[wrong.predicted],
            p=wrong.confidence,
        )
    )
    report.image(view_of(image), wrong.path, width=160)
    report.image(predicted_cam, t("many.mis.cam", name=names[wrong.predicted]), width=160)
    report.image(true_cam, t("many.mis.cam", name=names[wrong.true]), width=160)
    report.image(grid.image, active)


def _counts(result) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {"right": result.correct, "n": result.images, "wrong": result.wrong}


def partners() -> dict[str, str]:
    """Second models that take the same input: option -> label."""
    options: dict[str, str] = {}
    if loaded.spec.source != "user":
        options[f"untrained:{name}"] = t("many.cmp.untrained", name=name)
    spec = loaded.spec
    for other in models.list_specs("classification"):
        same_input = (other.in_channels, other.input_size, other.mean, other.std) == (
            spec.in_channels,
            spec.input_size,
            spec.mean,
            spec.std,
        )
        if other.name != name and same_input and models.weights_present(other.name):
            options[other.name] = other.name
    if loaded.spec.source != "user":
        options["upload"] = t("many.cmp.upload", name=name)
    return options


def second_model(option: str) -> models.LoadedModel | None:
    if option.startswith("untrained:"):
        return many.untrained(option.removeprefix("untrained:"))
    if option == "upload":
        weights = st.file_uploader(t("many.cmp.weights", name=name), key="many_cmp_weights")
        if weights is None:
            st.info(t("many.cmp.weights_none"))
            return None
        try:
            other, _ = cache.checkpoint_model(
                name, cache.upload_key(weights), None, weights.name, _weights=weights, _labels=None
            )
        except (ValueError, KeyError) as err:
            show_error(err)
            return None
        return other
    return cache.load_model(option)


def compare_view() -> None:
    mode = remembered(
        st.segmented_control,
        t("many.cmp.mode"),
        ("models", "images"),
        key="many_cmp_mode",
        format_func=lambda m: t(f"many.cmp.mode.{m}"),
        default="models",
        required=True,
    )
    paths = list(found.paths)
    if mode == "images":
        cols = st.columns(2)
        a = cols[0].selectbox(t("many.cmp.image_a"), paths, index=0, key="many_pair_a")
        b = cols[1].selectbox(t("many.cmp.image_b"), paths, index=min(1, len(paths) - 1), key="many_pair_b")
        image_a, image_b = found.load(a), found.load(b)
        pair = many.compare_pair(loaded, image_a, image_b)
        st.plotly_chart(
            charts.grouped_bars(
                list(pair.layers),
                {t("many.cmp.cosine"): pair.cosine.tolist(), "CKA": pair.cka.tolist()},
                title=t("many.cmp.pair_chart"),
            ),
            key="many_pair_chart",
        )
        report.heading(t("many.cmp.pair_chart"))
        report.table(
            [t("many.col.layer"), t("many.cmp.cosine"), "CKA"],
            list(zip(pair.layers, pair.cosine.tolist(), pair.cka.tolist(), strict=True)),
        )
        for col, path, image in ((cols[0], a, image_a), (cols[1], b, image_b)):
            guess = top_k(cache.feature_index(loaded, image).logits, loaded.categories, k=1)[0]
            caption = t("many.cmp.pred", path=path, name=guess.name, p=guess.probability)
            picture = cam_picture(loaded, image, None)
            col.image(picture, caption=caption, width=200)
            report.image(picture, caption, width=200)
        return
    options = partners()
    option = st.selectbox(
        t("many.cmp.second"), list(options), format_func=options.__getitem__, key=f"many_second_{name}"
    )
    other = second_model(option)
    if other is None:
        return
    try:
        with Bar() as bar:
            result = many.compare_two(loaded, other, found, _bar=bar)
    except ValueError as err:  # no layer of one name and shape in both, or too large to compare
        show_error(err)
        return
    label_b = options[option] if option != "upload" else other.spec.name
    st.plotly_chart(
        charts.bars(list(result.layers), result.cka.tolist(), title=t("many.cmp.cka", a=name, b=label_b)),
        key="many_cka_chart",
    )
    report.heading(t("many.cmp.cka", a=name, b=label_b))
    report.table([t("many.col.layer"), "CKA"], list(zip(result.layers, result.cka.tolist(), strict=True)))
    if result.agreement is not None:
        agree = t("many.cmp.agree", share=result.agreement, n=result.disagreements, images=result.images)
        st.write(agree)
        report.paragraph(agree)
    if result.examples:
        names_a, names_b = loaded.categories, other.categories
        table = {
            t("many.col.image"): [d.path for d in result.examples],
            name: [names_a[d.predicted_a] for d in result.examples],
            label_b: [
                names_b[d.predicted_b] if d.predicted_b < len(names_b) else str(d.predicted_b)
                for d in result.examples
            ],
        }
        st.dataframe(table, hide_index=True, key="many_disagree")
        report.table(list(table), list(zip(*table.values(), strict=True)))
        paths = [d.path for d in result.examples] + [p for p in paths if p not in table[t("many.col.image")]]
    path = st.selectbox(t("many.cmp.image"), paths, key=f"many_cmp_image_{found.fingerprint[:12]}")
    image = found.load(path)
    cols = st.columns(2)
    both = [(cols[0], loaded, name), (cols[1], other, label_b)]
    for col, model, label in both:
        guess = top_k(cache.feature_index(model, image).logits, model.categories, k=1)[0]
        caption = t("many.cmp.side", model=label, name=guess.name, p=guess.probability)
        picture = cam_picture(model, image, None)
        col.image(picture, caption=caption, width=200)
        report.image(picture, caption, width=200)
    indexes = [cache.feature_index(model, image) for _, model, _ in both]
    spatial = [
        n
        for n, shape in zip(result.layers, result.shapes, strict=True)
        if len(shape) == 3 and all(n in index.shapes for index in indexes)
    ]
    if not spatial:
        return
    layer = st.selectbox(t("many.cmp.layer"), spatial, index=len(spatial) - 1, key=f"many_cmp_layer_{name}")
    for col, model, label in both:
        fmap = cache.layer_map(model, image, layer)
        grid = render.channel_grid(fmap, rank_channels(fmap), max_channels=16, cell=48)
        caption = t("many.cmp.maps", model=label, layer=layer)
        col.image(grid.image, caption=caption)
        report.image(grid.image, caption)


{"top": top_view, "health": health_view, "mistakes": mistakes_view, "compare": compare_view}[view]()

st.download_button(
    t("many.download"),
    report.html(),
    file_name=f"cnnviz-{view}-{name}.html",
    mime="text/html",
    key=f"many_download_{view}",
    on_click="ignore",
    help=t("many.download_help"),
)

"""Generation: a GAN's samples, latent walk, discriminator scores, training snapshots, layers and live
training; style transfer with a progress bar, intermediate images and a stop button."""

import streamlit as st

from cnnviz import charts, images, render
from cnnviz.analysis import generation, style
from cnnviz.models import LoadedModel, WeightsMissingError
from cnnviz.ui import cache
from cnnviz.ui.feedback import show_error
from cnnviz.ui.sidebar import Choice, model_caption, page, require_model
from cnnviz.ui.text import t
from cnnviz.ui.widgets import remembered

choice = page("page.generation", tasks=("generation",), model_key="generator")
st.title(t("page.generation"))
st.write(t("gen.intro"))

LIVE_KEY = "_gen_live"  # session state: the last live-training run (kept when the page reruns)
STYLE_KEY = "_gen_style"  # session state: the last style-transfer run
STYLE_STOP = "_gen_style_stop"  # session state: the stop button's flag, checked between steps
LIVE_STEPS = [10, 25, 50, 100, 150, 200, 300]
STYLE_WEIGHTS = [0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0]
STYLE_SIZES = [64, 128, 192, 256, 384, 512]
DEFAULT_STYLE = "brick"


# --------------------------------------------------------------------------------------------------- GAN


def gan_card_ui(loaded: LoadedModel) -> None:
    st.caption(model_caption(loaded))
    try:
        card = cache.gan_card(loaded.spec.name)
    except FileNotFoundError:
        st.caption(t("gen.gan.card_missing"))
        return
    st.caption(
        t(
            "gen.gan.card",
            epochs=card["epochs"],
            frechet=card["held_out_lenet_frechet"],
            untrained=card["lenet_frechet_untrained_generator"],
            real=card["lenet_frechet_real_train_digits"],
        )
    )


def samples_ui(loaded: LoadedModel) -> int:
    """The grid of generated digits for a seed; returns the seed (the other sections reuse it)."""
    st.subheader(t("gen.gan.samples"))
    left, right = st.columns([1, 3])
    seed = int(
        left.number_input(t("gen.gan.seed"), 0, 99_999, 0, key="gan_seed", help=t("gen.gan.seed_help"))
    )
    count = left.select_slider(t("gen.gan.count"), [8, 16, 32, 64], 16, key="gan_count")
    digits = cache.gan_samples(loaded, seed, int(count))
    right.image(
        render.image_grid(digits.images, cols=8, cell=56),
        caption=t(
            "gen.gan.samples_caption", n=len(digits.images), seed=seed, mean=float(digits.scores.mean())
        ),
    )
    return seed


def walk_ui(loaded: LoadedModel) -> None:
    st.subheader(t("gen.gan.walk"))
    st.caption(t("gen.gan.walk_help"))
    cols = st.columns(4)
    seed_a = int(cols[0].number_input(t("gen.gan.walk_a"), 0, 99_999, 0, key="walk_a"))
    seed_b = int(cols[1].number_input(t("gen.gan.walk_b"), 0, 99_999, 1, key="walk_b"))
    steps = int(cols[2].slider(t("gen.gan.walk_steps"), 3, 16, 9, key="walk_steps"))
    with cols[3]:
        mode = remembered(
            st.radio,
            t("gen.gan.walk_mode"),
            ["spherical", "linear"],
            key="walk_mode",
            format_func=lambda m: t("gen.gan.walk_mode." + m),
            default="spherical",
            help=t("gen.gan.walk_mode_help"),
        )
    walk = cache.gan_walk(loaded, seed_a, seed_b, steps, mode)
    st.image(render.image_grid(walk.images, cols=steps, cell=64))
    st.plotly_chart(
        charts.line_chart(
            [f"{f:.2f}" for f in walk.fractions],
            {t("gen.gan.walk_score"): walk.scores.tolist(), t("gen.gan.walk_norm"): walk.norms.tolist()},
            title=t("gen.gan.walk_chart"),
            x_title=t("gen.gan.walk_x"),
        ),
        key="gan_walk_chart",
    )


def discriminator_ui(loaded: LoadedModel, seed: int) -> None:
    st.subheader(t("gen.gan.disc"))
    st.caption(t("gen.gan.disc_help"))
    scores = cache.gan_scores(loaded, choice.image, seed, 32)
    st.plotly_chart(
        charts.score_strip(
            {t("gen.gan.fake"): scores.fake.tolist(), t("gen.gan.real"): scores.real.tolist()},
            title=t("gen.gan.disc_chart"),
            x_title=t("gen.gan.disc_x"),
        ),
        key="gan_scores_chart",
    )
    left, middle, right = st.columns([2, 2, 1])
    left.image(
        render.image_grid(scores.real_images[:16], cols=8, cell=40),
        caption=t("gen.gan.real_grid", mean=float(scores.real.mean())),
    )
    middle.image(
        render.image_grid(scores.fake_images[:16], cols=8, cell=40),
        caption=t("gen.gan.fake_grid", mean=float(scores.fake.mean())),
    )
    if scores.picture_view is not None and scores.picture is not None:
        right.image(render.zoom(scores.picture_view, 3), caption=t("gen.gan.picture", score=scores.picture))


def snapshots_ui(loaded: LoadedModel) -> None:
    st.subheader(t("gen.gan.snapshots"))
    try:
        snaps = cache.gan_snapshots(loaded.spec.name)
    except FileNotFoundError:
        st.info(t("gen.gan.snap_missing"))
        return
    st.caption(t("gen.gan.snapshots_help"))
    epochs = [int(e) for e in snaps.epochs]
    epoch = st.select_slider(t("gen.gan.snap_epoch"), epochs, epochs[-1], key="snap_epoch")
    index = epochs.index(int(epoch))
    st.image(
        render.image_grid(snaps.images[index], cols=16, cell=48),
        caption=t("gen.gan.snap_caption", epoch=epoch),
    )
    left, right = st.columns(2)
    x = [int(e) for e in snaps.loss_epochs]
    left.plotly_chart(
        charts.line_chart(
            x,
            {t("gen.gan.d_loss"): snaps.d_loss.tolist(), t("gen.gan.g_loss"): snaps.g_loss.tolist()},
            title=t("gen.gan.losses"),
            x_title=t("gen.gan.epoch"),
        ),
        key="gan_loss_chart",
    )
    right.plotly_chart(
        charts.line_chart(
            x,
            {t("gen.gan.d_real"): snaps.d_real.tolist(), t("gen.gan.d_fake"): snaps.d_fake.tolist()},
            title=t("gen.gan.scores"),
            x_title=t("gen.gan.epoch"),
        ),
        key="gan_score_chart",
    )


def _pair(value: tuple[int, int] | None) -> str:
    return "" if value is None else f"{value[0]}×{value[1]}"


def layers_ui(loaded: LoadedModel, seed: int) -> None:
    st.subheader(t("gen.gan.layers"))
    st.caption(t("gen.gan.layers_help"))
    result = cache.gan_layers(loaded, seed)
    shapes = [f"{c}×{h}×{w}" for c, h, w in (layer.output_shape for layer in result.layers)]
    latent = "z {}×{}×{}".format(*result.latent_shape)
    # The diagram keeps the layers that change the shape (the transposed convolutions) and the final tanh.
    grow = [x for x in result.layers if x.kind == "ConvTranspose2d" or x is result.layers[-1]]
    st.plotly_chart(
        charts.layer_diagram(
            [x.name for x in grow],
            [f"ConvT {_pair(x.kernel_size)} /{x.stride[0]}" if x.stride else x.kind for x in grow],
            ["{}×{}×{}".format(*x.output_shape) for x in grow],
            latent,
        ),
        key="gan_layer_diagram",
    )
    st.dataframe(
        {
            t("gen.gan.col.layer"): ["z", *(x.name for x in result.layers)],
            t("gen.gan.col.kind"): ["latent", *(x.kind for x in result.layers)],
            t("gen.gan.col.kernel"): ["", *(_pair(x.kernel_size) for x in result.layers)],
            t("gen.gan.col.stride"): ["", *(_pair(x.stride) for x in result.layers)],
            t("gen.gan.col.padding"): ["", *(_pair(x.padding) for x in result.layers)],
            t("gen.gan.col.shape"): ["{}×{}×{}".format(*result.latent_shape), *shapes],
            t("gen.gan.col.params"): [0, *(x.params for x in result.layers)],
        },
        hide_index=True,
        key="gan_layer_table",
    )
    names = [x.name for x in result.layers]
    layer = st.selectbox(t("gen.gan.layer"), names, index=0, key="gan_layer")
    fmap = result.maps[layer]
    c, h, w = fmap.shape
    grid = render.channel_grid(fmap, max_channels=64, cell=48 if h > 4 else 24)
    st.image(grid.image, caption=t("gen.gan.layer_caption", layer=layer, c=c, h=h, w=w, seed=seed))


def live_ui(loaded: LoadedModel) -> None:
    st.subheader(t("gen.gan.live"))
    st.caption(t("gen.gan.live_help"))
    cols = st.columns([1, 2, 1])
    steps = int(cols[0].select_slider(t("gen.gan.live_steps"), LIVE_STEPS, 150, key="live_steps"))
    with cols[1]:
        start = remembered(
            st.radio,
            t("gen.gan.live_start"),
            ["scratch", "bundled"],
            key="live_start",
            format_func=lambda s: t("gen.gan.live_start." + s),
            default="scratch",
            horizontal=True,
        )
    run = cols[2].button(t("gen.gan.live_run"), key="live_train", type="primary")
    progress = st.empty()
    shown = st.empty()
    if run:
        log = st.session_state[LIVE_KEY] = generation.LiveLog(steps=steps)
        bar = progress.progress(0.0)
        for live in generation.live_training(steps, start=start, model=loaded, seed=0):
            log.add(live)
            if live.images is not None:
                shown.image(
                    render.image_grid(live.images, cols=16, cell=40),
                    caption=t("gen.gan.live_images", step=live.step),
                )
            bar.progress(
                live.step / live.steps,
                text=t(
                    "gen.gan.live_progress", step=live.step, steps=live.steps, d=live.d_loss, g=live.g_loss
                ),
            )
        progress.empty()
    log = st.session_state.get(LIVE_KEY)
    if not isinstance(log, generation.LiveLog) or not log.step:
        return
    if log.images is not None:
        shown.image(
            render.image_grid(log.images, cols=16, cell=40),
            caption=t("gen.gan.live_images", step=log.image_step),
        )
    if log.done:
        st.success(t("gen.gan.live_done", step=log.step, seconds=log.seconds))
    else:
        st.info(t("gen.gan.live_stopped", step=log.step, steps=log.steps, seconds=log.seconds))
    x = list(range(1, log.step + 1))
    left, right = st.columns(2)
    left.plotly_chart(
        charts.line_chart(
            x,
            {t("gen.gan.d_loss"): log.d_loss, t("gen.gan.g_loss"): log.g_loss},
            title=t("gen.gan.live_losses"),
            x_title=t("gen.gan.step"),
        ),
        key="live_loss_chart",
    )
    right.plotly_chart(
        charts.line_chart(
            x,
            {t("gen.gan.d_real"): log.d_real, t("gen.gan.d_fake"): log.d_fake},
            title=t("gen.gan.live_scores"),
            x_title=t("gen.gan.step"),
        ),
        key="live_score_chart",
    )


def gan_section(picked: Choice) -> None:
    st.header(t("gen.gan.title"))
    st.write(t("gen.gan.explain"))
    loaded = require_model(picked.model_name)
    if loaded is None:
        return
    gan_card_ui(loaded)
    seed = samples_ui(loaded)
    walk_ui(loaded)
    discriminator_ui(loaded, seed)
    snapshots_ui(loaded)
    layers_ui(loaded, seed)
    live_ui(loaded)


# ---------------------------------------------------------------------------------------- style transfer


def backbone_ui() -> LoadedModel | None:
    """The style-transfer backbone (VGG when its weights are here, else MobileNetV2), or None."""
    name = style.pick_backbone()
    backbone = style.BACKBONES[name]
    try:
        with st.spinner(t("loading.model", name=name)):
            loaded = cache.load_model(name)
    except WeightsMissingError as err:
        show_error(err)
        if not st.checkbox(t("gen.style.untrained"), key="style_untrained"):
            return None
        loaded = cache.load_model(name, allow_untrained=True)
    st.caption(t("gen.style.backbone", title=backbone.title, weights=t("weights." + loaded.weights)))
    if not name.startswith("vgg"):
        st.caption(t("gen.style.no_vgg"))
    return loaded


def style_image_ui():
    """The style image: a sample (textures first) or an upload."""
    names = images.sample_names("texture") + [n for n in images.sample_names("photo")]
    name = remembered(st.selectbox, t("gen.style.style"), names, key="style_image", default=DEFAULT_STYLE)
    upload = st.file_uploader(t("gen.style.style_upload"), key="style_upload")
    if upload is not None:
        try:
            return images.load_image(upload.getvalue()), upload.name
        except images.ImageError as err:
            show_error(err)
    return cache.sample_image(name), name


def settings_ui(backbone: style.Backbone) -> style.StyleSettings | None:
    cols = st.columns(3)
    weight = cols[0].select_slider(
        t("gen.style.weight"),
        STYLE_WEIGHTS,
        backbone.style_weight,
        key="style_weight",
        help=t("gen.style.weight_help"),
    )
    steps = cols[1].slider(t("gen.style.steps"), 1, 300, style.DEFAULT_STEPS, key="style_steps")
    size = cols[2].select_slider(
        t("gen.style.size"), STYLE_SIZES, style.DEFAULT_SIZE, key="style_size", help=t("gen.style.size_help")
    )
    labels = backbone.labels
    content_layer = st.selectbox(
        t("gen.style.content_layer"),
        labels,
        index=labels.index(backbone.content_layer),
        key="style_content_layer",
    )
    style_layers = st.multiselect(
        t("gen.style.style_layers"), labels, default=list(backbone.style_layers), key="style_layers"
    )
    if not style_layers:
        st.warning(t("gen.style.need_layers"))
        return None
    return style.StyleSettings(
        content_layer=content_layer,
        style_layers=tuple(style_layers),
        style_weight=float(weight),
        steps=int(steps),
        size=int(size),
    )


def _stop() -> None:
    st.session_state[STYLE_STOP] = True


def style_section(picked: Choice) -> None:
    st.header(t("gen.style.title"))
    st.write(t("gen.style.explain"))
    loaded = backbone_ui()
    if loaded is None:
        return
    backbone = style.BACKBONES[loaded.spec.name]
    style_picture, _ = style_image_ui()
    settings = settings_ui(backbone)
    buttons = st.columns([1, 1, 4])
    run = buttons[0].button(t("gen.style.run"), key="style_run", type="primary", disabled=settings is None)
    buttons[1].button(t("gen.style.stop"), key="style_stop", on_click=_stop)
    progress = st.empty()
    content_col, style_col, output_col = st.columns(3)
    content_col.image(render.for_display(picked.image), caption=t("gen.style.content"), width="stretch")
    style_col.image(style_picture, caption=t("gen.style.style"), width="stretch")
    output = output_col.empty()

    if run and settings is not None:
        st.session_state[STYLE_STOP] = False
        log = style.StyleLog(settings.steps, settings.style_weight, settings.tv_weight, backbone.title)
        st.session_state[STYLE_KEY] = log
        bar = progress.progress(0.0)
        every = max(1, settings.steps // 12)
        try:
            run_steps = style.style_transfer(
                loaded,
                picked.image,
                style_picture,
                settings,
                should_stop=lambda: bool(st.session_state.get(STYLE_STOP)),
            )
            for result in run_steps:
                log.add(result)
                if result.step % every == 0 or result.done:
                    output.image(result.image, caption=t("gen.style.output"), width="stretch")
                bar.progress(
                    result.step / result.steps,
                    text=t(
                        "gen.style.progress",
                        step=result.step,
                        steps=result.steps,
                        content=result.content_loss,
                        style=result.style_loss,
                    ),
                )
        except (ValueError, KeyError, TypeError) as err:
            show_error(err)
        progress.empty()

    log = st.session_state.get(STYLE_KEY)
    if not isinstance(log, style.StyleLog) or log.image is None:
        output.info(t("gen.style.none"))
        return
    output.image(log.image, caption=t("gen.style.output"), width="stretch")
    h, w = log.image.shape[:2]
    if log.done:
        st.success(t("gen.style.done", steps=log.steps, w=w, h=h, seconds=log.seconds, backbone=log.backbone))
    else:
        st.info(t("gen.style.stopped", step=log.step, steps=log.steps, seconds=log.seconds))
    terms = log.weighted()
    st.plotly_chart(
        charts.line_chart(
            list(range(1, log.step + 1)),
            {t(f"gen.style.loss.{name}"): values.tolist() for name, values in terms.items()},
            title=t("gen.style.losses"),
            x_title=t("gen.gan.step"),
            log_y=True,
        ),
        key="style_loss_chart",
    )


gan_tab, style_tab = st.tabs([t("gen.tab.gan"), t("gen.tab.style")])
with gan_tab:
    gan_section(choice)
with style_tab:
    style_section(choice)

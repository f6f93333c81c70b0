"""The sidebar every page shares: language, image (sample, upload or drawing) and model.

The choices are remembered for the session (see cnnviz.ui.widgets), so they survive a page switch, and are
written to the URL's query parameters (?lang=ko&image=coffee&model=resnet18), which a fresh visit reads, so a
lecturer can share a link to exactly this view. (Streamlit's `bind="query-params"` loses them when a page link
is followed in a multipage app of `pages/` files, so the URL is kept by hand.) An upload cannot live in a URL:
its bytes stay in session state.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import numpy as np
import streamlit as st
from PIL import Image

from cnnviz import images, models
from cnnviz.models.checkpoint import CheckpointError, LoadReport
from cnnviz.ui import cache, nav
from cnnviz.ui.feedback import show_error
from cnnviz.ui.layout import use_narrow_page_layout
from cnnviz.ui.text import LANGS, language, set_language, t
from cnnviz.ui.widgets import remembered

__all__ = [
    "CHECKPOINT_TYPES",
    "UPLOAD_PREFIX",
    "USER_PREFIX",
    "Choice",
    "model_caption",
    "model_label",
    "model_note",
    "model_spec",
    "page",
    "require_model",
]

UPLOAD_PREFIX = "upload:"
"""The option of the model this session made from an uploaded checkpoint (kept in its session state only:
another person's upload never shows in your picker)."""
_UPLOADED = "_cnnviz_uploaded_model"
CHECKPOINT_TYPES = ("safetensors", "pt", "pth", "bin", "ckpt")
USER_PREFIX = "user:"
"""A picker's option for a user's model (`python -m cnnviz serve --model ...`): "user:" + its name, so it
never collides with a zoo name."""

DEFAULT_SAMPLE = "chelsea"
TINY_IMAGE = 32
"""An upload with a side below this many pixels gets a note: the models scale it up into blocks."""
# Real ImageNet weights make the first impression; the bundled lecture nets are always there.
# The first of these a page lists (and has weights for) is its default: a clear first picture. yolo-mini
# finds its shapes in the default scene; MTCNN would find no face in the default cat.
PREFERRED_MODELS = ("mobilenet_v2", "resnet18", "lenet5", "resnet-mini", "yolo-mini")


@dataclass(frozen=True)
class Choice:
    """What the person picked. `image` is always usable: on a bad upload it is the default sample."""

    lang: str
    image: Image.Image
    image_name: str
    model_name: str | None


def _navigation() -> None:
    """Our own page links, so their labels follow the chosen language (Streamlit's list is hidden)."""
    st.sidebar.page_link("app.py", label=t("page.home"), icon=":material/home:")
    for info in nav.PAGES:
        st.sidebar.page_link(info.path, label=t(info.title_key), icon=info.icon)
    st.sidebar.divider()


@functools.cache
def _favicon() -> Image.Image:
    """A 4 × 4 feature map in viridis, drawn here: a material-icon favicon is fetched from Google's fonts
    server, which a lecture hall without internet can't reach."""
    from cnnviz.render import colorize

    values = np.add.outer(np.arange(4), np.arange(4)).astype(np.float32)
    return Image.fromarray(colorize(values)).resize((32, 32), Image.Resampling.NEAREST)


def model_note(spec: models.ModelSpec) -> str:
    """The model's one-line note in the chosen language (``model.note.<name>`` in the text table); "" for a
    model that has none, such as a user's model (even one that borrows a zoo model's name)."""
    if spec.source == "user":
        return ""
    try:
        return t(f"model.note.{spec.name}")
    except KeyError:
        return ""


def model_caption(loaded: models.LoadedModel) -> str:
    """The line under a page's title: which weights, the model's note, and for a classifier that knows only
    a few classes, which ones (a digit net calls a cat "4": it has no other answer)."""
    parts = [t("weights.label", what=t("weights." + loaded.weights))]
    if loaded.spec.source == "user":
        parts.append(t("user.caption", family=loaded.spec.family, weights=loaded.weights_name))
    elif model_note(loaded.spec):
        parts.append(model_note(loaded.spec))
    if loaded.spec.task == "classification" and 0 < len(loaded.categories) <= 10:
        parts.append(t("model.knows", classes=", ".join(loaded.categories)))
    return " · ".join(parts)


def _user_name(option: str) -> str | None:
    return option.removeprefix(USER_PREFIX) if option.startswith(USER_PREFIX) else None


def _uploaded(option: str) -> models.LoadedModel | None:
    loaded = st.session_state.get(_UPLOADED)
    if option.startswith(UPLOAD_PREFIX) and loaded is not None and UPLOAD_PREFIX + loaded.spec.name == option:
        return loaded
    return None


def model_spec(option: str) -> models.ModelSpec:
    """The spec behind a picker's option: a zoo entry, a user's model (`USER_PREFIX`) or this session's
    uploaded checkpoint (`UPLOAD_PREFIX`)."""
    uploaded = _uploaded(option)
    if uploaded is not None:
        return uploaded.spec
    user = _user_name(option)
    return models.user_model(user).spec if user is not None else models.get_spec(option)


def model_label(name: str) -> str:
    """Family, name, where the weights come from and whether they are here, in the chosen language."""
    uploaded = _uploaded(name)
    if uploaded is not None:
        return f"{uploaded.spec.family} · {uploaded.weights_name} — {t('weights.user')}"
    user = _user_name(name)
    if user is not None:
        return f"{models.user_model(user).spec.family} · {user} — {t('weights.user')}"
    spec = models.get_spec(name)
    state = t("weights.present") if models.weights_present(name) else t("weights.missing")
    return f"{spec.family} · {name} — {t('weights.' + spec.source)} ({state})"


def _option_text(option: str) -> str:
    if option.startswith(UPLOAD_PREFIX):
        return f"{option.removeprefix(UPLOAD_PREFIX)} ({t('weights.user')})"
    user = _user_name(option)
    return f"{user} ({t('weights.user')})" if user is not None else option


def _checkpoint_door() -> tuple[str | None, bool]:
    """The "your model" expander: a zoo architecture, a checkpoint and, if wanted, a labels file.

    Returns:
        The option of this session's uploaded model (None when there is none) and whether it is new in
        this run (then the picker chooses it).
    """
    before = st.session_state.get(_UPLOADED)
    with st.sidebar.expander(t("side.own.title"), expanded=before is not None):
        st.caption(t("side.own.help"))
        archs = [s.name for s in models.list_specs("classification")]
        arch = st.selectbox(t("side.own.arch"), archs, index=archs.index("resnet18"), key="own_arch")
        limit = int(st.get_option("server.maxUploadSize"))
        weights = st.file_uploader(
            t("side.own.weights"),
            type=list(CHECKPOINT_TYPES),
            key="own_weights",
            help=t("side.own.limit", mb=limit),
        )
        labels = st.file_uploader(t("side.own.labels"), type=["txt", "json"], key="own_labels")
        st.caption(t("side.own.limit", mb=limit))
        if weights is None:
            st.session_state.pop(_UPLOADED, None)
            return None, False
        try:
            loaded, report = cache.checkpoint_model(
                arch,
                cache.upload_key(weights),
                cache.upload_key(labels) if labels is not None else None,
                weights.name,
                _weights=weights,
                _labels=labels,
            )
        except (CheckpointError, ValueError, KeyError) as err:
            show_error(err)
            st.session_state.pop(_UPLOADED, None)
            return None, False
        st.caption(_report_text(report, loaded))
    st.session_state[_UPLOADED] = loaded
    return UPLOAD_PREFIX + loaded.spec.name, before is None or before.fingerprint != loaded.fingerprint


def _report_text(report: LoadReport, loaded: models.LoadedModel) -> str:
    parts = [t("side.own.loaded", n=report.loaded, classes=len(loaded.categories))]
    if report.head is not None:
        parts.append(t("side.own.head", head=report.head, old=report.old_classes, new=report.new_classes))
    if report.stripped:
        parts.append(t("side.own.stripped", prefix=report.stripped))
    if report.ignored:
        parts.append(t("side.own.ignored", keys=", ".join(report.ignored[:5]), n=len(report.ignored)))
    return " ".join(parts)


def _model_picker(tasks: tuple[str, ...], key: str, tag: str | None) -> str | None:
    # The user's own models come first and are chosen first, whatever the page's tag: a page says in a
    # sentence when a model lacks what it shows (no residual block, no SE module).
    users = [USER_PREFIX + m.spec.name for m in models.user_models() if m.spec.task in tasks]
    fresh = False
    if "classification" in tasks:
        slot = st.sidebar.container()  # the picker above the door, though the door runs first
        uploaded, fresh = _checkpoint_door()
        if uploaded is not None:
            users.insert(0, uploaded)
            if fresh:  # choose it: the remembered choice and this language's widget both say so
                st.session_state[key] = uploaded
                st.session_state[f"{key}@{language()}"] = uploaded
    else:
        slot = st.sidebar.container()
    specs = [s for s in models.list_specs(tag=tag) if s.task in tasks]
    if not specs and not users:
        return None
    # Grouped by family, present weights first within a family, so the list reads like the lecture's story.
    specs.sort(key=lambda s: (s.family, not models.weights_present(s.name), s.name))
    names = [s.name for s in specs]
    present = [n for n in names if models.weights_present(n)]
    preferred = users or [n for n in PREFERRED_MODELS if n in present] or present or names
    with slot:
        name = remembered(
            st.selectbox,
            t("side.model"),
            users + names,
            key=key,
            format_func=_option_text,
            default=preferred[0],
            url=not fresh,
        )
        st.caption(model_label(name))
    return name


def _image_picker() -> tuple[Image.Image, str]:
    sources = ["sample", "upload", "draw"]
    src = remembered(
        st.sidebar.segmented_control,
        t("side.image_source"),
        sources,
        key="src",
        format_func=lambda s: t("side.src." + s),
        default="sample",
        required=True,
    )
    sample = remembered(
        st.sidebar.selectbox,
        t("side.sample"),
        images.sample_names(),
        key="image",
        default=DEFAULT_SAMPLE,
        url=True,
    )
    fallback = cache.sample_image(sample), sample
    if src == "upload":
        # Streamlit 1.67 writes the box's own words ("Drag and drop a file here", "Upload", "25MB per file")
        # in English with no way to set them; the help says them in the chosen language.
        upload = st.sidebar.file_uploader(
            t("side.upload"),
            type=None,
            key="upload",
            help=t("side.upload_help", mb=st.get_option("server.maxUploadSize")),
        )
        if upload is not None:
            st.session_state["_upload"] = (upload.name, upload.getvalue())
        stored = st.session_state.get("_upload")
        if stored is None:
            st.sidebar.caption(t("side.upload_none"))
            return fallback
        name, data = stored
        try:
            image = images.load_image(data)
        except images.ImageError as err:
            show_error(err)
            st.caption(t("side.fallback", name=sample))
            return fallback
        if image.info.get("frames", 1) > 1:
            st.sidebar.caption(t("side.note.frames", n=image.info["frames"]))
        if min(image.size) < TINY_IMAGE:
            st.sidebar.caption(t("side.note.tiny", w=image.width, h=image.height))
        return image, name
    if src == "draw":
        from streamlit_drawable_canvas import st_canvas  # imported here: it registers a component on import

        st.sidebar.caption(t("side.draw_help"))
        with st.sidebar:
            drawn = st_canvas(
                stroke_width=18,
                stroke_color="#FFFFFF",
                background_color="#000000",
                height=224,
                width=224,
                drawing_mode="freedraw",
                return_image_data=True,
                key="canvas",
            )
        data = getattr(drawn, "image_data", None) if drawn is not None else None
        if data is not None and np.asarray(data)[..., :3].max() > 0:
            return images.from_array(np.asarray(data)), "drawing"
        return fallback
    return fallback


def _share_link(page_url: str, params: dict[str, str], own_image: bool = False) -> None:
    """A link that opens exactly this view: this page with this language, image and model.

    Shown rather than written into the address bar: writing st.query_params during the run that follows a page
    switch leaves the browser showing the previous page's path.
    """
    where = urlsplit(st.context.url or "")
    base = f"{where.scheme}://{where.netloc}" if where.netloc else ""
    url = f"{base}/{page_url}?{urlencode(params)}"
    st.sidebar.caption(t("side.share"))
    # A plain link, not st.code: st.code pulls Streamlit's 1.56 MB syntax highlighter into every page.
    st.sidebar.markdown(f"[{url}]({url})")
    if own_image:  # an upload or a drawing has no name a URL could carry
        st.sidebar.caption(t("side.share_own_image", name=params.get("image", DEFAULT_SAMPLE)))


def page(
    title_key: str,
    tasks: tuple[str, ...] = (),
    model_key: str = "model",
    image: bool = True,
    tag: str | None = None,
    view: tuple[str, ...] = (),
) -> Choice:
    """Sets up a page: config, language, navigation, and the shared image and model pickers.

    Every page (and app.py) calls this first, so each also works when opened directly from a shared link.
    `tasks` limits the model list to the page's tasks (and `tag` to models showing one idea, e.g. "se");
    each task group has its own widget key. `view` names the page's own widget keys that the share link
    carries too (e.g. "layer"), read from this run's state or the URL.
    """
    lang = remembered(
        st.sidebar.segmented_control,
        "Language / 언어",
        LANGS,
        key="lang",
        default="en",
        url=True,
        required=True,
    )
    set_language(lang)
    st.set_page_config(page_title=f"cnnviz · {t(title_key)}", page_icon=_favicon(), layout="wide")
    use_narrow_page_layout()  # columns wrap instead of shrinking in a narrow window (cnnviz.ui.layout)
    _navigation()
    picked, name = _image_picker() if image else (cache.sample_image(DEFAULT_SAMPLE), DEFAULT_SAMPLE)
    model_name = _model_picker(tasks, model_key, tag) if tasks else None
    shown = {"lang": lang, "image": st.session_state.get("image") if image else None, model_key: model_name}
    shown |= {k: st.session_state.get(k) or st.query_params.get(k) for k in view}
    url = next((p.url for p in nav.PAGES if p.title_key == title_key), "")
    own = image and name != st.session_state.get("image")
    _share_link(url, {k: str(v) for k, v in shown.items() if v is not None}, own_image=own)
    return Choice(lang=lang, image=picked, image_name=name, model_name=model_name)


def require_model(name: str | None) -> models.LoadedModel | None:
    """The cached model, or None after telling the person, in a sentence, why it is not available.

    Missing pretrained weights offer an explicit, labelled choice of untrained weights.
    """
    if name is None:
        return None
    if name.startswith(UPLOAD_PREFIX):
        uploaded = _uploaded(name)
        if uploaded is None:
            st.info(t("side.own.gone"))
        return uploaded
    user = _user_name(name)
    if user is not None:
        return models.user_model(user)
    try:
        if models.weights_present(name):
            with st.spinner(t("loading.model", name=name)):
                return cache.load_model(name)
        # Not on this machine: torchvision's weights are downloaded (when online) with a progress bar.
        bar = st.progress(0.0, text=t("loading.download", name=name))

        def progress(done: int, total: int) -> None:
            bar.progress(min(1.0, done / total) if total else 0.0, text=t("loading.download", name=name))

        try:
            return cache.load_model(name, _progress=progress)
        finally:
            bar.empty()
    except models.WeightsMissingError as err:
        said = st.container()  # the sentence goes above the checkbox that answers it
        # Keyed per model: ticking it for one model must not silently answer for the next one.
        untrained = st.checkbox(t("side.untrained"), key=f"untrained_{name}", help=t("side.untrained_help"))
        with said:
            show_error(err, answered=untrained)
        if untrained:
            with st.spinner(t("loading.model", name=name)):
                return cache.load_model(name, allow_untrained=True)
        return None

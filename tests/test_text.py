"""The English/Korean table: both languages everywhere, placeholders agree, every error translated."""

from __future__ import annotations

import re
import string

import numpy as np
import pytest

from cnnviz.analysis.conv import ERROR_MESSAGES
from cnnviz.images import ERROR_KEYS
from cnnviz.ui.nav import PAGES
from cnnviz.ui.text import TEXT, tr

_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(TEXT))
def test_both_languages_present(key: str) -> None:
    en, ko = TEXT[key]
    assert en.strip() and ko.strip()


def test_korean_entries_are_korean() -> None:
    # Keys whose Korean is legitimately the same as English (names, formulas) are few.
    same = [k for k, (en, ko) in TEXT.items() if en == ko and _fields(en) != {"why"}]
    assert len(same) <= 0.05 * len(TEXT), same
    assert sum(bool(_HANGUL.search(ko)) for _, ko in TEXT.values()) >= 0.9 * len(TEXT)


@pytest.mark.parametrize("key", sorted(TEXT))
def test_placeholders_agree(key: str) -> None:
    en, ko = TEXT[key]
    if key.startswith("converr."):  # Korean may mention more of the error's params than the short English
        return
    assert _fields(en) == _fields(ko), key


def test_every_error_key_is_translated() -> None:
    assert {f"imgerr.{k}" for k in ERROR_KEYS} <= TEXT.keys()
    # Every conv error a page control can cause has a Korean sentence.
    reachable = set(ERROR_MESSAGES) - {
        "not_integer",
        "pool_kind",
        "padding_mode",
        "preset_unknown",
        "bias_shape",
    }
    reachable -= {"fc_weight_shape", "count", "output_padding", "transposed_too_small"}
    assert {f"converr.{k}" for k in reachable} <= TEXT.keys()


def test_every_page_has_title_and_blurb() -> None:
    for info in PAGES:
        assert tr(info.title_key, "ko") and tr(info.title_key + ".blurb", "ko")


def test_lecture_terms_in_korean() -> None:
    korean = " ".join(ko for _, ko in TEXT.values())
    for term in ["특징 맵", "필터", "스트라이드", "패딩", "풀링"]:
        assert term in korean


def test_model_caption_names_the_few_classes_a_small_classifier_knows() -> None:
    from cnnviz import models
    from cnnviz.ui.sidebar import model_caption

    lenet = models.load("lenet5")
    caption = model_caption(lenet)
    assert caption.endswith(tr("model.knows", "en", classes="0, 1, 2, 3, 4, 5, 6, 7, 8, 9"))
    imagenet = models.load("resnet18", pretrained=False)
    assert tr("model.knows", "en", classes="")[:20] not in model_caption(imagenet)  # 1000 classes: not listed


def test_conv_errors_name_the_array_in_korean() -> None:
    """The Korean sentence for a convolution error translates the array's name conv puts into it."""
    from cnnviz.analysis.conv import ConvSettingsError, conv2d_steps
    from cnnviz.ui.feedback import explain
    from cnnviz.ui.text import set_language

    with pytest.raises(ConvSettingsError) as caught:
        conv2d_steps(np.ones((4, 4)), np.ones((0, 0)))
    set_language("ko")
    try:
        sentence = explain(caught.value)
    finally:
        set_language("en")
    assert sentence == tr(f"converr.{caught.value.key}", "ko", **{**caught.value.params, "name": "필터"})
    assert "kernel" not in sentence


# The lecture's word for an idea a model's note names in English (any one of them, case aside) ...
_LECTURE_TERMS = {
    r"\bfilters?\b": ("필터",),
    r"\bstride\b": ("stride",),
    r"\bpadding\b": ("padding",),
    r"\bmax pooling\b": ("max pooling",),
    r"\baverage pooling\b": ("average pooling",),
    r"\bglobal average pooling\b": ("gap",),
    r"\bfeature maps?\b": ("feature map", "특징 맵"),
    r"\bFC\b": ("fc",),
    r"\bdropout\b": ("drop out",),
    r"\bdata augmentation\b": ("data augmentation",),
    r"\bresidual\b": ("residual",),
    r"\bvanishing\b": ("기울기 소실",),
    r"\bSE block\b": ("se block",),
    r"\bsigmoid\b": ("sigmoid",),
    r"\bhandwritten\b": ("손글씨",),
    r"\b[12]-stage\b": ("stage",),
    r"\bgrid\b": ("그리드",),
    r"\bconfidence\b": ("confidence",),
    r"\bRoI\b": ("roi",),
    r"\bboxe?s?\b": ("bbox", "박스"),
    r"\bgenerator\b": ("generator",),
    r"\bdiscriminator\b": ("discriminator",),
    r"\bmasks?\b": ("mask",),
}
# ... and words the lecture never uses for them.
_NOT_LECTURE = (
    "컨볼루션",
    "콘볼루션",
    "보폭",
    "커널",
    "드롭아웃",
    "경사 소실",
    "그래디언트",
    "생성기",
    "판별기",
    "격자",
)


def test_model_notes_use_the_lectures_korean_terms() -> None:
    notes = {key: text for key, text in TEXT.items() if key.startswith("model.note.")}
    assert len(notes) >= 20
    for key, (en, ko) in notes.items():
        assert _HANGUL.search(ko), key
        for pattern, words in _LECTURE_TERMS.items():
            if re.search(pattern, en, re.IGNORECASE):
                assert any(word in ko.lower() for word in words), (key, pattern)
        assert not [word for word in _NOT_LECTURE if word in ko], key


def test_model_note_reads_the_table_in_the_chosen_language() -> None:
    from torch import nn

    from cnnviz import models
    from cnnviz.ui.sidebar import model_note
    from cnnviz.ui.text import set_language

    lenet = models.get_spec("lenet5")
    assert model_note(lenet) == TEXT["model.note.lenet5"][0]
    set_language("ko")
    try:
        assert model_note(lenet) == TEXT["model.note.lenet5"][1]
    finally:
        set_language("en")
    # A user's model has no note, even under a zoo model's name.
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 3))
    assert model_note(models.from_module(net, name="lenet5", input_size=8).spec) == ""

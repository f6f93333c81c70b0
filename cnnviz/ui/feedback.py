"""Errors reach the person as one sentence in their language, and the page goes on."""

from __future__ import annotations

import streamlit as st

from cnnviz.analysis.conv import ConvSettingsError
from cnnviz.images import ImageError
from cnnviz.imagesets import ImageSetError
from cnnviz.models import WeightsMissingError
from cnnviz.models.checkpoint import CheckpointError
from cnnviz.ui.text import TEXT, language, t

__all__ = ["describe_skipped", "explain", "show_error"]


def explain(err: Exception) -> str:
    """The sentence for a known error, translated where the table has its key; English otherwise."""
    lang = language()
    if isinstance(err, ImageError):
        key = f"imgerr.{err.key}"
        why = t(key) if lang == "ko" and key in TEXT else str(err)
        return t("err.image", why=why)
    if isinstance(err, ConvSettingsError):
        key = f"converr.{err.key}"
        if lang == "ko" and key in TEXT:
            params = dict(err.params)
            if f"convname.{params.get('name')}" in TEXT:  # "kernel" -> 필터 inside the Korean sentence
                params["name"] = t(f"convname.{params['name']}")
            try:
                return t(key, **params)
            except (KeyError, IndexError, ValueError):  # a template/params mismatch must not hide the error
                return str(err)
        return str(err)
    if isinstance(err, ImageSetError):
        return _keyed_sentence(f"setserr.{err.key}", _set_params(err), err)
    if isinstance(err, CheckpointError):
        return _keyed_sentence(f"ckpterr.{err.key}", dict(err.params), err)
    if isinstance(err, WeightsMissingError):
        if _keyed(err):
            return t(f"weightserr.{err.key}", model=err.model)
        return t("err.weights", why=str(err))
    return t("err.generic", why=str(err))


def _keyed_sentence(key: str, params: dict[str, object], err: Exception) -> str:
    """The table's sentence for `key`, or the error's own English one when the table can't fill it."""
    if key not in TEXT:
        return str(err)
    try:
        return t(key, **params)
    except (KeyError, IndexError, ValueError):  # a template/params mismatch must not hide the error
        return str(err)


def _set_params(err: ImageSetError) -> dict[str, object]:
    """An image set error's params, its skip counts written out in the chosen language."""
    params = dict(err.params)
    skipped = params.get("skipped")
    if isinstance(skipped, dict):
        parts = [
            t(f"sets.skip.{reason}", count=n)
            for reason, n in skipped.items()
            if f"sets.skip.{reason}" in TEXT
        ]
        params["skipped"] = ", ".join(parts) or "0"
    return params


def describe_skipped(skipped: dict[str, int]) -> str:
    """What a set left out, in the chosen language ("" when nothing was)."""
    parts = [t(f"sets.skip.{reason}", count=n) for reason, n in skipped.items() if n]
    return t("sets.skipped", skipped=", ".join(parts)) if parts else ""


def _keyed(err: WeightsMissingError) -> bool:
    """Whether the table has the short sentence for `err` (its file and cause then go on a line below)."""
    return f"weightserr.{err.key}" in TEXT and bool(err.model)


def show_error(err: Exception, *, answered: bool = False) -> None:
    """The sentence in an error box; a file path or a network error goes on a small line under it.

    `answered`: the person already chose what to do about it (untrained weights), so it is a note.
    """
    (st.info if answered else st.error)(explain(err))
    if isinstance(err, WeightsMissingError) and err.detail and _keyed(err):
        st.caption(t("weightserr.detail", detail=err.detail))

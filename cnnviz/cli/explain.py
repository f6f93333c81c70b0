"""`python -m cnnviz explain IMAGE --model SPEC ... --out DIR`: one image through one model, written to files.

DIR gets `summary.csv` (one row per leaf module), `prediction.json` (the top 5), `feature_maps/<layer>.png`,
`gradcam.png` and `report.html` (all of it in one self-contained file, in --lang).
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from cnnviz import images, models, render
from cnnviz.analysis.cam import CamResult, Prediction, default_cam_layer, grad_cam, top_k
from cnnviz.analysis.features import FeatureMaps, feature_maps, rank_channels
from cnnviz.analysis.summary import LayerRow, summary, summary_totals
from cnnviz.cli.errors import CliError
from cnnviz.cli.model_options import add_model_options, load_model, options_from_args
from cnnviz.hooks import layer_name
from cnnviz.report import Report
from cnnviz.ui.text import tr

__all__ = ["SUMMARY_COLUMNS", "Explanation", "add_parser", "default_layers", "explain", "run"]

SUMMARY_COLUMNS = (
    "layer",
    "kind",
    "output_shape",
    "params",
    "macs",
    "receptive_field",
    "kernel_size",
    "stride",
    "padding",
    "calls",
)
"""summary.csv's columns; shapes and sizes are JSON lists, e.g. ``[1, 64, 56, 56]``."""

DEFAULT_LAYER_COUNT = 4


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "explain",
        help="one image through one model: summary.csv, prediction.json, feature maps, Grad-CAM, report.html",
        description=__doc__,
    )
    parser.add_argument("image", metavar="IMAGE", help="an image file (PNG, JPEG, GIF, WebP, BMP, TIFF)")
    add_model_options(parser)
    parser.add_argument("--layers", metavar="A,B,...", help="layers for feature_maps/ (named_modules names)")
    parser.add_argument("--target", metavar="CLASS", help="the class Grad-CAM explains: an index or a name")
    parser.add_argument("--lang", choices=("en", "ko"), default="en", help="the report's language")
    parser.add_argument("--out", required=True, metavar="DIR", help="where the files go (created if needed)")
    parser.set_defaults(run=run)


@dataclass(frozen=True)
class Explanation:
    """Everything `explain` writes, before it is written."""

    model: models.LoadedModel
    image_name: str
    rows: list[LayerRow]
    fmaps: FeatureMaps
    layers: tuple[str, ...]
    top: list[Prediction]
    cam: CamResult


def read_image(path: str) -> Image.Image:
    file = Path(path)
    if not file.is_file():
        raise CliError(f"IMAGE {path}: no such file.")
    try:
        return images.load_image(file.read_bytes())
    except images.ImageError as err:
        raise CliError(f"IMAGE {path}: {err}") from None


def default_layers(fmaps: FeatureMaps, count: int = DEFAULT_LAYER_COUNT) -> tuple[str, ...]:
    """`count` layers with spatial maps, spread evenly from the first to the last."""
    spatial = [n for n in fmaps.layers if fmaps.maps[n].shape[1] * fmaps.maps[n].shape[2] > 1]
    if len(spatial) <= count:
        return tuple(spatial)
    picks = np.linspace(0, len(spatial) - 1, count).round().astype(int)
    return tuple(spatial[i] for i in dict.fromkeys(picks.tolist()))


def _layers(model: nn.Module, fmaps: FeatureMaps, given: str | None) -> tuple[str, ...]:
    if not given:
        return default_layers(fmaps)
    names = []
    for part in (p.strip() for p in given.split(",")):
        if not part:
            continue
        try:
            name = layer_name(model, part)
        except ValueError as err:
            raise CliError(f"--layers: {err}") from None
        if name not in fmaps.maps:
            raise CliError(f"--layers: {name!r} gives no feature map or vector for one image (N, C, ...).")
        names.append(name)
    if not names:
        raise CliError("--layers names no layer.")
    return tuple(dict.fromkeys(names))


def _target(given: str | None, categories: list[str]) -> int | None:
    if given is None:
        return None
    if given.lstrip("-").isdigit():
        index = int(given)
        if not 0 <= index < len(categories):
            raise CliError(f"--target {given}: the model has classes 0..{len(categories) - 1}.")
        return index
    if given in categories:
        return categories.index(given)
    raise CliError(f"--target {given!r} is neither a class index nor one of the class names.")


def explain(
    model: models.LoadedModel,
    image: Image.Image,
    *,
    image_name: str = "image",
    layers: str | None = None,
    target: str | None = None,
) -> Explanation:
    """Runs every analysis `explain` writes.

    Raises:
        CliError: not a classifier, an unknown layer or class, or an input the model can't take.
    """
    if model.spec.task != "classification":
        raise CliError(f"explain needs a classifier; {model.spec.name} is a {model.spec.task} model.")
    net = model.model
    try:
        x = model.preprocess(image)
        fmaps = feature_maps(net, x, mean=model.spec.mean, std=model.spec.std)
        rows = summary(net, tuple(x.shape))
    except ValueError as err:
        raise CliError(f"--model {model.spec.name}: {err}") from None
    if fmaps.logits is None:
        raise CliError(f"--model {model.spec.name}: the output is not one row of class scores.")
    chosen = _layers(net, fmaps, layers)
    top = top_k(fmaps.logits, model.categories, k=5)
    index = _target(target, model.categories)
    with model.lock:
        cam_layer = default_cam_layer(net, x)
        cam = grad_cam(net, x, cam_layer, index)
    return Explanation(model, image_name, rows, fmaps, chosen, top, cam)


def _json_list(values: Sequence[object] | None) -> str:
    return "" if values is None else json.dumps(list(values))


def summary_rows(explanation: Explanation) -> list[dict[str, object]]:
    """One row per leaf module, in the order they first ran (modules that never ran last)."""
    modules = dict(explanation.model.model.named_modules())
    out, seen = [], set()
    for row in explanation.rows:
        module = modules.get(row.name)
        if module is None or row.name in seen or next(module.children(), None) is not None:
            continue
        seen.add(row.name)
        padding = row.padding if isinstance(row.padding, str) else _json_list(row.padding)
        out.append(
            {
                "layer": row.name,
                "kind": row.kind,
                "output_shape": _json_list(row.output_shape),
                "params": sum(p.numel() for p in module.parameters(recurse=False)),
                "macs": row.macs,
                "receptive_field": _json_list(row.receptive_field),
                "kernel_size": _json_list(row.kernel_size),
                "stride": _json_list(row.stride),
                "padding": padding,
                "calls": row.calls,
            }
        )
    return out


def write(explanation: Explanation, out: Path, lang: str) -> list[Path]:
    """Writes every file into `out`; returns their paths."""
    try:
        (out / "feature_maps").mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CliError(f"--out {out}: cannot create it ({err.strerror or err}).") from None
    written = []
    rows = summary_rows(explanation)
    path = out / "summary.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=SUMMARY_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    written.append(path)

    top = [{"class": p.name, "index": p.index, "probability": p.probability} for p in explanation.top]
    path = out / "prediction.json"
    path.write_text(json.dumps({"top": top}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(path)

    grids = {}
    for layer in explanation.layers:
        fmap = explanation.fmaps.maps[layer]
        grids[layer] = render.channel_grid(
            fmap, order=rank_channels(fmap), cell=48 if fmap.shape[0] > 16 else 64
        )
        path = out / "feature_maps" / f"{layer}.png"
        Image.fromarray(grids[layer].image).save(path)
        written.append(path)

    cam = explanation.cam
    overlay = render.overlay(explanation.fmaps.view, cam.heatmap, alpha=0.5)
    path = out / "gradcam.png"
    overlay.save(path)
    written.append(path)

    path = out / "report.html"
    path.write_text(_report(explanation, rows, grids, overlay, lang), encoding="utf-8")
    written.append(path)
    return written


def _report(
    ex: Explanation,
    rows: list[dict[str, object]],
    grids: dict[str, render.ChannelGrid],
    overlay: Image.Image,
    lang: str,
) -> str:
    spec = ex.model.spec
    report = Report(tr("report.explain.title", lang, model=spec.name), lang=lang)
    report.paragraph(
        tr(
            "report.explain.intro",
            lang,
            model=spec.name,
            family=spec.family,
            weights=ex.model.weights_name,
            image=ex.image_name,
            shape=str(ex.fmaps.input_shape),
        )
    )
    report.image(
        ex.fmaps.view[..., 0] if ex.fmaps.view.shape[2] == 1 else ex.fmaps.view,
        tr("report.input", lang),
        width=224,
    )
    report.heading(tr("report.prediction", lang, k=len(ex.top)))
    report.table(
        [tr(f"report.col.{c}", lang) for c in ("class", "index", "probability")],
        [(p.name, p.index, round(p.probability, 4)) for p in ex.top],
    )
    report.heading(tr("report.gradcam", lang))
    cam = ex.cam
    name = ex.model.categories[cam.target] if cam.target is not None else "?"
    if cam.empty:
        report.paragraph(tr("report.gradcam.empty", lang, name=name))
    report.image(
        overlay,
        tr("report.gradcam.caption", lang, name=name, index=cam.target, layer=cam.layer, p=cam.probability),
        width=320,
    )
    report.heading(tr("report.feature_maps", lang))
    for layer, grid in grids.items():
        c, h, w = ex.fmaps.maps[layer].shape
        report.image(grid.image, tr("report.feature_maps.caption", lang, layer=layer, c=c, h=h, w=w))
    report.heading(tr("report.summary", lang))
    totals = summary_totals(ex.rows)
    report.paragraph(tr("report.totals", lang, params=totals.params, macs=totals.macs))
    columns = ("layer", "kind", "output_shape", "params", "macs", "receptive_field")
    report.table([tr(f"report.col.{c}", lang) for c in columns], [[r[c] for c in columns] for r in rows])
    return report.html()


def run(args: argparse.Namespace) -> int:
    model = load_model(options_from_args(args))
    image = read_image(args.image)
    explanation = explain(
        model, image, image_name=Path(args.image).name, layers=args.layers, target=args.target
    )
    with torch.no_grad():
        written = write(explanation, Path(args.out), args.lang)
    print(f"wrote {len(written)} files to {args.out}")
    return 0

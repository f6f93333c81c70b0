"""`python -m cnnviz top-images FOLDER <model options> --layer L [--k K] --out DIR`.

For every channel of L, the K images of FOLDER on which the channel's maximum (over all positions) is
highest, best first, ties broken by path: `DIR/top_images.json` ({"<channel>": [{"image", "score"}, ...]}),
a contact sheet per channel (`DIR/channels/<channel>.png`: each image's receptive-field crop around its
arg-max), and `DIR/report.html`.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from cnnviz import models
from cnnviz.analysis.dataset import TopImages, top_images
from cnnviz.cli.errors import CliError
from cnnviz.cli.model_options import add_model_options, load_model, options_from_args
from cnnviz.cli.sets import image_set, progress_batches
from cnnviz.hooks import layer_name
from cnnviz.imagesets import ImageSet
from cnnviz.report import Report
from cnnviz.ui.text import tr

__all__ = ["add_parser", "contact_sheet", "run", "top_images_json"]

CELL = 96


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("top-images", help="each channel's top images over a folder", description=__doc__)
    parser.add_argument("folder", metavar="FOLDER", help="a folder (class subfolders or flat) or a .zip")
    add_model_options(parser)
    parser.add_argument("--layer", required=True, metavar="L", help="a named_modules() name")
    parser.add_argument("--k", type=int, default=9, metavar="K", help="images per channel (default 9)")
    parser.add_argument("--lang", choices=("en", "ko"), default="en", help="the report's language")
    parser.add_argument("--out", required=True, metavar="DIR")
    parser.set_defaults(run=run)


def top_images_json(result: TopImages) -> dict[str, list[dict[str, object]]]:
    return {
        # NaN is not JSON: a channel that gave NaN on an image scores null there (and ranks last).
        str(c): [
            {"image": t.path, "score": t.score if math.isfinite(t.score) else None} for t in result.channel(c)
        ]
        for c in range(result.channels)
    }


def contact_sheet(
    result: TopImages, channel: int, found: ImageSet, model: models.LoadedModel, views: dict
) -> Image.Image:
    """The channel's top images side by side: each one's receptive-field crop (as the model saw the image)
    scaled to one cell, with its score under it."""
    tops = result.channel(channel)
    sheet = Image.new("RGB", (max(1, len(tops)) * (CELL + 4), CELL + 18), "white")
    draw = ImageDraw.Draw(sheet)
    for i, top in enumerate(tops):
        view = views.get(top.path)
        if view is None:
            view = views[top.path] = model.model_view(model.preprocess(found.load(top.path)))
        y0, x0, y1, x1 = top.box if len(top.box) == 4 else (0, 0, view.shape[0], view.shape[1])
        crop = view[max(0, y0) : max(y0 + 1, y1), max(0, x0) : max(x0 + 1, x1)]
        tile = Image.fromarray(crop[..., 0] if crop.shape[2] == 1 else crop).convert("RGB")
        sheet.paste(tile.resize((CELL, CELL), Image.Resampling.NEAREST), (i * (CELL + 4), 0))
        draw.text((i * (CELL + 4) + 2, CELL + 3), f"{top.score:.3g}", fill="black")
    return sheet


def run(args: argparse.Namespace) -> int:
    if args.k < 1:
        raise CliError(f"--k must be at least 1, got {args.k}.")
    model = load_model(options_from_args(args))
    try:  # the layer is checked before the set is read: a wrong name is the one sentence said
        layer = layer_name(model.model, args.layer)
    except ValueError as err:
        raise CliError(f"--layer {args.layer}: {err}") from None
    found = image_set(args.folder)
    try:
        result = top_images(model.model, progress_batches(found, model, "top images"), layer, k=args.k)
    except ValueError as err:
        raise CliError(f"--layer {args.layer}: {err}" if "layer" in str(err) else str(err)) from None
    out = Path(args.out)
    try:
        (out / "channels").mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CliError(f"--out {out}: cannot create it ({err.strerror or err}).") from None
    (out / "top_images.json").write_text(
        json.dumps(top_images_json(result), indent=1, allow_nan=False) + "\n", encoding="utf-8"
    )
    report = Report(
        tr("report.top.title", args.lang, layer=result.layer, model=model.spec.name), lang=args.lang
    )
    report.paragraph(
        tr(
            "report.top.intro",
            args.lang,
            images=result.images,
            k=result.k,
            layer=result.layer,
            c=result.channels,
        )
    )
    views: dict[str, np.ndarray] = {}
    for c in range(result.channels):
        sheet = contact_sheet(result, c, found, model, views)
        sheet.save(out / "channels" / f"{c}.png")
        report.image(sheet, tr("report.top.channel", args.lang, c=c, best=result.channel(c)[0].path))
    (out / "report.html").write_text(report.html(), encoding="utf-8")
    print(f"wrote top images of {result.channels} channels over {result.images} images to {out}")
    return 0

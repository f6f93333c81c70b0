"""`python -m cnnviz health FOLDER <model options> --out DIR`: the health of every layer over a folder.

`DIR/health.csv` has one row per module whose output has a channel axis (N, C, ...): dead channels (never
above 0 over all images and positions), always-on and saturated channels, mean, std, share of zeros, the
gradient norm of the loss (on a labelled folder) and batch-norm statistics against the set's.
`DIR/health.html` shows the worst layers and every layer's activation histogram.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from cnnviz.analysis.dataset import HealthReport, layer_health
from cnnviz.cli.errors import CliError
from cnnviz.cli.model_options import add_model_options, load_model, options_from_args
from cnnviz.cli.sets import image_set, progress_batches
from cnnviz.report import Report
from cnnviz.ui.text import tr

__all__ = ["HEALTH_COLUMNS", "add_parser", "run"]

HEALTH_COLUMNS = (
    "layer",
    "kind",
    "channels",
    "dead",
    "dead_fraction",
    "always_on",
    "saturated",
    "mean",
    "std",
    "zero_fraction",
    "gradient_norm",
    "bn_mean_shift",
    "bn_var_ratio",
    "problems",
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "health", help="dead, saturated and always-on channels over a folder", description=__doc__
    )
    parser.add_argument("folder", metavar="FOLDER", help="a folder (class subfolders or flat) or a .zip")
    add_model_options(parser)
    parser.add_argument("--lang", choices=("en", "ko"), default="en", help="the report's language")
    parser.add_argument("--out", required=True, metavar="DIR")
    parser.set_defaults(run=run)


def write_html(report_data: HealthReport, path: Path, model_name: str, lang: str) -> None:
    report = Report(tr("report.health.title", lang, model=model_name), lang=lang)
    report.paragraph(
        tr("report.health.intro", lang, images=report_data.images, layers=len(report_data.layers))
    )
    worst = report_data.worst()
    report.heading(tr("report.health.worst", lang))
    if worst:
        report.table(
            [tr(f"report.health.col.{c}", lang) for c in ("layer", "problems", "dead", "channels")],
            [(r.layer, " ".join(r.problems), r.dead, r.channels) for r in worst],
        )
    else:
        report.paragraph(tr("report.health.none", lang))
    report.heading(tr("report.health.histograms", lang))
    for row in report_data.layers:
        caption = tr(
            "report.health.hist", lang, layer=row.layer, kind=row.kind, dead=row.dead, c=row.channels
        )
        report.bars(row.histogram.counts, row.histogram.edges, caption)
    path.write_text(report.html(), encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    model = load_model(options_from_args(args))
    found = image_set(args.folder)
    try:
        result = layer_health(model.model, progress_batches(found, model, "layer health"))
    except ValueError as err:
        raise CliError(str(err)) from None
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CliError(f"--out {out}: cannot create it ({err.strerror or err}).") from None
    with (out / "health.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=HEALTH_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(result.table())
    write_html(result, out / "health.html", model.spec.name, args.lang)
    worst = result.worst(1)
    flagged = f"; worst: {worst[0].layer} ({' '.join(worst[0].problems)})" if worst else ""
    print(f"wrote the health of {len(result.layers)} layers over {result.images} images to {out}{flagged}")
    return 0

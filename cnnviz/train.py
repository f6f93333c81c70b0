"""Train a bundled model: ``python -m cnnviz.train NAME [--epochs N] [--out DIR]``.

Each trainer lives next to its model and is named here as ``"module:function"`` (imported only when used,
so listing the names stays quick). A trainer is called as ``trainer(epochs, out_dir, progress)`` with
``epochs=None`` meaning its own default, writes ``NAME.safetensors`` and the ``NAME.json`` model card to
``out_dir`` and returns the card. Adding a bundled model is one line in :data:`TRAINERS`. Every trainer
runs the one loop :func:`cnnviz.models.training.fit` and writes its card with
:func:`cnnviz.models.training.write_card`.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cnnviz.weights import BUNDLED_DIR

__all__ = ["TRAINERS", "Trainer", "get_trainer", "main", "train"]

Trainer = Callable[[int | None, Path, bool], dict[str, Any]]

TRAINERS: dict[str, str] = {
    "lenet5": "cnnviz.models.lenet:train_lenet5",
    "alexnet-mini": "cnnviz.models.mini.training:train_alexnet_mini",
    "vgg-mini": "cnnviz.models.mini.training:train_vgg_mini",
    "resnet-mini": "cnnviz.models.mini.training:train_resnet_mini",
    "se-resnet-mini": "cnnviz.models.mini.training:train_se_resnet_mini",
    "plainnet-mini": "cnnviz.models.mini.training:train_plainnet_mini",
    "dcgan": "cnnviz.models.gan:train_dcgan",
    "fcn-mini": "cnnviz.models.segmenters.training:train_fcn_mini",
    "fcn-mini-instance": "cnnviz.models.segmenters.training:train_fcn_mini_instance",
    "yolo-mini": "cnnviz.models.detectors.yolo:train_yolo_mini",
}


def get_trainer(name: str) -> Trainer:
    """The training function registered for ``name``.

    Raises:
        KeyError: no trainer is registered for ``name`` (the message lists the known names).
    """
    try:
        target = TRAINERS[name]
    except KeyError:
        raise KeyError(f"no trainer for {name!r}; trainable models: {', '.join(TRAINERS)}") from None
    module_name, _, function_name = target.partition(":")
    trainer: Trainer = getattr(importlib.import_module(module_name), function_name)
    return trainer


def train(
    name: str, *, epochs: int | None = None, out_dir: str | Path | None = None, progress: bool = True
) -> dict[str, Any]:
    """Train ``name`` and write its weights and model card (default folder: ``cnnviz/models/bundled``).

    Returns:
        The model card.
    """
    return get_trainer(name)(epochs, Path(out_dir) if out_dir is not None else BUNDLED_DIR, progress)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m cnnviz.train", description="Train a bundled cnnviz model."
    )
    parser.add_argument("name", choices=[*TRAINERS, "all"], help="model to train, or 'all'")
    parser.add_argument(
        "--epochs", type=int, default=None, help="passes over the data (default: the model's)"
    )
    parser.add_argument("--out", type=Path, default=None, help=f"output folder (default: {BUNDLED_DIR})")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch progress lines")
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    names = list(TRAINERS) if args.name == "all" else [args.name]
    for name in names:
        card = train(name, epochs=args.epochs, out_dir=args.out, progress=not args.quiet)
        metrics = ", ".join(f"{k} {v}" for k, v in card.items() if k.endswith(("accuracy", "_iou", "_map")))
        out = args.out if args.out is not None else BUNDLED_DIR
        print(f"{name}: {metrics or 'trained'}; wrote {out / (name + '.safetensors')} and {name}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
